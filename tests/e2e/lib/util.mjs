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
  "reactions",
  "replyCount",
  "pinned",
  "forwardedFrom",
  "attachments",
];

/** Retries `fn` until it returns a truthy value (or stops throwing); throws the last failure at the deadline. */
export async function eventually(what, fn, { timeout = 15_000, interval = 200 } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = new Error(`${what}: not yet`);
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      last.message = `${what}: not within ${timeout} ms: ${last.message}`;
      throw last;
    }
    await sleep(interval);
  }
}
