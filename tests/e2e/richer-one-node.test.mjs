// Issue 13's events on one node in its zero-configuration mode (SQLite, in-process
// backplane), with the real socket.io-client: `chat-message-edited`,
// `chat-message-reaction` and `chat-message-pinned` reach every member's socket (the
// actor's other device too) once, in change order, and a rejoin with lastChangeSeq
// replays them. Attachments and forwards on one node are in uploads.test.mjs.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { ackOk, closeAll, connectUser, join, sleep } from "./lib/client.mjs";
import { mintToken, startServer } from "./lib/server.mjs";
import { uid } from "./lib/util.mjs";

describe("edits, reactions and pins on one node", () => {
  let node;
  const secret = "richer-one-node-secret-of-32-bytes-min";
  const user = (id, role = "student") => ({ id, token: mintToken(secret, { sub: id, role, name: id }) });
  const clients = [];
  before(async () => {
    node = await startServer({ env: { CLASSCHAT_JWT_SECRET: secret } });
  });
  after(async () => {
    closeAll(clients);
    await node?.stop();
  });

  test("every member's socket gets each change once, in change order, and a rejoin replays them", async () => {
    const t = user(uid("t"), "teacher");
    const s = user(uid("s"));
    const room = await node.ok("POST", "/chat/rooms/group", t, { name: "one", memberIds: [s.id] }, 201);
    const teacher = await connectUser(node, t);
    const otherDevice = await connectUser(node, t);
    const student = await connectUser(node, s);
    const all = [teacher, otherDevice, student];
    clients.push(...all);
    for (const x of all) await join(x, [room.id]);
    const m = await ackOk(teacher.socket, "send-chat-message", { roomId: room.id, content: "read p. 10" });
    await ackOk(teacher.socket, "edit-chat-message", { roomId: room.id, messageId: m.id, content: "read p. 12" });
    const r = await ackOk(student.socket, "react-chat-message", { roomId: room.id, messageId: m.id, emoji: "✅", action: "add" });
    assert.equal(r.count, 1);
    const pin = await node.ok("PUT", `/chat/rooms/${room.id}/pins/${m.id}`, t, null, 200);
    assert.equal(pin.changeSeq, 3);
    for (const x of all) {
      await x.rec.waitFor("chat-message-pinned", (d) => d.messageId === m.id);
      const edited = x.rec.data("chat-message-edited").filter((d) => d.messageId === m.id);
      const reacted = x.rec.data("chat-message-reaction").filter((d) => d.messageId === m.id);
      const pinned = x.rec.data("chat-message-pinned").filter((d) => d.messageId === m.id);
      assert.deepEqual(
        [...edited, ...reacted, ...pinned].map((d) => d.changeSeq),
        [1, 2, 3],
        "each change once, in change order",
      );
      assert.equal(edited[0].content, "read p. 12");
      assert.deepEqual([reacted[0].emoji, reacted[0].userId, reacted[0].count], ["✅", s.id, 1]);
      assert.deepEqual([pinned[0].pinned, pinned[0].by], [true, t.id]);
    }
    await sleep(200);
    assert.equal(student.rec.data("chat-message-edited").length, 1, "no echo twice");

    // Away for all three: a rejoin from change 0 replays them with the message as it is now.
    const back = await connectUser(node, s);
    clients.push(back);
    await ackOk(back.socket, "join-chat-rooms", { roomIds: [room.id], lastSeq: { [room.id]: 0 }, lastChangeSeq: { [room.id]: 0 } });
    const [msg] = back.rec.data("new-chat-message").filter((d) => d.id === m.id);
    assert.deepEqual([msg.content, msg.pinned, msg.reactions], ["read p. 12", true, [{ emoji: "✅", count: 1 }]]);
    assert.equal(back.rec.data("chat-message-edited").length, 1);
    assert.equal(back.rec.data("chat-message-reaction").length, 1);
    assert.equal(back.rec.data("chat-message-pinned").length, 1);
  });
});
