// Tokens on live sockets (issue 11 #6, the contract's "Tokens on live sockets"): a socket
// is warned with `session-expiring` before its token's exp, told `session-expired` at exp
// and disconnected by the server; a client whose `auth` is a function comes back with a
// fresh token, and the rights it then has are those of the new token.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { startServer, withServerLogs } from "./lib/server.mjs";
import { ack, ackOk, closeAll, onceConnected, rawSocket, Recorder } from "./lib/client.mjs";
import { uid } from "./lib/util.mjs";

const now = () => Math.floor(Date.now() / 1000);
let server;
let leadServer;
const sockets = [];
const it = (name, fn) => test(name, withServerLogs(() => server, fn));

/** A socket whose `auth` is a function handing out `tokens` one per connect (the last one again). */
function withTokens(srv, tokens) {
  let n = 0;
  const socket = rawSocket(srv, { auth: (cb) => cb({ token: tokens[Math.min(n++, tokens.length - 1)] }) });
  sockets.push(socket);
  const rec = new Recorder(socket, "expiring");
  const disconnects = [];
  socket.on("disconnect", (reason) => disconnects.push({ reason, at: Date.now() }));
  return { socket, rec, disconnects };
}

async function until(pred, ms, what) {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("tokens on live sockets", () => {
  before(async () => {
    server = await startServer({ env: { CLASSCHAT_DRAIN_DELAY_MS: "0" } });
    leadServer = await startServer({
      env: { CLASSCHAT_DRAIN_DELAY_MS: "0", CLASSCHAT_SESSION_EXPIRING_LEAD_SECS: "2" },
    });
  });
  after(async () => {
    closeAll(sockets);
    await server?.stop();
    await leadServer?.stop();
  });

  it("a token with less than the lead left: session-expiring at once, then session-expired and an io server disconnect at exp", async () => {
    const sub = uid("s");
    const exp = now() + 3;
    const c = withTokens(server, [server.token(sub, "student", "S", { exp })]);
    await onceConnected(c.socket);
    const warned = await c.rec.waitFor("session-expiring", () => true, { timeout: 2000 });
    assert.equal(Date.parse(warned.data.expiresAt), exp * 1000);
    // Still a working socket before exp.
    await ackOk(c.socket, "update-chat-status", { status: "away" });
    const expired = await c.rec.waitFor("session-expired", () => true, { timeout: 6000 });
    assert.deepEqual(expired.data, { code: "token_expired" });
    assert.ok(Date.now() >= exp * 1000 - 50, "not before exp");
    await until(() => c.disconnects.length > 0, 2000, "the disconnect");
    assert.equal(c.disconnects[0].reason, "io server disconnect");
    assert.ok(c.disconnects[0].at <= exp * 1000 + 1500, "within a moment of exp");
    assert.equal(c.socket.connected, false);
    // Event order: the warning, then the end.
    const names = c.rec.events.map((e) => e.event).filter((e) => e.startsWith("session-"));
    assert.deepEqual(names, ["session-expiring", "session-expired"]);
    assert.deepEqual(c.rec.malformed, []);
  });

  it("with auth as a function the client reconnects with a fresh token, and a demoted user has the new token's lower rights", async () => {
    const t = server.user(uid("t"), "teacher");
    const sub = uid("x");
    const room = await server.group(t, [server.user(uid("m"))]);
    // First an admin token about to end (admins join any room), then a student token.
    const c = withTokens(server, [
      server.token(sub, "admin", "X", { exp: now() + 3 }),
      server.token(sub, "student", "X"),
    ]);
    await onceConnected(c.socket);
    const asAdmin = await ackOk(c.socket, "join-chat-rooms", { roomIds: [room.id] });
    assert.deepEqual(asAdmin.roomIds, [room.id]);
    await ackOk(c.socket, "send-chat-message", { roomId: room.id, content: "as admin" });
    await until(() => c.disconnects.length > 0, 6000, "the disconnect at exp");
    assert.equal(c.disconnects[0].reason, "io server disconnect");
    // socket.io-client does not reconnect after a server disconnect by itself: the
    // client connects again, and its auth function hands out the fresh token.
    c.socket.connect();
    await onceConnected(c.socket);
    const asStudent = await ackOk(c.socket, "join-chat-rooms", { roomIds: [room.id] });
    assert.deepEqual(asStudent.roomIds, []);
    assert.equal(asStudent.rejected[0].roomId, room.id);
    const send = await ack(c.socket, "send-chat-message", { roomId: room.id, content: "as student" });
    assert.equal(send.ok, false, JSON.stringify(send));
    // The fresh token has an hour left: no warning on this connection.
    assert.equal(c.rec.of("session-expiring").length, 1);
  });

  it("the lead is a setting: with CLASSCHAT_SESSION_EXPIRING_LEAD_SECS=2 the warning comes 2 s before exp", async () => {
    const exp = now() + 5;
    const c = withTokens(leadServer, [leadServer.token(uid("s"), "student", "S", { exp })]);
    await onceConnected(c.socket);
    const warned = await c.rec.waitFor("session-expiring", () => true, { timeout: 6000 });
    const at = Date.now();
    assert.ok(at >= exp * 1000 - 2000 - 100 && at <= exp * 1000 - 1000, `warned ${exp * 1000 - at} ms before exp`);
    assert.equal(Date.parse(warned.data.expiresAt), exp * 1000);
    await c.rec.waitFor("session-expired", () => true, { timeout: 4000 });
    await until(() => c.disconnects.length > 0, 2000, "the disconnect");
    assert.equal(c.disconnects[0].reason, "io server disconnect");
  });

  it("a token already past its exp (inside the verifier's 30 s leeway) gets no socket", async () => {
    const c = withTokens(server, [server.token(uid("s"), "student", "S", { exp: now() - 5 })]);
    const err = await new Promise((resolve) => c.socket.once("connect_error", resolve));
    assert.equal(err.data?.code, "unauthorized");
    assert.equal(err.message, "token expired");
  });
});
