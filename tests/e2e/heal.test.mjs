// The server heals what live delivery missed (docs/DELIVERY.md): with Redis down, a
// message and a deletion made through one node still reach a socket on another node
// (the node's audit reads them from the database), each once and in order; and a rejoin
// with lastChangeSeq replays the deletions a client missed while it was away.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { ackOk, closeAll, connectUser, join, sleep } from "./lib/client.mjs";
import { metric, startCluster } from "./lib/cluster.mjs";
import { uid } from "./lib/util.mjs";

describe("healing live delivery", () => {
  let c;
  before(async () => {
    c = await startCluster({ nodes: 2, env: { CLASSCHAT_RELAY_AUDIT_INTERVAL_MS: "500" } });
  });
  after(async () => {
    await c?.stop();
  });

  test("while Redis is down, a message and a deletion made on one node reach a socket on the other, once and in order", async () => {
    const [A, B] = c.nodes;
    const t = c.user(uid("t"), "teacher");
    const s = c.user(uid("s"));
    const clients = [];
    try {
      const room = await A.ok("POST", "/chat/rooms/group", t, { name: "heal", memberIds: [s.id] }, 201);
      const onB = await connectUser(B, s);
      clients.push(onB);
      await join(onB, [room.id]);
      const m1 = await A.ok("POST", `/chat/rooms/${room.id}/messages`, t, { content: "one" }, 201);
      await onB.rec.waitFor("new-chat-message", (d) => d.id === m1.id);

      await c.redis.stop();
      const m2 = await A.ok("POST", `/chat/rooms/${room.id}/messages`, t, { content: "two" }, 201);
      const m3 = await A.ok("POST", `/chat/rooms/${room.id}/messages`, t, { content: "three" }, 201);
      await A.ok("DELETE", `/chat/rooms/${room.id}/messages/${m1.id}`, t, undefined, 200);
      // Redis stays down: B's audit finds them in the database.
      await onB.rec.waitFor("new-chat-message", (d) => d.id === m3.id, { timeout: 10_000 });
      const { data: del } = await onB.rec.waitFor("chat-message-deleted", (d) => d.messageId === m1.id, { timeout: 10_000 });
      assert.equal(del.changeSeq, 1);
      assert.equal(del.deletedBy, t.id);
      assert.ok((await metric(B, 'classchat_relay_healed_total{reason="audit"}')) >= 3);

      await c.redis.start();
      const m4 = await A.ok("POST", `/chat/rooms/${room.id}/messages`, t, { content: "four" }, 201);
      await onB.rec.waitFor("new-chat-message", (d) => d.id === m4.id, { timeout: 15_000 });
      await sleep(300);
      const seqs = onB.rec.data("new-chat-message").map((d) => d.seq);
      assert.deepEqual(seqs, [m1.seq, m2.seq, m3.seq, m4.seq], "each message once, in seq order");
      assert.equal(onB.rec.of("chat-message-deleted").length, 1, "the deletion once");
    } finally {
      closeAll(clients);
      if (!c.redis.proc || c.redis.proc.exitCode !== null || c.redis.proc.signalCode !== null) await c.redis.start();
    }
  });

  test("a rejoin with lastChangeSeq replays the deletions missed while away, and tells the room's last change seq", async () => {
    const [A] = c.nodes;
    const t = c.user(uid("t"), "teacher");
    const s = c.user(uid("s"));
    const clients = [];
    try {
      const room = await A.ok("POST", "/chat/rooms/group", t, { name: "changes", memberIds: [s.id] }, 201);
      const sent = [];
      for (const content of ["a", "b", "c"]) sent.push(await A.ok("POST", `/chat/rooms/${room.id}/messages`, t, { content }, 201));
      const first = await connectUser(A, s);
      clients.push(first);
      const joined = await ackOk(first.socket, "join-chat-rooms", { roomIds: [room.id], lastSeq: { [room.id]: 3 } });
      assert.deepEqual(joined.changeCatchUp, [{ roomId: room.id, afterChangeSeq: null, replayed: 0, lastChangeSeq: 0, complete: true }]);
      first.socket.close();

      // Away: two deletions.
      await A.ok("DELETE", `/chat/rooms/${room.id}/messages/${sent[0].id}`, t, undefined, 200);
      await A.ok("DELETE", `/chat/rooms/${room.id}/messages/${sent[2].id}`, t, undefined, 200);

      const back = await connectUser(A, s);
      clients.push(back);
      const mark = back.rec.mark();
      const again = await ackOk(back.socket, "join-chat-rooms", { roomIds: [room.id], lastSeq: { [room.id]: 3 }, lastChangeSeq: { [room.id]: 0 } });
      assert.deepEqual(again.changeCatchUp, [{ roomId: room.id, afterChangeSeq: 0, replayed: 2, lastChangeSeq: 2, complete: true }]);
      await back.rec.waitFor("chat-rooms-joined", () => true, { from: mark });
      const names = ["new-chat-message", "chat-message-deleted", "chat-rooms-joined"];
      const events = back.rec.since(mark).map((e) => e.event).filter((e) => names.includes(e));
      assert.deepEqual(events, ["chat-message-deleted", "chat-message-deleted", "chat-rooms-joined"], "replayed before chat-rooms-joined");
      const replayed = back.rec.data("chat-message-deleted");
      assert.deepEqual(
        replayed.map((d) => [d.messageId, d.changeSeq, d.deletedBy]),
        [
          [sent[0].id, 1, t.id],
          [sent[2].id, 2, t.id],
        ],
      );
      const bad = await back.socket.timeout(10_000).emitWithAck("join-chat-rooms", { roomIds: [room.id], lastChangeSeq: { [room.id]: -1 } });
      assert.equal(bad.ok, false);
      assert.equal(bad.error.code, "invalid_payload");
    } finally {
      closeAll(clients);
    }
  });
});
