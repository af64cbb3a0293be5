// Presence on the peer, across two nodes: `node --test presence.test.mjs` (or `npm test`).
//
// Starts its own redis-server on a free port, a fresh PostgreSQL database on PG_SERVER
// (default postgres://postgres@127.0.0.1:5432) and two peer nodes sharing both, as
// ../run-node.sh does, plus a third node without Redis (single-node, in-memory counts);
// removes them all at the end.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import net from "node:net";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";

import jwt from "jsonwebtoken";
import pg from "pg";
import { io } from "socket.io-client";

const PG_SERVER = process.env.PG_SERVER ?? "postgres://postgres@127.0.0.1:5432";
const SERVER = fileURLToPath(new URL("./server.mjs", import.meta.url));
const SECRET = randomBytes(32).toString("hex");
const DB = `peer_presence_test_${process.pid}`;
const QUIET_MS = 400; // how long "nothing more arrives" is watched for

const children = [];
const sockets = [];
const nodes = [];
let redisPort;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function waitForOutput(child, pattern, what) {
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${what} did not start:\n${out}`)), 10_000);
    const onData = (chunk) => {
      out += chunk;
      if (pattern.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", (chunk) => (out += chunk));
    child.once("exit", (code) => reject(new Error(`${what} exited (${code}):\n${out}`)));
  });
}

async function adminQuery(sql) {
  const client = new pg.Client({ connectionString: `${PG_SERVER}/postgres` });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const token = (sub, role = "student") =>
  jwt.sign({ sub, role, name: `User ${sub}` }, SECRET, { algorithm: "HS256", expiresIn: "1h" });

async function rest(node, path, sub, body) {
  const res = await fetch(`http://${node.api}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token(sub, "teacher")}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  assert.ok(res.ok, `${path}: ${res.status} ${JSON.stringify(json)}`);
  return json.data;
}

/** A connected socket of `sub` on `node`: `updates` are the status updates about A it
 * gets, `all` every status update (B and C are contacts of each other too). */
function connect(node, sub) {
  const socket = io(`http://${node.socket}`, {
    transports: ["websocket"],
    auth: { token: token(sub) },
    reconnection: false,
    forceNew: true,
  });
  sockets.push(socket);
  const updates = [];
  const all = [];
  socket.on("chat-user-status-update", (event) => {
    all.push(event);
    if (event.data?.userId === "A") updates.push(event);
  });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve({ socket, updates, all }));
    socket.once("connect_error", reject);
  });
}

function close(client) {
  client.socket.disconnect();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what, predicate, ms = 5_000) {
  const until = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Waits for `n` updates in total on each client, then checks nothing more arrives. */
async function expectUpdates(clients, n) {
  await waitFor(`${n} status updates each`, () => clients.every((c) => c.updates.length >= n));
  await sleep(QUIET_MS);
  for (const c of clients) assert.equal(c.updates.length, n, JSON.stringify(c.updates));
}

// RFC 3339 with milliseconds, as classchat writes times (its lastSeen included).
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function assertStatus(event, userId, status) {
  assert.match(event.timestamp, RFC3339);
  assert.deepEqual(Object.keys(event.data).sort(), ["lastSeen", "status", "userId"]);
  assert.equal(event.data.userId, userId);
  assert.equal(event.data.status, status);
  assert.match(event.data.lastSeen, RFC3339);
  assert.ok(Math.abs(Date.parse(event.data.lastSeen) - Date.now()) < 5_000, "lastSeen is the time of the change");
}

before(async () => {
  redisPort = await freePort();
  const redis = spawn("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(redis);
  await waitForOutput(redis, /Ready to accept connections/, "redis-server");

  await adminQuery(`CREATE DATABASE ${DB}`);

  for (const i of [1, 2, 3]) {
    const node = { api: `127.0.0.1:${await freePort()}`, socket: `127.0.0.1:${await freePort()}`, log: "" };
    const env = {
      ...process.env,
      DATABASE_URL: `${PG_SERVER}/${DB}`,
      CLASSCHAT_JWT_SECRET: SECRET,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      PEER_NODE_ID: `test-${i}`,
      PEER_API_ADDR: node.api,
      PEER_SOCKET_ADDR: node.socket,
    };
    if (i === 3) delete env.REDIS_URL;
    const child = spawn(process.execPath, [SERVER], { env, stdio: ["ignore", "pipe", "pipe"] });
    child.stderr.on("data", (chunk) => (node.log += chunk));
    children.push(child);
    await waitForOutput(child, /listening/, `peer node ${i}`);
    nodes.push(node);
  }
});

after(async () => {
  for (const s of sockets) s.disconnect();
  await Promise.all(
    children.map((child) => {
      if (child.exitCode !== null || child.signalCode !== null) return null;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      return Promise.race([exited, sleep(5_000).then(() => child.kill("SIGKILL"))]);
    }),
  );
  await adminQuery(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
});

test("each contact is told once of each connect and disconnect, across nodes", async (t) => {
  const [n1, n2] = nodes;
  // A shares two rooms with B and one with C.
  const room1 = await rest(n1, "/chat/rooms/group", "A", { name: "one", memberIds: ["B", "C"] });
  await rest(n1, "/chat/rooms/group", "A", { name: "two", memberIds: ["B"] });

  // Connected without joining any room; D is not a contact (yet).
  const b = await connect(n1, "B");
  const c = await connect(n2, "C");
  const d = await connect(n2, "D");
  await t.test("B, on the other node, is told once that C is online", async () => {
    await waitFor("C online", () => b.all.length >= 1);
    assertStatus(b.all[0], "C", "online");
    assert.deepEqual(c.all, []); // B was online before C
  });

  const a1 = await connect(n2, "A");
  await t.test("first socket: B and C get one online each, A and D none", async () => {
    await expectUpdates([b, c], 1);
    assertStatus(b.updates[0], "A", "online");
    assertStatus(c.updates[0], "A", "online");
    assert.deepEqual(a1.all, []); // not about itself, and B, C and D did not change
    assert.deepEqual(d.all, []); // not a contact
  });

  const a2 = await connect(n1, "A");
  await t.test("a second socket on the other node tells nobody", async () => {
    await sleep(QUIET_MS);
    assert.equal(b.updates.length, 1);
    assert.equal(c.updates.length, 1);
    for (const x of [a1, a2, d]) assert.deepEqual(x.all, []);
  });

  await t.test("closing one of two sockets tells nobody, closing the last tells offline", async () => {
    close(a1);
    await sleep(QUIET_MS);
    assert.equal(b.updates.length, 1);
    assert.equal(c.updates.length, 1);
    const closedAt = Date.now();
    close(a2);
    await expectUpdates([b, c], 2);
    for (const x of [b, c]) {
      assertStatus(x.updates[1], "A", "offline");
      // the time the last socket closed (same machine, same clock)
      assert.ok(Date.parse(x.updates[1].data.lastSeen) >= closedAt - 1, x.updates[1].data.lastSeen);
    }
    assert.deepEqual(d.all, []);
    assert.deepEqual(a2.all, []);
  });

  await t.test("the last seen time is stored", async () => {
    const db = new pg.Client({ connectionString: `${PG_SERVER}/${DB}` });
    await db.connect();
    try {
      const { rows } = await db.query("SELECT last_seen FROM socketio_peer.users WHERE id = 'A'");
      assert.equal(rows.length, 1);
      assert.equal(rows[0].last_seen.toISOString(), b.updates[1].data.lastSeen);
    } finally {
      await db.end();
    }
  });

  await t.test("a member added while connected (on another node) is told", async () => {
    await rest(n1, "/chat/rooms/" + room1.id + "/members", "A", { userIds: ["D"] });
    const a3 = await connect(n1, "A");
    await expectUpdates([d], 1);
    assertStatus(d.updates[0], "A", "online");
    await expectUpdates([b, c], 3);
    close(a3);
    await expectUpdates([d], 2);
    await expectUpdates([b, c], 4);
    for (const x of [b, c, d]) assertStatus(x.updates.at(-1), "A", "offline");
  });
});

test("single node without Redis: the same, counted in memory", async () => {
  const n3 = nodes[2];
  await rest(n3, "/chat/rooms/group", "X", { name: "solo", memberIds: ["Y"] });
  const y = await connect(n3, "Y");
  const x1 = await connect(n3, "X");
  const x2 = await connect(n3, "X");
  await waitFor("X online", () => y.all.length >= 1);
  close(x1);
  await sleep(QUIET_MS);
  assert.equal(y.all.length, 1);
  close(x2);
  await waitFor("X offline", () => y.all.length >= 2);
  await sleep(QUIET_MS);
  assert.equal(y.all.length, 2);
  assertStatus(y.all[0], "X", "online");
  assertStatus(y.all[1], "X", "offline");
  assert.deepEqual(x1.all, []);
  assert.deepEqual(x2.all, []);
});

test("the nodes logged no error", () => {
  for (const node of nodes) assert.equal(node.log, "");
});
