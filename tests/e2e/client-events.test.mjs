// Every client→server event with its ack, and the server→client events they cause.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { startServer, withServerLogs } from "./lib/server.mjs";
import { ack, ackOk, clientPool, closeAll, isRfc3339, join } from "./lib/client.mjs";
import { MESSAGE_FIELDS, quiet, uid } from "./lib/util.mjs";

let server;
const { clients, connect } = clientPool(() => server);
const it = (name, fn) => test(name, withServerLogs(() => server, fn));

/** Teacher t, students a and b in group g; a and b connected and joined to g. */
async function scenario() {
  const t = server.user(uid("teacher"), "teacher", "Teacher T");
  const a = server.user(uid("a"), "student", "Alice");
  const b = server.user(uid("b"), "student", "Bob");
  const g = await server.group(t, [a, b]);
  const ca = await connect(a);
  const cb = await connect(b);
  await join(ca, [g.id]);
  await join(cb, [g.id]);
  return { t, a, b, g, ca, cb };
}

describe("client → server events", () => {
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    closeAll(clients);
    for (const c of clients) assert.deepEqual(c.rec.malformed, [], `${c.rec.label} got malformed event bodies`);
    await server?.stop();
  });

  it("join-chat-rooms: ack and chat-rooms-joined; unknown and foreign rooms rejected with a code", async () => {
    const t = server.user(uid("teacher"), "teacher");
    const a = server.user(uid("a"));
    const c = server.user(uid("c"));
    const g = await server.group(t, [a]);
    const foreign = await server.group(t, [c]);
    const unknown = "no-such-room-" + uid("r");
    const ca = await connect(a);
    const mark = ca.rec.mark();
    const res = await ack(ca.socket, "join-chat-rooms", { roomIds: [g.id, unknown, foreign.id, g.id] });
    assert.equal(res.ok, true, JSON.stringify(res));
    assert.deepEqual(res.data.roomIds, [g.id]);
    assert.deepEqual(
      [...res.data.rejected].sort((x, y) => x.roomId.localeCompare(y.roomId)),
      [
        { roomId: unknown, code: "room_not_found" },
        { roomId: foreign.id, code: "room_not_found" },
      ].sort((x, y) => x.roomId.localeCompare(y.roomId)),
    );
    for (const r of res.data.rejected) assert.equal(typeof r.code, "string");
    const ev = await ca.rec.waitFor("chat-rooms-joined", () => true, { from: mark });
    assert.deepEqual(ev.data, res.data);
    assert.ok(isRfc3339(ev.body.timestamp));

    // The join took effect for g, and not for the foreign room.
    const cc = await connect(c);
    await join(cc, [foreign.id]);
    await server.ok("POST", `/chat/rooms/${foreign.id}/messages`, t, { content: "foreign" });
    await cc.rec.waitFor("new-chat-message", (m) => m.content === "foreign");
    const m = await server.ok("POST", `/chat/rooms/${g.id}/messages`, t, { content: "to g" });
    const got = await ca.rec.waitFor("new-chat-message", (d) => d.id === m.id);
    assert.equal(got.data.roomId, g.id);
    await quiet();
    assert.deepEqual(ca.rec.data("new-chat-message").map((d) => d.content), ["to g"]);
  });

  it("join-chat-rooms: an admin may join any room", async () => {
    const t = server.user(uid("teacher"), "teacher");
    const a = server.user(uid("a"));
    const adm = server.user(uid("admin"), "admin");
    const g = await server.group(t, [a]);
    const cadm = await connect(adm);
    const data = await join(cadm, [g.id]);
    assert.deepEqual(data, { roomIds: [g.id], rejected: [] });
    const m = await server.ok("POST", `/chat/rooms/${g.id}/messages`, a, { content: "watched" });
    await cadm.rec.waitFor("new-chat-message", (d) => d.id === m.id);
  });

  it("leave-chat-room: ack, then no more events from that room", async () => {
    const { t, g, ca, cb } = await scenario();
    const m1 = await server.ok("POST", `/chat/rooms/${g.id}/messages`, t, { content: "before leave" });
    await ca.rec.waitFor("new-chat-message", (d) => d.id === m1.id);
    const data = await ackOk(ca.socket, "leave-chat-room", { roomId: g.id });
    assert.equal(data.roomId, g.id);
    const mark = ca.rec.mark();
    const m2 = await server.ok("POST", `/chat/rooms/${g.id}/messages`, t, { content: "after leave" });
    await ackOk(cb.socket, "chat-typing", { roomId: g.id, isTyping: false });
    await server.ok("DELETE", `/chat/rooms/${g.id}/messages/${m1.id}`, t);
    // b (still joined) gets all of it: the positive control.
    await cb.rec.waitFor("new-chat-message", (d) => d.id === m2.id);
    await cb.rec.waitFor("chat-message-deleted", (d) => d.messageId === m1.id);
    await quiet();
    assert.deepEqual(
      ca.rec.since(mark).filter((e) => e.data?.roomId === g.id).map((e) => e.event),
      [],
      "a left the room but still got its events",
    );
    assert.ok(ca.socket.connected);
  });

  it("chat-typing: others get chat-user-typing, the typer's own sockets do not", async () => {
    const { a, b, g, ca, cb } = await scenario();
    const ca2 = await connect(a);
    await join(ca2, [g.id]);
    const data = await ackOk(ca.socket, "chat-typing", { roomId: g.id, isTyping: true });
    assert.deepEqual(data, { roomId: g.id, isTyping: true });
    const on = await cb.rec.waitFor("chat-user-typing", (d) => d.isTyping === true);
    assert.deepEqual(on.data, { roomId: g.id, userId: a.id, userName: a.name, isTyping: true });
    await ackOk(ca.socket, "chat-typing", { roomId: g.id, isTyping: false });
    const off = await cb.rec.waitFor("chat-user-typing", (d) => d.isTyping === false);
    assert.deepEqual(off.data, { roomId: g.id, userId: a.id, userName: a.name, isTyping: false });
    // b typing reaches both of a's sockets (so a's sockets do listen) ...
    await ackOk(cb.socket, "chat-typing", { roomId: g.id, isTyping: true });
    await ca.rec.waitFor("chat-user-typing", (d) => d.userId === b.id);
    await ca2.rec.waitFor("chat-user-typing", (d) => d.userId === b.id);
    await ackOk(cb.socket, "chat-typing", { roomId: g.id, isTyping: false });
    await ca2.rec.waitFor("chat-user-typing", (d) => d.userId === b.id && !d.isTyping);
    await quiet();
    // ... but a's own typing never came back to a.
    assert.deepEqual(ca.rec.data("chat-user-typing", (d) => d.userId === a.id), []);
    assert.deepEqual(ca2.rec.data("chat-user-typing", (d) => d.userId === a.id), []);
    assert.equal(cb.rec.data("chat-user-typing", (d) => d.userId === b.id).length, 0);
  });

  it("mark-messages-seen with upToSeq and with messageIds: ack and messages-seen", async () => {
    const { t, a, b, g, ca, cb } = await scenario();
    const ms = [];
    for (const content of ["one", "two", "three"]) {
      ms.push(await server.ok("POST", `/chat/rooms/${g.id}/messages`, b, { content }));
    }
    assert.deepEqual(
      ms.map((m) => m.seq),
      [ms[0].seq, ms[0].seq + 1, ms[0].seq + 2],
    );
    const d1 = await ackOk(ca.socket, "mark-messages-seen", { roomId: g.id, upToSeq: ms[1].seq });
    assert.equal(d1.roomId, g.id);
    assert.equal(d1.userId, a.id);
    assert.equal(d1.upToSeq, ms[1].seq);
    assert.deepEqual(d1.messageIds, []);
    assert.ok(isRfc3339(d1.seenAt));
    const e1 = await cb.rec.waitFor("messages-seen", (d) => d.userId === a.id && d.upToSeq === ms[1].seq);
    assert.deepEqual(e1.data, d1);

    const d2 = await ackOk(ca.socket, "mark-messages-seen", { roomId: g.id, messageIds: [ms[2].id] });
    assert.equal(d2.upToSeq, ms[2].seq);
    assert.deepEqual(d2.messageIds, [ms[2].id]);
    const e2 = await cb.rec.waitFor("messages-seen", (d) => d.userId === a.id && d.upToSeq === ms[2].seq);
    assert.deepEqual(e2.data, d2);
    // The reader's own sockets in the room see it too (other devices clear their badge).
    await ca.rec.waitFor("messages-seen", (d) => d.upToSeq === ms[2].seq);

    const detail = await server.ok("GET", `/chat/rooms/${g.id}`, t);
    assert.equal(detail.members.find((m) => m.userId === a.id).lastReadSeq, ms[2].seq);
    const seenBy = await server.ok("GET", `/chat/rooms/${g.id}/messages/${ms[2].id}/seen-by`, b);
    assert.deepEqual(
      seenBy.map((s) => s.userId),
      [a.id],
    );
  });

  it("update-chat-status: ack, contacts get chat-user-status-update, REST agrees", async () => {
    const { a, b, ca, cb } = await scenario();
    const mark = cb.rec.mark();
    const data = await ackOk(ca.socket, "update-chat-status", { status: "busy" });
    assert.equal(data.userId, a.id);
    assert.equal(data.status, "busy");
    const ev = await cb.rec.waitFor("chat-user-status-update", (d) => d.userId === a.id && d.status === "busy", {
      from: mark,
    });
    assert.ok(ev.data.lastSeen === null || isRfc3339(ev.data.lastSeen));
    const st = await server.ok("GET", `/chat/users/${a.id}/status`, b);
    assert.equal(st.status, "busy");
    assert.equal(st.userId, a.id);
    const back = await ackOk(ca.socket, "update-chat-status", { status: "online" });
    assert.equal(back.status, "online");
    await cb.rec.waitFor("chat-user-status-update", (d) => d.userId === a.id && d.status === "online", {
      from: mark,
    });
  });

  it("get-room-online-users: ack and room-online-users with the online members only", async () => {
    const { t, a, b, g, ca } = await scenario();
    const mark = ca.rec.mark();
    const data = await ackOk(ca.socket, "get-room-online-users", { roomId: g.id });
    assert.equal(data.roomId, g.id);
    const users = [...data.users].sort((x, y) => x.userId.localeCompare(y.userId));
    assert.deepEqual(
      users,
      [
        { userId: a.id, name: a.name, status: "online" },
        { userId: b.id, name: b.name, status: "online" },
      ].sort((x, y) => x.userId.localeCompare(y.userId)),
    );
    assert.ok(!data.users.some((u) => u.userId === t.id), "the teacher is not connected");
    const ev = await ca.rec.waitFor("room-online-users", () => true, { from: mark });
    assert.deepEqual(ev.data, data);
  });

  it("send-chat-message: ack carries the stored message; a repeated clientMessageId is not stored or broadcast twice", async () => {
    const { a, b, g, ca, cb } = await scenario();
    const payload = { roomId: g.id, content: "hello over socket", clientMessageId: "cid-" + uid("m") };
    const m = await ackOk(ca.socket, "send-chat-message", payload);
    for (const f of MESSAGE_FIELDS) assert.ok(f in m, `message lacks ${f}: ${JSON.stringify(m)}`);
    assert.equal(m.roomId, g.id);
    assert.equal(m.senderId, a.id);
    assert.equal(m.senderName, a.name);
    assert.equal(m.content, payload.content);
    assert.equal(m.clientMessageId, payload.clientMessageId);
    assert.ok(Number.isInteger(m.seq) && m.seq >= 1);
    assert.ok(isRfc3339(m.createdAt));
    assert.equal(m.deletedAt, null);
    const got = await cb.rec.waitFor("new-chat-message", (d) => d.id === m.id);
    assert.deepEqual(got.data, m);
    // The sender's own socket in the room gets it too.
    await ca.rec.waitFor("new-chat-message", (d) => d.id === m.id);

    const again = await ackOk(ca.socket, "send-chat-message", { ...payload, content: "changed" });
    assert.deepEqual(again, m, "a repeated clientMessageId must return the first message");
    const rest = await server.rest("POST", `/chat/rooms/${g.id}/messages`, a, {
      content: "again over REST",
      clientMessageId: payload.clientMessageId,
    });
    assert.equal(rest.status, 200);
    assert.deepEqual(rest.body.data, m);

    // Barrier: a later message; b must have seen exactly [m, later] in between.
    const later = await ackOk(ca.socket, "send-chat-message", { roomId: g.id, content: "later" });
    assert.equal(later.seq, m.seq + 1, "the repeat must not have used a seq");
    await cb.rec.waitFor("new-chat-message", (d) => d.id === later.id);
    await quiet();
    assert.deepEqual(
      cb.rec.data("new-chat-message").map((d) => d.id),
      [m.id, later.id],
    );
    const hist = await server.history(b, g.id);
    assert.deepEqual(
      hist.map((h) => [h.id, h.content]),
      [
        [m.id, "hello over socket"],
        [later.id, "later"],
      ],
    );
  });

  it("send-chat-message: fields a client may not set (id, seq, senderId, senderName) are ignored", async () => {
    const { a, b, g, ca, cb } = await scenario();
    const m = await ackOk(ca.socket, "send-chat-message", {
      roomId: g.id,
      content: "spoof",
      id: "forged-id",
      seq: 999,
      senderId: b.id,
      senderName: "Not Alice",
      createdAt: "2000-01-01T00:00:00Z",
    });
    assert.notEqual(m.id, "forged-id");
    assert.equal(m.seq, 1);
    assert.equal(m.senderId, a.id);
    assert.equal(m.senderName, a.name);
    assert.ok(Date.parse(m.createdAt) > Date.parse("2020-01-01T00:00:00Z"));
    const got = await cb.rec.waitFor("new-chat-message", (d) => d.content === "spoof");
    assert.deepEqual(got.data, m);
  });

  it("send-chat-message: the same clientMessageId sent at once from two sockets and REST is stored and broadcast once", async () => {
    // A client retrying (or two tabs) races the first send. The contract: the repeat
    // answers the first message (200 / ok); an internal_error is never right.
    const { a, b, g, ca, cb } = await scenario();
    const ca2 = await connect(a);
    const ROUNDS = 4;
    const stored = [];
    const wrong = [];
    for (let round = 0; round < ROUNDS; round++) {
      const cid = `race-${round}-` + uid("m");
      const content = `only once ${round}`;
      const payload = { roomId: g.id, content, clientMessageId: cid };
      const body = { content, clientMessageId: cid };
      const [s1, s2, r1, r2] = await Promise.all([
        ack(ca.socket, "send-chat-message", payload),
        ack(ca2.socket, "send-chat-message", payload),
        server.rest("POST", `/chat/rooms/${g.id}/messages`, a, body),
        server.rest("POST", `/chat/rooms/${g.id}/messages`, a, body),
      ]);
      const answers = [];
      for (const [name, x] of [
        ["socket 1", s1],
        ["socket 2", s2],
      ]) {
        if (x?.ok === true) answers.push(x.data);
        else wrong.push(`round ${round} ${name}: ack ${JSON.stringify(x)}`);
      }
      for (const [name, x] of [
        ["REST 1", r1],
        ["REST 2", r2],
      ]) {
        if (x.status === 200 || x.status === 201) answers.push(x.body.data);
        else wrong.push(`round ${round} ${name}: ${x.status} ${JSON.stringify(x.body)}`);
      }
      const ids = new Set(answers.map((m) => m.id));
      if (ids.size > 1) wrong.push(`round ${round}: ${ids.size} different messages for one clientMessageId`);
      stored.push(content);
    }
    const later = await ackOk(ca.socket, "send-chat-message", { roomId: g.id, content: "after the race" });
    await cb.rec.waitFor("new-chat-message", (d) => d.id === later.id);
    await quiet();
    const hist = await server.history(b, g.id);
    assert.deepEqual(
      hist.map((h) => h.content),
      [...stored, "after the race"],
      "each clientMessageId stored once",
    );
    assert.deepEqual(
      cb.rec.data("new-chat-message").map((d) => d.content),
      [...stored, "after the race"],
      "each clientMessageId broadcast once",
    );
    assert.deepEqual(wrong, [], "every concurrent repeat must be answered with the first message");
  });
});
