// The Socket.IO transport's own duties, with raw WebSocket clients: the heartbeat closes
// sockets whose pong never comes and keeps those that answer; a client that stops reading
// is closed once its unsent output passes the bound, while every other member still gets
// every message; the socket.io-client handshake over polling upgrades and keeps order.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { readFileSync, readdirSync, readlinkSync } from "node:fs";

import { startServer, withServerLogs } from "./lib/server.mjs";
import { ackOk, closeAll, connectUser, join, sleep } from "./lib/client.mjs";
import { uid } from "./lib/util.mjs";
import { metric } from "./lib/cluster.mjs";

let server;
const clients = [];
const it = (name, fn) => test(name, withServerLogs(() => server, fn));
const UNLIMITED_SENDS = {
  CLASSCHAT_RATE_SEND_PER_SEC: "100000",
  CLASSCHAT_RATE_SEND_BURST: "100000",
  CLASSCHAT_RATE_SEND_PER_SEC_PER_IP: "100000",
  CLASSCHAT_RATE_SEND_BURST_PER_IP: "100000",
};

/** A raw Engine.IO/Socket.IO client: connects `user`, answers pings only if `pong`. */
async function raw(user, { pong = true } = {}) {
  const ws = new WebSocket(`ws://${server.socketAddr}/socket.io/?EIO=4&transport=websocket`);
  const c = { ws, msgs: [], pings: 0, closed: false, pong };
  ws.on("message", (d) => {
    const m = d.toString();
    if (m === "2") {
      c.pings += 1;
      if (c.pong) ws.send("3");
      return;
    }
    c.msgs.push(m);
  });
  ws.on("close", () => (c.closed = true));
  ws.on("error", () => {});
  await new Promise((res, rej) => {
    ws.once("open", res);
    ws.once("error", rej);
  });
  ws.send("40" + JSON.stringify({ token: user.token }));
  for (let i = 0; i < 200 && !c.msgs.some((m) => m.startsWith("40")); i++) await sleep(10);
  assert.ok(c.msgs.some((m) => m.startsWith("40")), "namespace connect");
  return c;
}

/** Whether process `pid` holds a TCP socket whose peer is local port `peerPort`. */
function serverHolds(pid, peerPort) {
  const inodes = new Set();
  for (const f of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const l = readlinkSync(`/proc/${pid}/fd/${f}`);
      if (l.startsWith("socket:[")) inodes.add(l.slice(8, -1));
    } catch {
      // closed meanwhile
    }
  }
  const port = `:${peerPort.toString(16).toUpperCase().padStart(4, "0")}`;
  return readFileSync("/proc/net/tcp", "utf8")
    .split("\n")
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .some((f) => f.length > 9 && f[2].endsWith(port) && inodes.has(f[9]));
}

async function until(pred, ms) {
  const end = Date.now() + ms;
  while (!pred() && Date.now() < end) await sleep(20);
  return pred();
}

describe("transport", () => {
  before(async () => {
    server = await startServer({
      env: {
        CLASSCHAT_PING_INTERVAL_MS: "300",
        CLASSCHAT_PING_TIMEOUT_MS: "300",
        ...UNLIMITED_SENDS,
      },
    });
  });
  after(async () => {
    closeAll(clients);
    await server?.stop();
  });

  it("a socket that stops answering pings is closed within the ping interval and timeout; one that answers stays", async () => {
    const a = await raw(server.user(uid("answers")));
    const b = await raw(server.user(uid("silent")), { pong: false });
    assert.ok(await until(() => b.closed, 3000), "the silent socket was not closed");
    assert.ok(b.pings >= 1, "it was pinged");
    await sleep(1500);
    assert.equal(a.closed, false, "the answering socket was closed");
    assert.ok(a.pings >= 3, `pinged ${a.pings} times`);
    a.ws.close();
  });

  it("socket.io-client's default start (long-polling, then the upgrade) delivers in order across the switch", async () => {
    const t = server.user(uid("teacher"), "teacher");
    const m = server.user(uid("member"));
    const g = await server.group(t, [m]);
    const c = await connectUser(server, m, { transports: ["polling", "websocket"] });
    clients.push(c);
    await join(c, [g.id]);
    const sender = await connectUser(server, t);
    clients.push(sender);
    const sent = [];
    for (let i = 0; i < 60; i++) {
      sent.push((await ackOk(sender.socket, "send-chat-message", { roomId: g.id, content: `m${i}` })).seq);
      if (i === 5) await sleep(200); // the upgrade usually completes around here
    }
    await c.rec.waitFor("new-chat-message", (d) => d.seq === sent.at(-1), { timeout: 10_000 });
    assert.deepEqual(c.rec.data("new-chat-message").map((d) => d.seq), sent);
    assert.equal(c.socket.io.engine.transport.name, "websocket", "upgraded");
  });
});

describe("transport: heartbeat after the upgrade, and browsers on another origin", () => {
  before(async () => {
    server = await startServer({ env: { CLASSCHAT_PING_INTERVAL_MS: "300", CLASSCHAT_PING_TIMEOUT_MS: "300" } });
  });
  after(async () => {
    closeAll(clients);
    await server?.stop();
  });

  it("a session that upgraded from long-polling is pinged on its WebSocket and stays connected", async () => {
    const c = await connectUser(server, server.user(uid("upgraded")), { transports: ["polling", "websocket"] });
    clients.push(c);
    const engine = c.socket.io.engine;
    assert.ok(await until(() => engine.transport.name === "websocket", 5000), "upgraded");
    let pings = 0;
    engine.on("ping", () => (pings += 1));
    let disconnected = null;
    c.socket.on("disconnect", (reason) => (disconnected = reason));
    // Several times the client's own ping deadline (interval + timeout = 600 ms).
    await sleep(3000);
    assert.equal(disconnected, null, "the upgraded session was dropped");
    assert.ok(pings >= 4, `pinged ${pings} times in 3 s after the upgrade`);
  });

  it("long-polling answers a page on another origin with its origin and credentials allowed, preflight included", async () => {
    const origin = "http://school.example";
    const base = `http://${server.socketAddr}/socket.io/?EIO=4&transport=polling`;
    const open = await fetch(base, { headers: { origin } });
    assert.equal(open.status, 200);
    assert.equal(open.headers.get("access-control-allow-origin"), origin);
    assert.equal(open.headers.get("access-control-allow-credentials"), "true");
    assert.match(await open.text(), /^0\{.*"sid":/);
    const pre = await fetch(base, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    assert.ok(pre.status === 200 || pre.status === 204, `preflight status ${pre.status}`);
    assert.equal(pre.headers.get("access-control-allow-origin"), origin);
    assert.match(pre.headers.get("access-control-allow-methods") ?? "", /POST/);
    assert.match(pre.headers.get("access-control-allow-headers") ?? "", /content-type/i);
  });
});

// With the default heartbeat (a paused client cannot answer pings, and a short interval
// would close it first).
describe("transport: slow readers", () => {
  before(async () => {
    server = await startServer({ env: UNLIMITED_SENDS });
  });
  after(async () => {
    closeAll(clients);
    await server?.stop();
  });

  it("a client that stops reading is closed once its output backs up; the other members get every message in order", async () => {
    const t = server.user(uid("teacher"), "teacher");
    const slow = server.user(uid("slow"));
    const fast = server.user(uid("fast"));
    const g = await server.group(t, [slow, fast]);
    const s = await raw(slow);
    s.ws.send(`421["join-chat-rooms",${JSON.stringify({ roomIds: [g.id] })}]`);
    assert.ok(await until(() => s.msgs.some((m) => m.startsWith("431")), 3000), "slow joined");
    const f = await connectUser(server, fast);
    clients.push(f);
    await join(f, [g.id]);
    // Stop reading: the kernel's buffers fill, then the server's queue for this socket.
    s.ws._socket.pause();
    const sender = await connectUser(server, t);
    clients.push(sender);
    const content = "x".repeat(3900);
    const N = 4000;
    let last = 0;
    for (let i = 0; i < N; i += 50) {
      const batch = [];
      for (let k = i; k < Math.min(N, i + 50); k++) batch.push(ackOk(sender.socket, "send-chat-message", { roomId: g.id, content }));
      last = (await Promise.all(batch)).at(-1).seq;
    }
    // The slow socket's TCP connection is gone (reading again finds it closed)...
    s.ws._socket.resume();
    assert.ok(await until(() => s.closed, 10_000), "the client that did not read was not closed");
    assert.ok(s.msgs.filter((m) => m.startsWith('42["new-chat-message"')).length < N, "it could not have read everything");
    assert.ok((await metric(server, "classchat_socket_slow_closed_total")) >= 1, "closed for its backed-up output");
    // ...while the member that reads got all of them, in seq order.
    await f.rec.waitFor("new-chat-message", (d) => d.seq === last, { timeout: 20_000 });
    const seqs = f.rec.data("new-chat-message").map((d) => d.seq);
    assert.equal(seqs.length, N);
    assert.ok(seqs.every((q, i) => i === 0 || q === seqs[i - 1] + 1), "in order, none missing");
    assert.ok(server.alive());
  });

  it("a WebSocket probe that never sends 5 is closed after about 10 s, and the session goes on over long-polling", async () => {
    const user = server.user(uid("prober"));
    const base = `http://${server.socketAddr}/socket.io/?EIO=4&transport=polling`;
    const sid = JSON.parse((await (await fetch(base)).text()).slice(1)).sid;
    const poll = () => fetch(`${base}&sid=${sid}`).then((r) => r.text());
    const post = (body) => fetch(`${base}&sid=${sid}`, { method: "POST", body }).then((r) => r.status);
    assert.equal(await post("40" + JSON.stringify({ token: user.token })), 200);
    assert.match(await poll(), /^40\{"sid"/);
    const ws = new WebSocket(`ws://${server.socketAddr}/socket.io/?EIO=4&transport=websocket&sid=${sid}`);
    const got = [];
    ws.on("message", (d) => got.push(d.toString()));
    const closed = new Promise((res) => ws.on("close", () => res(Date.now())));
    await new Promise((res, rej) => {
      ws.once("open", res);
      ws.once("error", rej);
    });
    const probedAt = Date.now();
    ws.send("2probe");
    assert.ok(await until(() => got.includes("3probe"), 3000), "probe answered");
    const closedAt = await Promise.race([closed, sleep(20_000).then(() => null)]);
    assert.ok(closedAt, "the unfinished probe was never closed");
    const after = closedAt - probedAt;
    assert.ok(after >= 5000 && after <= 15_000, `probe closed ${after} ms after it started`);
    // Still a long-polling session: the noop that ended the poll, then an event's ack.
    assert.equal(await poll(), "6");
    assert.equal(await post(`421["update-chat-status",{"status":"away"}]`), 200);
    assert.match(await poll(), /^431\[\{.*"ok":true/);
  });

  it("a client that stops reading for good is let go: the server releases its connection", async () => {
    const t = server.user(uid("teacher"), "teacher");
    const gone = server.user(uid("gone"));
    const g = await server.group(t, [gone]);
    const sender = await connectUser(server, t);
    clients.push(sender);
    const slowClosed = () => metric(server, "classchat_socket_slow_closed_total");
    const closedBefore = await slowClosed();
    const s = await raw(gone);
    s.ws.send(`421["join-chat-rooms",${JSON.stringify({ roomIds: [g.id] })}]`);
    assert.ok(await until(() => s.msgs.some((m) => m.startsWith("431")), 3000), "joined");
    const port = s.ws._socket.localPort;
    assert.ok(serverHolds(server.proc.pid, port), "the server holds the connection while it is in use");
    // It never reads again, and keeps its TCP connection open.
    s.ws._socket.pause();
    const content = "y".repeat(3900);
    for (let i = 0; i < 8000 && (await slowClosed()) === closedBefore; i += 50) {
      const batch = [];
      for (let k = 0; k < 50; k++) batch.push(ackOk(sender.socket, "send-chat-message", { roomId: g.id, content }));
      await Promise.all(batch);
    }
    assert.ok((await slowClosed()) > closedBefore, "closed for its backed-up output");
    assert.ok(await until(() => !serverHolds(server.proc.pid, port), 5000), "the server still holds the connection");
    s.ws.terminate();
  });
});
