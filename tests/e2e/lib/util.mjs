import { randomBytes } from "node:crypto";
import { sleep } from "./client.mjs";

let n = 0;
/** A fresh user id, unique per run. */
export function uid(prefix = "u") {
  n += 1;
  return `${prefix}-${n}-${randomBytes(3).toString("hex")}`;
}

/** How long to keep listening before concluding an event did not come. */
export const QUIET_MS = 400;

/** Waits a short quiet window (after a positive control event has arrived). */
export const quiet = (ms = QUIET_MS) => sleep(ms);

/** The fields of a stored message, as the contract lists them. */
export const MESSAGE_FIELDS = [
  "id",
  "roomId",
  "seq",
  "senderId",
  "senderName",
  "content",
  "clientMessageId",
  "replyToId",
  "mentions",
  "createdAt",
  "editedAt",
  "deletedAt",
  "deletedBy",
];
