// Bad input over the socket: each gets its error code in the ack, the connection
// stays up and keeps working, nothing is written, and the server does not crash.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { startServer, withServerLogs } from "./lib/server.mjs";
import { ack, ackOk, closeAll, connectUser, join, sleep } from "./lib/client.mjs";
import { quiet, uid } from "./lib/util.mjs";

let server;
const clients = [];
const it = (name, fn) => test(name, withServerLogs(() => server, fn));

// Shared world: teacher t; student a in g; room `foreign` without a; observer b in g.
let t, a, b, c, g, foreign, ca, cb;
const UNKNOWN = "no-such-room-0123456789";

async function connect(user) {
  const cl = await connectUser(server, user);
  clients.push(cl);
  return cl;
}

/** The connection is still up and a following valid event still works. */
async function stillUp(cl, context, roomId = g.id) {
  assert.ok(cl.socket.connected, `socket disconnected after ${context}`);
  const d = await ack(cl.socket, "get-room-online-users", { roomId });
  assert.equal(d?.ok, true, `a valid event after ${context} failed: ${JSON.stringify(d)}`);
  assert.equal(d.data.roomId, roomId);
  assert.ok(server.alive(), `server died after ${context}`);
}

/**
 * Emits each case `[label, event, args, code]` on `cl`, collecting every
 * mismatch so one run shows them all; checks the connection after each.
 */
async function expectErrors(cl, cases) {
  const wrong = [];
  for (const [label, event, args, code] of cases) {
    let res;
    try {
      res = await ack(cl.socket, event, ...args);
    } catch (e) {
      wrong.push(`${label}: no ack (${e.message})`);
      continue;
    }
    if (res?.ok !== false || res?.error?.code !== code || typeof res?.error?.message !== "string") {
      wrong.push(`${label}: wanted error ${code}, got ${JSON.stringify(res)?.slice(0, 300)}`);
    }
    await stillUp(cl, label);
  }
  assert.deepEqual(wrong, []);
}

const EVENTS = [
  "join-chat-rooms",
  "leave-chat-room",
  "chat-typing",
  "mark-messages-seen",
  "update-chat-status",
  "get-room-online-users",
  "send-chat-message",
];

describe("bad input over the socket", () => {
  before(async () => {
    // get-room-online-users is the liveness probe after every case: issue 11's
    // per-user limit on it out of the way.
    server = await startServer({
      env: { CLASSCHAT_RATE_ONLINE_USERS_PER_SEC: "100000", CLASSCHAT_RATE_ONLINE_USERS_BURST: "100000" },
    });
    t = server.user(uid("teacher"), "teacher");
    a = server.user(uid("a"));
    b = server.user(uid("b"));
    c = server.user(uid("c"));
    g = await server.group(t, [a, b]);
    foreign = await server.group(t, [c]);
    ca = await connect(a);
    cb = await connect(b);
    await join(ca, [g.id]);
    await join(cb, [g.id]);
  });
  after(async () => {
    closeAll(clients);
    await server?.stop();
  });

  it("payload that is not an object: string, number, array, null, boolean, missing", async () => {
    const shapes = [
      ["string", ["hello"]],
      ["number", [42]],
      ["array", [[1, 2]]],
      ["array of an object", [[{ roomId: "x" }]]],
      ["null", [null]],
      ["boolean", [true]],
      ["missing", []],
    ];
    const cases = [];
    for (const event of EVENTS) {
      for (const [shape, args] of shapes) cases.push([`${event} with ${shape}`, event, args, "invalid_payload"]);
    }
    await expectErrors(ca, cases);
  });

  it("wrong field types and missing fields", async () => {
    await expectErrors(ca, [
      ["join roomIds string", "join-chat-rooms", [{ roomIds: g.id }], "invalid_payload"],
      ["join roomIds numbers", "join-chat-rooms", [{ roomIds: [1, 2] }], "invalid_payload"],
      ["join roomIds null", "join-chat-rooms", [{ roomIds: null }], "invalid_payload"],
      ["join without roomIds", "join-chat-rooms", [{}], "invalid_payload"],
      ["leave roomId number", "leave-chat-room", [{ roomId: 5 }], "invalid_payload"],
      ["leave without roomId", "leave-chat-room", [{}], "invalid_payload"],
      ["typing isTyping string", "chat-typing", [{ roomId: g.id, isTyping: "yes" }], "invalid_payload"],
      ["typing roomId number", "chat-typing", [{ roomId: 5, isTyping: true }], "invalid_payload"],
      ["typing without isTyping", "chat-typing", [{ roomId: g.id }], "invalid_payload"],
      ["seen upToSeq string", "mark-messages-seen", [{ roomId: g.id, upToSeq: "3" }], "invalid_payload"],
      ["seen upToSeq negative", "mark-messages-seen", [{ roomId: g.id, upToSeq: -1 }], "invalid_payload"],
      ["seen neither form", "mark-messages-seen", [{ roomId: g.id }], "invalid_payload"],
      ["seen both forms", "mark-messages-seen", [{ roomId: g.id, upToSeq: 1, messageIds: ["x"] }], "invalid_payload"],
      ["seen messageIds empty", "mark-messages-seen", [{ roomId: g.id, messageIds: [] }], "invalid_payload"],
      ["seen messageIds string", "mark-messages-seen", [{ roomId: g.id, messageIds: "x" }], "invalid_payload"],
      ["seen without roomId", "mark-messages-seen", [{ upToSeq: 1 }], "invalid_payload"],
      ["status number", "update-chat-status", [{ status: 5 }], "invalid_payload"],
      ["status unknown value", "update-chat-status", [{ status: "sleeping" }], "invalid_status"],
      ["status missing", "update-chat-status", [{}], "invalid_payload"],
      ["online users roomId array", "get-room-online-users", [{ roomId: [] }], "invalid_payload"],
      ["online users without roomId", "get-room-online-users", [{}], "invalid_payload"],
      ["send content number", "send-chat-message", [{ roomId: g.id, content: 5 }], "invalid_payload"],
      ["send without content", "send-chat-message", [{ roomId: g.id }], "invalid_payload"],
      ["send without roomId", "send-chat-message", [{ content: "x" }], "invalid_payload"],
      ["send roomId number", "send-chat-message", [{ roomId: 7, content: "x" }], "invalid_payload"],
      ["send mentions string", "send-chat-message", [{ roomId: g.id, content: "x", mentions: b.id }], "invalid_payload"],
      ["send clientMessageId number", "send-chat-message", [{ roomId: g.id, content: "x", clientMessageId: 5 }], "invalid_payload"],
      ["send replyToId unknown", "send-chat-message", [{ roomId: g.id, content: "x", replyToId: "nope" }], "invalid_reply_to"],
      ["send 51 mentions", "send-chat-message", [{ roomId: g.id, content: "x", mentions: Array.from({ length: 51 }, (_, i) => `u${i}`) }], "too_many_mentions"],
      ["send content with NUL", "send-chat-message", [{ roomId: g.id, content: "a\u0000b" }], "invalid_payload"],
      ["join room id with NUL", "join-chat-rooms", [{ roomIds: ["a\u0000b"] }], "invalid_payload"],
      ["seen upToSeq float", "mark-messages-seen", [{ roomId: g.id, upToSeq: 1.5 }], "invalid_payload"],
    ]);
  });

  it("unknown room id and a room the user is not in", async () => {
    const cases = [];
    for (const [what, roomId] of [
      ["unknown room", UNKNOWN],
      ["foreign room", foreign.id],
    ]) {
      cases.push(
        [`typing in ${what}`, "chat-typing", [{ roomId, isTyping: true }], "room_not_found"],
        [`seen in ${what}`, "mark-messages-seen", [{ roomId, upToSeq: 1 }], "room_not_found"],
        [`online users of ${what}`, "get-room-online-users", [{ roomId }], "room_not_found"],
        [`send to ${what}`, "send-chat-message", [{ roomId, content: "intruder" }], "room_not_found"],
      );
    }
    cases.push(["seen unknown message id", "mark-messages-seen", [{ roomId: g.id, messageIds: ["nope"] }], "message_not_found"]);
    // Message ids of another room name nothing here.
    const elsewhere = await server.group(t, [a]);
    const other = await server.ok("POST", `/chat/rooms/${elsewhere.id}/messages`, a, { content: "elsewhere" });
    cases.push(
      ["seen with another room's message id", "mark-messages-seen", [{ roomId: g.id, messageIds: [other.id] }], "message_not_found"],
      ["reply to another room's message", "send-chat-message", [{ roomId: g.id, content: "x", replyToId: other.id }], "invalid_reply_to"],
    );
    await expectErrors(ca, cases);
    // join answers ok, with both rejected.
    const j = await ackOk(ca.socket, "join-chat-rooms", { roomIds: [UNKNOWN, foreign.id] });
    assert.deepEqual(j.roomIds, []);
    assert.deepEqual(
      j.rejected.map((r) => [r.roomId, r.code]).sort(),
      [
        [UNKNOWN, "room_not_found"],
        [foreign.id, "room_not_found"],
      ].sort(),
    );
    await stillUp(ca, "join of unknown and foreign rooms");
  });

  it("limits: 1,000 room ids, content over 4000 chars, empty content", async () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `room-${i}`);
    ids[0] = g.id;
    await expectErrors(ca, [
      ["join 1000 rooms", "join-chat-rooms", [{ roomIds: ids }], "too_many_rooms"],
      ["join 101 rooms", "join-chat-rooms", [{ roomIds: ids.slice(0, 101) }], "too_many_rooms"],
      ["content 4001 chars", "send-chat-message", [{ roomId: g.id, content: "x".repeat(4001) }], "content_too_large"],
      ["content 4001 two-byte chars", "send-chat-message", [{ roomId: g.id, content: "é".repeat(4001) }], "content_too_large"],
      ["empty content", "send-chat-message", [{ roomId: g.id, content: "" }], "invalid_content"],
      ["blank content", "send-chat-message", [{ roomId: g.id, content: "  \n\t " }], "invalid_content"],
    ]);
    // 100 ids is allowed (the unknown ones rejected).
    const j = await ackOk(ca.socket, "join-chat-rooms", { roomIds: ids.slice(0, 100) });
    assert.deepEqual(j.roomIds, [g.id]);
    assert.equal(j.rejected.length, 99);
    // Exactly 4000 characters is allowed.
    const m = await ackOk(ca.socket, "send-chat-message", { roomId: g.id, content: "é".repeat(4000) });
    assert.equal([...m.content].length, 4000);
    await cb.rec.waitFor("new-chat-message", (d) => d.id === m.id);
  });

  it("content far over the limit (70,000 chars) gets content_too_large and the connection stays up", async () => {
    // The contract: over a limit, an error ack over Socket.IO, and the connection stays up.
    // A separate user and socket, so a dropped connection does not disturb the other tests.
    const big = server.user(uid("big"));
    const bg = await server.group(t, [big]);
    const cbig = await connect(big);
    let reason = null;
    cbig.socket.on("disconnect", (r) => (reason = r));
    let res;
    try {
      res = await ack(cbig.socket, "send-chat-message", { roomId: bg.id, content: "x".repeat(70_000) });
    } catch (e) {
      res = { noAck: e.message };
    }
    assert.ok(server.alive(), "the server survived");
    assert.equal(reason, null, `the connection was dropped (${reason}); ack: ${JSON.stringify(res)}`);
    assert.equal(res?.ok, false, JSON.stringify(res));
    assert.equal(res.error.code, "content_too_large");
    await stillUp(cbig, "a 70,000-char message", bg.id);
    assert.deepEqual(await server.history(t, bg.id), []);
  });

  it("an unknown event with an ack gets unknown_event; without an ack it is ignored", async () => {
    await expectErrors(ca, [
      ["unknown event", "no-such-event", [{ roomId: g.id }], "unknown_event"],
      ["unknown event without payload", "chat-message", [], "unknown_event"],
    ]);
    ca.socket.emit("no-such-event-no-ack", { x: 1 });
    await stillUp(ca, "an unknown event without ack");
  });

  it("nothing was written by the bad input, and the server is healthy", async () => {
    // Only the one valid 4000-char message of the limits test is in g; nothing anywhere else.
    const hist = await server.history(b, g.id);
    assert.deepEqual(
      hist.map((m) => [m.senderId, [...m.content].length]),
      [[a.id, 4000]],
    );
    assert.deepEqual(await server.history(t, foreign.id), []);
    const detail = await server.ok("GET", `/chat/rooms/${g.id}`, t);
    // a's pointer covers only a's own message (senders have read what they sent); b's is untouched.
    assert.equal(detail.members.find((m) => m.userId === a.id).lastReadSeq, hist[0].seq);
    assert.equal(detail.members.find((m) => m.userId === b.id).lastReadSeq, 0, "no read receipt was stored");
    assert.equal((await server.ok("GET", `/chat/users/${a.id}/status`, b)).status, "online");
    // b saw no typing, receipts or messages caused by the bad input.
    await quiet();
    assert.deepEqual(
      cb.rec.events.filter((e) => e.event !== "chat-rooms-joined" && e.event !== "chat-user-status-update").map((e) => e.event),
      ["new-chat-message"],
    );
    assert.ok(server.alive());
    assert.equal(await server.healthz(), 200);
    assert.equal(ca.socket.connected, true);
  });

  it("a flood of sends over the rate limit: some rate_limited, the rest stored, counts match", async () => {
    const f = server.user(uid("flooder"));
    const room = await server.group(t, [f, b]);
    const cf = await connect(f);
    await join(cf, [room.id]);
    await join(cb, [room.id]);
    const N = 80;
    const acks = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        ack(cf.socket, "send-chat-message", { roomId: room.id, content: `flood ${i}`, clientMessageId: `flood-${i}` }),
      ),
    );
    const ok = acks.filter((x) => x.ok === true);
    const limited = acks.filter((x) => x.ok === false && x.error?.code === "rate_limited");
    const other = acks.filter((x) => !(x.ok === true || x.error?.code === "rate_limited"));
    assert.deepEqual(other, [], "only ok or rate_limited acks");
    assert.ok(limited.length > 0, "a burst of 80 must hit the limit");
    assert.ok(ok.length >= 20, `the burst allowance (20) is honoured, got ${ok.length} ok`);
    assert.equal(ok.length + limited.length, N);
    for (const l of limited) {
      assert.equal(typeof l.error.message, "string");
      if ("retryAfter" in l.error) assert.ok(l.error.retryAfter >= 1);
    }
    assert.ok(cf.socket.connected, "rate limiting does not drop the connection");
    const hist = await server.history(f, room.id);
    assert.equal(hist.length, ok.length, "stored messages = ok acks");
    assert.deepEqual(
      hist.map((m) => m.id).sort(),
      ok.map((x) => x.data.id).sort(),
    );
    await cb.rec.waitCount("new-chat-message", ok.length, (d) => d.roomId === room.id);
    // After the bucket refills, sending works again.
    await sleep(1500);
    const later = await ackOk(cf.socket, "send-chat-message", { roomId: room.id, content: "after the flood" });
    assert.ok(later.seq > Math.max(...ok.map((x) => x.data.seq)));
    await quiet();
    assert.equal(cb.rec.of("new-chat-message", (d) => d.roomId === room.id).length, ok.length + 1);
    assert.ok(server.alive());
    assert.equal(await server.healthz(), 200);
  });

  it("a flood of typing events over the rate limit: some rate_limited, the connection stays up", async () => {
    const ty = server.user(uid("typist"));
    const room = await server.group(t, [ty, b]);
    const cty = await connect(ty);
    const N = 40;
    const acks = await Promise.all(
      Array.from({ length: N }, (_, i) => ack(cty.socket, "chat-typing", { roomId: room.id, isTyping: i % 2 === 0 })),
    );
    const ok = acks.filter((x) => x.ok === true).length;
    const limited = acks.filter((x) => x.ok === false && x.error?.code === "rate_limited").length;
    assert.equal(ok + limited, N, JSON.stringify(acks.filter((x) => !(x.ok === true || x.error?.code === "rate_limited"))));
    assert.ok(limited > 0, "40 typing events at once must hit the limit");
    assert.ok(ok >= 10, `the typing burst allowance (10) is honoured, got ${ok} ok`);
    await stillUp(cty, "a typing flood", room.id);
  });

  it("bad input over REST is a 4xx with an error code, never a 500", async () => {
    const cases = [
      ["POST", `/chat/rooms/${g.id}/messages`, { content: "x".repeat(4001) }, 413, "content_too_large"],
      ["POST", `/chat/rooms/${g.id}/messages`, { content: "" }, 400, "invalid_content"],
      ["POST", `/chat/rooms/${g.id}/messages`, "not json", 400, "invalid_json"],
      ["POST", `/chat/rooms/${g.id}/messages`, [1, 2], 400, "invalid_payload"],
      ["POST", `/chat/rooms/${UNKNOWN}/messages`, { content: "x" }, 404, "room_not_found"],
      ["POST", `/chat/rooms/${foreign.id}/messages`, { content: "x" }, 404, "room_not_found"],
      ["GET", `/chat/rooms/${g.id}/messages?limit=abc`, undefined, 400, "invalid_query"],
      ["POST", `/chat/rooms/${g.id}/seen`, { upToSeq: "x" }, 400, "invalid_payload"],
      ["PUT", "/chat/status", { status: "sleeping" }, 400, "invalid_status"],
    ];
    const wrong = [];
    for (const [method, path, body, status, code] of cases) {
      const r = await server.rest(method, path, a, body);
      if (r.status !== status || r.body?.error?.code !== code) {
        wrong.push(`${method} ${path} ${JSON.stringify(body)?.slice(0, 40)}: wanted ${status} ${code}, got ${r.status} ${JSON.stringify(r.body)}`);
      }
    }
    assert.deepEqual(wrong, []);
    const hist = await server.history(b, g.id);
    assert.equal(hist.length, 1, "no REST bad input was stored");
    assert.equal(await server.healthz(), 200);
  });
});
