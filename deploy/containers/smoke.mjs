// The contract smoke test through a load balancer in front of running replicas (used by
// ci.sh against the compose cluster): REST and Socket.IO on the balancer's ports, tokens
// minted with CLASSCHAT_JWT_SECRET. A teacher makes a group with two students; each of
// the three connects (the balancer spreads them); a message reaches both students with
// `seq` 1, typing and a read receipt reach the teacher, the cluster stats name three
// nodes, and the web client's config is served.
//   node deploy/containers/smoke.mjs <api url> <socket url>

import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const require = createRequire(join(REPO, "tests", "e2e", "package.json"));
const { io } = require("socket.io-client");
const { mintToken } = await import(join(REPO, "tests", "e2e", "lib", "server.mjs"));

const [api, sock] = process.argv.slice(2);
const secret = process.env.CLASSCHAT_JWT_SECRET;
assert.ok(api && sock && secret, "usage: CLASSCHAT_JWT_SECRET=… node smoke.mjs <api url> <socket url>");
const run = Date.now().toString(36);
const user = (id, role, name) => ({ id: `${id}-${run}`, token: mintToken(secret, { sub: `${id}-${run}`, role, name }) });
const [teacher, ana, ben, admin] = [user("rivera", "teacher", "Ms Rivera"), user("ana", "student", "Ana"), user("ben", "student", "Ben"), user("ops", "admin", "Ops")];

async function rest(method, path, who, body) {
  const res = await fetch(api + path, {
    method,
    headers: { authorization: `Bearer ${who.token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json.data;
}

function connect(who) {
  const s = io(sock, { auth: { token: who.token }, transports: ["websocket"], reconnection: false });
  return new Promise((ok, fail) => {
    s.once("connect", () => ok(s));
    s.once("connect_error", fail);
  });
}
const next = (s, event, pred = () => true) =>
  new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`no ${event} within 10 s`)), 10_000);
    const on = ({ data }) => pred(data) && (clearTimeout(timer), s.off(event, on), ok(data));
    s.on(event, on);
  });

const sockets = [];
try {
  const room = await rest("POST", "/chat/rooms/group", teacher, { name: "Smoke test", memberIds: [ana.id, ben.id] });
  for (const who of [teacher, ana, ben]) sockets.push(await connect(who));
  const [t, a, b] = sockets;
  for (const s of sockets) {
    const ack = await s.emitWithAck("join-chat-rooms", { roomIds: [room.id] });
    assert.deepEqual(ack.data.roomIds, [room.id]);
  }
  const got = [next(a, "new-chat-message"), next(b, "new-chat-message")];
  const ack = await t.emitWithAck("send-chat-message", { roomId: room.id, content: "Hello through the balancer", clientMessageId: "smoke-1" });
  assert.equal(ack.ok, true);
  for (const m of await Promise.all(got)) assert.deepEqual([m.seq, m.content, m.senderId], [1, "Hello through the balancer", teacher.id]);
  const typing = next(t, "chat-user-typing", (d) => d.userId === ana.id && d.isTyping);
  a.emit("chat-typing", { roomId: room.id, isTyping: true });
  await typing;
  const seen = next(t, "messages-seen", (d) => d.userId === ben.id);
  b.emit("mark-messages-seen", { roomId: room.id, upToSeq: 1 });
  assert.equal((await seen).upToSeq, 1);
  const stats = await rest("GET", "/chat/ws/stats", admin);
  assert.equal(stats.nodes.length, 3, `three nodes in ${JSON.stringify(stats.nodes)}`);
  assert.equal(stats.connections, 3);
  const history = await rest("GET", `/chat/rooms/${room.id}/messages?limit=10`, ana);
  assert.deepEqual(history.map((m) => m.content), ["Hello through the balancer"]);
  const config = await (await fetch(`${api}/app/config.json`)).json();
  assert.equal(config.tryIt, false);
  console.log(`ok   smoke test: 3 sockets on nodes ${stats.nodes.map((n) => `${n.nodeId}=${n.connections}`).join(" ")}; message, typing, receipt, history, /app/`);
} finally {
  for (const s of sockets) s.close();
}
