// Read receipts over Socket.IO (issue 11 #9): `messages-seen` carries only the message ids
// the server checked (messages of that room, each once), never the client's own list.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { startServer, withServerLogs } from "./lib/server.mjs";
import { ackOk, clientPool, closeAll, join } from "./lib/client.mjs";
import { quiet, uid } from "./lib/util.mjs";

let server;
const { clients, connect } = clientPool(() => server);
const it = (name, fn) => test(name, withServerLogs(() => server, fn));

const post = (room, who, content) =>
  server.ok("POST", `/chat/rooms/${room.id}/messages`, who, { content }, [200, 201]);

describe("messages-seen relays only validated ids", () => {
  before(async () => {
    server = await startServer({ env: { CLASSCHAT_DRAIN_DELAY_MS: "0" } });
  });
  after(async () => {
    closeAll(clients);
    await server?.stop();
  });

  it("a 900 KB messageIds list does not reach other members: they get only the ids of that room's messages", async () => {
    const t = server.user(uid("teacher"), "teacher");
    const a = server.user(uid("a"));
    const b = server.user(uid("b"));
    const g = await server.group(t, [a, b]);
    const other = await server.group(t, [a]);
    const m1 = await post(g, t, "one");
    const m2 = await post(g, t, "two");
    const elsewhere = await post(other, t, "elsewhere");
    const ca = await connect(a);
    const cb = await connect(b);
    await join(ca, [g.id]);
    await join(cb, [g.id]);
    const mark = cb.rec.mark();
    // 997 made-up ids of 900 bytes, a message of another room, two real ones (one twice).
    const junk = Array.from({ length: 996 }, (_, i) => `${i}-`.padEnd(900, "x"));
    const messageIds = [m2.id, ...junk, elsewhere.id, m1.id, m2.id];
    assert.ok(JSON.stringify(messageIds).length > 890_000);
    const data = await ackOk(ca.socket, "mark-messages-seen", { roomId: g.id, messageIds });
    assert.deepEqual(data.messageIds, [m2.id, m1.id], "the ack names the checked ids, each once, in the order sent");
    assert.equal(data.upToSeq, m2.seq);
    const ev = await cb.rec.waitFor("messages-seen", (d) => d.userId === a.id, { from: mark });
    assert.deepEqual(ev.data.messageIds, [m2.id, m1.id]);
    assert.equal(ev.data.upToSeq, m2.seq);
    assert.ok(JSON.stringify(ev.body).length < 1000, `event of ${JSON.stringify(ev.body).length} bytes`);
  });

  it("a list naming no message of the room is refused and nobody is told", async () => {
    const t = server.user(uid("teacher"), "teacher");
    const a = server.user(uid("a"));
    const b = server.user(uid("b"));
    const g = await server.group(t, [a, b]);
    await post(g, t, "hello");
    const ca = await connect(a);
    const cb = await connect(b);
    await join(ca, [g.id]);
    await join(cb, [g.id]);
    const mark = cb.rec.mark();
    const a1 = await ca.socket.timeout(15_000).emitWithAck("mark-messages-seen", {
      roomId: g.id,
      messageIds: ["x".repeat(900), "nope"],
    });
    assert.equal(a1.ok, false);
    assert.equal(a1.error.code, "message_not_found");
    await quiet();
    assert.deepEqual(cb.rec.since(mark, "messages-seen"), []);
  });
});
