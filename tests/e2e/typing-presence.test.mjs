// Typing auto-stop (the default 3 s, not configured) and presence across sockets.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { startServer, withServerLogs } from "./lib/server.mjs";
import { ackOk, clientPool, closeAll, isRfc3339, join, sleep } from "./lib/client.mjs";
import { quiet, uid } from "./lib/util.mjs";

let server;
const { clients, connect } = clientPool(() => server);
const it = (name, fn) => test(name, withServerLogs(() => server, fn));

async function pair() {
  const t = server.user(uid("teacher"), "teacher");
  const a = server.user(uid("a"), "student", "Typist");
  const b = server.user(uid("b"));
  const g = await server.group(t, [a, b]);
  const ca = await connect(a);
  const cb = await connect(b);
  await join(ca, [g.id]);
  await join(cb, [g.id]);
  return { a, b, g, ca, cb };
}

const typingOf = (user, isTyping) => (d) => d.userId === user.id && d.isTyping === isTyping;

function elapsed(from, to) {
  return Math.round(to.at - from.at);
}

before(async () => {
  // CLASSCHAT_TYPING_TIMEOUT_MS deliberately unset: this proves the 3 s default.
  server = await startServer();
});

after(async () => {
  closeAll(clients);
  await server?.stop();
  for (const c of clients) assert.deepEqual(c.rec.malformed, [], `${c.rec.label} got malformed event bodies`);
});

describe("typing auto-stop", () => {

  it("after isTyping: true and silence, others get isTyping: false from the server ~3 s later", async () => {
    const { a, g, ca, cb } = await pair();
    await ackOk(ca.socket, "chat-typing", { roomId: g.id, isTyping: true });
    const on = await cb.rec.waitFor("chat-user-typing", typingOf(a, true));
    const off = await cb.rec.waitFor("chat-user-typing", typingOf(a, false), { timeout: 8000 });
    const dt = elapsed(on, off);
    assert.ok(dt >= 2500 && dt <= 4500, `auto-stop came after ${dt} ms, wanted 2500-4500`);
    assert.deepEqual(off.data, { roomId: g.id, userId: a.id, userName: "Typist", isTyping: false });
    assert.ok(isRfc3339(off.body.timestamp));
    await quiet();
    assert.equal(ca.rec.of("chat-user-typing").length, 0, "the typer never hears their own typing");
    assert.deepEqual(
      cb.rec.data("chat-user-typing").map((d) => d.isTyping),
      [true, false],
    );
  });

  it("a new isTyping: true restarts the 3 s timer (one stop, 3 s after the last start)", async () => {
    const { a, g, ca, cb } = await pair();
    await ackOk(ca.socket, "chat-typing", { roomId: g.id, isTyping: true });
    const first = await cb.rec.waitFor("chat-user-typing", typingOf(a, true));
    await sleep(1500);
    const mark = cb.rec.mark();
    await ackOk(ca.socket, "chat-typing", { roomId: g.id, isTyping: true });
    const second = await cb.rec.waitFor("chat-user-typing", typingOf(a, true), { from: mark });
    const off = await cb.rec.waitFor("chat-user-typing", typingOf(a, false), { timeout: 8000 });
    const dt = elapsed(second, off);
    assert.ok(
      dt >= 2500 && dt <= 4500,
      `stop came ${dt} ms after the second start (${elapsed(first, off)} ms after the first), wanted 2500-4500 after the second`,
    );
    await sleep(1000);
    assert.deepEqual(
      cb.rec.data("chat-user-typing").map((d) => d.isTyping),
      [true, true, false],
    );
  });

  it("an explicit isTyping: false cancels the auto-stop (no second false)", async () => {
    const { a, g, ca, cb } = await pair();
    await ackOk(ca.socket, "chat-typing", { roomId: g.id, isTyping: true });
    await cb.rec.waitFor("chat-user-typing", typingOf(a, true));
    await ackOk(ca.socket, "chat-typing", { roomId: g.id, isTyping: false });
    await cb.rec.waitFor("chat-user-typing", typingOf(a, false));
    await sleep(4500);
    assert.deepEqual(
      cb.rec.data("chat-user-typing").map((d) => d.isTyping),
      [true, false],
    );
  });
});

describe("presence", () => {
  it("online with the first socket, stays online while one remains, offline with lastSeen after the last", async () => {
    const t = server.user(uid("teacher"), "teacher");
    const p = server.user(uid("p"));
    const q = server.user(uid("q"));
    await server.group(t, [p, q]);
    await server.group(t, [p, q]); // two shared rooms: still one update each time
    const cq = await connect(q);
    const before = await server.ok("GET", `/chat/users/${p.id}/status`, q);
    assert.equal(before.status, "offline");

    const p1 = await connect(p);
    const on = await cq.rec.waitFor("chat-user-status-update", (d) => d.userId === p.id);
    assert.equal(on.data.status, "online");
    assert.equal((await server.ok("GET", `/chat/users/${p.id}/status`, q)).status, "online");

    const p2 = await connect(p);
    p1.socket.close();
    // The server handles the disconnect asynchronously; give it a generous window.
    await sleep(1500);
    const mid = await server.ok("GET", `/chat/users/${p.id}/status`, q);
    assert.equal(mid.status, "online", "one socket left: still online");
    assert.deepEqual(
      cq.rec.data("chat-user-status-update", (d) => d.userId === p.id).map((d) => d.status),
      ["online"],
      "neither the second connect nor the first close is announced",
    );
    assert.ok(p2.socket.connected);

    const closedAt = Date.now();
    p2.socket.close();
    const off = await cq.rec.waitFor(
      "chat-user-status-update",
      (d) => d.userId === p.id && d.status === "offline",
      { timeout: 10_000 },
    );
    assert.ok(isRfc3339(off.data.lastSeen), `lastSeen ${off.data.lastSeen} is not RFC 3339`);
    const seenMs = Date.parse(off.data.lastSeen);
    assert.ok(Math.abs(seenMs - closedAt) < 30_000, `lastSeen ${off.data.lastSeen} is not around now`);

    const st = await server.ok("GET", `/chat/users/${p.id}/status`, q);
    assert.equal(st.userId, p.id);
    assert.equal(st.status, "offline");
    assert.equal(st.lastSeen, off.data.lastSeen, "REST lastSeen agrees with the event");
    await quiet();
    assert.deepEqual(
      cq.rec.data("chat-user-status-update", (d) => d.userId === p.id).map((d) => d.status),
      ["online", "offline"],
    );
  });

  it("a chosen status persists while connected and a new session starts online", async () => {
    const t = server.user(uid("teacher"), "teacher");
    const p = server.user(uid("p"));
    const q = server.user(uid("q"));
    await server.group(t, [p, q]);
    const cq = await connect(q);
    const p1 = await connect(p);
    await cq.rec.waitFor("chat-user-status-update", (d) => d.userId === p.id && d.status === "online");
    await ackOk(p1.socket, "update-chat-status", { status: "away" });
    await cq.rec.waitFor("chat-user-status-update", (d) => d.userId === p.id && d.status === "away");
    const p2 = await connect(p);
    const room = await server.ok("GET", `/chat/users/${p.id}/status`, q);
    assert.equal(room.status, "away", "a second socket does not reset the chosen status");
    p1.socket.close();
    p2.socket.close();
    await cq.rec.waitFor("chat-user-status-update", (d) => d.userId === p.id && d.status === "offline", {
      timeout: 10_000,
    });
    const p3 = await connect(p);
    const back = await cq.rec.waitFor(
      "chat-user-status-update",
      (d) => d.userId === p.id && d.status !== "offline",
      { from: cq.rec.events.findLastIndex((e) => e.data?.status === "offline") + 1 },
    );
    assert.equal(back.data.status, "online");
    p3.socket.close();
  });

  it("choosing offline while connected makes a user invisible; their later disconnect is not announced again", async () => {
    const t = server.user(uid("teacher"), "teacher");
    const p = server.user(uid("p"));
    const q = server.user(uid("q"));
    const g = await server.group(t, [p, q]);
    const cq = await connect(q);
    const cp = await connect(p);
    await cq.rec.waitFor("chat-user-status-update", (d) => d.userId === p.id && d.status === "online");
    const data = await ackOk(cp.socket, "update-chat-status", { status: "offline" });
    assert.equal(data.status, "offline");
    const off = await cq.rec.waitFor("chat-user-status-update", (d) => d.userId === p.id && d.status === "offline");
    assert.ok(off.data.lastSeen === null || isRfc3339(off.data.lastSeen));
    assert.equal((await server.ok("GET", `/chat/users/${p.id}/status`, q)).status, "offline");
    const online = await ackOk(cq.socket, "get-room-online-users", { roomId: g.id });
    assert.deepEqual(
      online.users.map((u) => u.userId),
      [q.id],
      "an invisible user is not listed online",
    );
    // Their own actions keep working.
    await join(cp, [g.id]);
    await join(cq, [g.id]);
    const m = await ackOk(cp.socket, "send-chat-message", { roomId: g.id, content: "from the shadows" });
    await cq.rec.waitFor("new-chat-message", (d) => d.id === m.id);
    // Barrier for the disconnect: wait until the server no longer counts p as connected.
    const adm = server.user(uid("admin"), "admin");
    const usersBefore = (await server.ok("GET", "/chat/ws/stats", adm)).onlineUsers;
    cp.socket.close();
    const deadline = Date.now() + 10_000;
    while ((await server.ok("GET", "/chat/ws/stats", adm)).onlineUsers >= usersBefore) {
      assert.ok(Date.now() < deadline, "p's socket never went away");
      await sleep(50);
    }
    await quiet();
    assert.deepEqual(
      cq.rec.data("chat-user-status-update", (d) => d.userId === p.id).map((d) => d.status),
      ["online", "offline"],
      "the disconnect of an invisible user is not announced again",
    );
    const st = await server.ok("GET", `/chat/users/${p.id}/status`, q);
    assert.equal(st.status, "offline");
    assert.ok(isRfc3339(st.lastSeen), "after the disconnect lastSeen is the time the socket closed");
  });
});
