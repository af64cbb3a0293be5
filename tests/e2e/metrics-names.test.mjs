// Every metric that the Grafana dashboard or the alert rules use exists on a running
// node's /metrics, with the labels they select and group by.
//
// Sources: deploy/grafana/dashboards/*.json (panel queries and template variables),
// deploy/prometheus/alerts.yml and k8s/base/prometheusrule.yaml. A cluster-mode node (its
// own redis-server and PostgreSQL database, from lib/cluster.mjs) is put through the
// activity that makes its counters and histograms appear: REST calls, sockets that join,
// send and get refused, a rate limit, a meeting (joins, a relayed signal, one to a peer
// that is not there), and a Redis outage (publish errors, local fallback, reconnects, a
// meeting-join refused meetings_unavailable). Then /metrics is scraped once and every
// selector is checked:
//   - the metric name exists (recording rules named classchat:* must be defined in the
//     rule file; `up` is Prometheus's own per-target series);
//   - every label a matcher uses exists on that metric, and `label="value"` matches a
//     series (job and instance are target labels, added by Prometheus);
//   - every label of by/without/on/ignoring exists on a metric of the same expression.
// The same node also serves the container health check script (deploy/docker/healthcheck.sh).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { ack, ackOk, closeAll, connectUser, join as joinRooms, sleep } from "./lib/client.mjs";
import { freePort, startCluster } from "./lib/cluster.mjs";
import { uid } from "./lib/util.mjs";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const TARGET_LABELS = new Set(["job", "instance"]);
const PROMETHEUS_OWN = new Set(["up"]);

// --- where the queries are -------------------------------------------------------------

/** `expr:` values (plain, quoted or block scalars) and `record:` names of a rule file. */
export function ruleFileExprs(text) {
  const lines = text.split("\n");
  const exprs = [];
  const records = [];
  for (let i = 0; i < lines.length; i++) {
    const rec = /^\s*(?:- )?record:\s*["']?([A-Za-z_:][A-Za-z0-9_:]*)["']?\s*$/.exec(lines[i]);
    if (rec) records.push(rec[1]);
    const m = /^(\s*(?:- )?)expr:\s*(.*?)\s*$/.exec(lines[i]);
    if (!m) continue;
    const keyIndent = m[1].length;
    const value = m[2];
    if (/^[|>][+-]?$/.test(value)) {
      const body = [];
      while (i + 1 < lines.length) {
        const next = lines[i + 1];
        const indent = next.length - next.trimStart().length;
        if (next.trim() !== "" && indent <= keyIndent) break;
        body.push(next.trim());
        i++;
      }
      exprs.push(body.join("\n").trim());
    } else if (/^'.*'$/.test(value)) {
      exprs.push(value.slice(1, -1).replace(/''/g, "'"));
    } else if (/^".*"$/.test(value)) {
      exprs.push(JSON.parse(value));
    } else {
      exprs.push(value);
    }
  }
  return { exprs, records };
}

/** Panel queries and query-variable definitions of a Grafana dashboard. */
export function dashboardExprs(dashboard) {
  const exprs = [];
  const walk = (node) => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== "object") return;
    if (typeof node.expr === "string" && node.expr.trim()) exprs.push(node.expr);
    if (Array.isArray(node.panels)) walk(node.panels);
    if (Array.isArray(node.targets)) walk(node.targets);
  };
  walk(dashboard.panels);
  for (const v of dashboard.templating?.list ?? []) {
    if (v.type !== "query") continue;
    const q = typeof v.query === "string" ? v.query : v.query?.query;
    for (const s of [q, v.definition]) if (typeof s === "string" && s.trim()) exprs.push(s);
  }
  return exprs;
}

// --- a small PromQL reader: selectors and grouping labels --------------------------------

const AGGREGATIONS = new Set([
  "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
  "bottomk", "topk", "quantile", "limitk", "limit_ratio",
]);
const GROUPING = new Set(["by", "without", "on", "ignoring", "group_left", "group_right"]);
const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "start", "end"]);

function readString(s, i) {
  const q = s[i];
  let out = "";
  i++;
  while (i < s.length && s[i] !== q) {
    if (s[i] === "\\" && q !== "`") {
      out += s[i + 1];
      i += 2;
    } else out += s[i++];
  }
  return [out, i + 1];
}

function readMatchers(s, i) {
  // s[i] === "{"
  const matchers = [];
  i++;
  for (;;) {
    while (/[\s,]/.test(s[i] ?? "")) i++;
    if (s[i] === "}") return [matchers, i + 1];
    if (i >= s.length) throw new Error(`unterminated {} in ${s}`);
    const lm = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i));
    if (!lm) throw new Error(`bad matcher at ${JSON.stringify(s.slice(i, i + 20))}`);
    i += lm[0].length;
    while (/\s/.test(s[i])) i++;
    const om = /^(=~|!~|!=|=)/.exec(s.slice(i));
    if (!om) throw new Error(`bad matcher operator at ${JSON.stringify(s.slice(i, i + 20))}`);
    i += om[0].length;
    while (/\s/.test(s[i])) i++;
    const [value, j] = readString(s, i);
    i = j;
    matchers.push({ label: lm[0], op: om[0], value });
  }
}

/** The vector selectors and grouping labels of one PromQL expression (Grafana variables allowed). */
export function parsePromql(expr) {
  const lv = /^\s*label_values\(\s*(.*)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$/s.exec(expr);
  if (lv) {
    const inner = parsePromql(lv[1]);
    inner.groupLabels.push(lv[2]);
    return inner;
  }
  const s = expr;
  const selectors = [];
  const groupLabels = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === '"' || c === "'" || c === "`") {
      i = readString(s, i)[1];
    } else if (c === "#") {
      while (i < s.length && s[i] !== "\n") i++;
    } else if (c === "[") {
      while (i < s.length && s[i] !== "]") i++;
      i++;
    } else if (c === "{") {
      const [matchers, j] = readMatchers(s, i);
      i = j;
      const name = matchers.find((m) => m.label === "__name__" && m.op === "=");
      selectors.push({ name: name?.value ?? null, matchers: matchers.filter((m) => m.label !== "__name__") });
    } else if (/[0-9.]/.test(c)) {
      while (i < s.length && /[0-9A-Za-z_.+]/.test(s[i])) {
        if (s[i] === "+" && !/[eE]/.test(s[i - 1])) break;
        i++;
      }
    } else if (c === "$") {
      i++;
      if (s[i] === "{") while (i < s.length && s[i] !== "}") i++;
      while (i < s.length && /[A-Za-z0-9_]/.test(s[i])) i++;
      if (s[i] === "}") i++;
    } else if (/[A-Za-z_:]/.test(c)) {
      const id = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(s.slice(i))[0];
      i += id.length;
      let k = i;
      while (/\s/.test(s[k] ?? "")) k++;
      const lower = id.toLowerCase();
      if (GROUPING.has(lower)) {
        if (s[k] === "(") {
          const close = s.indexOf(")", k);
          for (const l of s.slice(k + 1, close).split(",")) if (l.trim()) groupLabels.push(l.trim());
          i = close + 1;
        }
      } else if (KEYWORDS.has(lower) || AGGREGATIONS.has(lower) || s[k] === "(") {
        // an operator, or a function call: its arguments are read as they come
      } else if (s[k] === "{") {
        const [matchers, j] = readMatchers(s, k);
        i = j;
        selectors.push({ name: id, matchers });
      } else {
        selectors.push({ name: id, matchers: [] });
      }
    } else {
      i++;
    }
  }
  return { selectors, groupLabels };
}

// --- the exposition format ---------------------------------------------------------------

/** name -> [labels object] of every sample in a Prometheus text exposition. */
export function parseExposition(text) {
  const series = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+\S+/.exec(line);
    if (!m) continue;
    const labels = {};
    const body = m[3] ?? "";
    const re = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    let lm;
    while ((lm = re.exec(body))) labels[lm[1]] = lm[2].replace(/\\(.)/g, (_, ch) => (ch === "n" ? "\n" : ch));
    if (!series.has(m[1])) series.set(m[1], []);
    series.get(m[1]).push(labels);
  }
  return series;
}

/** Problems of one expression against the scraped series; [] when all is there. */
export function checkExpr(expr, scraped, recorded) {
  const problems = [];
  const { selectors, groupLabels } = parsePromql(expr);
  const present = [];
  for (const sel of selectors) {
    if (!sel.name) {
      problems.push(`a selector without a metric name`);
      continue;
    }
    if (sel.name.includes(":")) {
      if (!recorded.has(sel.name)) problems.push(`${sel.name}: no recording rule defines it`);
      continue;
    }
    if (PROMETHEUS_OWN.has(sel.name)) {
      for (const m of sel.matchers) {
        if (!TARGET_LABELS.has(m.label)) problems.push(`${sel.name}: only target labels exist, not ${m.label}`);
      }
      continue;
    }
    const rows = scraped.get(sel.name);
    if (!rows) {
      problems.push(`${sel.name}: not in /metrics`);
      continue;
    }
    present.push(rows);
    for (const m of sel.matchers) {
      if (TARGET_LABELS.has(m.label)) continue;
      if (!rows.some((r) => m.label in r)) {
        problems.push(`${sel.name}: no label ${m.label}`);
      } else if (m.op === "=" && m.value !== "" && !m.value.includes("$") && !rows.some((r) => r[m.label] === m.value)) {
        problems.push(`${sel.name}: no series with ${m.label}="${m.value}" (has ${[...new Set(rows.map((r) => r[m.label]))].join(", ")})`);
      }
    }
  }
  for (const l of groupLabels) {
    if (TARGET_LABELS.has(l)) continue;
    if (!present.some((rows) => rows.some((r) => l in r))) problems.push(`grouping label ${l} is on none of its metrics`);
  }
  return problems;
}

function sources() {
  const out = [];
  const recorded = new Set();
  const dashDir = join(REPO, "deploy", "grafana", "dashboards");
  for (const f of readdirSync(dashDir).filter((n) => n.endsWith(".json")).sort()) {
    const file = join(dashDir, f);
    for (const e of dashboardExprs(JSON.parse(readFileSync(file, "utf8")))) out.push({ file, expr: e });
  }
  for (const file of [join(REPO, "deploy", "prometheus", "alerts.yml"), join(REPO, "k8s", "base", "prometheusrule.yaml")]) {
    const { exprs, records } = ruleFileExprs(readFileSync(file, "utf8"));
    for (const r of records) recorded.add(r);
    for (const e of exprs) out.push({ file, expr: e });
  }
  return { exprs: out, recorded };
}

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
      // clients reconnect (counted per client; one series is enough for the name check).
      await c.redis.stop();
      await sleep(1000);
      await node.ok("POST", `/chat/rooms/${room.id}/messages`, teacher, { content: "while redis is down" }, 201);
      const unavailable = await ack(cs.socket, "meeting-join", { roomId: room.id });
      assert.equal(unavailable?.error?.code, "meetings_unavailable", JSON.stringify(unavailable));
      await c.redis.start();
      const deadline = Date.now() + 30_000;
      for (;;) {
        const text = await (await fetch(`http://${node.metricsAddr}/metrics`)).text();
        const s = parseExposition(text);
        if ((s.get("classchat_redis_reconnects_total") ?? []).length > 0) break;
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
    const { exprs, recorded } = sources();
    const problems = [];
    for (const { file, expr } of exprs) {
      for (const p of checkExpr(expr, scraped, recorded)) {
        problems.push(`${relative(REPO, file)}: ${p}\n    in: ${expr.replace(/\s+/g, " ").slice(0, 160)}`);
      }
    }
    assert.deepEqual([...new Set(problems)], [], `missing on a running node:\n${[...new Set(problems)].join("\n")}`);
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
