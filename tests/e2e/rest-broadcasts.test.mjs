// REST actions that broadcast: read receipts and status changes made over REST reach
// sockets like their socket-event twins; and a zero-configuration `classchat` works.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join as pathJoin } from "node:path";

import { BIN, startServer, withServerLogs } from "./lib/server.mjs";
import { closeAll, connectUser, join } from "./lib/client.mjs";
import { quiet, uid } from "./lib/util.mjs";

let server;
const clients = [];
const it = (name, fn) => test(name, withServerLogs(() => server, fn));

describe("REST actions broadcast like socket events", () => {
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    closeAll(clients);
    await server?.stop();
  });

  it("POST …/seen broadcasts messages-seen to the room", async () => {
    const t = server.user(uid("t"), "teacher");
    const s = server.user(uid("s"));
    const room = await server.group(t, [s]);
    const ct = await connectUser(server, t);
    clients.push(ct);
    await join(ct, [room.id]);
    const m = await server.ok("POST", `/chat/rooms/${room.id}/messages`, t, { content: "read me" }, 201);
    await server.ok("POST", `/chat/rooms/${room.id}/seen`, s, { upToSeq: m.seq });
    const ev = await ct.rec.waitFor("messages-seen", (d) => d.userId === s.id);
    assert.equal(ev.data.upToSeq, m.seq);
    assert.equal(ev.data.roomId, room.id);
    // The pointer never moves back: a second, older receipt broadcasts nothing.
    const mark = ct.rec.mark();
    const again = await server.ok("POST", `/chat/rooms/${room.id}/seen`, s, { upToSeq: 0 });
    assert.equal(again.upToSeq, m.seq);
    await quiet();
    assert.equal(ct.rec.since(mark, "messages-seen").length, 0);
  });

  it("PUT /chat/status broadcasts chat-user-status-update to each contact once", async () => {
    const a = server.user(uid("a"));
    const b = server.user(uid("b"));
    const t = server.user(uid("t"), "teacher");
    await server.ok("POST", "/chat/rooms/personal", a, { userId: b.id }, 201);
    await server.group(t, [a, b]); // a second shared room
    const cb = await connectUser(server, b);
    const ca = await connectUser(server, a);
    clients.push(ca, cb);
    await cb.rec.waitFor("chat-user-status-update", (d) => d.userId === a.id && d.status === "online");
    const mark = cb.rec.mark();
    const me = await server.ok("PUT", "/chat/status", a, { status: "away" });
    assert.equal(me.status, "away");
    await cb.rec.waitFor("chat-user-status-update", (d) => d.userId === a.id && d.status === "away");
    await quiet();
    assert.equal(cb.rec.since(mark, "chat-user-status-update").length, 1);
  });
});

test("classchat with no configuration at all serves, and `classchat token` mints tokens it accepts", async () => {
  const dir = await mkdtemp(pathJoin(tmpdir(), "classchat-zero-"));
  const env = { PATH: process.env.PATH, HOME: process.env.HOME };
  // Only the addresses are set (the defaults may be taken on this machine); no secret, no database.
  const proc = spawn(BIN, [], {
    cwd: dir,
    env: { ...env, CLASSCHAT_API_ADDR: "127.0.0.1:0", CLASSCHAT_SOCKET_ADDR: "127.0.0.1:0", CLASSCHAT_METRICS_ADDR: "127.0.0.1:0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  try {
    const line = await new Promise((res, rej) => {
      let out = "";
      proc.stdout.on("data", (d) => {
        out += d;
        const m = /api=(\S+) socket=(\S+)/.exec(out);
        if (m) res(m);
      });
      proc.once("exit", (c) => rej(new Error(`exited ${c}`)));
      setTimeout(() => rej(new Error("no listening line")), 30_000);
    });
    const token = await new Promise((res, rej) => {
      const p = spawn(BIN, ["token", "--sub", "zoe", "--role", "teacher", "--name", "Zoe", "--ttl", "30m"], { cwd: dir, env });
      let out = "";
      p.stdout.on("data", (d) => (out += d));
      p.once("exit", (c) => (c === 0 ? res(out.trim()) : rej(new Error(`token exited ${c}`))));
    });
    const r = await fetch(`http://${line[1]}/chat/rooms/group`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "Zero", memberIds: ["x"] }),
    });
    assert.equal(r.status, 201);
    const ready = await fetch(`http://${line[1]}/readyz`);
    assert.equal((await ready.json()).database, "sqlite");
    // The embedded default keeps its SQLite file and generated secret under ./data.
    const { stat } = await import("node:fs/promises");
    assert.ok((await stat(pathJoin(dir, "data", "classchat.db"))).isFile());
    assert.ok((await stat(pathJoin(dir, "data", "jwt-secret"))).isFile());
    const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
    assert.equal(claims.name, "Zoe");
    assert.ok(claims.exp - Math.floor(Date.now() / 1000) <= 1800 && claims.exp - Math.floor(Date.now() / 1000) > 1700);
  } finally {
    proc.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  }
});
