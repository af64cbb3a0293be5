// Reactions and pins (issue 13): `react-chat-message` and `PUT …/reactions/{emoji}` reach
// every member as `chat-message-reaction`, a pin as `chat-message-pinned`, across nodes; 50 users reacting to one message at once through
// three nodes end with the right count on every socket and in history, the counts
// going out in change order.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { ack, ackOk, closeAll, connectUser, join } from "./lib/client.mjs";
import { startCluster } from "./lib/cluster.mjs";
import { uid } from "./lib/util.mjs";

describe("reactions", () => {
  let c;
  const clients = [];
  before(async () => {
    c = await startCluster({ nodes: 3 });
  });
  after(async () => {
    closeAll(clients);
    await c?.stop();
  });

  test("react-chat-message adds and removes one reaction per user and emoji, told to the room with the count", async () => {
    const [A, B] = c.nodes;
    const t = c.user(uid("t"), "teacher");
    const s = c.user(uid("s"));
    const room = await A.ok("POST", "/chat/rooms/group", t, { name: "r", memberIds: [s.id] }, 201);
    const onA = await connectUser(A, t);
    const onB = await connectUser(B, s);
    clients.push(onA, onB);
    await join(onA, [room.id]);
    await join(onB, [room.id]);
    const m = await ackOk(onA.socket, "send-chat-message", { roomId: room.id, content: "quiz at 9" });
    const added = await ackOk(onB.socket, "react-chat-message", { roomId: room.id, messageId: m.id, emoji: "👍", action: "add" });
    assert.deepEqual(
      { ...added, changeSeq: undefined },
      { roomId: room.id, messageId: m.id, emoji: "👍", userId: s.id, action: "add", count: 1, changeSeq: undefined },
    );
    const { data } = await onA.rec.waitFor("chat-message-reaction", (d) => d.messageId === m.id);
    assert.deepEqual(Object.keys(data).sort(), ["action", "changeSeq", "count", "emoji", "messageId", "roomId", "userId"]);
    assert.equal(data.count, 1);
    const bad = await ack(onB.socket, "react-chat-message", { roomId: room.id, messageId: m.id, emoji: "no", action: "add" });
    assert.equal(bad.error.code, "invalid_emoji");
    const removed = await ackOk(onB.socket, "react-chat-message", { roomId: room.id, messageId: m.id, emoji: "👍", action: "remove" });
    assert.equal(removed.count, 0);
    await onA.rec.waitFor("chat-message-reaction", (d) => d.action === "remove" && d.count === 0);
  });

  test("50 users reacting to one message at once through three nodes end with 50 everywhere, counts in change order", async () => {
    const t = c.user(uid("t"), "teacher");
    const users = Array.from({ length: 50 }, (_, i) => c.user(uid(`u${i}`)));
    const room = await c.nodes[0].ok("POST", "/chat/rooms/group", t, { name: "big", memberIds: users.map((u) => u.id) }, 201);
    const m = await c.nodes[0].ok("POST", `/chat/rooms/${room.id}/messages`, t, { content: "vote" }, 201);
    const watchers = [];
    for (const node of c.nodes) {
      const w = await connectUser(node, t);
      await join(w, [room.id]);
      watchers.push(w);
    }
    clients.push(...watchers);
    const path = `/chat/rooms/${room.id}/messages/${m.id}/reactions/${encodeURIComponent("🎉")}`;
    const answers = await Promise.all(users.map((u, i) => c.nodes[i % 3].ok("PUT", path, u, null, 200)));
    assert.deepEqual(answers.map((a) => a.count).sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1), "each count once");
    for (const w of watchers) {
      await w.rec.waitFor("chat-message-reaction", (d) => d.messageId === m.id && d.count === 50, { timeout: 15_000 });
      const got = w.rec.data("chat-message-reaction").filter((d) => d.messageId === m.id);
      assert.deepEqual(got.map((d) => d.count), Array.from({ length: 50 }, (_, i) => i + 1), "in change order");
    }
    const [latest] = await c.nodes[2].ok("GET", `/chat/rooms/${room.id}/messages?limit=1`, t, undefined, 200);
    assert.deepEqual(latest.reactions, [{ emoji: "🎉", count: 50 }]);
  });

  test("a pin on one node reaches the room on the others as chat-message-pinned, and a rejoin replays it", async () => {
    const [A, B, C] = c.nodes;
    const t = c.user(uid("t"), "teacher");
    const s = c.user(uid("s"));
    const room = await A.ok("POST", "/chat/rooms/group", t, { name: "pins", memberIds: [s.id] }, 201);
    const m = await A.ok("POST", `/chat/rooms/${room.id}/messages`, t, { content: "rules" }, 201);
    const onC = await connectUser(C, s);
    clients.push(onC);
    await join(onC, [room.id]);
    const done = await B.ok("PUT", `/chat/rooms/${room.id}/pins/${m.id}`, t, null, 200);
    const { data } = await onC.rec.waitFor("chat-message-pinned", (d) => d.messageId === m.id);
    assert.deepEqual(data, { roomId: room.id, messageId: m.id, pinned: true, by: t.id, changeSeq: done.changeSeq });
    const back = await connectUser(A, s);
    clients.push(back);
    await ackOk(back.socket, "join-chat-rooms", { roomIds: [room.id], lastSeq: { [room.id]: 0 }, lastChangeSeq: { [room.id]: 0 } });
    const replayed = back.rec.data("chat-message-pinned");
    assert.deepEqual(replayed.map((d) => [d.messageId, d.pinned]), [[m.id, true]]);
    const [msg] = back.rec.data("new-chat-message").filter((d) => d.id === m.id);
    assert.equal(msg.pinned, true, "the catch-up replay carries the message as it is now");
  });
});
