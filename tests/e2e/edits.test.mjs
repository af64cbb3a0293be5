// Editing a message (issue 13): `edit-chat-message` and `PATCH …/messages/{id}` reach
// every member as `chat-message-edited`, on one node and across three; a rejoin with
// lastChangeSeq replays an edit missed while away with the current content; 20 edits at
// once from three nodes leave the last one (in change order) on every socket.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { ack, ackOk, closeAll, connectUser, join, isRfc3339, sleep } from "./lib/client.mjs";
import { startCluster } from "./lib/cluster.mjs";
import { uid } from "./lib/util.mjs";

describe("editing messages", () => {
  let c;
  const clients = [];
  before(async () => {
    c = await startCluster({ nodes: 3, env: { CLASSCHAT_RATE_SEND_PER_SEC: "1000", CLASSCHAT_RATE_SEND_BURST: "1000" } });
  });
  after(async () => {
    closeAll(clients);
    await c?.stop();
  });

  async function classroom() {
    const t = c.user(uid("t"), "teacher");
    const s = c.user(uid("s"));
    const room = await c.nodes[0].ok("POST", "/chat/rooms/group", t, { name: "edits", memberIds: [s.id] }, 201);
    return { t, s, room };
  }

  test("edit-chat-message acks the edited message and every member's socket on every node gets chat-message-edited", async () => {
    const [A, B, C] = c.nodes;
    const { t, s, room } = await classroom();
    const sender = await connectUser(A, t);
    const onB = await connectUser(B, s);
    const onC = await connectUser(C, t);
    clients.push(sender, onB, onC);
    for (const x of [sender, onB, onC]) await join(x, [room.id]);
    const m = await ackOk(sender.socket, "send-chat-message", { roomId: room.id, content: "page 80" });
    const edited = await ackOk(sender.socket, "edit-chat-message", { roomId: room.id, messageId: m.id, content: "page 81" });
    assert.equal(edited.content, "page 81");
    assert.equal(edited.id, m.id);
    assert.ok(isRfc3339(edited.editedAt));
    for (const x of [sender, onB, onC]) {
      const { data } = await x.rec.waitFor("chat-message-edited", (d) => d.messageId === m.id);
      assert.deepEqual(Object.keys(data).sort(), ["changeSeq", "content", "editedAt", "messageId", "roomId"]);
      assert.equal(data.content, "page 81");
      assert.equal(data.roomId, room.id);
      assert.equal(data.editedAt, edited.editedAt);
      assert.equal(data.changeSeq, 1);
    }
    // Someone else's message: refused, nothing broadcast.
    const refused = await ack(onB.socket, "edit-chat-message", { roomId: room.id, messageId: m.id, content: "mine now" });
    assert.equal(refused.ok, false);
    assert.equal(refused.error.code, "forbidden");
    // Over REST too.
    const r = await B.ok("PATCH", `/chat/rooms/${room.id}/messages/${m.id}`, t, { content: "page 82" }, 200);
    assert.equal(r.content, "page 82");
    await onB.rec.waitFor("chat-message-edited", (d) => d.content === "page 82");
    await sleep(300);
    assert.equal(onB.rec.data("chat-message-edited").length, 2, "two edits, each once");
  });

  test("a rejoin with lastChangeSeq replays an edit made while away, with the content as it is now", async () => {
    const [A, B] = c.nodes;
    const { t, s, room } = await classroom();
    const m = await A.ok("POST", `/chat/rooms/${room.id}/messages`, t, { content: "draft" }, 201);
    const away = await connectUser(B, s);
    clients.push(away);
    const first = await ackOk(away.socket, "join-chat-rooms", { roomIds: [room.id], lastSeq: { [room.id]: m.seq } });
    assert.equal(first.changeCatchUp[0].lastChangeSeq, 0);
    away.socket.close();
    await A.ok("PATCH", `/chat/rooms/${room.id}/messages/${m.id}`, t, { content: "second" }, 200);
    await A.ok("PATCH", `/chat/rooms/${room.id}/messages/${m.id}`, t, { content: "final" }, 200);

    const back = await connectUser(B, s);
    clients.push(back);
    const joined = await ackOk(back.socket, "join-chat-rooms", {
      roomIds: [room.id],
      lastSeq: { [room.id]: m.seq },
      lastChangeSeq: { [room.id]: 0 },
    });
    assert.deepEqual(joined.changeCatchUp, [{ roomId: room.id, afterChangeSeq: 0, replayed: 2, lastChangeSeq: 2, complete: true }]);
    const replayed = back.rec.data("chat-message-edited");
    assert.deepEqual(replayed.map((d) => [d.changeSeq, d.content]), [[1, "final"], [2, "final"]]);
  });

  test("20 edits of one message at once through three nodes leave the last one, in change order, on every socket and in history", async () => {
    const { t, s, room } = await classroom();
    const watchers = [];
    for (const node of c.nodes) {
      for (const who of [t, s]) {
        const x = await connectUser(node, who);
        await join(x, [room.id]);
        watchers.push(x);
      }
    }
    clients.push(...watchers);
    const m = await c.nodes[0].ok("POST", `/chat/rooms/${room.id}/messages`, t, { content: "v0" }, 201);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        c.nodes[i % 3].ok("PATCH", `/chat/rooms/${room.id}/messages/${m.id}`, t, { content: `v${i + 1}` }, 200),
      ),
    );
    const history = await c.nodes[1].ok("GET", `/chat/rooms/${room.id}/messages?limit=1`, s, undefined, 200);
    const final = history[0].content;
    for (const x of watchers) {
      await x.rec.waitFor("chat-message-edited", (d) => d.changeSeq === 20, { timeout: 15_000 });
      const got = x.rec.data("chat-message-edited").filter((d) => d.messageId === m.id);
      assert.deepEqual(got.map((d) => d.changeSeq), Array.from({ length: 20 }, (_, i) => i + 1), "each edit once, in change order");
      assert.equal(got.at(-1).content, final, "the last edit everywhere is the stored content");
    }
  });
});
