// Offline notifications (webhooks) across three classchat nodes sharing Redis and
// PostgreSQL, against a Node.js HTTP receiver that refuses the first deliveries: every
// event arrives once (by id) and signed, in order per user; users online on another node
// get nothing; a node SIGKILLed while its rows are being retried loses none of them (the
// survivors take them over, after the lease of an attempt in flight). The kill is the
// last test: it leaves node 3 dead.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import http from "node:http";

import { LIFTED_RATES, withServersLogs } from "./lib/server.mjs";
import { closeAll, connectUser, isRfc3339, sleep } from "./lib/client.mjs";
import { metric, startCluster } from "./lib/cluster.mjs";
import { eventually, uid } from "./lib/util.mjs";

const SECRET = randomBytes(32).toString("hex");
const TYPES = ["mention", "direct-message", "group-invite", "meeting-started"];
const TIMEOUT_SECS = 1;
/** An attempt in flight on a dead node is taken over after its lease: 2 × timeout + 5 s. */
const LEASE_MS = 2 * TIMEOUT_SECS * 1000 + 5000;

/**
 * The receiver: `mode` "fail" answers 500, "hang" holds the request 3 s then answers
 * 500 (the node has given up by then), "ok" answers 204 — after `failFirst` refusals.
 */
function receiver() {
  const r = {
    mode: "ok",
    failFirst: 0,
    hits: [], // every request: { id, body, accepted, signed }
    url: null,
    accepted() {
      return this.hits.filter((h) => h.accepted);
    },
    /** Accepted deliveries per event id. */
    counts() {
      const m = new Map();
      for (const h of this.accepted()) m.set(h.body.id, (m.get(h.body.id) ?? 0) + 1);
      return m;
    },
  };
  r.server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      const raw = Buffer.concat(chunks);
      const expected = "sha256=" + createHmac("sha256", SECRET).update(raw).digest("hex");
      const body = JSON.parse(raw.toString("utf8"));
      const hit = {
        at: Date.now(),
        id: req.headers["x-classchat-event-id"],
        body,
        signed: req.headers["x-classchat-signature"] === expected,
        json: req.headers["content-type"] === "application/json",
        accepted: false,
      };
      r.hits.push(hit);
      if (r.failFirst > 0) {
        r.failFirst--;
        res.writeHead(500).end("not yet");
        return;
      }
      if (r.mode === "hang") {
        // When the connection closes: at the node's timeout, or at once if the node dies.
        res.on("close", () => (hit.closedAt ??= Date.now()));
        await sleep(3000);
        res.writeHead(500).end("too late");
        return;
      }
      if (r.mode === "fail") {
        res.writeHead(503).end("down");
        return;
      }
      hit.accepted = true;
      res.writeHead(204).end();
    });
  });
  return new Promise((res) => {
    r.server.listen(0, "127.0.0.1", () => {
      r.url = `http://127.0.0.1:${r.server.address().port}/hooks`;
      res(r);
    });
  });
}

let c;
let rx;
const clients = [];
const it = (name, fn) => test(name, withServersLogs(() => c?.nodes ?? [], fn));

/** Waits until every id of `ids` was accepted, then a little longer for duplicates to show. */
async function allAccepted(ids, timeout = 30_000) {
  await eventually(
    `${ids.length} events accepted`,
    () => ids.every((id) => rx.counts().get(id) >= 1),
    { timeout, interval: 100 },
  );
  await sleep(1500);
}

/** The events accepted for `userId`, in arrival order. */
const forUser = (userId) => rx.accepted().filter((h) => h.body.userId === userId).map((h) => h.body);

/** The ids queued for `users`: every event the receiver saw for them. */
const idsFor = (users) => [...new Set(rx.hits.filter((h) => users.includes(h.body.userId)).map((h) => h.body.id))];

describe("offline notifications across three nodes", () => {
  before(async () => {
    rx = await receiver();
    c = await startCluster({
      nodes: 3,
      env: {
        ...LIFTED_RATES,
        CLASSCHAT_WEBHOOK_URL: rx.url,
        CLASSCHAT_WEBHOOK_SECRET: SECRET,
        CLASSCHAT_WEBHOOK_TIMEOUT_SECS: String(TIMEOUT_SECS),
        CLASSCHAT_WEBHOOK_BACKOFF_BASE_MS: "200",
        CLASSCHAT_WEBHOOK_BACKOFF_MAX_MS: "800",
        CLASSCHAT_WEBHOOK_POLL_MS: "200",
        CLASSCHAT_WEBHOOK_MAX_AGE_SECS: "600",
      },
    });
  });
  after(async () => {
    closeAll(clients);
    await c?.stop();
    rx?.server.close();
  });

  it("every webhook series is on /metrics from start-up, at 0", async () => {
    for (const node of c.nodes) {
      const text = await (await fetch(`http://${node.metricsAddr}/metrics`)).text();
      for (const name of ["queued", "delivered", "retried", "failed"]) {
        for (const type of TYPES) {
          const sample = `classchat_webhooks_${name}_total{type="${type}"} 0`;
          assert.ok(text.includes(sample), `${sample} missing`);
        }
      }
      assert.ok(text.includes("classchat_webhook_oldest_pending_seconds 0"));
    }
  });

  it("events made on three nodes arrive once each, signed, in order per user, after refused attempts; a user online on another node gets nothing", async () => {
    const [A, B, C] = c.nodes;
    const t = c.user(uid("teach"), "teacher", "Teach");
    const offline = [1, 2, 3, 4, 5].map((i) => c.user(uid(`off${i}`), "student", `Off ${i}`));
    const on = c.user(uid("online"), "student", "On");
    const online = await connectUser(B, on);
    clients.push(online);
    rx.failFirst = 6;

    const room = await A.group(t, [...offline, on], "Physics 101");
    const nodes = [A, B, C];
    for (let round = 0; round < 3; round++) {
      for (const [i, s] of offline.entries()) {
        const node = nodes[(round + i) % 3];
        await node.ok("POST", `/chat/rooms/${room.id}/messages`, t, {
          content: `round ${round} for ${s.name}`,
          mentions: [s.id, on.id],
        }, 201);
      }
      await C.ok("POST", `/chat/rooms/${room.id}/messages`, t, { content: "plain, no webhook" }, 201);
    }
    const dmOff = await C.ok("POST", "/chat/rooms/personal", t, { userId: offline[0].id });
    await C.ok("POST", `/chat/rooms/${dmOff.id}/messages`, t, { content: "a direct word" }, 201);
    const dmOn = await A.ok("POST", "/chat/rooms/personal", t, { userId: on.id });
    await A.ok("POST", `/chat/rooms/${dmOn.id}/messages`, t, { content: "you are online" }, 201);
    const meeting = await B.ok("POST", `/chat/rooms/${room.id}/meeting`, t, { title: "Lab" }, 201);

    // 5 invites, 15 mentions, 1 direct message, 5 meeting starts.
    await eventually("26 events queued", () => idsFor(offline.map((s) => s.id)).length === 26, { timeout: 20_000 });
    const ids = idsFor(offline.map((s) => s.id));
    await allAccepted(ids);
    for (const [id, n] of rx.counts()) assert.equal(n, 1, `${id} accepted ${n} times`);
    assert.equal(rx.accepted().filter((h) => ids.includes(h.body.id)).length, 26);
    assert.ok(rx.hits.every((h) => h.signed && h.json && h.id === h.body.id), "every request signed, with its id");
    assert.deepEqual(forUser(on.id), [], "online on node 2: nothing");
    assert.deepEqual(forUser(t.id), [], "the actor: nothing");

    for (const [i, s] of offline.entries()) {
      const got = forUser(s.id);
      const want = ["group-invite", "mention", "mention", "mention", ...(i === 0 ? ["direct-message"] : []), "meeting-started"];
      assert.deepEqual(got.map((e) => e.type), want, `${s.id} in order`);
      assert.deepEqual(
        got.filter((e) => e.type === "mention").map((e) => e.data.preview),
        [0, 1, 2].map((r) => `round ${r} for ${s.name}`),
      );
      for (const e of got) {
        assert.ok(isRfc3339(e.createdAt), e.createdAt);
        assert.equal(e.data.by.userId, t.id);
      }
      const start = got.at(-1);
      assert.equal(start.roomId, room.id);
      assert.equal(start.data.meetingId, meeting.id);
      assert.equal(start.data.roomName, "Physics 101");
    }
    const dm = forUser(offline[0].id).find((e) => e.type === "direct-message");
    assert.equal(dm.roomId, dmOff.id);
    assert.equal(dm.data.roomType, "personal");
    assert.equal(dm.data.preview, "a direct word");

    let delivered = 0;
    for (const node of c.nodes) {
      for (const type of TYPES) delivered += await metric(node, `classchat_webhooks_delivered_total{type="${type}"}`);
    }
    assert.equal(delivered, 26, "the three nodes delivered 26 between them");
  });

  it(`node 3 SIGKILLed mid-retry and mid-attempt: the others deliver every row exactly once, a row it was sending only after its lease (${LEASE_MS} ms)`, async () => {
    const [A, B, C] = c.nodes;
    const t = c.user(uid("teach"), "teacher", "Teach");
    const students = Array.from({ length: 8 }, (_, i) => c.user(uid(`kill${i}`), "student", `Kill ${i}`));
    const late = Array.from({ length: 4 }, (_, i) => c.user(uid(`late${i}`), "student", `Late ${i}`));
    const users = [...students, ...late].map((s) => s.id);
    rx.mode = "fail";
    // Everything is made on node 3, whose dispatcher is woken at once and claims first.
    const room = await C.group(t, students, "Chemistry");
    for (const s of students) {
      await C.ok("POST", `/chat/rooms/${room.id}/messages`, t, { content: `for ${s.name}`, mentions: [s.id] }, 201);
    }
    // Mid-retry: every invite refused at least twice.
    await eventually("every invite retried", () => {
      const invites = rx.hits.filter((h) => users.includes(h.body.userId) && h.body.type === "group-invite");
      return students.every((s) => invites.filter((h) => h.body.userId === s.id).length >= 2);
    }, { timeout: 20_000 });
    // Mid-attempt: the receiver stops answering; node 3 sends its new invites at once.
    rx.mode = "hang";
    await C.group(t, late, "Biology");
    await sleep(300);
    const killedAt = Date.now();
    C.proc.kill("SIGKILL");
    await C.exited;
    await sleep(500);
    rx.mode = "ok";

    await eventually("20 events queued", () => idsFor(users).length === 20, { timeout: 10_000 });
    const ids = idsFor(users);
    await allAccepted(ids, LEASE_MS + 20_000);
    console.log(`all 20 delivered by the survivors within ${Date.now() - killedAt} ms of the kill`);
    for (const id of ids) assert.equal(rx.counts().get(id), 1, `${id} accepted once`);
    for (const s of students) {
      assert.deepEqual(forUser(s.id).map((e) => e.type), ["group-invite", "mention"], `${s.id} in order`);
    }
    for (const s of late) assert.deepEqual(forUser(s.id).map((e) => e.type), ["group-invite"]);
    // Attempts node 3 had in flight: their connection closed with the kill, before any timeout.
    const cut = rx.hits.filter((h) => h.closedAt && h.closedAt - h.at < 900 && Math.abs(h.closedAt - killedAt) < 400);
    assert.ok(cut.length >= 1, "node 3 was killed in the middle of an attempt");
    for (const h of cut) {
      const done = rx.accepted().find((a) => a.body.id === h.body.id);
      assert.ok(done.at >= h.at + LEASE_MS - 500, `${h.body.id} taken over after its lease (${done.at - h.at} ms)`);
    }
    console.log(`${cut.length} attempts cut by the kill, taken over after the lease`);
    for (const node of [A, B]) {
      await eventually("nothing pending", async () => (await metric(node, "classchat_webhook_oldest_pending_seconds")) === 0, { timeout: 5_000 });
    }
  });
});
