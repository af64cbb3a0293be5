// Seeded fuzzing of every client→server event and every REST endpoint with random and
// malformed input. The seed is printed; FUZZ_SEED=<n> replays a run exactly (same inputs in
// the same order; timing-dependent answers such as rate limits may still differ).
// FUZZ_EMITS (default 300 per event), FUZZ_REQUESTS (default 200 per endpoint) scale the run;
// FUZZ_DATABASE_URL=postgres://… runs it against PostgreSQL instead of the default SQLite file.
//
// Invariants: every ack is `{ ok: true, data }` or `{ ok: false, error: { code, message } }`
// with a snake_case code; the fuzzed connections are never dropped; no REST answer is a 5xx
// (the database is up) and every REST answer has the contract's JSON shape; afterwards the
// process is alive, /healthz is 200 and a normal send works.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";

import WebSocket from "ws";

import { LIFTED_RATES, startServer, withServerLogs } from "./lib/server.mjs";
import { ackOk, closeAll, connectUser, join, onceConnected, rawSocket, sleep } from "./lib/client.mjs";
import { uid } from "./lib/util.mjs";

const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) >>> 0 : randomBytes(4).readUInt32LE(0);
const EMITS_PER_EVENT = Number(process.env.FUZZ_EMITS ?? 300);
const REQUESTS_PER_ENDPOINT = Number(process.env.FUZZ_REQUESTS ?? 200);
console.log(`# fuzz seed: FUZZ_SEED=${SEED} (replay with FUZZ_SEED=${SEED} node --test tests/e2e/fuzz.test.mjs)`);

const SNAKE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;

// ---------------------------------------------------------------------------------------
// Deterministic randomness.

/** sfc32, seeded through splitmix32. */
function makeRng(seed) {
  let s = seed >>> 0;
  const split = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split(), b = split(), c = split(), d = split();
  const next = () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
  const r = {
    next,
    int: (n) => Math.floor(next() * n),
    range: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p) => next() < p,
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    /** A sub-generator for one stream (so streams do not disturb each other's sequence). */
    fork: (label) => makeRng((seed ^ hash(label)) >>> 0),
  };
  return r;
}

function hash(s) {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h;
}

// ---------------------------------------------------------------------------------------
// Random values.

const UNICODE = [
  "é", "ß", "Ж", "中文", "日本語", "한국어", "עברית", "العربية", "😀", "👩‍👩‍👧‍👦", "🏳️‍🌈", "\u200b", "\u200f", "\u202e",
  "e\u0301", "\ufeff", "\uffff", "\ufffd", "\u{10ffff}", "\u0085", "\u2028", "\u2029", "\t", "\n", "\r\n", "\u001b[31m",
];
const NASTY = [
  "' OR 1=1 --", "\"; DROP TABLE rooms; --", "<script>alert(1)</script>", "../../etc/passwd", "%00", "%", "%zz", "\\", "\\u0000",
  "${jndi:ldap://x}", "{{7*7}}", "__proto__", "constructor", "prototype", "null", "undefined", "NaN", "true", "[]", "{}",
  "0", "-1", "1e309", " ", "   \n\t  ", "*", "?", "#", "&token=x", "admin", "owner", "online", "away", "busy", "offline",
];
const LONE = ["\ud800", "\udfff", "a\ud83d", "\ude00b", "\udbff\udbff"];
const FIELDS = [
  "roomId", "roomIds", "content", "isTyping", "upToSeq", "messageIds", "status", "lastSeq", "clientMessageId", "replyToId",
  "mentions", "userId", "userIds", "memberIds", "name", "messageId", "seq", "data", "type", "__proto__", "constructor", "",
];
const NUMBERS = [
  0, -0, 1, -1, 2, 3, 7, 42, 1.5, -1.5, 0.1, 1e-300, 1e20, -1e20, 1e308, -1e308, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2,
  -(2 ** 53), 2 ** 63, -(2 ** 63), 2 ** 64, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, Number.MAX_VALUE,
  Number.MIN_VALUE, 9223372036854775807, 100, 101, 1000, 4000, 4001,
];

class Gen {
  constructor(rng, ids) {
    this.r = rng;
    this.ids = ids; // () => array of interesting ids
  }

  str() {
    const r = this.r;
    switch (r.int(12)) {
      case 0:
        return "";
      case 1: {
        let s = "";
        const n = r.int(40);
        for (let i = 0; i < n; i++) s += String.fromCharCode(r.range(32, 126));
        return s;
      }
      case 2:
        return r.pick(["x", "é", "😀", " ", "a\u0000"]).repeat(r.pick([100, 128, 129, 1000, 4000, 4001, 10_000]));
      case 3: {
        let s = "";
        const n = r.range(1, 8);
        for (let i = 0; i < n; i++) s += r.pick(UNICODE);
        return s;
      }
      case 4:
        return r.pick(["", "a", "room"]) + "\u0000" + r.pick(["", "b", "admin"]);
      case 5:
        return r.pick(LONE) + r.pick(["", "x", "\ud800"]);
      case 6:
        return r.pick(NASTY);
      case 7:
      case 8:
      case 9:
        return r.pick(this.ids());
      case 10: {
        // A random code point soup, surrogates and controls included.
        let s = "";
        const n = r.range(1, 20);
        for (let i = 0; i < n; i++) s += String.fromCharCode(r.int(0x10000));
        return s;
      }
      default:
        return r.pick(this.ids()) + r.pick(["", " ", "x", "\u0000", "/", "%2F", "\n", "é"]);
    }
  }

  num() {
    const r = this.r;
    return r.chance(0.6) ? r.pick(NUMBERS) : r.chance(0.5) ? r.range(-5, 50) : (r.next() - 0.5) * 10 ** r.int(30);
  }

  /** Any JSON value, bounded by a character budget so packets stay well under 1 MiB. */
  value(depth = 3, budget = { left: 60_000 }) {
    const r = this.r;
    const k = r.int(depth > 0 ? 10 : 6);
    if (budget.left <= 0) return r.pick([null, 0, true, ""]);
    switch (k) {
      case 0:
        return null;
      case 1:
        return r.chance(0.5);
      case 2:
      case 3:
        return this.num();
      case 4:
      case 5: {
        const s = this.str();
        budget.left -= s.length;
        return budget.left < 0 ? s.slice(0, 10) : s;
      }
      case 6:
      case 7: {
        const n = r.pick([0, 1, 2, 3, 5, 8, r.range(0, 120)]);
        const out = [];
        for (let i = 0; i < n && budget.left > 0; i++) {
          budget.left -= 2;
          out.push(this.value(depth - 1, budget));
        }
        return out;
      }
      default: {
        const o = {};
        const n = r.range(0, 6);
        for (let i = 0; i < n && budget.left > 0; i++) {
          const key = r.chance(0.7) ? r.pick(FIELDS) : this.str().slice(0, 50);
          budget.left -= key.length + 2;
          o[key] = this.value(depth - 1, budget);
        }
        return o;
      }
    }
  }

  seq() {
    return this.r.chance(0.5) ? this.r.range(0, 20) : this.num();
  }

  idList() {
    const n = this.r.pick([0, 1, 2, 3, 10, 100, 101, 1000, 1001]);
    const odd = this.r.chance(0.3); // some lists carry a wrong-typed or odd element
    return Array.from({ length: n }, () => (odd && this.r.chance(0.1) ? this.value(1) : this.r.chance(0.9) ? this.r.pick(this.ids()) : this.str()));
  }

  /** A valid-looking payload of `event`, then mutated. */
  payload(event) {
    const r = this.r;
    const id = () => r.pick(this.ids());
    const tpl = {
      "join-chat-rooms": () => ({ roomIds: this.idList(), ...(r.chance(0.4) ? { lastSeq: { [id()]: this.seq(), [id()]: this.seq() } } : {}) }),
      "leave-chat-room": () => ({ roomId: id() }),
      "chat-typing": () => ({ roomId: id(), isTyping: r.chance(0.5) }),
      "mark-messages-seen": () => (r.chance(0.5) ? { roomId: id(), upToSeq: this.seq() } : { roomId: id(), messageIds: this.idList() }),
      "update-chat-status": () => ({ status: r.pick(["online", "away", "busy", "offline", "invisible", "", "ONLINE"]) }),
      "get-room-online-users": () => ({ roomId: id() }),
      "send-chat-message": () => ({
        roomId: id(),
        content: r.chance(0.7) ? `fuzz ${r.int(1e6)}` : this.str(),
        ...(r.chance(0.4) ? { clientMessageId: r.chance(0.5) ? `c${r.int(50)}` : this.str() } : {}),
        ...(r.chance(0.3) ? { replyToId: id() } : {}),
        ...(r.chance(0.3) ? { mentions: this.idList() } : {}),
      }),
    };
    if (!Object.hasOwn(tpl, event) || r.chance(0.2)) return this.value(3);
    const p = tpl[event]();
    for (const k of Object.keys(p)) {
      if (r.chance(0.12)) p[k] = this.value(2);
      else if (r.chance(0.06)) delete p[k];
    }
    for (let i = r.int(3); i > 0; i--) p[r.chance(0.6) ? r.pick(FIELDS) : this.str().slice(0, 30)] = this.value(2);
    if (r.chance(0.05)) return [p];
    return p;
  }

  /** Event arguments: usually one payload, sometimes none or several. */
  args(event) {
    const r = this.r;
    const n = r.pick([1, 1, 1, 1, 1, 1, 0, 2, 3]);
    return Array.from({ length: n }, (_, i) => (i === 0 ? this.payload(event) : this.value(2)));
  }
}

// ---------------------------------------------------------------------------------------
// Checks.

function ackProblem(a) {
  if (a === null || typeof a !== "object" || Array.isArray(a)) return "ack is not an object";
  const extra = Object.keys(a).filter((k) => !["ok", "data", "error"].includes(k));
  if (extra.length) return `unexpected ack keys ${extra}`;
  if (a.ok === true) return "data" in a ? null : "ok ack without data";
  if (a.ok !== false) return "ok is neither true nor false";
  const e = a.error;
  if (!e || typeof e !== "object") return "error ack without error";
  if (typeof e.code !== "string" || !SNAKE.test(e.code)) return `code ${JSON.stringify(e.code)} is not snake_case`;
  if (typeof e.message !== "string") return "error without message";
  return null;
}

function restProblem(status, text) {
  if (status >= 500) return `status ${status}`;
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    return `body is not JSON: ${text.slice(0, 120)}`;
  }
  if (status >= 400) {
    const e = body?.error;
    if (!e || typeof e.code !== "string" || !SNAKE.test(e.code) || typeof e.message !== "string") return `error body ${text.slice(0, 200)}`;
    return null;
  }
  if (!body || typeof body !== "object" || !("data" in body)) return `success body without data: ${text.slice(0, 200)}`;
  return null;
}

const short = (v) => {
  let s;
  try {
    s = JSON.stringify(v);
  } catch {
    s = String(v);
  }
  return s === undefined ? "undefined" : s.length > 240 ? `${s.slice(0, 240)}…(${s.length} chars)` : s;
};

/** Runs `tasks` (async functions) with at most `n` in flight. */
async function pool(n, tasks) {
  let i = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (i < tasks.length) await tasks[i++]();
    }),
  );
}

/** encodeURIComponent, after dropping lone surrogates (which it cannot encode). */
function enc(s) {
  return encodeURIComponent(String(s).replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, ""));
}

function b64url(x) {
  return Buffer.from(x).toString("base64url");
}

function signHs256(secret, claims) {
  const input = `${b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${b64url(createHmac("sha256", secret).update(input).digest())}`;
}

// =======================================================================================

describe(`fuzz (FUZZ_SEED=${SEED})`, () => {
  let server;
  const clients = [];
  const it = (name, fn) => test(name, withServerLogs(() => server, fn));
  let T, U, V, A;
  let G, F, P;
  const ids = new Set();
  const idList = () => [...ids];
  const failures = [];
  const panics = [];

  before(async () => {
    server = await startServer({
      env: {
        // Limits out of the way, so the fuzz reaches past them (rate_limited stays a valid answer).
        ...LIFTED_RATES,
        CLASSCHAT_DRAIN_DELAY_MS: "0",
        // FUZZ_DATABASE_URL=postgres://… runs the same fuzz against PostgreSQL (an empty database).
        ...(process.env.FUZZ_DATABASE_URL ? { DATABASE_URL: process.env.FUZZ_DATABASE_URL } : {}),
      },
    });
    server.proc.stderr.on("data", (chunk) => {
      for (const line of String(chunk).split("\n")) if (/panicked|RUST_BACKTRACE/.test(line)) panics.push(line);
    });
    T = server.user(uid("T"), "teacher");
    U = server.user(uid("U"));
    V = server.user(uid("V"));
    A = server.user(uid("A"), "admin");
    G = await server.group(T, [U, V]);
    F = await server.group(T, [V]);
    P = await server.ok("POST", "/chat/rooms/personal", U, { userId: V.id });
    for (const x of [G, F, P]) ids.add(x.id);
    for (const x of [T, U, V, A]) ids.add(x.id);
    for (let i = 0; i < 3; i++) {
      ids.add((await server.ok("POST", `/chat/rooms/${G.id}/messages`, V, { content: `seed ${i}` }, 201)).id);
      ids.add((await server.ok("POST", `/chat/rooms/${F.id}/messages`, T, { content: `foreign ${i}` }, 201)).id);
    }
    ids.add("no-such-room");
    ids.add("01a2150b04cd75bd99d9443c45345332");
  });

  after(async () => {
    closeAll(clients);
    await server?.stop();
  });

  const EVENTS = [
    "join-chat-rooms",
    "leave-chat-room",
    "chat-typing",
    "mark-messages-seen",
    "update-chat-status",
    "get-room-online-users",
    "send-chat-message",
  ];
  const UNKNOWN = ["chat-message", "delete-chat-message", "", "x".repeat(300), "__proto__", "constructor", "toString", "JOIN-CHAT-ROOMS", "send-chat-message ", "😀", "é/ü", "a b"];
  // Names JSON must escape: a valid Socket.IO event name, yet see the dedicated test below.
  const ESCAPED = ["a\u0000b", "\u0000", "a\u0001b", "a\u001fb", 'a"b', "a\\b", "line\nbreak", "\ud800", "tab\there"];

  it(`every client→server event and unknown ones, ${EMITS_PER_EVENT} random emits each: every ack has the contract's shape and no connection drops`, async (t) => {
    t.diagnostic(`FUZZ_SEED=${SEED}`);
    const sockets = [];
    for (const who of [U, U, A, T]) {
      const c = await connectUser(server, who);
      clients.push(c);
      c.dropped = null;
      c.socket.on("disconnect", (r) => (c.dropped = r));
      sockets.push(c);
    }
    await join(sockets[0], [G.id, P.id]);
    const names = [...EVENTS, ...UNKNOWN, ...ESCAPED];
    const perUnknown = Math.max(20, Math.floor(EMITS_PER_EVENT / 4));
    const started = Date.now();
    let emitted = 0;
    const counts = {};
    for (const event of names) {
      const rng = makeRng(SEED).fork(`socket:${event}`);
      const gen = new Gen(rng, idList);
      const n = EVENTS.includes(event) ? EMITS_PER_EVENT : perUnknown;
      const tasks = [];
      for (let i = 0; i < n; i++) {
        const args = gen.args(event);
        const c = sockets[rng.int(sockets.length)];
        tasks.push(async () => {
          let a;
          try {
            a = await c.socket.timeout(15_000).emitWithAck(event, ...args);
          } catch (e) {
            failures.push(`${short(event)} ${short(args)} by ${c.user.id}: no ack (${e.message})`);
            return;
          }
          emitted += 1;
          const key = a?.ok ? "ok" : a?.error?.code;
          counts[`${event.slice(0, 30)}:${key}`] = (counts[`${event.slice(0, 30)}:${key}`] ?? 0) + 1;
          const p = ackProblem(a);
          if (p) failures.push(`${short(event)} ${short(args)}: ${p}: ${short(a)}`);
        });
      }
      await pool(8, tasks);
      if (failures.length > 50) break;
    }
    t.diagnostic(`${emitted} acks in ${Date.now() - started} ms`);
    t.diagnostic(`outcomes: ${JSON.stringify(Object.fromEntries(Object.entries(counts).sort()))}`);
    const dropped = sockets.filter((c) => c.dropped || !c.socket.connected).map((c) => `${c.user.id}: ${c.dropped}`);
    assert.deepEqual(failures.slice(0, 20), [], `${failures.length} bad acks (FUZZ_SEED=${SEED})`);
    assert.deepEqual(dropped, [], `fuzzed connections were dropped (FUZZ_SEED=${SEED})`);
    assert.ok(server.alive(), "the node died");
    // The fuzz reached past validation: some events succeeded.
    assert.ok(Object.keys(counts).some((k) => k.startsWith("send-chat-message:ok")), JSON.stringify(counts));
  });

  it("an event whose name JSON must escape (quote, backslash, control character, NUL, lone surrogate) gets an unknown_event ack and does not drop the connection (found by fuzzing)", async () => {
    const bystander = await connectUser(server, V);
    clients.push(bystander);
    const outcomes = [];
    for (const name of ESCAPED) {
      const c = await connectUser(server, U);
      let reason = null;
      c.socket.on("disconnect", (r) => (reason = r));
      let res;
      try {
        res = await c.socket.timeout(3000).emitWithAck(name, { roomId: G.id });
      } catch (e) {
        res = `no ack: ${e.message}`;
      }
      await sleep(50);
      if (res?.ok !== false || res.error?.code !== "unknown_event" || reason !== null) {
        outcomes.push(`${JSON.stringify(name)}: ack ${JSON.stringify(res)}, disconnect ${reason}`);
      }
      c.socket.close();
    }
    // Whatever happens to the sender, nobody else is harmed.
    assert.ok(server.alive(), "the node died");
    assert.ok(bystander.socket.connected, "another client was dropped");
    await ackOk(bystander.socket, "get-room-online-users", { roomId: G.id });
    assert.deepEqual(outcomes, [], "events with escaped names are not answered; the sender's connection is closed");
  });

  it("raw Socket.IO packets a client library would not produce (odd numbers, duplicate keys, reserved event names, junk) get a well-shaped ack or at most a closed connection", async (t) => {
    const rng = makeRng(SEED).fork("raw");
    const gen = new Gen(rng, idList);
    const rawNumbers = ["1e400", "-1e400", "123456789012345678901234567890", "-0", "1E2", "0.0000001", "9223372036854775808", "-9223372036854775809", "18446744073709551616"];
    const rawPayload = () => {
      const id = JSON.stringify(rng.pick(idList()));
      switch (rng.int(8)) {
        case 0:
          return `{"roomId":${id},"upToSeq":${rng.pick(rawNumbers)}}`;
        case 1:
          return `{"roomId":${id},"roomId":"dup","content":"dup","content":${rng.pick(rawNumbers)}}`;
        case 2:
          return `{"roomIds":[${id}],"lastSeq":{${id}:${rng.pick(rawNumbers)}}}`;
        case 3:
          return `{"roomId":${id},"content":"\\ud800 lone","isTyping":true}`;
        case 4:
          return `{"roomId":${id},"content":"nul \\u0000 inside"}`;
        case 5: {
          const depth = rng.range(100, 3000);
          return "[".repeat(depth) + "]".repeat(depth);
        }
        case 6:
          return JSON.stringify(gen.payload(rng.pick(EVENTS)));
        default:
          return `{"status":${rng.pick(rawNumbers)},"isTyping":${rng.pick(["1", "0", '"true"', "null"])}}`;
      }
    };
    const RESERVED = ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener", "error", "message"];
    let client = null;
    let reopened = 0;
    let wellFormedAnswered = 0;
    const problems = [];
    const open = async () => {
      const ws = new WebSocket(`ws://${server.socketAddr}/socket.io/?EIO=4&transport=websocket`);
      const c = { ws, msgs: [], closed: false, waiters: new Set() };
      ws.on("message", (d) => {
        const m = d.toString();
        if (m === "2") return ws.send("3");
        c.msgs.push(m);
        for (const w of [...c.waiters]) w();
      });
      ws.on("close", () => {
        c.closed = true;
        for (const w of [...c.waiters]) w();
      });
      ws.on("error", () => {});
      await new Promise((res, rej) => {
        ws.once("open", res);
        ws.once("error", rej);
      });
      c.wait = (pred, ms = 5000) =>
        new Promise((res) => {
          const check = () => {
            const i = c.msgs.findIndex(pred);
            if (i >= 0 || c.closed) {
              clearTimeout(timer);
              c.waiters.delete(check);
              res(i >= 0 ? c.msgs.splice(i, 1)[0] : null);
            }
          };
          const timer = setTimeout(() => {
            c.waiters.delete(check);
            res(null);
          }, ms);
          c.waiters.add(check);
          check();
        });
      await c.wait((m) => m.startsWith("0"));
      ws.send("40" + JSON.stringify({ token: U.token }));
      const ok = await c.wait((m) => m.startsWith("40"));
      if (!ok) throw new Error("raw client could not connect");
      return c;
    };
    client = await open();
    let ackId = 1;
    // A sentinel tells whether a junk packet closed the connection: packets are handled in
    // order, so it is answered unless the connection is gone. Then the next well-formed
    // packet is known to go to an open connection.
    const history = [];
    const send = (x) => {
      history.push(x.length > 150 ? `${x.slice(0, 150)}…` : x);
      client.ws.send(x);
    };
    const sentinel = async (after) => {
      const id = ackId++;
      send(`42${id}["get-room-online-users",${JSON.stringify({ roomId: G.id })}]`);
      const m = await client.wait((x) => x.startsWith(`43${id}[`), 10_000);
      if (m === null && !client.closed) problems.push(`after ${short(after)} the connection neither answered nor closed`);
      // The node may close a connection a moment after answering what was already queued
      // behind the junk: start the next packets on a fresh connection either way.
      client.ws.close();
      reopened += 1;
      client = await open();
    };
    const N = 300;
    for (let i = 0; i < N; i++) {
      if (client.closed) {
        problems.push(`the connection closed after well-formed packets: ${short(history.slice(-3))}`);
        client = await open();
      }
      const kind = rng.int(10);
      if (kind < 6) {
        // A well-formed event packet (valid JSON text) with an ack id: must be answered.
        const name = rng.chance(0.2) ? rng.pick(RESERVED) : rng.chance(0.8) ? rng.pick(EVENTS) : rng.pick([...UNKNOWN, ...ESCAPED]);
        const payload = rawPayload();
        let isJson = true;
        try {
          JSON.parse(payload);
        } catch {
          isJson = false;
        }
        const id = ackId++;
        const packet = `42${id}[${JSON.stringify(name)},${payload}]`;
        if (!isJson) {
          // Not JSON: the node may close the connection (checked by the sentinel).
          send(packet);
          await sentinel(packet);
          continue;
        }
        send(packet);
        const m = await client.wait((x) => x.startsWith(`43${id}[`), 10_000);
        if (m === null) {
          problems.push(`no ack (connection ${client.closed ? "closed" : "open"}) for ${packet.slice(0, 200)}; sent before: ${short(history.slice(-4, -1))}`);
          continue;
        }
        wellFormedAnswered += 1;
        let a;
        try {
          a = JSON.parse(m.slice(`43${id}`.length))[0];
        } catch {
          problems.push(`ack is not JSON: ${m.slice(0, 200)}`);
          continue;
        }
        const p = ackProblem(a);
        if (p) problems.push(`${packet.slice(0, 200)}: ${p}: ${short(a)}`);
      } else {
        // Junk: the node may close this connection, nothing more.
        const junk = rng.pick([
          "4",
          "42",
          "42[",
          `42${ackId++}["send-chat-message",`,
          "42{}",
          "42[]",
          "42[1,2]",
          "42[null]",
          "49",
          "4x",
          "garbage",
          "6",
          "1",
          "451-[\"send-chat-message\",{\"_placeholder\":true,\"num\":0}]",
          `42${"9".repeat(30)}["join-chat-rooms",{"roomIds":[]}]`,
          `42/nope,["join-chat-rooms",{"roomIds":[]}]`,
          `40/admin,{}`,
          gen.str(),
        ]);
        send(junk);
        await sentinel(junk);
      }
    }
    client.ws.close();
    t.diagnostic(`${wellFormedAnswered} well-formed packets answered; ${reopened} fresh connections after junk`);
    assert.deepEqual(problems.slice(0, 20), [], `${problems.length} problems (FUZZ_SEED=${SEED})`);
    assert.ok(server.alive(), "the node died");
    assert.equal(await server.healthz(), 200);
  });

  it("socket connects with random auth payloads, query tokens and headers: connected or connect_error with a snake_case code", async () => {
    const rng = makeRng(SEED).fork("connect");
    const gen = new Gen(rng, idList);
    const problems = [];
    for (let i = 0; i < 40; i++) {
      const claims = gen.value(2);
      const token =
        rng.chance(0.5)
          ? signHs256(server.secret, rng.chance(0.5) && claims && typeof claims === "object" && !Array.isArray(claims) ? { exp: Math.floor(Date.now() / 1000) + 600, ...claims } : claims)
          : gen.str();
      const opts = rng.pick([
        { auth: { token } },
        { auth: gen.value(2) },
        { auth: { token: gen.value(1) } },
        { query: { token: gen.str().replace(/[\ud800-\udfff]/g, "").slice(0, 500) } },
        { extraHeaders: { Authorization: `Bearer ${token}`.replace(/[^\x20-\x7e]/g, "") } },
      ]);
      const s = rawSocket(server, { ...opts, timeout: 10_000 });
      try {
        await onceConnected(s, 10_000);
        s.close();
      } catch (e) {
        s.close();
        if (!e.data || !SNAKE.test(String(e.data.code)) || typeof e.data.message !== "string") {
          problems.push(`${short(opts)}: ${e.message} ${short(e.data)}`);
        }
      }
    }
    assert.deepEqual(problems, [], `FUZZ_SEED=${SEED}`);
    assert.ok(server.alive());
  });

  it(`every REST endpoint, ${REQUESTS_PER_ENDPOINT} random bodies, query strings and path ids each: never a 5xx, always the contract's JSON shape`, async (t) => {
    const endpoints = [
      ["POST", "/chat/rooms/personal", []],
      ["POST", "/chat/rooms/group", []],
      ["GET", "/chat/rooms", []],
      ["GET", "/chat/rooms/{}", ["room"]],
      ["POST", "/chat/rooms/{}/members", ["room"]],
      ["DELETE", "/chat/rooms/{}/members/{}", ["room", "user"]],
      ["POST", "/chat/rooms/{}/messages", ["room"]],
      ["GET", "/chat/rooms/{}/messages", ["room"]],
      ["DELETE", "/chat/rooms/{}/messages/{}", ["room", "message"]],
      ["POST", "/chat/rooms/{}/seen", ["room"]],
      ["GET", "/chat/rooms/{}/messages/{}/seen-by", ["room", "message"]],
      ["PUT", "/chat/status", []],
      ["GET", "/chat/users/{}/status", ["user"]],
      ["GET", "/chat/ws/stats", []],
    ];
    const templates = {
      "/chat/rooms/personal": (g) => ({ userId: g.str() }),
      "/chat/rooms/group": (g) => ({ name: g.str(), memberIds: g.idList() }),
      "/chat/rooms/{}/members": (g) => ({ userIds: g.idList() }),
      "/chat/rooms/{}/messages": (g) => ({ content: g.r.chance(0.6) ? `rest fuzz ${g.r.int(1e6)}` : g.str(), clientMessageId: g.r.chance(0.5) ? `k${g.r.int(30)}` : g.value(0), replyToId: g.str(), mentions: g.idList() }),
      "/chat/rooms/{}/seen": (g) => (g.r.chance(0.5) ? { upToSeq: g.seq() } : { messageIds: g.idList() }),
      "/chat/status": (g) => ({ status: g.r.pick(["online", "away", "busy", "offline", "x", ""]) }),
    };
    const QUERY_KEYS = ["limit", "before", "after", "cursor", "token", "limit", "x", "", "limit[]", "before[0]"];
    const QUERY_VALUES = ["", "0", "1", "-1", "50", "100", "101", "1.5", "1e3", "abc", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "%00", "%zz", "%C3%28", "%F0%9F%98%80", "0:x", "1700000000000:abc", ":", "a:b:c", "99999999999999999999:x", " 5", "5 ", "+5", "0x10"];

    const pathId = (g, kind) => {
      const r = g.r;
      const k = r.int(12);
      if (k < 4) {
        const pool = kind === "room" ? [G.id, P.id, F.id] : kind === "user" ? [T.id, U.id, V.id, A.id] : idList();
        return encodeURIComponent(r.pick(pool));
      }
      if (k < 6) return encodeURIComponent(r.pick(idList()));
      if (k === 6) return r.pick(["%00", "a%00b", "%zz", "%C3%28", "%ED%A0%80", "%FF", "%", "%2F", "%2e%2e", "..", ".", "%20", "+", "~", "*"]);
      if (k === 7) return "x".repeat(r.pick([129, 1000, 4000]));
      // Encoded ids stay well under hyper's URI limit (~64 KiB), whose 414 comes with an
      // empty body and a closed connection, from the HTTP layer rather than from classchat.
      if (k === 8) return enc(g.str()).slice(0, 20_000) || "empty";
      return enc(g.str()).slice(0, 300) || "%2F";
    };

    const tokenFor = (g) => {
      const r = g.r;
      const k = r.int(20);
      if (k < 11) return U.token;
      if (k < 13) return A.token;
      if (k < 15) return T.token;
      if (k === 15) return null;
      if (k === 16) return g.str().replace(/[^\x20-\x7e]/g, "");
      // A correctly signed token with random (possibly weird) claims: exercises the user directory.
      const name = g.str();
      return signHs256(server.secret, {
        sub: r.chance(0.8) ? `fz-${r.int(1e6)}${r.chance(0.3) ? g.str().slice(0, 20) : ""}` : g.str(),
        role: r.pick(["student", "teacher", "admin", "root", ""]),
        ...(r.chance(0.8) ? { name } : {}),
        exp: r.chance(0.9) ? Math.floor(Date.now() / 1000) + 600 : g.num(),
      });
    };

    const bodyFor = (g, path) => {
      const r = g.r;
      const k = r.int(10);
      if (k < 5 && templates[path]) {
        const p = templates[path](g);
        for (const key of Object.keys(p)) {
          if (r.chance(0.2)) p[key] = g.value(2);
          else if (r.chance(0.1)) delete p[key];
        }
        if (r.chance(0.2)) p[r.pick(FIELDS)] = g.value(2);
        return { body: JSON.stringify(p), type: "application/json" };
      }
      if (k < 7) return { body: JSON.stringify(g.value(3)) ?? "null", type: r.pick(["application/json", "text/plain", undefined]) };
      if (k === 7) {
        const bytes = Buffer.alloc(r.range(0, 64));
        for (let i = 0; i < bytes.length; i++) bytes[i] = r.int(256);
        return { body: bytes, type: "application/json" };
      }
      if (k === 8) {
        const s = JSON.stringify(templates[path] ? templates[path](g) : g.value(2)) ?? "{}";
        return { body: s.slice(0, r.int(s.length + 1)), type: "application/json" }; // truncated
      }
      return { body: r.chance(0.5) ? "x".repeat(70 * 1024) : '{"content":"' + "y".repeat(70 * 1024) + '"}', type: "application/json" };
    };

    const problems = [];
    const statuses = {};
    let requests = 0;
    let transportRetries = 0;
    const started = Date.now();
    for (const [method, template, kinds] of endpoints) {
      const g = new Gen(makeRng(SEED).fork(`rest:${method} ${template}`), idList);
      const tasks = [];
      for (let i = 0; i < REQUESTS_PER_ENDPOINT; i++) {
        let path = template;
        for (const kind of kinds) path = path.replace("{}", pathId(g, kind));
        if (g.r.chance(0.4)) {
          const parts = [];
          for (let j = g.r.range(1, 4); j > 0; j--) {
            const key = g.r.pick(QUERY_KEYS);
            const v = g.r.chance(0.7) ? g.r.pick(QUERY_VALUES) : enc(g.str()).slice(0, 200);
            parts.push(`${encodeURIComponent(key)}=${v}`);
          }
          path += "?" + parts.join("&");
        }
        const token = tokenFor(g);
        const withBody = method !== "GET" && (method !== "DELETE" || g.r.chance(0.2));
        const { body, type } = withBody ? bodyFor(g, template) : { body: undefined, type: undefined };
        const m = g.r.chance(0.03) ? g.r.pick(["PATCH", "OPTIONS", "HEAD", "PUT", "POST"]) : method;
        tasks.push(async () => {
          const headers = {};
          if (token) headers.authorization = `Bearer ${token}`;
          if (type) headers["content-type"] = type;
          let res;
          let text;
          for (let attempt = 1; ; attempt++) {
            try {
              res = await fetch(server.apiUrl + path, { method: m, headers, body: m === "GET" || m === "HEAD" ? undefined : body });
              text = await res.text();
              break;
            } catch (e) {
              // A kept-alive connection the node closed a moment earlier fails at the transport
              // level; one retry on a new connection tells that apart from a real failure.
              if (attempt === 1) {
                transportRetries += 1;
                continue;
              }
              problems.push(`${m} ${path.slice(0, 200)} body ${short(typeof body === "string" ? body : body?.toString("hex"))}: request failed twice: ${e.message} (${e.cause?.code ?? e.cause?.message ?? ""})`);
              return;
            }
          }
          requests += 1;
          statuses[res.status] = (statuses[res.status] ?? 0) + 1;
          if (m === "HEAD" || m === "OPTIONS") {
            if (res.status >= 500) problems.push(`${m} ${path.slice(0, 200)}: ${res.status}`);
            return;
          }
          const p = restProblem(res.status, text);
          if (p) problems.push(`${m} ${path.slice(0, 200)} body ${short(typeof body === "string" ? body : body?.toString("hex"))}: ${p}`);
        });
      }
      await pool(12, tasks);
      if (problems.length > 50) break;
    }
    t.diagnostic(`${requests} requests in ${Date.now() - started} ms; statuses ${JSON.stringify(statuses)}; transport retries ${transportRetries}`);
    assert.deepEqual(problems.slice(0, 20), [], `${problems.length} bad answers (FUZZ_SEED=${SEED})`);
    assert.ok(server.alive(), "the node died");
  });

  it("after the fuzz: the process is alive, /healthz and /readyz are 200, and a normal send works over the socket and REST", async () => {
    assert.ok(server.alive(), "the node died");
    assert.deepEqual(panics, [], "the node logged a panic");
    assert.equal(await server.healthz(), 200);
    const ready = await fetch(`${server.apiUrl}/readyz`);
    assert.equal(ready.status, 200);
    await ready.arrayBuffer();
    const fresh = await server.group(T, [U, V]);
    const cu = await connectUser(server, U);
    const cv = await connectUser(server, V);
    clients.push(cu, cv);
    await join(cu, [fresh.id]);
    await join(cv, [fresh.id]);
    const m = await ackOk(cu.socket, "send-chat-message", { roomId: fresh.id, content: "after the fuzz" });
    assert.equal(m.seq, 1);
    await cv.rec.waitFor("new-chat-message", (d) => d.id === m.id);
    const r = await server.ok("POST", `/chat/rooms/${fresh.id}/messages`, V, { content: "REST after the fuzz" }, 201);
    assert.equal(r.seq, 2);
    await cu.rec.waitFor("new-chat-message", (d) => d.id === r.id);
    const hist = await server.history(T, fresh.id);
    assert.deepEqual(hist.map((x) => x.content), ["after the fuzz", "REST after the fuzz"]);
    assert.deepEqual(cu.rec.malformed, []);
    assert.deepEqual(cv.rec.malformed, []);
  });
});
