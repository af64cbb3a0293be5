// Every metric that the Grafana dashboard or the alert rules use exists on a running
// node's /metrics, with the labels they select and group by (the reader and the rules of the
// check: lib/promql.mjs).
//
// A cluster-mode node (its own redis-server and PostgreSQL database, from lib/cluster.mjs)
// is put through the activity that makes its counters and histograms move: REST calls,
// sockets that join, send and get refused, a rate limit, a meeting (joins, a relayed signal,
// one to a peer that is not there), and a Redis outage (publish errors, local fallback,
// reconnects, a meeting-join refused meetings_unavailable). Then /metrics is scraped once
// and every selector is checked. metrics-from-start.test.mjs checks the same on nodes that
// have done nothing yet. The same node also serves the container health check script
// (deploy/docker/healthcheck.sh).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";

import { ack, ackOk, closeAll, connectUser, join as joinRooms, sleep } from "./lib/client.mjs";
import { freePort, metric, startCluster } from "./lib/cluster.mjs";
import { REPO, allProblems, parseExposition, parsePromql, ruleFileExprs, sources } from "./lib/promql.mjs";
import { uid } from "./lib/util.mjs";

// --- the reader itself, on known input ---------------------------------------------------

describe("the PromQL reader of this test", () => {
  test("finds selectors, matchers and grouping labels", () => {
    const r = parsePromql(
      'histogram_quantile(0.99, sum by (instance, le) (rate(a_bucket{job="x", route!~"/h|/r", instance=~"$instance"}[$__rate_interval]))) > 0.5 ' +
        "unless on (instance) b_total offset 5m or vector(1) * scalar(c:rec) and {__name__=\"d\", k=\"v\"}",
    );
    assert.deepEqual(
      r.selectors.map((s) => s.name),
      ["a_bucket", "b_total", "c:rec", "d"],
    );
    assert.deepEqual(r.selectors[0].matchers.map((m) => `${m.label}${m.op}${m.value}`), [
      "job=x",
      "route!~/h|/r",
      "instance=~$instance",
    ]);
    assert.deepEqual(r.groupLabels, ["instance", "le", "instance"]);
    assert.deepEqual(parsePromql('label_values(up{job="classchat"}, instance)').groupLabels, ["instance"]);
  });

  test("reads block, quoted and plain expr values from a rule file", () => {
    const { exprs, records } = ruleFileExprs(
      "groups:\n  - rules:\n      - record: a:b\n        expr: vector(1)\n      - alert: X\n        expr: |\n          up == 0\n          or x\n        for: 1m\n      - alert: Y\n        expr: 'z{a=''b''}'\n",
    );
    assert.deepEqual(records, ["a:b"]);
    assert.deepEqual(exprs, ["vector(1)", "up == 0\nor x", "z{a='b'}"]);
  });

  test("the dashboard and the rules hold enough queries to be read at all", () => {
    const { exprs, recorded } = sources();
    const names = new Set(exprs.flatMap(({ expr }) => parsePromql(expr).selectors.map((s) => s.name)));
    assert.ok(exprs.length >= 40, `only ${exprs.length} expressions found`);
    assert.ok(names.size >= 15, `only ${names.size} metric names found: ${[...names].join(", ")}`);
    assert.ok(recorded.has("classchat:node_connection_capacity"));
  });
});

// --- against a running node ----------------------------------------------------------------

describe("dashboard and alert metrics exist on a running node", () => {
  let c;
  let node;
  let scraped;
  before(async () => {
    // A low send rate so one rate-limited send is easy to make.
    c = await startCluster({ nodes: 1, env: { CLASSCHAT_RATE_SEND_PER_SEC: "1", CLASSCHAT_RATE_SEND_BURST: "3" } });
    node = c.nodes[0];
    const teacher = c.user(uid("teacher"), "teacher");
    const student = c.user(uid("student"), "student");
    const clients = [];
    try {
      // REST, including the readiness probe a load balancer makes.
      assert.equal((await node.rest("GET", "/readyz")).status, 200);
      assert.equal(await node.healthz(), 200);
      const room = await node.ok("POST", "/chat/rooms/group", teacher, { name: "metrics", memberIds: [student.id] }, 201);
      await node.ok("GET", `/chat/rooms/${room.id}/messages?limit=5`, student);
      await node.rest("GET", "/chat/rooms/00000000000000000000000000000000", teacher);

      // Sockets: connect, join, send (stored, published, received, delivered), typing,
      // a refused event, and sends past the rate limit.
      const ct = await connectUser(node, teacher);
      const cs = await connectUser(node, student);
      clients.push(ct, cs);
      for (const x of [ct, cs]) await joinRooms(x, [room.id]);
      const sent = await ackOk(ct.socket, "send-chat-message", { roomId: room.id, content: "metrics 1" });
      await cs.rec.waitFor("new-chat-message", (d) => d.id === sent.id);
      await ackOk(cs.socket, "chat-typing", { roomId: room.id, isTyping: true });
      await ack(cs.socket, "send-chat-message", { roomId: "00000000000000000000000000000000", content: "nowhere" });
      let limited = false;
      for (let k = 0; k < 8 && !limited; k++) {
        const a = await ack(cs.socket, "send-chat-message", { roomId: room.id, content: `burst ${k}` });
        limited = a?.ok === false && a.error?.code === "rate_limited";
      }
      assert.ok(limited, "no send was rate limited");

      // A meeting: both join, one signal relayed, one to a peer that is not in it.
      await node.ok("POST", `/chat/rooms/${room.id}/meeting`, teacher, { title: "metrics" }, 201);
      const pt = await ackOk(ct.socket, "meeting-join", { roomId: room.id });
      await ackOk(cs.socket, "meeting-join", { roomId: room.id });
      const offer = { type: "offer", sdp: "v=0\r\n" };
      await ackOk(cs.socket, "meeting-signal", { roomId: room.id, to: pt.peerId, signal: offer });
      await ct.rec.waitFor("meeting-signal", (d) => d.signal?.type === "offer");
      const absent = await ack(cs.socket, "meeting-signal", { roomId: room.id, to: "no-such-peer", signal: offer });
      assert.equal(absent?.error?.code, "peer_not_found", JSON.stringify(absent));

      // Redis away: the publish is refused and delivered locally; Redis back: the
      // clients reconnect (counted per client).
      await c.redis.stop();
      await sleep(1000);
      await node.ok("POST", `/chat/rooms/${room.id}/messages`, teacher, { content: "while redis is down" }, 201);
      const unavailable = await ack(cs.socket, "meeting-join", { roomId: room.id });
      assert.equal(unavailable?.error?.code, "meetings_unavailable", JSON.stringify(unavailable));
      await c.redis.start();
      const deadline = Date.now() + 30_000;
      for (;;) {
        const reconnects = await Promise.all(
          ["publisher", "subscriber"].map((client) => metric(node, `classchat_redis_reconnects_total{client="${client}"}`)),
        );
        if (reconnects.some((n) => n > 0)) break;
        if (Date.now() > deadline) throw new Error("no Redis reconnect was counted");
        await sleep(250);
      }
      // A message through the healed backplane, so the relay has recorded again.
      const again = await ackOk(ct.socket, "send-chat-message", { roomId: room.id, content: "after redis" }).catch(() => null);
      if (again) await cs.rec.waitFor("new-chat-message", (d) => d.id === again.id).catch(() => {});
      scraped = parseExposition(await (await fetch(`http://${node.metricsAddr}/metrics`)).text());
    } finally {
      closeAll(clients);
    }
  });
  after(async () => {
    await c?.stop();
  });

  test("every metric, label and label value the dashboard and alerts use is exposed", () => {
    const problems = allProblems(scraped);
    assert.deepEqual(problems, [], `missing on a running node:\n${problems.join("\n")}`);
  });

  test("the container health check script passes on a live node and fails on a closed port", async () => {
    const script = join(REPO, "deploy", "docker", "healthcheck.sh");
    const run = (addr) => spawnSync("bash", [script], { env: { ...process.env, CLASSCHAT_API_ADDR: addr }, encoding: "utf8", timeout: 10_000 });
    const live = run(node.apiAddr);
    assert.equal(live.status, 0, `health check failed on ${node.apiAddr}: ${live.stderr}`);
    const closed = run(`127.0.0.1:${await freePort()}`);
    assert.notEqual(closed.status, 0, "health check passed on a closed port");
  });
});
