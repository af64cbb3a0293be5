// The chaos test: three nodes behind the load balancer, 30 clients in one room, one
// sender posting 1,000 numbered messages (retrying with the same clientMessageId on any
// error) while a node is SIGKILLed and restarted and Redis is restarted. Clients follow
// the documented recipe (docs/DELIVERY.md): rejoin with lastSeq on every connect, page
// the rest over REST when told, fill any seq gap from history, dedupe by id. At the end
// every client holds all 1,000 messages exactly once in seq order, and the database
// holds exactly 1,000.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { io } from "socket.io-client";

import { sleep } from "./lib/client.mjs";
import { startCluster } from "./lib/cluster.mjs";
import { uid } from "./lib/util.mjs";

const CLIENTS = 30;
const MESSAGES = 1000;

/** REST through the load balancer, retried across node deaths. */
async function rest(base, method, path, token, body, { tries = 100 } = {}) {
  let last;
  for (let i = 0; i < tries; i++) {
    try {
      const res = await fetch(base + path, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      const json = await res.json().catch(() => null);
      if (res.status < 500) return { status: res.status, body: json };
      last = new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    } catch (e) {
      last = e;
    }
    await sleep(100);
  }
  throw last;
}

/** A client that follows the catch-up recipe. */
class RecipeClient {
  constructor(lb, user, roomId) {
    this.lb = lb;
    this.user = user;
    this.roomId = roomId;
    this.byId = new Map();
    this.seqs = new Set();
    this.liveEvents = 0;
    this.connects = 0;
    this.filling = null;
    this.socket = io(lb.socketUrl, {
      auth: { token: user.token },
      transports: ["websocket"],
      forceNew: true,
      reconnection: true,
      reconnectionDelay: 200,
      reconnectionDelayMax: 1000,
      timeout: 10_000,
    });
    this.socket.on("connect", () => this.onConnect());
    this.socket.on("new-chat-message", (body) => {
      this.liveEvents += 1;
      this.add(body.data);
    });
  }

  /** Highest seq up to which nothing is missing. */
  contiguous() {
    let s = this.contig ?? 0;
    while (this.seqs.has(s + 1)) s += 1;
    this.contig = s;
    return s;
  }

  add(m) {
    if (m.roomId !== this.roomId || this.byId.has(m.id)) return;
    this.byId.set(m.id, m);
    this.seqs.add(m.seq);
    if (m.seq > this.contiguous() + 1) this.fill();
  }

  async onConnect() {
    this.connects += 1;
    try {
      const ack = await this.socket
        .timeout(10_000)
        .emitWithAck("join-chat-rooms", { roomIds: [this.roomId], lastSeq: { [this.roomId]: this.contiguous() } });
      const c = ack?.data?.catchUp?.[0];
      if (!ack?.ok || (c && !c.complete)) this.fill();
    } catch {
      this.fill();
    }
  }

  /** Pages history after the contiguous prefix until nothing is missing there. */
  fill() {
    if (this.filling) return this.filling;
    this.filling = (async () => {
      try {
        for (;;) {
          const after = this.contiguous();
          const r = await rest(this.lb.apiUrl, "GET", `/chat/rooms/${this.roomId}/messages?after=${after}&limit=100`, this.user.token);
          if (r.status !== 200) throw new Error(`history ${r.status}`);
          for (const m of r.body.data) this.add(m);
          if (!r.body.nextCursor) break;
        }
      } catch {
        /* the next gap or connect retries */
      } finally {
        this.filling = null;
      }
    })();
    return this.filling;
  }
}

test("chaos: 1,000 messages survive a node SIGKILL and restart and a Redis restart, exactly once and in order", { timeout: 600_000 }, async () => {
  const c = await startCluster({
    nodes: 3,
    lb: true,
    env: {
      CLASSCHAT_PRESENCE_TTL_SECS: "6",
      CLASSCHAT_RATE_SEND_PER_SEC: "100000",
      CLASSCHAT_RATE_SEND_BURST: "100000",
      CLASSCHAT_RATE_SEND_PER_SEC_PER_IP: "100000",
      CLASSCHAT_RATE_SEND_BURST_PER_IP: "100000",
    },
  });
  const clients = [];
  try {
    const lb = { socketUrl: c.lb.socketUrl, apiUrl: c.lb.apiUrl };
    const sender = c.user(uid("sender"), "teacher");
    const users = Array.from({ length: CLIENTS }, () => c.user(uid("c")));
    const room = (await rest(lb.apiUrl, "POST", "/chat/rooms/group", sender.token, { name: "chaos", memberIds: users.map((u) => u.id) })).body.data;
    for (const u of users) clients.push(new RecipeClient(lb, u, room.id));
    const deadline = Date.now() + 30_000;
    while (clients.some((x) => x.connects === 0)) {
      if (Date.now() > deadline) throw new Error("clients did not connect");
      await sleep(50);
    }
    await sleep(500);

    let retries = 0;
    const events = [];
    for (let n = 1; n <= MESSAGES; n++) {
      if (n === 300) {
        c.nodes[1].proc.kill("SIGKILL");
        events.push(`node-2 SIGKILLed before message ${n}`);
      }
      if (n === 500) {
        await c.restartNode(1);
        events.push(`node-2 restarted before message ${n}`);
      }
      if (n === 700) {
        c.redis.restart(1000).then(() => events.push("redis back"));
        events.push(`redis stopped before message ${n}`);
      }
      for (;;) {
        const r = await rest(lb.apiUrl, "POST", `/chat/rooms/${room.id}/messages`, sender.token, { content: `n=${n}`, clientMessageId: `chaos-${n}` });
        if (r.status === 201 || r.status === 200) break;
        retries += 1;
        await sleep(50);
      }
    }

    // Let the clients settle: every one reaches seq 1,000 (live, catch-up or gap fill).
    const settle = Date.now() + 90_000;
    while (clients.some((x) => x.contiguous() < MESSAGES)) {
      if (Date.now() > settle) break;
      for (const x of clients) if (x.contiguous() < MESSAGES && x.socket.connected) x.fill();
      await sleep(250);
    }

    const dbCount = Number(
      execFileSync("psql", [c.db.url, "-Atc", `select count(*) from messages where room_id = '${room.id}'`]).toString().trim(),
    );
    const summary = clients.map((x) => x.byId.size);
    console.log(`chaos: ${events.join("; ")}`);
    console.log(`chaos: sender retries ${retries}; database holds ${dbCount} messages`);
    console.log(`chaos: per-client messages held: min ${Math.min(...summary)}, max ${Math.max(...summary)}; live events received: min ${Math.min(...clients.map((x) => x.liveEvents))}, max ${Math.max(...clients.map((x) => x.liveEvents))}; reconnects: ${clients.reduce((a, x) => a + x.connects - 1, 0)}`);

    assert.equal(dbCount, MESSAGES, "the database holds exactly 1,000");
    for (const x of clients) {
      const held = [...x.byId.values()].sort((a, b) => a.seq - b.seq);
      assert.equal(held.length, MESSAGES, `${x.user.id} holds all messages exactly once`);
      held.forEach((m, i) => {
        assert.equal(m.seq, i + 1, `${x.user.id}: seq ${i + 1} in order`);
        assert.equal(m.content, `n=${i + 1}`, `${x.user.id}: message ${i + 1} in order`);
      });
    }
  } finally {
    for (const x of clients) x.socket.close();
    await c.stop();
  }
});
