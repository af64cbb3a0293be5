// Every counter, gauge and histogram the Grafana dashboard or the alert rules use exists on
// a node that has done nothing yet: /metrics is scraped as soon as the node prints its
// listening line, before any request, socket or probe. A counter that appears only with
// its first event is invisible to increase() and rate() until its second, and an alert on
// it sees no series at all (src/metrics/zero.rs registers them at start-up).
//
// Two nodes: a single node (SQLite, no Redis) and a cluster node (its own redis-server and
// PostgreSQL database, from lib/cluster.mjs). The queries and the checks are those of
// metrics-names.test.mjs (lib/promql.mjs): names, the labels matched and grouped by, and the
// label values selected (e.g. code="meetings_unavailable", route="/readyz", status="200").
//
// Histograms (names ending in _bucket, _sum, _count) are registered without an observation;
// the Prometheus exporter renders such a histogram with every bucket, its sum and its count
// at 0, so they are checked like the rest, with no exception.
//
// The one exception: `classchat_redis_connected` exists on cluster nodes only. It is 1 while
// a Redis client is connected and 0 while it is not; a single node has no Redis client, and
// a 0 there would fire ClasschatRedisDisconnected.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { startCluster } from "./lib/cluster.mjs";
import { allProblems, parseExposition, usedMetricNames } from "./lib/promql.mjs";
import { startServer } from "./lib/server.mjs";

const CLUSTER_ONLY = ["classchat_redis_connected"];

/** The list: counters that used to appear only after their first event. */
const ONCE_MISSING = [
  "classchat_backplane_local_fallback_total",
  "classchat_backplane_publish_errors_total",
  "classchat_rate_limited_total",
  "classchat_redis_reconnects_total",
  "classchat_socket_errors_total",
];

/** `name{labels} value` lines of an exposition: [name, labels text, value]. */
function samples(text) {
  return text
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => /^([A-Za-z_:][A-Za-z0-9_:]*)(\{.*\})?\s+(\S+)/.exec(l))
    .filter(Boolean)
    .map((m) => [m[1], m[2] ?? "", Number(m[3])]);
}

async function scrape(node) {
  return (await fetch(`http://${node.metricsAddr}/metrics`)).text();
}

describe("dashboard and alert metrics exist from start-up", () => {
  let single;
  let cluster;
  const text = {};
  before(async () => {
    single = await startServer();
    text.single = await scrape(single);
    cluster = await startCluster({ nodes: 1 });
    text.cluster = await scrape(cluster.nodes[0]);
  });
  after(async () => {
    await single?.stop();
    await cluster?.stop();
  });

  test("the dashboard and the alerts use the metrics this test is about", () => {
    const used = usedMetricNames();
    for (const name of [...ONCE_MISSING, ...CLUSTER_ONLY]) assert.ok(used.includes(name), `${name} is no longer used`);
    assert.ok(used.some((n) => n.endsWith("_bucket")), "no histogram is used");
  });

  test("a fresh cluster node exposes every metric, label and label value they use", () => {
    const problems = allProblems(parseExposition(text.cluster));
    assert.deepEqual(problems, [], `missing on a fresh cluster node:\n${problems.join("\n")}`);
  });

  test("a fresh single node exposes every one too, except the Redis connection gauge", () => {
    const scraped = parseExposition(text.single);
    const problems = allProblems(scraped).filter((p) => !CLUSTER_ONLY.some((n) => p.includes(`: ${n}: `)));
    assert.deepEqual(problems, [], `missing on a fresh single node:\n${problems.join("\n")}`);
    for (const name of CLUSTER_ONLY) assert.ok(!scraped.has(name), `${name} on a node without Redis`);
  });

  test("the counters that used to appear with their first event start at 0 on both nodes", () => {
    for (const [kind, body] of Object.entries(text)) {
      const rows = samples(body);
      for (const name of ONCE_MISSING) {
        const mine = rows.filter(([n]) => n === name);
        assert.ok(mine.length > 0, `${kind}: no ${name}`);
        for (const [, labels, value] of mine) assert.equal(value, 0, `${kind}: ${name}${labels} = ${value}`);
      }
    }
  });

  test("histograms without an observation are rendered with zero buckets, sum and count", () => {
    for (const body of Object.values(text)) {
      const rows = samples(body).filter(([n]) => n.startsWith("classchat_backplane_relay_latency_seconds"));
      const names = new Set(rows.map(([n]) => n));
      for (const suffix of ["_bucket", "_sum", "_count"]) assert.ok(names.has(`classchat_backplane_relay_latency_seconds${suffix}`), suffix);
      assert.ok(rows.every(([, , v]) => v === 0), JSON.stringify(rows));
    }
  });

  test("the cluster node reports both Redis clients connected from the first scrape", () => {
    const rows = samples(text.cluster).filter(([n]) => n === "classchat_redis_connected");
    assert.deepEqual(rows.map(([, l, v]) => `${l} ${v}`).sort(), ['{client="publisher"} 1', '{client="subscriber"} 1']);
  });
});
