// Presence at class scale (issue 16): sockets that opt in (`auth.statusUpdates =
// "batched"` or `?statusUpdates=batched`) get one `chat-users-status-update` per window
// with each contact's latest state once; rooms above CLASSCHAT_PRESENCE_COUNT_ABOVE
// members get `room-online-count` instead of one status event per member. On one node,
// and across two nodes sharing one Redis or a Redis Cluster.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { startServer, withServerLogs } from "./lib/server.mjs";
import { clientPool, closeAll, connectUser, sleep } from "./lib/client.mjs";
import { REDIS_SETUPS, startCluster } from "./lib/cluster.mjs";
import { quiet, uid } from "./lib/util.mjs";

const ABOVE = 5;
const ENV = { CLASSCHAT_PRESENCE_COUNT_ABOVE: String(ABOVE), CLASSCHAT_PRESENCE_WINDOW_MS: "250" };

/** Every state a socket was told of `user`, single events and batches alike, in order. */
function statesOf(rec, user) {
  const out = [];
  for (const e of rec.events) {
    if (e.event === "chat-user-status-update" && e.data.userId === user.id) out.push(e.data.status);
    if (e.event === "chat-users-status-update") {
      for (const u of e.data.users) if (u.userId === user.id) out.push(u.status);
    }
  }
  return out;
}

describe("presence at class scale, one node", () => {
  let server;
  const { clients, connect } = clientPool(() => server);
  const it = (name, fn) => test(name, withServerLogs(() => server, fn));

  before(async () => {
    server = await startServer({ env: ENV });
  });
  after(async () => {
    closeAll(clients);
    await server?.stop();
    for (const c of clients) assert.deepEqual(c.rec.malformed, [], `${c.rec.label} got malformed event bodies`);
  });

  it("a socket that opted into batches gets each contact's latest state once per window; a plain socket gets single events", async () => {
    const t = server.user(uid("t"), "teacher");
    const w = server.user(uid("watcher"));
    const students = [1, 2, 3].map((i) => server.user(uid(`s${i}`)));
    await server.group(t, [w, ...students]); // 5 members: at the threshold, per-user events
    await server.group(t, [w, students[0]]); // a second shared room: still once per change
    const batched = await connect(w, { auth: { token: w.token, statusUpdates: "batched" } });
    const byQuery = await connect(w, { query: { statusUpdates: "batched" } });
    const plain = await connect(w);
    await quiet();
    // Three students come online together; the second goes and comes back at once.
    const [a, b, c] = await Promise.all(students.map((s) => connectUser(server, s)));
    clients.push(a, b, c);
    b.socket.close();
    await sleep(20);
    clients.push(await connectUser(server, students[1]));
    await sleep(1000);
    for (const x of [batched, byQuery]) {
      assert.equal(x.rec.of("chat-user-status-update").length, 0, "a batched socket gets no single events");
      const batches = x.rec.data("chat-users-status-update");
      assert.ok(batches.length >= 1 && batches.length <= 4, `${batches.length} batches in about 1 s of 250 ms windows`);
      for (const d of batches) {
        const ids = d.users.map((u) => u.userId);
        assert.equal(new Set(ids).size, ids.length, "each contact once per batch");
        for (const u of d.users) assert.ok(typeof u.lastSeen === "string" && ["online", "offline"].includes(u.status));
      }
      for (const s of students) assert.equal(statesOf(x.rec, s).at(-1), "online", `${s.id} ends online`);
      // The student who left and came back at once is in a batch at most once.
      assert.ok(statesOf(x.rec, students[1]).length <= batches.length);
    }
    for (const s of students) assert.equal(statesOf(plain.rec, s).at(-1), "online");
    assert.equal(statesOf(plain.rec, students[0]).length, 1, "a contact in two shared rooms is told once");
    assert.equal(plain.rec.of("chat-users-status-update").length, 0, "a plain socket gets no batches");
  });

  it("members of a room above the threshold get room-online-count instead of one event per member", async () => {
    const t = server.user(uid("t"), "teacher");
    const w = server.user(uid("watcher"));
    const students = Array.from({ length: 6 }, (_, i) => server.user(uid(`k${i}`)));
    const big = await server.group(t, [w, ...students]); // 8 members
    await server.group(t, [w, students[0]]); // students[0] also shares a small room with w
    const cw = await connect(w);
    await quiet();
    const mark = cw.rec.mark();
    const cs = [];
    for (const s of students) cs.push(await connect(s));
    const count = await cw.rec.waitFor("room-online-count", (d) => d.roomId === big.id && d.online === 7, { timeout: 5000 });
    assert.deepEqual(Object.keys(count.data).sort(), ["members", "online", "roomId"]);
    assert.equal(count.data.members, 8);
    const counts = cw.rec.since(mark, "room-online-count");
    assert.ok(counts.length <= 6, `${counts.length} counts for 6 arrivals within a few windows`);
    // Per-user events only for the student who also shares a small room.
    const singles = cw.rec.since(mark, "chat-user-status-update").map((e) => e.data.userId);
    assert.deepEqual(singles, [students[0].id]);
    // A member going is counted too; the student gets the count of their own room as well.
    cs[5].socket.close();
    await cw.rec.waitFor("room-online-count", (d) => d.roomId === big.id && d.online === 6, { timeout: 5000 });
    await cs[1].rec.waitFor("room-online-count", (d) => d.roomId === big.id && d.online === 6, { timeout: 5000 });
  });

  it("room-online-count does not count an invisible member", async () => {
    const t = server.user(uid("t"), "teacher");
    const students = Array.from({ length: 6 }, (_, i) => server.user(uid(`v${i}`)));
    const big = await server.group(t, students);
    const cs = [];
    for (const s of students) cs.push(await connect(s));
    await cs[0].rec.waitFor("room-online-count", (d) => d.roomId === big.id && d.online === 6, { timeout: 5000 });
    const a = await cs[5].socket.timeout(5000).emitWithAck("update-chat-status", { status: "offline" });
    assert.equal(a.ok, true);
    await cs[0].rec.waitFor("room-online-count", (d) => d.roomId === big.id && d.online === 5, { timeout: 5000 });
  });
});

for (const setup of REDIS_SETUPS) describe(`presence at class scale, two nodes on ${setup.name}`, () => {
  let c;
  before(async () => {
    c = await startCluster({ nodes: 2, env: ENV, redisCluster: setup.redisCluster });
  });
  after(async () => {
    await c?.stop();
  });

  test("counts and batches cross nodes", async () => {
    const [A, B] = c.nodes;
    const t = c.user(uid("t"), "teacher");
    const w = c.user(uid("w"));
    const small = [1, 2].map((i) => c.user(uid(`p${i}`)));
    const many = Array.from({ length: 6 }, (_, i) => c.user(uid(`m${i}`)));
    const clients = [];
    try {
      await A.ok("POST", "/chat/rooms/group", t, { name: "small", memberIds: [w.id, ...small.map((u) => u.id)] }, 201);
      const big = await A.ok("POST", "/chat/rooms/group", t, { name: "big", memberIds: [w.id, ...many.map((u) => u.id)] }, 201);
      const cw = await connectUser(A, w, { auth: { token: w.token, statusUpdates: "batched" } });
      clients.push(cw);
      await quiet();
      for (const u of [...small, ...many]) clients.push(await connectUser(B, u));
      await cw.rec.waitFor("room-online-count", (d) => d.roomId === big.id && d.online === 7 && d.members === 8, { timeout: 5000 });
      const deadline = Date.now() + 5000;
      while (small.some((u) => statesOf(cw.rec, u).at(-1) !== "online") && Date.now() < deadline) await sleep(50);
      for (const u of small) assert.equal(statesOf(cw.rec, u).at(-1), "online");
      for (const u of many) assert.equal(statesOf(cw.rec, u).length, 0, "no per-user event for the big room");
      assert.equal(cw.rec.of("chat-user-status-update").length, 0);
    } finally {
      closeAll(clients);
    }
  });
});
