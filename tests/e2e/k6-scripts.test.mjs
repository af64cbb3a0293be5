// The k6 scripts of loadtest/k6/, checked without k6 (it cannot be installed here):
//   - every file parses as an ES module at ES2020 (acorn), imports only k6 modules and names
//     that k6 has, and relative .js files that exist inside loadtest/k6/; one WebSocket
//     module throughout; no Node-only globals; timers come from k6/timers;
//   - every scenario script exports `options` (known executors, k6 duration strings,
//     thresholds whose expressions parse, on metrics that exist, with an aggregation their
//     type has) and a default function, and the README has its `k6 run` command with only
//     env variables the scripts read;
//   - lib/sio.js's frame functions against a real classchat node's frames (raw `ws`), and
//     its Socket client against a scripted fake server (ping/pong, acks, timeouts, refusal);
//   - each scenario, with small numbers, run against that node under the k6 stand-in of
//     lib/k6shim/ (setup() over REST with tokens minted by lib/setup.js, then the VUs): the
//     counters must show a healthy run, and every threshold not on a latency trend passes.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { register } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { parse } from "acorn";
import { WebSocket, WebSocketServer } from "ws";

import { LIFTED_RATES, startServer } from "./lib/server.mjs";

register("./lib/k6shim/hooks.mjs", import.meta.url);
const { rt, runScript, reset, THRESHOLD_RE } = await import("./lib/k6shim/runtime.mjs");

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const K6 = join(REPO, "loadtest", "k6");
const SCENARIOS = ["connect", "fanout", "presence-churn", "typing-storm"];

function jsFiles(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? jsFiles(p) : p.endsWith(".js") ? [p] : [];
  });
}
const FILES = jsFiles(K6);
const scriptPath = (name) => join(K6, `${name}.js`);

// What k6 (v0.50+) provides, by module: the names the scripts may import.
const K6_MODULES = {
  k6: ["default", "check", "fail", "group", "randomSeed", "sleep"],
  "k6/http": ["default", "request", "get", "post", "put", "del", "patch", "head", "options", "batch", "asyncRequest", "cookieJar", "file", "expectedStatuses", "setResponseCallback"],
  "k6/metrics": ["default", "Counter", "Gauge", "Rate", "Trend"],
  "k6/crypto": ["default", "hmac", "createHMAC", "createHash", "md4", "md5", "sha1", "sha256", "sha384", "sha512", "sha512_224", "sha512_256", "ripemd160", "randomBytes"],
  "k6/encoding": ["default", "b64encode", "b64decode"],
  "k6/timers": ["default", "setTimeout", "clearTimeout", "setInterval", "clearInterval"],
  "k6/execution": ["default"],
  "k6/data": ["SharedArray"],
  "k6/experimental/websockets": ["WebSocket"],
  "k6/websockets": ["WebSocket"],
  "k6/ws": ["default", "connect"],
};
const WS_MODULES = ["k6/experimental/websockets", "k6/websockets", "k6/ws"];
const NODE_ONLY = ["process", "Buffer", "require", "module", "exports", "__dirname", "__filename", "fetch", "setImmediate"];
const TIMERS = ["setTimeout", "clearTimeout", "setInterval", "clearInterval"];

// k6's built-in metrics and their types (the ones a threshold may name).
const BUILTIN = {
  checks: "rate", iterations: "counter", iteration_duration: "trend", dropped_iterations: "counter",
  vus: "gauge", vus_max: "gauge", data_sent: "counter", data_received: "counter",
  http_reqs: "counter", http_req_failed: "rate", http_req_duration: "trend", http_req_waiting: "trend",
  ws_connecting: "trend", ws_session_duration: "trend", ws_sessions: "counter", ws_msgs_sent: "counter", ws_msgs_received: "counter", ws_ping: "trend",
};
const AGGREGATIONS = { trend: ["avg", "min", "max", "med", "p"], counter: ["count", "rate"], rate: ["rate"], gauge: ["value"] };
const DURATION_RE = /^(\d+(\.\d+)?(ms|s|m|h))+$/;
const EXECUTORS = {
  "shared-iterations": ["vus", "iterations"], "per-vu-iterations": ["vus", "iterations"], "constant-vus": ["vus", "duration"],
  "ramping-vus": ["stages"], "constant-arrival-rate": ["rate", "duration", "preAllocatedVUs"], "ramping-arrival-rate": ["stages", "preAllocatedVUs"],
  externally: ["maxVUs"],
};

/** Every node of an acorn AST, with its parent and the key it hangs from. */
function walk(node, visit, parent = null, key = null) {
  if (!node || typeof node.type !== "string") return;
  visit(node, parent, key);
  for (const [k, v] of Object.entries(node)) {
    if (Array.isArray(v)) v.forEach((c) => walk(c, visit, node, k));
    else if (v && typeof v.type === "string") walk(v, visit, node, k);
  }
}

/** Identifiers used as references (not property names, not import bindings' declarations). */
function references(ast) {
  const names = new Set();
  walk(ast, (n, parent, key) => {
    if (n.type !== "Identifier" || !parent) return;
    if (parent.type === "MemberExpression" && key === "property" && !parent.computed) return;
    if ((parent.type === "Property" || parent.type === "MethodDefinition") && key === "key" && !parent.computed) return;
    if (parent.type.startsWith("Import") || parent.type.startsWith("Export")) return;
    names.add(n.name);
  });
  return names;
}

const parsed = new Map(FILES.map((f) => [f, parse(readFileSync(f, "utf8"), { ecmaVersion: 2020, sourceType: "module", locations: true })]));

describe("k6 scripts: parse, imports, globals", () => {
  test("there are the four scenario scripts and the shared libraries", () => {
    for (const s of SCENARIOS) assert.ok(existsSync(scriptPath(s)), `${s}.js`);
    for (const l of ["sio", "setup"]) assert.ok(existsSync(join(K6, "lib", `${l}.js`)), `lib/${l}.js`);
  });

  for (const file of FILES) {
    const rel = relative(K6, file);
    test(`${rel}: imports k6 modules and names k6 has, or relative files that exist`, () => {
      const ast = parsed.get(file);
      const text = readFileSync(file, "utf8");
      assert.match(text, /^\/\/ \S.*\n/, "starts with a header comment");
      const lines = text.split("\n").length;
      assert.ok(lines <= 300, `${lines} lines`);
      walk(ast, (n) => assert.notEqual(n.type, "ImportExpression", `dynamic import() at line ${n.loc?.start.line}: k6 has none`));
      for (const node of ast.body.filter((n) => n.type === "ImportDeclaration" || (n.type.startsWith("Export") && n.source))) {
        const spec = node.source.value;
        if (spec.startsWith("./") || spec.startsWith("../")) {
          assert.match(spec, /\.js$/, `${spec}: k6 needs the file extension`);
          const target = resolve(dirname(file), spec);
          assert.ok(existsSync(target), `${spec} does not exist`);
          assert.ok(!relative(K6, target).startsWith(".."), `${spec} leaves loadtest/k6`);
          continue;
        }
        assert.ok(K6_MODULES[spec], `${spec}: not a k6 module`);
        for (const s of node.specifiers || []) {
          const name = s.type === "ImportDefaultSpecifier" ? "default" : s.type === "ImportNamespaceSpecifier" ? null : s.imported.name;
          if (name) assert.ok(K6_MODULES[spec].includes(name), `${spec} has no export ${name}`);
        }
      }
      const refs = references(ast);
      for (const g of NODE_ONLY) assert.ok(!refs.has(g), `uses ${g}, which k6 does not have`);
      const imported = new Set(
        ast.body.filter((n) => n.type === "ImportDeclaration" && n.source.value === "k6/timers").flatMap((n) => n.specifiers.map((s) => s.local.name)),
      );
      for (const t of TIMERS) if (refs.has(t)) assert.ok(imported.has(t), `${t} is used without importing it from k6/timers`);
    });
  }

  test("one WebSocket module throughout, the one the README names", () => {
    const used = new Set();
    for (const ast of parsed.values())
      for (const n of ast.body) if (n.type === "ImportDeclaration" && WS_MODULES.includes(n.source.value)) used.add(n.source.value);
    assert.deepEqual([...used], ["k6/experimental/websockets"]);
    assert.match(readFileSync(join(K6, "README.md"), "utf8"), /`k6\/experimental\/websockets`/);
  });
});

describe("k6 scenario scripts: options, thresholds, default function, README", () => {
  const readme = readFileSync(join(K6, "README.md"), "utf8");
  const source = FILES.map((f) => readFileSync(f, "utf8")).join("\n");
  const envRead = new Set([...source.matchAll(/__ENV(?:\.([A-Z0-9_]+)|\[['"]([A-Z0-9_]+)['"]\])|(?:num|list)\('([A-Z0-9_]+)'/g)].map((m) => m[1] || m[2] || m[3]));

  for (const name of SCENARIOS) {
    test(`${name}.js exports options with valid thresholds and scenarios, and a default function`, async () => {
      const ast = parsed.get(scriptPath(name));
      const exported = ast.body.filter((n) => n.type === "ExportNamedDeclaration" && n.declaration?.type === "VariableDeclaration");
      assert.ok(exported.some((n) => n.declaration.declarations.some((d) => d.id.name === "options")), "export const options");
      const def = ast.body.find((n) => n.type === "ExportDefaultDeclaration");
      assert.ok(def && /Function/.test(def.declaration.type), "export default function");

      reset();
      globalThis.__ENV = {};
      const mod = await import(`${pathToFileURL(scriptPath(name)).href}?static`);
      assert.equal(typeof mod.default, "function");
      const { options } = mod;
      const thresholds = Object.entries(options.thresholds || {});
      assert.ok(thresholds.length >= 3, "meaningful thresholds");
      for (const [key, list] of thresholds) {
        const metric = key.replace(/\{.*\}$/, "");
        const type = rt.metrics.get(metric)?.type || BUILTIN[metric];
        assert.ok(type, `threshold on ${metric}, which is neither defined by the scripts nor a k6 metric`);
        assert.ok(Array.isArray(list) && list.length > 0, `${metric}: a list of thresholds`);
        for (const t of list) {
          const expr = typeof t === "string" ? t : t.threshold;
          const m = THRESHOLD_RE.exec(expr);
          assert.ok(m, `${metric}: "${expr}" is not a k6 threshold expression`);
          const agg = m[1].startsWith("p(") ? "p" : m[1];
          assert.ok(AGGREGATIONS[type].includes(agg), `${metric} is a ${type}: no ${m[1]}`);
        }
      }
      assert.ok(options.thresholds.checks, "a threshold on checks");
      assert.ok(options.thresholds.sio_connect_errors, "a threshold on connect errors");
      for (const d of [options.setupTimeout, options.teardownTimeout].filter(Boolean)) assert.match(d, DURATION_RE);
      const scenarios = Object.entries(options.scenarios || {});
      assert.ok(scenarios.length > 0, "scenarios");
      for (const [sname, sc] of scenarios) {
        assert.ok(EXECUTORS[sc.executor], `${sname}: unknown executor ${sc.executor}`);
        for (const f of EXECUTORS[sc.executor]) assert.ok(sc[f] !== undefined, `${sname}: ${sc.executor} needs ${f}`);
        for (const f of ["duration", "maxDuration", "gracefulStop", "gracefulRampDown", "startTime"])
          if (sc[f] !== undefined) assert.match(sc[f], DURATION_RE, `${sname}.${f}`);
        for (const st of sc.stages || []) {
          assert.match(st.duration, DURATION_RE);
          assert.ok(Number.isInteger(st.target) && st.target >= 0);
        }
        for (const f of ["vus", "iterations"]) if (sc[f] !== undefined) assert.ok(Number.isInteger(sc[f]) && sc[f] >= 1, `${sname}.${f}`);
      }
    });

    test(`README has the k6 run command of ${name}.js, with env the scripts read`, () => {
      const cmds = readme.split("\n").filter((l) => /^\s*(\S+=\S+\s+)*k6 run /.test(l) && l.includes(`loadtest/k6/${name}.js`));
      assert.ok(cmds.length > 0, `no "k6 run ... loadtest/k6/${name}.js" line`);
    });
  }

  test("every -e VARIABLE= in the README is read by a script", () => {
    const vars = [...readme.matchAll(/-e ([A-Z0-9_]+)=/g)].map((m) => m[1]);
    assert.ok(vars.includes("CLASSCHAT_SOCKET_URLS") && vars.includes("CLASSCHAT_API_URLS"));
    for (const v of vars) assert.ok(envRead.has(v), `${v} in the README is read by no script`);
  });
});

// ---- against frames: a real node, and a scripted fake ---------------------------------

const sio = await import(pathToFileURL(join(K6, "lib", "sio.js")).href);
const k6setup = await import(pathToFileURL(join(K6, "lib", "setup.js")).href);
const { idle } = await import("./lib/k6shim/runtime.mjs");

/**
 * A raw WebSocket that keeps its text frames, except pings, which it answers with
 * lib/sio.js's PONG and counts; `next(pred)` takes the first frame that matches.
 */
function raw(url) {
  const ws = new WebSocket(url);
  const frames = [];
  let wake = () => {};
  const c = { pings: 0 };
  ws.on("message", (d) => {
    const t = d.toString();
    if (sio.decode(t).type === "ping") {
      c.pings++;
      ws.send(sio.PONG);
      return;
    }
    frames.push(t);
    wake();
  });
  return Object.assign(c, {
    ws,
    frames,
    send: (t) => ws.send(t),
    async next(pred = () => true, ms = 5000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const i = frames.findIndex((f) => pred(sio.decode(f), f));
        if (i >= 0) return { frame: frames[i], packet: sio.decode(frames.splice(i, 1)[0]) };
        if (Date.now() > deadline) throw new Error(`no matching frame; got ${JSON.stringify(frames)}`);
        await new Promise((r) => {
          wake = r;
          setTimeout(r, 50);
        });
      }
    },
  });
}

/** A scripted Engine.IO server on a free port, closed with its clients after test `t`. */
async function fake(t, onConnection) {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise((r) => wss.once("listening", r));
  wss.on("connection", onConnection);
  t.after(() => {
    for (const c of wss.clients) c.terminate();
    wss.close();
  });
  return { base: `ws://127.0.0.1:${wss.address().port}` };
}

describe("lib/sio.js framing", { timeout: 60_000 }, () => {
  test("pure encoders and decoder", () => {
    assert.equal(sio.encodeConnect({ token: "t" }), '40{"token":"t"}');
    assert.equal(sio.encodeConnect({ token: "t" }, "/admin"), '40/admin,{"token":"t"}');
    assert.equal(sio.encodeEvent("a", { x: 1 }), '42["a",{"x":1}]');
    assert.equal(sio.encodeEvent("a", { x: 1 }, 12), '4212["a",{"x":1}]');
    assert.equal(sio.encodeEvent("a"), '42["a"]');
    assert.equal(sio.encodeAck(3, [{ ok: true }]), '433[{"ok":true}]');
    assert.equal(sio.PONG, "3");
    assert.deepEqual(sio.decode("2"), { type: "ping", data: "" });
    assert.deepEqual(sio.decode("3"), { type: "pong", data: "" });
    assert.deepEqual(sio.decode('0{"sid":"a","pingInterval":25000}'), { type: "open", data: { sid: "a", pingInterval: 25000 } });
    const ev = sio.decode('42/admin,5["x",{"a":1},2]');
    assert.deepEqual([ev.type, ev.nsp, ev.id, ev.name, ev.args], ["event", "/admin", 5, "x", [{ a: 1 }, 2]]);
    const ack = sio.decode('4317[{"ok":false}]');
    assert.deepEqual([ack.type, ack.id, ack.args], ["ack", 17, [{ ok: false }]]);
    assert.equal(sio.decode('451-["x",{"_placeholder":true,"num":0}]').attachments, 1);
    assert.equal(sio.decode('44{"message":"m","data":{"code":"unauthorized"}}').data.data.code, "unauthorized");
    for (const bad of ["", "9", "4x", "42[", "42{}", "0{"]) assert.equal(sio.decode(bad).type, "invalid", bad);
    assert.equal(sio.socketUrl("http://h:1"), "ws://h:1/socket.io/?EIO=4&transport=websocket");
    assert.equal(sio.socketUrl("https://h/"), "wss://h/socket.io/?EIO=4&transport=websocket");
    assert.equal(sio.socketUrl("h:1"), "ws://h:1/socket.io/?EIO=4&transport=websocket");
    assert.equal(sio.socketUrl("ws://h:1/socket.io/"), "ws://h:1/socket.io/?EIO=4&transport=websocket");
  });

  test("Socket answers pings, routes events and acks, times acks out, reports a server close", async (t) => {
    reset();
    const got = [];
    const srv = await fake(t, (c) => {
      c.on("message", (d) => {
        const t = d.toString();
        got.push(t);
        if (t.startsWith("40")) c.send('40{"sid":"s1"}');
        if (t === "3") c.send('42["hello",{"data":{"n":1},"timestamp":"2026-01-01T00:00:00Z"}]');
        if (t.startsWith("421[")) c.send('431[{"ok":true,"data":{"echo":1}}]');
        if (t.startsWith("422[")) setTimeout(() => c.close(), 300); // never acked
      });
      c.send('0{"sid":"e1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}');
      setTimeout(() => c.send("2"), 50);
    });
    const log = [];
    const s = new sio.Socket(`${srv.base}/socket.io/?EIO=4&transport=websocket`, "tok", { ackTimeoutMs: 100 });
    s.on("connect", () => log.push("connect"));
    s.on("hello", (body) => {
      log.push(`hello ${body.data.n}`);
      s.emit("echo", { a: 1 }, (v, err) => {
        log.push(`ack ${JSON.stringify(v)} ${err}`);
        s.emit("never", {}, (v2, err2) => log.push(`ack ${v2} ${err2}`));
      });
    });
    s.on("disconnect", () => log.push("disconnect"));
    s.on("close", () => log.push("close"));
    await idle(5000);
    assert.deepEqual(got, ['40{"token":"tok"}', "3", '421["echo",{"a":1}]', '422["never",{}]']);
    assert.deepEqual(log, ["connect", "hello 1", 'ack {"ok":true,"data":{"echo":1}} null', "ack null timeout", "disconnect", "close"]);
    assert.equal(s.pings, 1);
    assert.deepEqual(rt.metrics.get("sio_connect_errors").values, [0]);
    assert.deepEqual(rt.metrics.get("sio_ack_timeouts").values, [1]);
    assert.deepEqual(rt.metrics.get("sio_closed_unexpectedly").values, [1]);
    assert.equal(rt.metrics.get("sio_ack_ms").values.length, 1);
    assert.deepEqual(rt.errors, []);
  });

  test("Socket reports a refusal and a connect timeout as connect errors", async (t) => {
    reset();
    const srv = await fake(t, (c, req) => {
      if (req.url.includes("silent")) return; // never sends the open packet
      c.on("message", () => c.send('44{"message":"no","data":{"code":"unauthorized","message":"bad token"}}'));
      c.send('0{"sid":"e2","pingInterval":25000,"pingTimeout":20000}');
    });
    const { base } = srv;
    const seen = [];
    const a = new sio.Socket(`${base}/socket.io/?EIO=4&transport=websocket`, "bad");
    a.on("connect_error", (reason, data) => seen.push(`${reason} ${data?.data?.code}`));
    const b = new sio.Socket(`${base}/silent/?EIO=4&transport=websocket`, "t", { connectTimeoutMs: 200 });
    b.on("connect_error", (reason) => seen.push(reason));
    // Given up on before its WebSocket opened: closed once it opens (k6 cannot close a
    // CONNECTING socket; the shim throws if one is).
    const c = new sio.Socket(`${base}/silent/?EIO=4&transport=websocket`, "t");
    c.on("connect_error", (reason) => seen.push(reason));
    c.close();
    for (const s of [a, b, c]) s.on("connect", () => seen.push("connected?!"));
    await idle(5000);
    assert.deepEqual(seen.sort(), ["closed", "refused unauthorized", "timeout"]);
    assert.deepEqual(rt.metrics.get("sio_connect_errors").values, [1, 1, 1]);
    assert.equal(c.ws.readyState, 3);
    assert.deepEqual(rt.errors, []);
  });
});

describe("k6 scripts against a real classchat node", { timeout: 300_000 }, () => {
  let server;
  const env = (extra) => ({
    // The same node twice, written two ways: the lists are parsed and spread over.
    CLASSCHAT_SOCKET_URLS: `${server.socketUrl}, ${server.socketAddr}`,
    CLASSCHAT_API_URLS: `${server.apiUrl},${server.apiAddr}`,
    CLASSCHAT_JWT_SECRET: server.secret,
    CLASSCHAT_PREFIX: "k6e2e",
    ...extra,
  });
  before(async () => {
    server = await startServer({ env: LIFTED_RATES });
  });
  after(async () => {
    await server?.stop();
  });

  test("a real node's open, CONNECT, ack, event and refusal frames decode as lib/sio.js expects", async () => {
    globalThis.__ENV = env({});
    const owner = k6setup.token("k6f-owner", "teacher");
    const member = k6setup.token("k6f-member", "student");
    const room = await server.ok("POST", "/chat/rooms/group", owner, { name: "k6 frames", memberIds: ["k6f-member"] }, 201);
    const url = sio.socketUrl(server.socketUrl);
    assert.equal(url, `ws://${server.socketAddr}/socket.io/?EIO=4&transport=websocket`);

    const c = raw(url);
    const open = (await c.next()).packet;
    assert.equal(open.type, "open");
    assert.equal(typeof open.data.sid, "string");
    assert.ok(open.data.pingInterval > 0);
    c.send(sio.encodeConnect({ token: member }));
    const conn = (await c.next()).packet;
    assert.deepEqual([conn.type, conn.nsp, typeof conn.data.sid], ["connect", "/", "string"]);

    c.send(sio.encodeEvent("join-chat-rooms", { roomIds: [room.id] }, 7));
    const ack = (await c.next((p) => p.type === "ack")).packet;
    assert.equal(ack.id, 7);
    assert.ok(sio.isOk(ack.args[0]));
    assert.deepEqual(ack.args[0].data.roomIds, [room.id]);
    const joined = (await c.next((p) => p.type === "event" && p.name === "chat-rooms-joined")).packet;
    assert.deepEqual(joined.args[0].data.roomIds, [room.id]);

    await server.ok("POST", `/chat/rooms/${room.id}/messages`, owner, { content: "t=1700000000000000" }, 201);
    const msg = await c.next((p) => p.type === "event" && p.name === "new-chat-message");
    assert.ok(msg.frame.startsWith('42["new-chat-message",'));
    assert.equal(msg.packet.id, null);
    assert.equal(msg.packet.args[0].data.content, "t=1700000000000000");
    assert.equal(typeof msg.packet.args[0].data.seq, "number");
    assert.equal(typeof msg.packet.args[0].timestamp, "string");

    c.send(sio.encodeEvent("no-such-event", {}, 8));
    const bad = (await c.next((p) => p.type === "ack" && p.id === 8)).packet;
    assert.equal(bad.args[0].ok, false);
    assert.equal(typeof bad.args[0].error.code, "string");
    // socketioxide pings right after the open packet, then every pingInterval.
    console.log(`pings answered during the frame test: ${c.pings}`);
    c.ws.close();

    const r = raw(url);
    assert.equal((await r.next()).packet.type, "open");
    r.send(sio.encodeConnect({ token: `${member}x` }));
    const refused = (await r.next()).packet;
    assert.equal(refused.type, "connect_error");
    assert.equal(refused.data.data.code, "unauthorized");
    r.ws.close();
  });

  /** Runs a scenario; every threshold not on a latency trend must hold. */
  async function run(name, extra) {
    const r = await runScript(scriptPath(name), env(extra));
    const m = (k) => r.metrics[k] || {};
    console.log(`${name}: ${r.vus} VUs, ${r.seconds.toFixed(1)} s; ${r.thresholds.map((t) => `${t.metric} ${t.expr}: ${t.ok}`).join("; ")}`);
    assert.deepEqual(r.errors, [], "no exception in a VU");
    assert.ok(r.checks.length > 0, "checks ran");
    assert.deepEqual(r.checks.filter((c) => !c.ok), [], "every check passed");
    for (const t of r.thresholds) if (!(t.summary?.type === "trend" && t.summary.isTime)) assert.equal(t.ok, true, `${t.metric}: ${t.expr}`);
    return { ...r, m };
  }

  test("connect.js: every socket connects and is held", async () => {
    const { m, vus, seconds } = await run("connect", { SOCKETS: "20", PER_VU: "5", RAMP: "1", HOLD: "1" });
    assert.equal(vus, 4);
    assert.ok(seconds >= 1.9, `held until the end of RAMP + HOLD (${seconds} s)`);
    assert.equal(m("connect_sockets_connected").count, 20);
    assert.equal(m("sio_connect_errors").samples, 20);
    assert.equal(m("sio_connect_ms").samples, 20);
    assert.equal(m("sio_closed_unexpectedly").count, 0);
  });

  test("fanout.js: every acknowledged message reaches every member once, in order, timed", async () => {
    // Members added 2 at a time: the create call, then batches of add-member calls.
    const { m, vus } = await run("fanout", { ROOMS: "2", MEMBERS: "5", RATE: "20", DURATION: "2", SETTLE: "3", CLASSCHAT_MAX_MEMBERS_PER_ADD: "2" });
    assert.equal(vus, 2);
    const sent = m("fanout_sent").count;
    assert.ok(sent >= 30, `sent ${sent}`);
    assert.equal(m("fanout_send_errors").samples, sent);
    assert.equal(m("fanout_send_errors").rate, 0);
    assert.equal(m("fanout_deliveries").count, sent * 5);
    assert.equal(m("fanout_delivery_ms").samples, sent * 5);
    assert.equal(m("fanout_lost").count, 0);
    assert.equal(m("fanout_lost").samples, 2, "each room reports its losses");
    assert.equal(m("fanout_duplicates").count, 0);
    assert.equal(m("fanout_out_of_order").count, 0);
    assert.equal(m("room_join_errors").samples, 10);
    assert.equal(m("sio_connect_errors").samples, 12);
  });

  test("presence-churn.js: users cycle and the watcher ends up seeing them offline", async () => {
    const { m, vus } = await run("presence-churn", { USERS: "4", DURATION: "2", SETTLE: "5" });
    assert.equal(vus, 5);
    assert.ok(m("presence_cycles").count >= 4, `cycles ${m("presence_cycles").count}`);
    assert.ok(m("presence_updates_seen").count >= 8, "an online and an offline update per user at least");
    assert.equal(m("presence_left_online").samples, 1);
    assert.equal(m("presence_left_online").count, 0);
    assert.ok(m("presence_status_errors").samples > 0);
    assert.ok(m("presence_offline_lag_ms").samples > 0);
  });

  test("typing-storm.js: every accepted start reaches the other members", async () => {
    const { m } = await run("typing-storm", { ROOMS: "2", MEMBERS: "3", RATE: "10", DURATION: "2", SETTLE: "4" });
    const sent = m("typing_sent").count;
    assert.ok(sent >= 15, `sent ${sent}`);
    assert.equal(m("typing_refused").samples, sent);
    assert.equal(m("typing_starts_received").count, sent * 2);
    assert.equal(m("typing_delivery_ms").samples, sent * 2);
    assert.equal(m("typing_missing").count, 0);
    assert.ok(m("typing_stops_received").count > 0, "the server's auto-stops arrive");
  });
});
