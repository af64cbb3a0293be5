// Every server→client event, REST actions reaching sockets, and member removal.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { startServer, withServerLogs } from "./lib/server.mjs";
import { ack, ackOk, clientPool, closeAll, isRfc3339, join } from "./lib/client.mjs";
import { MESSAGE_FIELDS, quiet, uid } from "./lib/util.mjs";

let server;
const { clients, connect } = clientPool(() => server);
const it = (name, fn) => test(name, withServerLogs(() => server, fn));

const post = (room, who, body) => server.ok("POST", `/chat/rooms/${room.id ?? room}/messages`, who, body);

describe("server → client events", () => {
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    closeAll(clients);
    for (const c of clients) assert.deepEqual(c.rec.malformed, [], `${c.rec.label} got malformed event bodies`);
    await server?.stop();
  });

  it("new-chat-message: a REST send reaches every member's joined sockets", async () => {
    const t = server.user(uid("teacher"), "teacher", "Teach");
    const a = server.user(uid("a"));
    const b = server.user(uid("b"));
    const g = await server.group(t, [a, b]);
    const ca = await connect(a);
    const ca2 = await connect(a);
    const cb = await connect(b);
    const ct = await connect(t);
    for (const c of [ca, ca2, cb, ct]) await join(c, [g.id]);
    const r = await server.rest("POST", `/chat/rooms/${g.id}/messages`, t, { content: "REST hello" });
    assert.equal(r.status, 201);
    const m = r.body.data;
    for (const f of MESSAGE_FIELDS) assert.ok(f in m, `message lacks ${f}`);
    assert.equal(m.senderId, t.id);
    assert.equal(m.senderName, "Teach");
    for (const c of [ca, ca2, cb, ct]) {
      const ev = await c.rec.waitFor("new-chat-message", (d) => d.id === m.id);
      assert.deepEqual(ev.data, m);
      assert.ok(isRfc3339(ev.body.timestamp));
    }
    await quiet();
    for (const c of [ca, ca2, cb, ct]) assert.equal(c.rec.of("new-chat-message").length, 1, c.rec.label);
  });

  it("chat-message-deleted after REST DELETE; history keeps a tombstone", async () => {
    const t = server.user(uid("teacher"), "teacher");
    const a = server.user(uid("a"));
    const b = server.user(uid("b"));
    const g = await server.group(t, [a, b]);
    const ca = await connect(a);
    const cb = await connect(b);
    await join(ca, [g.id]);
    await join(cb, [g.id]);
    const m = await ackOk(ca.socket, "send-chat-message", { roomId: g.id, content: "oops" });
    const del = await server.ok("DELETE", `/chat/rooms/${g.id}/messages/${m.id}`, a, undefined, 200);
    assert.equal(del.id, m.id);
    assert.equal(del.content, null);
    assert.equal(del.deletedBy, a.id);
    for (const c of [ca, cb]) {
      const ev = await c.rec.waitFor("chat-message-deleted", (d) => d.messageId === m.id);
      // changeSeq: the deletion's place in the room's change log (the room's first change).
      assert.deepEqual(ev.data, { roomId: g.id, messageId: m.id, deletedBy: a.id, changeSeq: 1 });
    }
    const hist = await server.history(b, g.id);
    assert.equal(hist.length, 1);
    assert.equal(hist[0].id, m.id);
    assert.equal(hist[0].content, null);
    assert.equal(hist[0].deletedBy, a.id);
    assert.ok(isRfc3339(hist[0].deletedAt));
    // A teacher deletes a student's message: deletedBy is the teacher.
    const m2 = await ackOk(cb.socket, "send-chat-message", { roomId: g.id, content: "moderate me" });
    await server.ok("DELETE", `/chat/rooms/${g.id}/messages/${m2.id}`, t, undefined, 200);
    const ev2 = await ca.rec.waitFor("chat-message-deleted", (d) => d.messageId === m2.id);
    assert.equal(ev2.data.deletedBy, t.id);
    assert.equal(ev2.data.changeSeq, 2, "the room's second change");
  });

  it("chat-user-status-update: a contact sharing two rooms is told exactly once", async () => {
    const t = server.user(uid("teacher"), "teacher");
    const x = server.user(uid("x"));
    const y = server.user(uid("y"));
    await server.group(t, [x, y]);
    await server.group(t, [x, y]);
    await server.ok("POST", "/chat/rooms/personal", x, { userId: y.id }, 201);
    const cy = await connect(y);
    const cx = await connect(x);
    const online = await cy.rec.waitFor("chat-user-status-update", (d) => d.userId === x.id);
    assert.equal(online.data.status, "online");
    assert.ok(online.data.lastSeen === null || isRfc3339(online.data.lastSeen));
    // Barrier: a later status change; between the two, exactly one "online".
    await ackOk(cx.socket, "update-chat-status", { status: "away" });
    await cy.rec.waitFor("chat-user-status-update", (d) => d.userId === x.id && d.status === "away");
    await ackOk(cx.socket, "update-chat-status", { status: "online" });
    await cy.rec.waitFor("chat-user-status-update", (d) => d.userId === x.id && d.status === "online", {
      from: cy.rec.events.indexOf(online) + 1,
    });
    await quiet();
    assert.deepEqual(
      cy.rec.data("chat-user-status-update", (d) => d.userId === x.id).map((d) => d.status),
      ["online", "away", "online"],
    );
  });

  it("chat-user-status-update follows membership changes made while both are connected", async () => {
    const t = server.user(uid("teacher"), "teacher");
    const x = server.user(uid("x"));
    const y = server.user(uid("y"));
    const g = await server.group(t, [x]);
    const cx = await connect(x);
    const cy = await connect(y);
    // Not contacts yet: y hears nothing of x.
    await ackOk(cx.socket, "update-chat-status", { status: "away" });
    await quiet();
    assert.equal(cy.rec.data("chat-user-status-update", (d) => d.userId === x.id).length, 0);
    // Added while connected: now a contact, told of x's next change.
    await server.ok("POST", `/chat/rooms/${g.id}/members`, t, { userIds: [y.id] });
    await ackOk(cx.socket, "update-chat-status", { status: "busy" });
    await cy.rec.waitFor("chat-user-status-update", (d) => d.userId === x.id && d.status === "busy");
    // Removed: no longer told.
    await server.ok("DELETE", `/chat/rooms/${g.id}/members/${y.id}`, t);
    await ackOk(cx.socket, "update-chat-status", { status: "online" });
    await quiet();
    assert.deepEqual(
      cy.rec.data("chat-user-status-update", (d) => d.userId === x.id).map((d) => d.status),
      ["busy"],
    );
  });

  it("chat-notification new-chat: POST /chat/rooms/personal tells the other user (once)", async () => {
    const a = server.user(uid("a"), "student", "Ann");
    const b = server.user(uid("b"));
    const cb = await connect(b);
    const cb2 = await connect(b);
    const r = await server.rest("POST", "/chat/rooms/personal", a, { userId: b.id });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const room = r.body.data;
    assert.equal(room.type, "personal");
    assert.deepEqual(room.members.map((m) => m.userId).sort(), [a.id, b.id].sort());
    for (const c of [cb, cb2]) {
      const ev = await c.rec.waitFor("chat-notification", (d) => d.type === "new-chat");
      assert.equal(ev.data.room.id, room.id);
      assert.equal(ev.data.room.type, "personal");
      assert.equal(ev.data.by?.userId, a.id);
    }
    // Opening it again (either side) returns the same room, 200, and notifies nobody.
    const again = await server.rest("POST", "/chat/rooms/personal", a, { userId: b.id });
    assert.equal(again.status, 200);
    assert.equal(again.body.data.id, room.id);
    const back = await server.rest("POST", "/chat/rooms/personal", b, { userId: a.id });
    assert.equal(back.status, 200);
    assert.equal(back.body.data.id, room.id);
    // Barrier: a later message in the new room; no second notification came before it.
    await join(cb, [room.id]);
    const m = await post(room, a, { content: "hi b" });
    await cb.rec.waitFor("new-chat-message", (d) => d.id === m.id);
    await quiet();
    assert.equal(cb.rec.of("chat-notification").length, 1);
  });

  it("chat-notification group-invite on POST /chat/rooms/group and member-added / group-invite on POST …/members", async () => {
    const t = server.user(uid("teacher"), "teacher", "Prof");
    const a = server.user(uid("a"));
    const b = server.user(uid("b"));
    const c = server.user(uid("c"));
    const d = server.user(uid("d"));
    const ct = await connect(t);
    const ca = await connect(a);
    const cb = await connect(b);
    const cc = await connect(c);
    const cd = await connect(d);
    const g = await server.group(t, [a, b], "Algebra");
    assert.equal(g.type, "group");
    assert.equal(g.members.find((m) => m.userId === t.id).roomRole, "owner");
    for (const cl of [ca, cb]) {
      const ev = await cl.rec.waitFor("chat-notification", (x) => x.type === "group-invite" && x.room.id === g.id);
      assert.equal(ev.data.room.name, "Algebra");
      assert.equal(ev.data.by?.userId, t.id);
    }
    const detail = await server.ok("POST", `/chat/rooms/${g.id}/members`, t, { userIds: [c.id, d.id, a.id] }, 200);
    assert.deepEqual(detail.members.map((m) => m.userId).sort(), [t.id, a.id, b.id, c.id, d.id].sort());
    for (const cl of [cc, cd]) {
      const ev = await cl.rec.waitFor("chat-notification", (x) => x.type === "group-invite" && x.room.id === g.id);
      assert.equal(ev.data.by?.userId, t.id);
    }
    for (const cl of [ca, cb]) {
      const ev = await cl.rec.waitFor("chat-notification", (x) => x.type === "member-added" && x.room.id === g.id);
      assert.deepEqual([...ev.data.userIds].sort(), [c.id, d.id].sort());
    }
    await quiet();
    // New members were invited, not told "member-added"; old members were not re-invited.
    for (const cl of [cc, cd]) {
      assert.deepEqual(
        cl.rec.data("chat-notification").map((x) => x.type),
        ["group-invite"],
        cl.rec.label,
      );
    }
    for (const cl of [ca, cb]) {
      assert.deepEqual(
        cl.rec.data("chat-notification").map((x) => x.type),
        ["group-invite", "member-added"],
        cl.rec.label,
      );
    }
    // The creator is not invited to their own room.
    assert.equal(ct.rec.data("chat-notification", (x) => x.type === "group-invite").length, 0);
  });

  it("chat-notification mention: mentioned members are notified with the message", async () => {
    const t = server.user(uid("teacher"), "teacher");
    const a = server.user(uid("a"), "student", "Ann");
    const b = server.user(uid("b"));
    const c = server.user(uid("c"));
    const g = await server.group(t, [a, b, c]);
    const ca = await connect(a);
    const cb = await connect(b);
    const cc = await connect(c);
    await join(ca, [g.id]);
    const m = await ackOk(ca.socket, "send-chat-message", {
      roomId: g.id,
      content: "@b look",
      mentions: [b.id],
    });
    assert.deepEqual(m.mentions, [b.id]);
    // b gets it on the private channel, without having joined the room.
    const ev = await cb.rec.waitFor("chat-notification", (x) => x.type === "mention");
    assert.equal(ev.data.room.id, g.id);
    assert.equal(ev.data.message?.id, m.id);
    assert.equal(ev.data.by?.userId, a.id);
    // Over REST too.
    const m2 = await post(g, b, { content: "@c you too", mentions: [c.id] });
    const ev2 = await cc.rec.waitFor("chat-notification", (x) => x.type === "mention");
    assert.equal(ev2.data.message?.id, m2.id);
    await quiet();
    assert.equal(cc.rec.of("chat-notification").length, 1);
    assert.equal(cb.rec.of("chat-notification").length, 1);
    assert.equal(ca.rec.of("chat-notification").length, 0, "the sender was not mentioned");
  });

  it("a removed member receives nothing from the room afterwards while still connected", async () => {
    const t = server.user(uid("teacher"), "teacher");
    const a = server.user(uid("a"));
    const b = server.user(uid("b"));
    const g = await server.group(t, [a, b]);
    const other = await server.group(t, [b]);
    const ca = await connect(a);
    const cb = await connect(b);
    const cb2 = await connect(b);
    await join(ca, [g.id]);
    await join(cb, [g.id, other.id]);
    await join(cb2, [g.id]);
    const m0 = await post(g, t, { content: "before removal" });
    for (const c of [ca, cb, cb2]) await c.rec.waitFor("new-chat-message", (d) => d.id === m0.id);

    const r = await server.rest("DELETE", `/chat/rooms/${g.id}/members/${b.id}`, t);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const marks = [cb.rec.mark(), cb2.rec.mark()];

    const sent = [];
    sent.push(await post(g, t, { content: "after 1" }));
    sent.push(await ackOk(ca.socket, "send-chat-message", { roomId: g.id, content: "after 2" }));
    sent.push(await post(g, t, { content: "after 3", mentions: [a.id] }));
    await ackOk(ca.socket, "chat-typing", { roomId: g.id, isTyping: true });
    await ackOk(ca.socket, "mark-messages-seen", { roomId: g.id, upToSeq: sent[2].seq });
    await server.ok("DELETE", `/chat/rooms/${g.id}/messages/${sent[0].id}`, t);
    // Positive control: a gets all of it.
    for (const m of sent) await ca.rec.waitFor("new-chat-message", (d) => d.id === m.id);
    await ca.rec.waitFor("messages-seen", (d) => d.upToSeq === sent[2].seq);
    await ca.rec.waitFor("chat-message-deleted", (d) => d.messageId === sent[0].id);
    // b is still connected and still hears other rooms.
    const mo = await post(other, t, { content: "other room" });
    await cb.rec.waitFor("new-chat-message", (d) => d.id === mo.id);
    await quiet();
    for (const [i, c] of [cb, cb2].entries()) {
      assert.ok(c.socket.connected, "the removed member's socket stays connected");
      const leaked = c.rec.since(marks[i]).filter((e) => e.data?.roomId === g.id || e.data?.room?.id === g.id);
      assert.deepEqual(
        leaked.map((e) => `${e.event} ${JSON.stringify(e.data)}`),
        [],
        `${c.rec.label} got events of a room it was removed from`,
      );
    }
    // And it cannot come back by joining, nor send.
    const rej = await ackOk(cb.socket, "join-chat-rooms", { roomIds: [g.id] });
    assert.deepEqual(rej.roomIds, []);
    assert.deepEqual(rej.rejected, [{ roomId: g.id, code: "room_not_found" }]);
    const send = await ack(cb.socket, "send-chat-message", { roomId: g.id, content: "let me in" });
    assert.equal(send.ok, false);
    assert.equal(send.error.code, "room_not_found");
    const hist = await server.history(a, g.id);
    assert.deepEqual(
      hist.map((h) => h.id),
      [m0.id, ...sent.map((m) => m.id)],
    );
  });
});
