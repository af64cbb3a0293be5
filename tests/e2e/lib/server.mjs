// Spawns a real `classchat serve` process on free ports with a fresh data dir,
// and gives tests REST and token helpers bound to it.

import { spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const BIN = process.env.CLASSCHAT_BIN || join(REPO, "target", "debug", "classchat");

/** Every per-user rate limit (`CLASSCHAT_RATE_<KIND>_PER_SEC` / `_BURST`) set out of the way,
 * for tests whose set-up makes rooms, members, sends or connects in bulk. */
export const LIFTED_RATES = Object.fromEntries(
  ["SEND", "TYPING", "CONNECT", "STATUS", "ROOM_CREATE", "MEMBER_ADD", "ONLINE_USERS", "UPLOAD", "SEARCH"].flatMap((kind) => [
    [`CLASSCHAT_RATE_${kind}_PER_SEC`, "100000"],
    [`CLASSCHAT_RATE_${kind}_BURST`, "100000"],
  ]),
);

const READY_RE = /^classchat listening api=(\S+) socket=(\S+) metrics=(\S+)\s*$/m;
const STDERR_KEEP = 400; // lines of server log kept for failure reports

function b64url(buf) {
  return Buffer.from(buf).toString("base64url");
}

/** An HS256 JWT signed with `secret`. `claims` is merged over sane defaults. */
export function mintToken(secret, claims, { header = { alg: "HS256", typ: "JWT" } } = {}) {
  const body = { exp: Math.floor(Date.now() / 1000) + 3600, ...claims };
  for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
  const h = b64url(JSON.stringify(header));
  const p = b64url(JSON.stringify(body));
  if (header.alg === "none") return `${h}.${p}.`;
  const sig = createHmac("sha256", secret).update(`${h}.${p}`).digest();
  return `${h}.${p}.${b64url(sig)}`;
}

/** Env of the parent without anything that would point the server elsewhere. */
function baseEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("CLASSCHAT_") || k === "DATABASE_URL" || k === "REDIS_URL") continue;
    env[k] = v;
  }
  if (!env.RUST_LOG) env.RUST_LOG = "info";
  return env;
}

export class Server {
  constructor(proc, dataDir, secret, addrs, logs) {
    this.proc = proc;
    this.dataDir = dataDir;
    this.secret = secret;
    this.apiAddr = addrs.api;
    this.socketAddr = addrs.socket;
    this.metricsAddr = addrs.metrics;
    this.apiUrl = `http://${addrs.api}`;
    this.socketUrl = `http://${addrs.socket}`;
    this.logs = logs;
    this.exit = null;
    this.exited = new Promise((res) => {
      proc.once("exit", (code, signal) => {
        this.exit = { code, signal };
        res(this.exit);
      });
    });
  }

  /** True while the process has not exited. */
  alive() {
    return this.exit === null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** The tail of the server's stderr. */
  logTail(n = 120) {
    return this.logs.slice(-n).join("\n");
  }

  /** A token for a user of this server. */
  token(sub, role = "student", name = undefined, extra = {}) {
    return mintToken(this.secret, { sub, role, name, ...extra });
  }

  /** A user handle: id, role, name and token. */
  user(sub, role = "student", name = `${sub} name`) {
    return { id: sub, role, name, token: this.token(sub, role, name) };
  }

  /** A REST call; `who` is a user handle, a token string or null. */
  async rest(method, path, who, body) {
    const headers = {};
    const token = typeof who === "string" ? who : who?.token;
    if (token) headers.authorization = `Bearer ${token}`;
    let payload;
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      payload = typeof body === "string" ? body : JSON.stringify(body);
    }
    const res = await fetch(this.apiUrl + path, { method, headers, body: payload });
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = { raw: text };
    }
    return { status: res.status, body: json, headers: res.headers };
  }

  /** A REST call that must answer `expected`; returns `body.data`. */
  async ok(method, path, who, body, expected = [200, 201]) {
    const r = await this.rest(method, path, who, body);
    const want = Array.isArray(expected) ? expected : [expected];
    if (!want.includes(r.status)) {
      throw new Error(
        `${method} ${path} answered ${r.status} (wanted ${want.join("/")}): ${JSON.stringify(r.body)}`,
      );
    }
    return r.body.data;
  }

  async healthz() {
    const res = await fetch(`${this.apiUrl}/healthz`);
    await res.arrayBuffer();
    return res.status;
  }

  /** Creates a group room owned by `owner` with `members` (user handles or ids). */
  async group(owner, members, name = "group " + randomBytes(3).toString("hex")) {
    const memberIds = members.map((m) => (typeof m === "string" ? m : m.id));
    return this.ok("POST", "/chat/rooms/group", owner, { name, memberIds }, 201);
  }

  /** The room's whole history, oldest first. */
  async history(who, roomId) {
    const out = [];
    let after = 0;
    for (;;) {
      const r = await this.rest("GET", `/chat/rooms/${roomId}/messages?after=${after}&limit=100`, who);
      if (r.status !== 200) throw new Error(`history answered ${r.status}: ${JSON.stringify(r.body)}`);
      out.push(...r.body.data);
      if (r.body.data.length === 0 || !r.body.nextCursor) break;
      after = r.body.data[r.body.data.length - 1].seq;
    }
    return out;
  }

  /** SIGTERM, then SIGKILL after a grace period; removes the data dir. */
  async stop() {
    if (this.alive()) {
      this.proc.kill("SIGTERM");
      const t = setTimeout(() => {
        if (this.alive()) this.proc.kill("SIGKILL");
      }, 5000);
      await this.exited;
      clearTimeout(t);
    }
    await rm(this.dataDir, { recursive: true, force: true }).catch(() => {});
  }
}

/** Starts a node; `env` adds or overrides CLASSCHAT_* settings; `bin` is another build. */
export async function startServer({ env = {}, startTimeoutMs = 60_000, bin = BIN } = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), "classchat-e2e-"));
  const secret = env.CLASSCHAT_JWT_SECRET ?? randomBytes(32).toString("hex");
  const fullEnv = {
    ...baseEnv(),
    CLASSCHAT_API_ADDR: "127.0.0.1:0",
    CLASSCHAT_SOCKET_ADDR: "127.0.0.1:0",
    CLASSCHAT_METRICS_ADDR: "127.0.0.1:0",
    CLASSCHAT_DATA_DIR: dataDir,
    CLASSCHAT_JWT_SECRET: secret,
    CLASSCHAT_NODE_ID: "e2e",
    ...env,
  };
  const proc = spawn(bin, ["serve"], { env: fullEnv, stdio: ["ignore", "pipe", "pipe"] });
  const logs = [];
  let errBuf = "";
  proc.stderr.setEncoding("utf8");
  proc.stderr.on("data", (chunk) => {
    errBuf += chunk;
    const lines = errBuf.split("\n");
    errBuf = lines.pop();
    for (const l of lines) {
      logs.push(l);
      if (logs.length > STDERR_KEEP) logs.shift();
    }
  });
  let outBuf = "";
  proc.stdout.setEncoding("utf8");
  const addrs = await new Promise((res, rej) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      rej(new Error(`classchat did not print its listening line within ${startTimeoutMs} ms\n${logs.join("\n")}`));
    }, startTimeoutMs);
    proc.stdout.on("data", (chunk) => {
      outBuf += chunk;
      const m = READY_RE.exec(outBuf);
      if (m) {
        clearTimeout(timer);
        res({ api: m[1], socket: m[2], metrics: m[3] });
      }
    });
    proc.once("error", (e) => {
      clearTimeout(timer);
      rej(new Error(`cannot start ${bin}: ${e.message}`));
    });
    proc.once("exit", (code, signal) => {
      clearTimeout(timer);
      rej(new Error(`classchat exited before ready (code ${code}, signal ${signal})\n${logs.join("\n")}${errBuf}`));
    });
  });
  return new Server(proc, dataDir, secret, addrs, logs);
}

/**
 * Runs a test body; on failure the server's log tail is appended to the error,
 * and a dead server process is reported as such.
 */
export function withServerLogs(getServer, fn) {
  return async (t) => {
    try {
      await fn(t);
    } catch (e) {
      const s = getServer();
      if (s) {
        const state = s.alive() ? "still running" : `EXITED ${JSON.stringify(s.exit)}`;
        const extra = `\n--- classchat (${state}) stderr tail ---\n${s.logTail()}\n--- end ---`;
        try {
          e.message += extra;
        } catch {
          /* non-writable message */
        }
      }
      throw e;
    }
  };
}

/** Like `withServerLogs`, for several servers: the log tails of those `getServers()` returns. */
export function withServersLogs(getServers, fn) {
  return async (t) => {
    try {
      await fn(t);
    } catch (e) {
      let extra = "";
      for (const [i, s] of (getServers() ?? []).entries()) {
        if (!s) continue;
        const state = s.alive() ? "still running" : `EXITED ${JSON.stringify(s.exit)}`;
        extra += `\n--- server ${i} (${state}) stderr tail ---\n${s.logTail(60)}\n--- end ---`;
      }
      try {
        e.message += extra;
      } catch {
        /* non-writable message */
      }
      throw e;
    }
  };
}
