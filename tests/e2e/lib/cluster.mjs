// A local classchat cluster for tests: its own redis-server on a free port (or, with
// `redisCluster`, a 3-master Redis Cluster from redis-cluster.mjs), a fresh
// PostgreSQL database, N `classchat` nodes sharing both, and HAProxy from
// deploy/haproxy/haproxy.cfg in front of them.

import { spawn, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { RedisCluster } from "./redis-cluster.mjs";
import { mintToken, startServer } from "./server.mjs";
import { sleep } from "./client.mjs";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const PG = process.env.CLASSCHAT_TEST_PG_URL || "postgres://postgres@127.0.0.1:5432";

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.unref();
    s.on("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** Resolves once something listens on 127.0.0.1:`port`. */
export async function waitPort(port, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((res) => {
      const c = net.connect(port, "127.0.0.1", () => {
        c.end();
        res(true);
      });
      c.on("error", () => res(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${port} did not open`);
    await sleep(50);
  }
}

/** A throwaway redis-server that keeps nothing on disk; can be restarted on its port. */
export class Redis {
  constructor(port) {
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
    this.proc = null;
  }
  async start() {
    this.proc = spawn("redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: "ignore",
    });
    this.exited = new Promise((r) => this.proc.once("exit", r));
    await waitPort(this.port);
  }
  async stop() {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill("SIGKILL");
      await this.exited;
    }
  }
  /** Down for `downMs`, then back empty (the Redis Cluster's `restart` takes a key too). */
  async restart(downMs = 1000) {
    await this.stop();
    await sleep(downMs);
    await this.start();
  }
}

/** A new, empty PostgreSQL database; returns its URL. */
export function freshDatabase() {
  const name = `classchat_test_${randomBytes(8).toString("hex")}`;
  execFileSync("psql", [`${PG}/postgres`, "-qAtc", `CREATE DATABASE ${name}`], { stdio: "pipe" });
  return { name, url: `${PG}/${name}` };
}

function dropDatabase(name) {
  try {
    execFileSync("psql", [`${PG}/postgres`, "-qAtc", `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`], { stdio: "pipe" });
  } catch {
    /* best effort */
  }
}

/** HAProxy with the repo's config, in front of three nodes (repeated if fewer). */
async function startHaproxy(nodes, ports) {
  const [socketPort, apiPort] = ports ?? [await freePort(), await freePort()];
  const pick = (i) => nodes[Math.min(i, nodes.length - 1)];
  const env = {
    ...process.env,
    LB_SOCKET_BIND: `127.0.0.1:${socketPort}`,
    LB_API_BIND: `127.0.0.1:${apiPort}`,
    LB_MAXCONN: "8000",
  };
  for (let i = 0; i < 3; i++) {
    env[`NODE${i + 1}_SOCKET`] = pick(i).socketAddr;
    env[`NODE${i + 1}_API`] = pick(i).apiAddr;
  }
  const proc = spawn("haproxy", ["-f", join(REPO, "deploy", "haproxy", "haproxy.cfg"), "-db"], {
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  proc.stderr.on("data", (d) => (err += d));
  const exited = new Promise((r) => proc.once("exit", r));
  try {
    await waitPort(socketPort);
    await waitPort(apiPort);
  } catch (e) {
    proc.kill("SIGKILL");
    throw new Error(`haproxy did not start: ${e.message}\n${err}`);
  }
  return {
    proc,
    socketUrl: `http://127.0.0.1:${socketPort}`,
    apiUrl: `http://127.0.0.1:${apiPort}`,
    log: () => err,
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGKILL");
      await exited;
    },
  };
}

/**
 * Starts Redis, a database, `nodes` classchat processes and (with `lb`) HAProxy.
 * Every node shares the JWT secret, so `cluster.user()` tokens work on all of them.
 * `env` may be a function of `{ lbSocketUrl, lbApiUrl }` (the load balancer's addresses,
 * chosen before the nodes start) for settings that name them. With `redisCluster` the
 * nodes share a local Redis Cluster (3 masters, 3 replicas) instead of one Redis.
 */
export async function startCluster({ nodes = 3, lb = false, env = {}, redisCluster = false } = {}) {
  const lbPorts = lb ? [await freePort(), await freePort()] : null;
  if (typeof env === "function") {
    env = env(lb ? { lbSocketUrl: `http://127.0.0.1:${lbPorts[0]}`, lbApiUrl: `http://127.0.0.1:${lbPorts[1]}` } : {});
  }
  const redis = redisCluster ? new RedisCluster() : new Redis(await freePort());
  await redis.start();
  const db = freshDatabase();
  const secret = randomBytes(32).toString("hex");
  const prefix = `cc-${randomBytes(4).toString("hex")}`;
  const nodeEnv = (i) => ({
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    CLASSCHAT_REDIS_PREFIX: prefix,
    CLASSCHAT_JWT_SECRET: secret,
    CLASSCHAT_NODE_ID: `node-${i + 1}`,
    // HAProxy (on 127.0.0.1) forwards the client's address; nodes believe it from there.
    ...(lb ? { CLASSCHAT_TRUSTED_PROXIES: "127.0.0.1/32" } : {}),
    ...env,
  });
  const servers = [];
  for (let i = 0; i < nodes; i++) servers.push(await startServer({ env: nodeEnv(i) }));
  const cluster = {
    redis,
    redisCluster,
    prefix,
    db,
    secret,
    nodes: servers,
    lb: lb ? await startHaproxy(servers, lbPorts) : null,
    user(id, role = "student", name = id) {
      return { id, role, name, token: mintToken(secret, { sub: id, role, name }) };
    },
    /** Starts node `i` again (after a kill), with the same settings and addresses. */
    async restartNode(i) {
      const old = servers[i];
      servers[i] = await startServer({
        env: {
          ...nodeEnv(i),
          CLASSCHAT_API_ADDR: old.apiAddr,
          CLASSCHAT_SOCKET_ADDR: old.socketAddr,
          CLASSCHAT_METRICS_ADDR: old.metricsAddr,
        },
      });
      return servers[i];
    },
    async stop() {
      if (cluster.lb) await cluster.lb.stop();
      await Promise.all(servers.map((s) => s.stop()));
      await redis.stop();
      dropDatabase(db.name);
    },
  };
  return cluster;
}

/** The value of one Prometheus sample (0 when absent), e.g. metric('x_total{kind="room"}'). */
export async function metric(server, sample) {
  const text = await (await fetch(`http://${server.metricsAddr}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(sample + " "));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

/** The Redis set-ups the cluster tests run on: one Redis, and a 3-master Redis Cluster. */
export const REDIS_SETUPS = [
  { name: "one Redis", redisCluster: false },
  { name: "a Redis Cluster of 3 masters and 3 replicas", redisCluster: true },
];
