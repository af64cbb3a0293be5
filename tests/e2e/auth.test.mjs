// Connections without a valid token are refused with connect_error { code: "unauthorized" };
// the token is accepted from `auth`, `?token=` and an Authorization header.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { mintToken, startServer, withServerLogs } from "./lib/server.mjs";
import { ackOk, connectError, onceConnected, rawSocket, Recorder } from "./lib/client.mjs";
import { uid } from "./lib/util.mjs";

let server;
const it = (name, fn) => test(name, withServerLogs(() => server, fn));

const now = () => Math.floor(Date.now() / 1000);

async function refused(opts) {
  const err = await connectError(rawSocket(server, opts));
  assert.ok(err.data, `connect_error without data: ${err.message}`);
  assert.equal(err.data.code, "unauthorized", JSON.stringify(err.data));
  assert.equal(typeof err.data.message, "string");
  return err;
}

/** Connects with `opts`, then proves the socket works for that user. */
async function works(user, opts) {
  const socket = rawSocket(server, opts);
  const rec = new Recorder(socket, user.id);
  try {
    await onceConnected(socket);
    const t = server.user(uid("teacher"), "teacher");
    const g = await server.group(t, [user]);
    const data = await ackOk(socket, "join-chat-rooms", { roomIds: [g.id] });
    assert.deepEqual(data.roomIds, [g.id]);
    await rec.waitFor("chat-rooms-joined");
    const m = await server.ok("POST", `/chat/rooms/${g.id}/messages`, t, { content: "hi" });
    await rec.waitFor("new-chat-message", (d) => d.id === m.id);
    // The principal is the token's user.
    const sent = await ackOk(socket, "send-chat-message", { roomId: g.id, content: "me" });
    assert.equal(sent.senderId, user.id);
  } finally {
    socket.close();
  }
}

describe("socket authentication", () => {
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server?.stop();
  });

  it("no token is refused", async () => {
    await refused({});
    await refused({ auth: {} });
    await refused({ auth: { token: "" } });
  });

  it("a garbage token is refused", async () => {
    await refused({ auth: { token: "garbage" } });
    await refused({ auth: { token: "abc.def.ghi" } });
    await refused({ auth: { token: 12345 } });
  });

  it("a token signed with another secret is refused", async () => {
    const tok = mintToken("not-the-server-secret", { sub: uid("u"), role: "student" });
    await refused({ auth: { token: tok } });
  });

  it("an expired token is refused", async () => {
    const tok = mintToken(server.secret, { sub: uid("u"), role: "student", exp: now() - 3600 });
    await refused({ auth: { token: tok } });
  });

  it("alg none, a bad role and a missing exp are refused", async () => {
    const sub = uid("u");
    await refused({
      auth: { token: mintToken(server.secret, { sub, role: "admin" }, { header: { alg: "none", typ: "JWT" } }) },
    });
    await refused({ auth: { token: mintToken(server.secret, { sub, role: "superuser" }) } });
    await refused({ auth: { token: mintToken(server.secret, { sub, role: "student", exp: undefined }) } });
  });

  it("a bad token in the query or header is refused too", async () => {
    await refused({ query: { token: "garbage" } });
    await refused({ extraHeaders: { Authorization: "Bearer garbage" } });
  });

  it("a valid token in auth connects", async () => {
    const u = server.user(uid("u"));
    await works(u, { auth: { token: u.token } });
  });

  it("a valid token as ?token= connects", async () => {
    const u = server.user(uid("u"));
    await works(u, { query: { token: u.token } });
  });

  it("a valid token in an Authorization: Bearer header connects", async () => {
    const u = server.user(uid("u"));
    await works(u, { extraHeaders: { Authorization: `Bearer ${u.token}` } });
  });

  it("REST refuses the same bad tokens with 401 unauthorized", async () => {
    const bad = [
      null,
      "garbage",
      mintToken("not-the-server-secret", { sub: uid("u"), role: "student" }),
      mintToken(server.secret, { sub: uid("u"), role: "student", exp: now() - 3600 }),
    ];
    for (const tok of bad) {
      const r = await server.rest("GET", "/chat/rooms", tok);
      assert.equal(r.status, 401, `token ${tok}`);
      assert.equal(r.body.error.code, "unauthorized");
    }
    assert.equal(await server.healthz(), 200);
  });
});
