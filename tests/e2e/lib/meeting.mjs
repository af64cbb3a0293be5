// Meeting helpers for the e2e tests: paths, shape checks of the contract's meeting
// payloads, joins with checked acks, refused acks and REST errors with their codes,
// TURN REST credentials, and signals to relay.

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";

import { ack, ackOk, isRfc3339, sleep } from "./client.mjs";

export { eventually } from "./util.mjs";
export { withServersLogs as withLogs } from "./server.mjs";

/** Fields of a running meeting (`GET …/meeting`, `meeting-started`, `POST …/meeting`). */
export const MEETING_FIELDS = ["id", "roomId", "title", "startedBy", "startedAt", "locked", "participants"];
/** Fields of one participant (a peer). */
export const PARTICIPANT_FIELDS = ["peerId", "userId", "name", "joinedAt", "audio", "video", "screen", "handRaised"];
/** Fields of a past meeting in `GET …/meetings` (MEETINGS.md). */
export const PAST_MEETING_FIELDS = [
  "id",
  "roomId",
  "title",
  "startedBy",
  "startedAt",
  "endedAt",
  "endedBy",
  "endReason",
  "attendance",
];
/** Fields of one attendance line. */
export const ATTENDANCE_FIELDS = ["userId", "name", "joinedAt", "leftAt", "seconds"];
/** Fields of `meeting-participant-left`. */
export const LEFT_FIELDS = ["roomId", "meetingId", "peerId", "userId", "reason"];
/** Fields of `meeting-ended`. */
export const ENDED_FIELDS = ["roomId", "meetingId", "endedBy", "reason"];
/** Fields of `meeting-media-state` (server → client). */
export const MEDIA_FIELDS = ["roomId", "peerId", "userId", "audio", "video", "screen", "handRaised"];

const rid = (room) => (typeof room === "string" ? room : room.id);
export const meetingPath = (room) => `/chat/rooms/${rid(room)}/meeting`;
export const meetingsPath = (room, query = "") => `/chat/rooms/${rid(room)}/meetings${query}`;
export const ICE_PATH = "/chat/meetings/ice-servers";

function hasFields(obj, fields, what) {
  assert.ok(obj !== null && typeof obj === "object" && !Array.isArray(obj), `${what} is not an object: ${JSON.stringify(obj)}`);
  for (const f of fields) assert.ok(f in obj, `${what} lacks "${f}": ${JSON.stringify(obj)}`);
}

/** Checks `want` (a partial object) against `obj`, field by field. */
function matches(obj, want, what) {
  for (const [k, v] of Object.entries(want)) {
    if (v === undefined) continue;
    assert.deepEqual(obj[k], v, `${what}.${k}: ${JSON.stringify(obj)}`);
  }
}

/** A participant as the contract writes it; `want` pins some fields. */
export function assertParticipant(p, want = {}) {
  hasFields(p, PARTICIPANT_FIELDS, "participant");
  assert.equal(typeof p.peerId, "string");
  assert.ok(p.peerId.length > 0, "peerId is empty");
  assert.equal(typeof p.userId, "string");
  assert.ok(p.name === null || typeof p.name === "string", `participant.name: ${JSON.stringify(p.name)}`);
  assert.ok(isRfc3339(p.joinedAt), `participant.joinedAt is not RFC 3339: ${JSON.stringify(p.joinedAt)}`);
  for (const f of ["audio", "video", "screen", "handRaised"]) {
    assert.equal(typeof p[f], "boolean", `participant.${f} is not a boolean: ${JSON.stringify(p)}`);
  }
  matches(p, want, "participant");
  return p;
}

/** A running meeting as the contract writes it; `want` pins some fields. */
export function assertMeeting(m, want = {}) {
  hasFields(m, MEETING_FIELDS, "meeting");
  assert.equal(typeof m.id, "string");
  assert.ok(m.id.length > 0, "meeting id is empty");
  assert.ok(m.title === null || typeof m.title === "string", `meeting.title: ${JSON.stringify(m.title)}`);
  assert.ok(isRfc3339(m.startedAt), `meeting.startedAt is not RFC 3339: ${JSON.stringify(m.startedAt)}`);
  assert.equal(typeof m.locked, "boolean", "meeting.locked");
  assert.ok(Array.isArray(m.participants), "meeting.participants is not an array");
  for (const p of m.participants) assertParticipant(p);
  matches(m, want, "meeting");
  return m;
}

/** An attendance line; `want` pins some fields. */
export function assertAttendance(a, want = {}) {
  hasFields(a, ATTENDANCE_FIELDS, "attendance line");
  assert.ok(isRfc3339(a.joinedAt), `attendance.joinedAt: ${JSON.stringify(a)}`);
  assert.ok(a.leftAt === null || isRfc3339(a.leftAt), `attendance.leftAt: ${JSON.stringify(a)}`);
  assert.ok(Number.isInteger(a.seconds) && a.seconds >= 0, `attendance.seconds is not a whole number ≥ 0: ${JSON.stringify(a)}`);
  matches(a, want, "attendance");
  return a;
}

/** A past (or running) meeting of `GET …/meetings`; `want` pins some fields. */
export function assertPastMeeting(m, want = {}) {
  hasFields(m, PAST_MEETING_FIELDS, "past meeting");
  assert.ok(isRfc3339(m.startedAt), `startedAt: ${JSON.stringify(m)}`);
  assert.ok(m.endedAt === null || isRfc3339(m.endedAt), `endedAt: ${JSON.stringify(m)}`);
  assert.ok(Array.isArray(m.attendance), "attendance is not an array");
  for (const a of m.attendance) assertAttendance(a);
  matches(m, want, "past meeting");
  return m;
}

/** `data` of an event must carry `fields` and equal `want` where given. */
export function assertEvent(data, fields, want, what) {
  hasFields(data, fields, what);
  matches(data, want, what);
  return data;
}

/** The ack of a `meeting-join`: `{ meetingId, peerId, participants (with self), iceServers }`. */
export function assertJoinAck(data, user) {
  hasFields(data, ["meetingId", "peerId", "participants", "iceServers"], "meeting-join ack");
  assert.equal(typeof data.meetingId, "string");
  assert.equal(typeof data.peerId, "string");
  assert.ok(data.peerId.length > 0);
  assert.ok(Array.isArray(data.participants), "participants is not an array");
  assert.ok(Array.isArray(data.iceServers), "iceServers is not a list");
  for (const p of data.participants) assertParticipant(p);
  const self = data.participants.filter((p) => p.peerId === data.peerId);
  assert.equal(self.length, 1, `the joiner is not (once) in participants: ${JSON.stringify(data.participants)}`);
  if (user) assert.equal(self[0].userId, user.id);
  return data;
}

/** POST …/meeting that must answer `expected`; returns the meeting. */
export function startMeeting(server, who, room, body = {}, expected = 201) {
  return server.ok("POST", meetingPath(room), who, body, expected);
}

/** `meeting-join` with a checked ack; remembers `peerId` and `meetingId` on the client. */
export async function meetingJoin(client, room, opts = {}) {
  const data = await ackOk(client.socket, "meeting-join", { roomId: rid(room), ...opts });
  assertJoinAck(data, client.user);
  client.peerId = data.peerId;
  client.meetingId = data.meetingId;
  return data;
}

/** Emits `event` and asserts the ack is `{ ok: false, error: { code, message } }` with that code. */
export async function ackError(socket, event, payload, code) {
  const a = await ack(socket, event, payload);
  const shown = JSON.stringify(payload)?.slice(0, 160);
  assert.equal(a?.ok, false, `${event} ${shown} should be refused with ${code}; ack: ${JSON.stringify(a)?.slice(0, 400)}`);
  assert.equal(a.error?.code, code, `${event} ${shown}: wanted ${code}; ack: ${JSON.stringify(a)?.slice(0, 400)}`);
  assert.equal(typeof a.error.message, "string", `error without a message: ${JSON.stringify(a)}`);
  return a.error;
}

/** A REST call that must fail with `status` and `{ error: { code, message } }`. */
export async function restError(server, method, path, who, body, status, code) {
  const r = await server.rest(method, path, who, body);
  assert.equal(r.status, status, `${method} ${path}: wanted ${status} ${code}, got ${r.status} ${JSON.stringify(r.body)}`);
  assert.equal(r.body?.error?.code, code, `${method} ${path}: ${JSON.stringify(r.body)}`);
  assert.equal(typeof r.body.error.message, "string");
  return r;
}

/** The TURN REST scheme's password: base64(HMAC-SHA1(secret, username)). */
export function turnCredential(secret, username) {
  return createHmac("sha1", secret).update(username).digest("base64");
}

/** An SDP offer signal, tagged so a test can tell signals apart. */
export const offer = (tag) => ({ type: "offer", sdp: `v=0\r\no=- ${tag} 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n` });
export const answer = (tag) => ({ type: "answer", sdp: `v=0\r\no=- ${tag} 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n` });
/** An ICE candidate signal numbered `i`. */
export const candidate = (i) => ({
  type: "ice-candidate",
  candidate: {
    candidate: `candidate:${i} 1 udp 2122260223 192.0.2.1 ${50000 + (i % 10000)} typ host`,
    sdpMid: "0",
    sdpMLineIndex: 0,
  },
});

/**
 * The attendance pattern the attendance tests measure: one user's two stints of ~2 s with
 * a ~2 s gap (the first on socket `first`, the second on `second`, which may be the same
 * socket or one on another node), while another user's two devices overlap (~3 s in all).
 */
export async function attendanceStints(room, [first, second], [devA, devB]) {
  const leave = (c) => ackOk(c.socket, "meeting-leave", { roomId: room.id });
  await Promise.all([
    (async () => {
      await meetingJoin(first, room);
      await sleep(2000);
      await leave(first);
      await sleep(2000);
      await meetingJoin(second, room);
      await sleep(2000);
      await leave(second);
    })(),
    (async () => {
      await meetingJoin(devA, room);
      await sleep(1000);
      await meetingJoin(devB, room);
      await sleep(1000);
      await leave(devA);
      await sleep(1000);
      await leave(devB);
    })(),
  ]);
}

/** The participants' peer ids of a running meeting, sorted. */
export const peerIds = (meeting) => meeting.participants.map((p) => p.peerId).sort();

/**
 * Checks that should not stop a test: each failure is kept, the test goes on to its
 * other checks, and `done()` fails with all of them at the end.
 */
export function checklist() {
  const failures = [];
  return {
    async check(fn) {
      try {
        await fn();
      } catch (e) {
        failures.push(String(e.message).split("\n").slice(0, 4).join(" | "));
      }
    },
    done() {
      if (failures.length) assert.fail(`${failures.length} check(s) failed:\n- ${failures.join("\n- ")}`);
    },
  };
}
