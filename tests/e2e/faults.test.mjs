// Fault tests: what a client sees when it was away, when a node drains on SIGTERM,
// when Redis is down and when PostgreSQL stops and starts again under traffic.
//
// 1. catch-up after a reconnect (join-chat-rooms with lastSeq), single node;
// 2. catch-up across nodes (missed on node B, rejoined on node B after leaving A);
// 3. SIGTERM drain behind HAProxy: readyz 503 at once, no failed REST request, exit
//    within the grace period, clients move to the other node, no offline flash;
// 4. Redis down: sends stored and delivered locally; cross-node delivery and presence
//    resume after Redis is back;
// 5. PostgreSQL (a throwaway server of this test's own) stopped and started under
//    traffic: 503 database_unavailable while down, back to normal after, nothing lost.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";

import { startServer, withServersLogs } from "./lib/server.mjs";
import { ack, ackOk, closeAll, connectUser, join, sleep } from "./lib/client.mjs";
import { metric, startCluster } from "./lib/cluster.mjs";
import { startTempPostgres } from "./lib/pg.mjs";
import { eventually, quiet, uid } from "./lib/util.mjs";

const FAST_SENDS = { CLASSCHAT_RATE_SEND_PER_SEC: "1000", CLASSCHAT_RATE_SEND_BURST: "1000" };


/**
 * One HTTP request that never throws: `{ status, body, error, ms, start, end }`.
 * `error` is set for connection errors and for no answer within `timeoutMs`.
 */
async function probe(url, { method = "GET", token, body, timeoutMs = 30_000 } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const start = Date.now();
  try {
    const res = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = { raw: text.slice(0, 200) };
    }
    const end = Date.now();
    return { status: res.status, body: json, error: null, ms: end - start, start, end, connection: res.headers.get("connection") };
  } catch (e) {
    const end = Date.now();
    return { status: 0, body: null, error: `${e.name}: ${e.message}${e.cause ? ` (${e.cause.code ?? e.cause.message})` : ""}`, ms: end - start, start, end };
  }
}

/** Events of a recorder since `mark`, up to (excluding) the first `chat-rooms-joined`. */
function beforeJoined(rec, mark) {
  const evs = rec.since(mark);
  const idx = evs.findIndex((e) => e.event === "chat-rooms-joined");
  assert.ok(idx >= 0, "chat-rooms-joined was recorded");
  return { replay: evs.slice(0, idx).filter((e) => e.event === "new-chat-message").map((e) => e.data), after: evs.slice(idx + 1) };
}

/** Joins with lastSeq; returns the ack data, the chat-rooms-joined data and what came before it. */
async function rejoin(client, roomIds, lastSeq) {
  const mark = client.rec.mark();
  const ackData = await ackOk(client.socket, "join-chat-rooms", { roomIds, lastSeq });
  const joined = await client.rec.waitFor("chat-rooms-joined", () => true, { from: mark, timeout: 15_000 });
  const { replay } = beforeJoined(client.rec, mark);
  return { ackData, joined: joined.data, replay, mark };
}

const range = (from, n) => Array.from({ length: n }, (_, i) => from + i);

// ---------------------------------------------------------------------------------------
// 1. Catch-up after a reconnect, single node
// ---------------------------------------------------------------------------------------

describe("catch-up on rejoin with lastSeq (single node)", () => {
  let server;
  const getServers = () => [server];
  const it = (name, fn) => test(name, { timeout: 120_000 }, withServersLogs(getServers, fn));

  before(async () => {
    server = await startServer({ env: { ...FAST_SENDS } });
  });
  after(async () => {
    await server?.stop();
  });

  it("5 missed messages (one deleted) are replayed in seq order before chat-rooms-joined", async () => {
    const t = server.user(uid("t"), "teacher");
    const s = server.user(uid("s"));
    const g = await server.group(t, [s]);
    const path = `/chat/rooms/${g.id}/messages`;
    const clients = [];
    try {
      const c1 = await connectUser(server, s);
      clients.push(c1);
      await join(c1, [g.id]);
      const held = await server.ok("POST", path, t, { content: "before the gap" }, 201);
      await c1.rec.waitFor("new-chat-message", (d) => d.id === held.id);
      c1.socket.close();
      await sleep(100);

      const missed = [];
      for (let i = 0; i < 5; i++) missed.push(await server.ok("POST", path, t, { content: `missed ${i}` }, 201));
      await server.ok("DELETE", `${path}/${missed[2].id}`, t);

      const c2 = await connectUser(server, s);
      clients.push(c2);
      const { ackData, joined, replay, mark } = await rejoin(c2, [g.id], { [g.id]: held.seq });

      assert.deepEqual(replay.map((m) => m.id), missed.map((m) => m.id), "the 5 missed messages, before chat-rooms-joined");
      assert.deepEqual(replay.map((m) => m.seq), range(held.seq + 1, 5), "in seq order");
      for (const [i, m] of replay.entries()) {
        assert.equal(m.roomId, g.id);
        assert.equal(m.senderId, t.id);
        if (i === 2) {
          assert.equal(m.content, null, "the deleted one is a tombstone");
          assert.ok(m.deletedAt, "tombstone has deletedAt");
          assert.equal(m.deletedBy, t.id, "tombstone has deletedBy");
        } else {
          assert.equal(m.content, `missed ${i}`);
          assert.equal(m.deletedAt, null);
        }
      }
      const expected = [{ roomId: g.id, afterSeq: held.seq, replayed: 5, complete: true, nextAfter: null }];
      assert.deepEqual(ackData.catchUp, expected, "ack data catchUp");
      assert.deepEqual(joined.catchUp, expected, "chat-rooms-joined catchUp");
      assert.deepEqual(ackData.roomIds, [g.id]);
      assert.deepEqual(joined.roomIds, [g.id]);
      assert.deepEqual(joined.rejected, []);

      // Nothing replayed twice, and live delivery goes on after the replay.
      const live = await server.ok("POST", path, t, { content: "live again" }, 201);
      await c2.rec.waitFor("new-chat-message", (d) => d.id === live.id);
      assert.equal(live.seq, held.seq + 6);
      await quiet();
      const all = c2.rec.since(mark, "new-chat-message").map((e) => e.data.seq);
      assert.deepEqual(all, range(held.seq + 1, 6), "each message once, in seq order");
      assert.deepEqual(c2.rec.malformed, []);
    } finally {
      closeAll(clients);
    }
  });

  it("lastSeq equal to the newest seq replays nothing and reports complete", async () => {
    const t = server.user(uid("t"), "teacher");
    const s = server.user(uid("s"));
    const g = await server.group(t, [s]);
    const m = await server.ok("POST", `/chat/rooms/${g.id}/messages`, t, { content: "only" }, 201);
    const c = await connectUser(server, s);
    try {
      const { ackData, joined, replay } = await rejoin(c, [g.id], { [g.id]: m.seq });
      assert.equal(replay.length, 0);
      const expected = [{ roomId: g.id, afterSeq: m.seq, replayed: 0, complete: true, nextAfter: null }];
      assert.deepEqual(ackData.catchUp, expected);
      assert.deepEqual(joined.catchUp, expected);
    } finally {
      closeAll([c]);
    }
  });

  it("250 missed: 200 replayed, complete false, nextAfter = seq of the 200th; REST paging gives the other 50", async () => {
    const t = server.user(uid("t"), "teacher");
    const s = server.user(uid("s"));
    const g = await server.group(t, [s]);
    const path = `/chat/rooms/${g.id}/messages`;
    const clients = [];
    try {
      const c1 = await connectUser(server, s);
      clients.push(c1);
      await join(c1, [g.id]);
      const held = await server.ok("POST", path, t, { content: "held" }, 201);
      await c1.rec.waitFor("new-chat-message", (d) => d.id === held.id);
      c1.socket.close();
      await sleep(100);

      const missed = [];
      for (let i = 0; i < 250; i++) missed.push(await server.ok("POST", path, t, { content: `bulk ${i}` }, 201));
      assert.deepEqual(missed.map((m) => m.seq), range(held.seq + 1, 250));

      const c2 = await connectUser(server, s);
      clients.push(c2);
      const mark = c2.rec.mark();
      let a;
      try {
        a = await ack(c2.socket, "join-chat-rooms", { roomIds: [g.id], lastSeq: { [g.id]: held.seq } });
      } catch (e) {
        a = { timedOut: String(e) };
      }
      const joinedRec = await c2.rec.waitFor("chat-rooms-joined", () => true, { from: mark, timeout: 5000 }).catch(() => null);
      const got = c2.rec.since(mark, "new-chat-message").length;
      assert.ok(
        a.ok === true && joinedRec,
        `join with 250 missed: ack ${JSON.stringify(a)}, chat-rooms-joined ${joinedRec ? "received" : "NOT received"}, ` +
          `${got} new-chat-message replayed, socket ${c2.socket.connected ? "connected" : "disconnected"}`,
      );
      const ackData = a.data;
      const joined = joinedRec.data;
      const { replay } = beforeJoined(c2.rec, mark);
      assert.equal(replay.length, 200, "200 replayed before chat-rooms-joined");
      assert.deepEqual(replay.map((m) => m.id), missed.slice(0, 200).map((m) => m.id), "the first 200, in seq order");
      const expected = [
        { roomId: g.id, afterSeq: held.seq, replayed: 200, complete: false, nextAfter: missed[199].seq },
      ];
      assert.deepEqual(ackData.catchUp, expected, "ack data catchUp");
      assert.deepEqual(joined.catchUp, expected, "chat-rooms-joined catchUp");

      // Page the rest over REST from nextAfter.
      const rest = [];
      let cursor = ackData.catchUp[0].nextAfter;
      for (let page = 0; page < 10; page++) {
        const r = await server.rest("GET", `${path}?after=${cursor}&limit=100`, s);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        rest.push(...r.body.data);
        if (!r.body.nextCursor || r.body.data.length === 0) break;
        cursor = r.body.data[r.body.data.length - 1].seq;
      }
      assert.equal(rest.length, 50, "the remaining 50 by paging");
      assert.deepEqual(rest.map((m) => m.id), missed.slice(200).map((m) => m.id));
    } finally {
      closeAll(clients);
    }
  });

  it("a negative lastSeq is refused with invalid_payload and the connection stays up", async () => {
    const t = server.user(uid("t"), "teacher");
    const s = server.user(uid("s"));
    const g = await server.group(t, [s]);
    const c = await connectUser(server, s);
    try {
      const mark = c.rec.mark();
      const a = await ack(c.socket, "join-chat-rooms", { roomIds: [g.id], lastSeq: { [g.id]: -1 } });
      assert.equal(a.ok, false, JSON.stringify(a));
      assert.equal(a.error.code, "invalid_payload");
      await quiet();
      assert.equal(c.rec.since(mark, "new-chat-message").length, 0);
      assert.equal(c.rec.since(mark, "chat-rooms-joined").length, 0);
      assert.ok(c.socket.connected, "still connected");
      // A valid join on the same socket works.
      const ok = await rejoin(c, [g.id], { [g.id]: 0 });
      assert.deepEqual(ok.ackData.catchUp, [{ roomId: g.id, afterSeq: 0, replayed: 0, complete: true, nextAfter: null }]);
    } finally {
      closeAll([c]);
    }
  });
});

// ---------------------------------------------------------------------------------------
// 2. Catch-up across nodes
// ---------------------------------------------------------------------------------------

describe("catch-up across nodes", () => {
  let c;
  test(
    "a client leaves node A, messages are sent on node B, it rejoins on node B with lastSeq and gets them",
    { timeout: 180_000 },
    withServersLogs(() => c?.nodes, async () => {
      c = await startCluster({ nodes: 2, env: { ...FAST_SENDS } });
      const clients = [];
      try {
        const [A, B] = c.nodes;
        const t = c.user(uid("t"), "teacher");
        const s = c.user(uid("s"));
        const room = await A.ok("POST", "/chat/rooms/group", t, { name: "cross", memberIds: [s.id] }, 201);
        const path = `/chat/rooms/${room.id}/messages`;
        const ca = await connectUser(A, s);
        clients.push(ca);
        await join(ca, [room.id]);
        const held = await A.ok("POST", path, t, { content: "seen on A" }, 201);
        await ca.rec.waitFor("new-chat-message", (d) => d.id === held.id);
        ca.socket.close();
        await sleep(200);

        const missed = [];
        for (let i = 0; i < 5; i++) missed.push(await B.ok("POST", path, t, { content: `sent on B ${i}` }, 201));
        await B.ok("DELETE", `${path}/${missed[4].id}`, t);

        const cb = await connectUser(B, s);
        clients.push(cb);
        const { ackData, joined, replay, mark } = await rejoin(cb, [room.id], { [room.id]: held.seq });
        assert.deepEqual(replay.map((m) => m.id), missed.map((m) => m.id));
        assert.deepEqual(replay.map((m) => m.seq), range(held.seq + 1, 5));
        assert.equal(replay[4].content, null, "deleted on B: a tombstone");
        assert.equal(replay[4].deletedBy, t.id);
        const expected = [{ roomId: room.id, afterSeq: held.seq, replayed: 5, complete: true, nextAfter: null }];
        assert.deepEqual(ackData.catchUp, expected);
        assert.deepEqual(joined.catchUp, expected);

        // Live delivery from node A to the client now on node B.
        const live = await A.ok("POST", path, t, { content: "live from A" }, 201);
        await cb.rec.waitFor("new-chat-message", (d) => d.id === live.id, { timeout: 10_000 });
        await quiet();
        assert.deepEqual(cb.rec.since(mark, "new-chat-message").map((e) => e.data.seq), range(held.seq + 1, 6));
      } finally {
        closeAll(clients);
        await c.stop();
      }
    }),
  );
});

// ---------------------------------------------------------------------------------------
// 3. SIGTERM drain behind the load balancer
// ---------------------------------------------------------------------------------------

/** A client through the load balancer that rejoins with lastSeq on every reconnect. */
class LbMember {
  constructor(client, roomId) {
    this.client = client;
    this.roomId = roomId;
    this.connects = [Date.now()];
    this.disconnects = [];
    this.rejoins = []; // { at, ok, ack }
    client.socket.on("disconnect", (reason) => this.disconnects.push({ at: Date.now(), reason }));
    client.socket.on("connect", () => {
      this.connects.push(Date.now());
      this.rejoin();
    });
  }
  get user() {
    return this.client.user;
  }
  lastSeq() {
    const seqs = this.client.rec.data("new-chat-message", (d) => d.roomId === this.roomId).map((m) => m.seq);
    return seqs.length ? Math.max(...seqs) : 0;
  }
  async rejoin() {
    try {
      const a = await ack(this.client.socket, "join-chat-rooms", { roomIds: [this.roomId], lastSeq: { [this.roomId]: this.lastSeq() } });
      this.rejoins.push({ at: Date.now(), ok: a?.ok === true, ack: a });
    } catch (e) {
      this.rejoins.push({ at: Date.now(), ok: false, ack: String(e) });
    }
  }
}

describe("SIGTERM drain behind the load balancer", () => {
  let c;
  const GRACE_SECS = 12;
  test(
    "readyz 503 at once, no failed REST request, exit within the grace period, clients move over, no offline flash",
    { timeout: 240_000 },
    withServersLogs(() => c?.nodes, async () => {
      c = await startCluster({
        nodes: 2,
        lb: true,
        env: {
          ...FAST_SENDS,
          CLASSCHAT_DRAIN_DELAY_MS: "1000",
          CLASSCHAT_SHUTDOWN_GRACE_SECS: String(GRACE_SECS),
        },
      });
      const members = [];
      const others = [];
      let traffic = null;
      try {
        const [A, B] = c.nodes;
        const lb = { socketUrl: c.lb.socketUrl };
        const t = c.user(uid("t"), "teacher");
        const watcher = c.user(uid("watcher"));
        const students = Array.from({ length: 8 }, () => c.user(uid("s")));
        const room = await B.ok(
          "POST",
          "/chat/rooms/group",
          t,
          { name: "drain", memberIds: [watcher.id, ...students.map((s) => s.id)] },
          201,
        );
        const path = `/chat/rooms/${room.id}/messages`;

        // The watcher, a contact of everyone, sits on node 2 directly and is not drained.
        const cw = await connectUser(B, watcher);
        others.push(cw);
        await join(cw, [room.id]);

        // Students through the load balancer (round robin over node1, node2, node2).
        for (const s of students) {
          const cl = await connectUser(lb, s, { reconnection: true, withCredentials: true });
          const m = new LbMember(cl, room.id);
          members.push(m);
          await join(cl, [room.id]);
        }
        const onA = await metric(A, "classchat_socket_connections");
        const onB = await metric(B, "classchat_socket_connections");
        console.log(`sockets before SIGTERM: node-1 ${onA}, node-2 ${onB}`);
        assert.ok(onA >= 1, "some clients went through the load balancer to node 1");

        // Every student is online for the watcher before the drain.
        await eventually("everyone online", async () => {
          for (const s of students) {
            const r = await B.rest("GET", `/chat/users/${s.id}/status`, watcher);
            if (r.status !== 200 || r.body.data.status !== "online") return false;
          }
          return true;
        });
        const sent = await c.nodes[1].ok("POST", path, t, { content: "before drain" }, 201);
        for (const m of members) await m.client.rec.waitFor("new-chat-message", (d) => d.id === sent.id);

        // Steady REST traffic through the load balancer: GET every 20 ms, a send every 100 ms.
        traffic = startLbTraffic(c.lb.apiUrl, t, watcher, path);
        await sleep(1500);
        assert.deepEqual(traffic.failures, [], "no failure before the drain");

        const sigtermAt = Date.now();
        A.proc.kill("SIGTERM");

        // readyz on node 1 answers 503 right away.
        const ready = await eventually(
          "node 1 /readyz 503",
          async () => {
            const r = await probe(`${A.apiUrl}/readyz`, { timeoutMs: 2000 });
            return r.status === 503 ? r : false;
          },
          { timeout: 800, interval: 20 },
        );
        console.log(`node 1 /readyz answered 503 ${ready.end - sigtermAt} ms after SIGTERM (${ready.body?.error?.code})`);
        assert.equal(ready.body?.error?.code, "not_ready");
        // Its answers during the drain end the connection, so no idle keep-alive
        // connection of the load balancer is left for the closing listener to race with.
        assert.equal(ready.connection, "close", "a draining node answers with Connection: close");

        // The process exits on its own within the grace period.
        const exit = await Promise.race([A.exited, sleep(GRACE_SECS * 1000 + 5000).then(() => null)]);
        const exitedAfter = Date.now() - sigtermAt;
        assert.ok(exit, `node 1 did not exit within ${GRACE_SECS + 5} s of SIGTERM`);
        console.log(`node 1 exited ${exitedAfter} ms after SIGTERM: ${JSON.stringify(exit)}`);
        assert.ok(exitedAfter <= GRACE_SECS * 1000, `exit took ${exitedAfter} ms, grace is ${GRACE_SECS} s`);
        assert.equal(exit.code, 0, `exit status ${JSON.stringify(exit)}`);

        // The clients that were on node 1 reconnect (to node 2) and rejoin.
        const moved = members.filter((m) => m.disconnects.length > 0);
        console.log(`${moved.length} of ${members.length} clients were on node 1`);
        assert.equal(moved.length, onA, "exactly the clients of node 1 were disconnected");
        await eventually(
          "drained clients reconnected and rejoined",
          () => moved.every((m) => m.client.socket.connected && m.connects.length >= 2 && m.rejoins.some((r) => r.ok)),
          { timeout: 20_000, interval: 100 },
        );
        for (const m of moved) {
          const gap = m.connects[1] - m.disconnects[0].at;
          console.log(`  ${m.user.id}: disconnected (${m.disconnects[0].reason}), reconnected ${gap} ms later`);
        }
        for (const m of members) {
          assert.ok(m.rejoins.every((r) => r.ok), `${m.user.id}: rejoin refused: ${JSON.stringify(m.rejoins)}`);
        }
        assert.equal(await metric(B, "classchat_socket_connections"), members.length + 1, "all sockets are on node 2");

        // After rejoining they receive new messages.
        const afterMsg = await c.nodes[1].ok("POST", path, t, { content: "after drain" }, 201);
        for (const m of [...members, { client: cw }]) {
          await m.client.rec.waitFor("new-chat-message", (d) => d.id === afterMsg.id, { timeout: 10_000 });
        }

        // Keep the traffic going a little past the exit, then stop it.
        await sleep(1500);
        const summary = await traffic.stop();
        traffic = null;
        console.log(`REST through the load balancer during the drain: ${JSON.stringify(summary.counts)}, slowest ${summary.slowest} ms`);
        assert.deepEqual(summary.failures, [], "no REST request through the load balancer failed");
        assert.ok(summary.counts.get > 100 && summary.counts.post > 20, "the traffic ran");

        // Every acknowledged send is stored.
        const history = await B.history(t, room.id);
        const ids = new Set(history.map((m) => m.id));
        const lost = summary.acked.filter((id) => !ids.has(id));
        assert.deepEqual(lost, [], "acknowledged sends missing from history");

        // Presence handover: over a window past the hand-over time, the watcher is never told
        // that a student went offline.
        const windowEnd = sigtermAt + exitedAfter + 5000;
        if (Date.now() < windowEnd) await sleep(windowEnd - Date.now());
        const offline = cw.rec
          .data("chat-user-status-update", (d) => d.status === "offline")
          .filter((d) => students.some((s) => s.id === d.userId));
        assert.deepEqual(offline, [], "a contact saw a reconnected user go offline");
        for (const s of students) {
          const r = await B.rest("GET", `/chat/users/${s.id}/status`, watcher);
          assert.equal(r.body?.data?.status, "online", `${s.id} is online after the drain`);
        }
      } finally {
        if (traffic) await traffic.stop();
        closeAll([...members.map((m) => m.client), ...others]);
        await c.stop();
      }
    }),
  );
});

/** GET /chat/rooms every 20 ms and a send every 100 ms, each request on its own. */
function startLbTraffic(apiUrl, sender, reader, path) {
  const failures = [];
  const acked = [];
  const counts = { get: 0, post: 0 };
  let slowest = 0;
  const inflight = new Set();
  const track = (p) => {
    inflight.add(p);
    p.finally(() => inflight.delete(p));
  };
  const check = (kind, r, ok) => {
    counts[kind] += 1;
    slowest = Math.max(slowest, r.ms);
    if (r.error || !ok.includes(r.status)) {
      failures.push({ kind, status: r.status, error: r.error, body: r.body, at: new Date(r.start).toISOString(), ms: r.ms });
    }
  };
  let n = 0;
  const getTimer = setInterval(() => {
    track(probe(`${apiUrl}/chat/rooms`, { token: reader.token, timeoutMs: 20_000 }).then((r) => check("get", r, [200])));
  }, 20);
  const postTimer = setInterval(() => {
    n += 1;
    const clientMessageId = `drain-${n}-${randomBytes(3).toString("hex")}`;
    track(
      probe(`${apiUrl}${path}`, { method: "POST", token: sender.token, body: { content: `stream ${n}`, clientMessageId }, timeoutMs: 20_000 }).then(
        (r) => {
          check("post", r, [201]);
          if (r.status === 201) acked.push(r.body.data.id);
        },
      ),
    );
  }, 100);
  return {
    failures,
    acked,
    counts,
    async stop() {
      clearInterval(getTimer);
      clearInterval(postTimer);
      await Promise.all([...inflight]);
      return { failures, acked, counts, slowest };
    },
  };
}

// ---------------------------------------------------------------------------------------
// 4. Redis down
// ---------------------------------------------------------------------------------------

describe("Redis down", () => {
  let c;
  test(
    "sends are stored and delivered on their node; cross-node delivery and presence resume when Redis is back",
    { timeout: 240_000 },
    withServersLogs(() => c?.nodes, async () => {
      c = await startCluster({ nodes: 2, env: { ...FAST_SENDS } });
      const clients = [];
      try {
        const [A, B] = c.nodes;
        const t = c.user(uid("t"), "teacher");
        const s = c.user(uid("s"));
        const s2 = c.user(uid("s2"));
        // Users who connect only after Redis is back, one per presence attempt.
        const late = Array.from({ length: 20 }, () => c.user(uid("late")));
        const room = await A.ok(
          "POST",
          "/chat/rooms/group",
          t,
          { name: "redis", memberIds: [s.id, s2.id, ...late.map((u) => u.id)] },
          201,
        );
        const path = `/chat/rooms/${room.id}/messages`;
        const ct = await connectUser(A, t);
        const cs2 = await connectUser(A, s2);
        const cs = await connectUser(B, s);
        clients.push(ct, cs2, cs);
        for (const x of clients) await join(x, [room.id]);
        const before = await A.ok("POST", path, t, { content: "before" }, 201);
        for (const x of clients) await x.rec.waitFor("new-chat-message", (d) => d.id === before.id);

        await c.redis.stop();
        const downAt = Date.now();

        // Sends on node A are stored, answered 201 within a few seconds, and reach node A's sockets.
        const during = [];
        for (let i = 0; i < 3; i++) {
          const r = await probe(`${A.apiUrl}${path}`, { method: "POST", token: t.token, body: { content: `redis down ${i}` }, timeoutMs: 30_000 });
          console.log(`send ${i} with Redis down: ${r.status} in ${r.ms} ms`);
          assert.equal(r.status, 201, `send with Redis down: ${r.status} ${r.error ?? ""} ${JSON.stringify(r.body)}`);
          assert.ok(r.ms <= 6000, `send with Redis down took ${r.ms} ms`);
          during.push(r.body.data);
        }
        for (const m of during) {
          await cs2.rec.waitFor("new-chat-message", (d) => d.id === m.id, { timeout: 5000 });
          await ct.rec.waitFor("new-chat-message", (d) => d.id === m.id, { timeout: 5000 });
        }
        const stored = await B.history(t, room.id);
        for (const m of during) assert.ok(stored.some((x) => x.id === m.id && x.content === m.content), `${m.id} stored`);
        // Keep Redis away a little longer, through several reconnect attempts.
        if (Date.now() < downAt + 6000) await sleep(downAt + 6000 - Date.now());
        assert.ok(A.alive() && B.alive(), "both nodes alive with Redis down");
        console.log(`Redis was down for ${Date.now() - downAt} ms`);

        await c.redis.start();
        const upAt = Date.now();

        // Cross-node delivery resumes within 15 s: send on A, received on B.
        let n = 0;
        await eventually(
          "cross-node delivery A → B",
          async () => {
            n += 1;
            const m = await A.ok("POST", path, t, { content: `after ${n}` }, 201);
            await cs.rec.waitFor("new-chat-message", (d) => d.id === m.id, { timeout: 700 });
            return true;
          },
          { timeout: 15_000, interval: 0 },
        );
        console.log(`A → B delivery resumed ${Date.now() - upAt} ms after Redis came back (${n} tries)`);
        // And B → A.
        await eventually(
          "cross-node delivery B → A",
          async () => {
            n += 1;
            const m = await B.ok("POST", path, s, { content: `back ${n}` }, 201);
            await ct.rec.waitFor("new-chat-message", (d) => d.id === m.id, { timeout: 700 });
            return true;
          },
          { timeout: 15_000, interval: 0 },
        );

        // Presence works again: a user who connects on B now is announced online to the
        // teacher on A, and A reads them as online.
        let k = 0;
        await eventually(
          "presence announcement across nodes",
          async () => {
            const u = late[k++];
            if (!u) throw new Error("out of late users");
            const cu = await connectUser(B, u);
            clients.push(cu);
            await ct.rec.waitFor("chat-user-status-update", (d) => d.userId === u.id && d.status === "online", { timeout: 1000 });
            const r = await A.rest("GET", `/chat/users/${u.id}/status`, t);
            return r.status === 200 && r.body.data.status === "online";
          },
          { timeout: 15_000, interval: 100 },
        );
        console.log(`presence announcements resumed ${Date.now() - upAt} ms after Redis came back (${k} tries)`);
        // A user connected all along through the outage is online again, read from either node.
        await eventually(
          "presence of a user connected through the outage",
          async () => {
            for (const node of [A, B]) {
              const r = await node.rest("GET", `/chat/users/${s.id}/status`, t);
              if (r.status !== 200 || r.body.data.status !== "online") return false;
            }
            return true;
          },
          { timeout: 15_000, interval: 250 },
        );
        console.log(`presence rewritten ${Date.now() - upAt} ms after Redis came back`);
        // And the teacher's status change crosses to B.
        await eventually(
          "status update A → B",
          async () => {
            await ackOk(ct.socket, "update-chat-status", { status: "busy" });
            await cs.rec.waitFor("chat-user-status-update", (d) => d.userId === t.id && d.status === "busy", { timeout: 1000 });
            return true;
          },
          { timeout: 10_000, interval: 100 },
        );
        assert.ok(A.alive() && B.alive());
      } finally {
        closeAll(clients);
        await c.stop();
      }
    }),
  );
});

// ---------------------------------------------------------------------------------------
// 5. PostgreSQL stopped and started under traffic (its own throwaway server)
// ---------------------------------------------------------------------------------------

describe("PostgreSQL stopped and started under traffic", () => {
  let pg;
  let server;
  test(
    "503 database_unavailable while down, no 500, no hang, node alive; normal again after; nothing acknowledged is lost",
    { timeout: 240_000 },
    withServersLogs(() => [server], async () => {
      pg = await startTempPostgres();
      let traffic = null;
      try {
        server = await startServer({
          env: { ...FAST_SENDS, DATABASE_URL: `${pg.url}/postgres`, CLASSCHAT_DB_MAX_CONNECTIONS: "3" },
        });
        const t = server.user(uid("t"), "teacher");
        const s = server.user(uid("s"));
        const g = await server.group(t, [s]);
        const path = `/chat/rooms/${g.id}/messages`;

        traffic = startDbTraffic(server, t, s, path);
        await sleep(1500);
        assert.deepEqual(traffic.bad(), [], "all good before the outage");

        await pg.stop();
        const downAt = Date.now();
        traffic.phase = "down";

        // While down: sends answer 503 database_unavailable, /readyz 503; the node stays up.
        await eventually(
          "a send answers 503 database_unavailable",
          () => traffic.records.some((r) => r.kind === "send" && r.start >= downAt && r.status === 503 && r.body?.error?.code === "database_unavailable"),
          { timeout: 15_000 },
        );
        const readyDown = await eventually(
          "/readyz 503 while the database is down",
          async () => {
            const r = await probe(`${server.apiUrl}/readyz`, { timeoutMs: 15_000 });
            traffic.records.push({ kind: "readyz", phase: "down", ...r });
            return r.status === 503 ? r : false;
          },
          { timeout: 15_000 },
        );
        assert.equal(readyDown.body?.error?.code, "database_unavailable");
        await sleep(4000);
        assert.ok(server.alive(), "the node is alive while the database is down");
        const downFor = Date.now() - downAt;

        await pg.start();
        const upAt = Date.now();
        traffic.phase = "up";

        // Normal again within ~15 s: a send answers 201 and /readyz 200.
        await eventually(
          "a send answers 201 again",
          () => traffic.records.some((r) => r.kind === "send" && r.start >= upAt && r.status === 201),
          { timeout: 15_000 },
        );
        await eventually(
          "/readyz 200 again",
          async () => (await probe(`${server.apiUrl}/readyz`, { timeoutMs: 10_000 })).status === 200,
          { timeout: 15_000 },
        );
        const recoveredAt = Date.now();
        console.log(`PostgreSQL down ${downFor} ms; service normal ${recoveredAt - upAt} ms after it came back`);
        traffic.phase = "recovered";
        await sleep(2000);
        const records = await traffic.stop();
        traffic = null;

        const byPhase = {};
        for (const r of records) {
          const key = `${r.phase} ${r.kind} ${r.status || r.error}`;
          byPhase[key] = (byPhase[key] ?? 0) + 1;
        }
        console.log(`requests: ${JSON.stringify(byPhase)}; slowest ${Math.max(...records.map((r) => r.ms))} ms`);

        // No 500, no connection error, no hang: every answer is a success or a 503
        // database_unavailable, within ~10 s.
        const wrong = records.filter(
          (r) =>
            r.error ||
            !(r.status === 200 || r.status === 201 || (r.status === 503 && r.body?.error?.code === "database_unavailable")),
        );
        assert.deepEqual(wrong.map(brief), [], "answers other than success or 503 database_unavailable");
        const slow = records.filter((r) => r.ms > 10_500);
        assert.deepEqual(slow.map(brief), [], "requests that hung for more than ~10 s");
        assert.ok(records.some((r) => r.phase === "down" && r.status === 503), "503s while down");
        // Once recovered, everything succeeds.
        const afterRecovery = records.filter((r) => r.start >= recoveredAt && r.kind !== "readyz");
        assert.ok(afterRecovery.length > 10, "traffic after recovery");
        assert.deepEqual(afterRecovery.filter((r) => r.status !== 200 && r.status !== 201).map(brief), [], "failures after recovery");
        assert.ok(server.alive(), "the node is alive");

        // No message acknowledged with 201 is missing from history.
        const history = await server.history(t, g.id);
        const stored = new Map(history.map((m) => [m.id, m]));
        const acked = records.filter((r) => r.kind === "send" && r.status === 201).map((r) => r.body.data);
        const missing = acked.filter((m) => !stored.has(m.id) || stored.get(m.id).content !== m.content);
        console.log(`${acked.length} sends acknowledged with 201, ${history.length} messages in history`);
        assert.deepEqual(missing.map((m) => `${m.seq} ${m.id}`), [], "acknowledged sends missing from history");
        // seq stays gap-free and unique through the outage.
        assert.deepEqual(history.map((m) => m.seq), range(1, history.length), "seq gap-free after the outage");
      } finally {
        if (traffic) await traffic.stop();
        await server?.stop();
        await pg.cleanup();
      }
    }),
  );
});

function brief(r) {
  return `${r.phase} ${r.kind} ${r.status} ${r.error ?? ""} ${r.ms}ms ${JSON.stringify(r.body)?.slice(0, 160)}`;
}

/** Two send loops and two read loops against one node; every answer is recorded. */
function startDbTraffic(server, sender, reader, path) {
  const records = [];
  const state = { phase: "before", running: true };
  let n = 0;
  const loop = async (kind, fn) => {
    while (state.running) {
      const phase = state.phase;
      const r = await fn();
      records.push({ kind, phase, ...r });
      await sleep(50);
    }
  };
  const send = () => {
    n += 1;
    const content = `db ${n}`;
    return probe(`${server.apiUrl}${path}`, {
      method: "POST",
      token: sender.token,
      body: { content, clientMessageId: `pg-${n}-${randomBytes(3).toString("hex")}` },
      timeoutMs: 30_000,
    });
  };
  const read = () => probe(`${server.apiUrl}${path}?before=1000000&limit=20`, { token: reader.token, timeoutMs: 30_000 });
  const rooms = () => probe(`${server.apiUrl}/chat/rooms`, { token: reader.token, timeoutMs: 30_000 });
  const loops = [loop("send", send), loop("send", send), loop("read", read), loop("rooms", rooms)];
  return {
    records,
    get phase() {
      return state.phase;
    },
    set phase(p) {
      state.phase = p;
    },
    bad: () => records.filter((r) => r.error || (r.status !== 200 && r.status !== 201)).map(brief),
    async stop() {
      state.running = false;
      await Promise.all(loops);
      return records;
    },
  };
}
