// A throwaway local Redis Cluster for tests: 3 masters and 3 replicas (`redis-server
// --cluster-enabled yes` on free ports in a temp dir, nothing saved but each node's
// cluster config), joined by `redis-cli --cluster create`. `url` is the
// `redis-cluster://` URL classchat takes; `failover(key)` SIGKILLs the master holding
// the key's slot and waits until its replica took over; `restart()` does that and
// brings the killed node back (it rejoins as a replica).

import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { sleep } from "./client.mjs";
import { freePort, waitPort } from "./cluster.mjs";

/** `redis-cli -p port …` (its output; "" when the node does not answer). */
export function cli(port, ...args) {
  try {
    return execFileSync("redis-cli", ["-p", String(port), ...args], { stdio: "pipe", timeout: 5000 }).toString();
  } catch {
    return "";
  }
}

export class RedisCluster {
  constructor() {
    this.dir = null;
    this.nodes = []; // { port, proc, exited }
    this.url = null;
  }

  spawnNode(node) {
    node.proc = spawn(
      "redis-server",
      ["--port", String(node.port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
        "--cluster-config-file", `nodes-${node.port}.conf`, "--cluster-node-timeout", "2000",
        // A replica takes over however long its master link was down.
        "--cluster-replica-validity-factor", "0",
        "--save", "", "--appendonly", "no", "--dir", this.dir],
      { stdio: "ignore" },
    );
    node.exited = new Promise((r) => node.proc.once("exit", r));
  }

  async start() {
    this.dir = mkdtempSync(join(tmpdir(), "classchat-redis-cluster-"));
    for (let i = 0; i < 6; i++) this.nodes.push({ port: await freePort() });
    for (const n of this.nodes) this.spawnNode(n);
    for (const n of this.nodes) await waitPort(n.port);
    const addrs = this.nodes.map((n) => `127.0.0.1:${n.port}`);
    execFileSync("redis-cli", ["--cluster", "create", ...addrs, "--cluster-replicas", "1", "--cluster-yes"], { stdio: "pipe" });
    await this.waitOk();
    const [a, b, c] = addrs;
    this.url = `redis-cluster://${a}?node=${b}&node=${c}`;
  }

  alive() {
    return this.nodes.filter((n) => n.proc && n.proc.exitCode === null && n.proc.signalCode === null);
  }

  /** `CLUSTER NODES` of a living node, parsed: { id, port, master, failed, slots: [[lo, hi]] }. */
  topology() {
    const text = cli(this.alive()[0].port, "cluster", "nodes");
    return text.trim().split("\n").filter(Boolean).map((line) => {
      const f = line.split(" ");
      const slots = f.slice(8).filter((s) => /^\d+(-\d+)?$/.test(s)).map((s) => s.split("-").map(Number)).map(([lo, hi]) => [lo, hi ?? lo]);
      return { id: f[0], port: Number(f[1].split(":")[1].split("@")[0]), master: f[2].includes("master"), failed: /fail/.test(f[2]), slots };
    });
  }

  /** The hash slot of a key (what Redis Cluster shards by). */
  slotOf(key) {
    return Number(cli(this.alive()[0].port, "cluster", "keyslot", key).trim());
  }

  /** The port of the master serving `slot`. */
  masterOf(slot) {
    const m = this.topology().find((n) => n.master && !n.failed && n.slots.some(([lo, hi]) => slot >= lo && slot <= hi));
    return m?.port;
  }

  /** Resolves once every living node reports cluster_state:ok with all slots served and
   * every replica's link to its master is up (synced: it can take over). */
  async waitOk(timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ok = this.alive().every((n) => {
        const info = cli(n.port, "cluster", "info");
        const repl = cli(n.port, "info", "replication");
        const synced = repl.includes("role:master") || repl.includes("master_link_status:up");
        return synced && info.includes("cluster_state:ok") && info.includes("cluster_slots_ok:16384");
      });
      if (ok) return;
      if (Date.now() > deadline) throw new Error("the Redis Cluster did not become ok");
      await sleep(100);
    }
  }

  /** Runs `fn` after the failovers and restarts already asked for (they may overlap). */
  serial(fn) {
    const run = (this.queue ?? Promise.resolve()).then(fn);
    this.queue = run.catch(() => {});
    return run;
  }

  /** SIGKILLs the master of `key`'s slot (or the first master); resolves once a replica serves it. */
  failover(key = null) {
    return this.serial(() => this.failoverNow(key));
  }

  async failoverNow(key) {
    const slot = key === null ? 0 : this.slotOf(key);
    const port = this.masterOf(slot);
    const node = this.nodes.find((n) => n.port === port);
    node.proc.kill("SIGKILL");
    await node.exited;
    const deadline = Date.now() + 30_000;
    while (!(this.masterOf(slot) && this.masterOf(slot) !== port)) {
      if (Date.now() > deadline) throw new Error(`no replica took over slot ${slot} from ${port}`);
      await sleep(100);
    }
    await this.waitOk();
    return { slot, killed: port, master: this.masterOf(slot) };
  }

  /** A master failover, then the killed node back (as a replica); like `Redis.restart`. */
  restart(downMs = 1000, key = null) {
    return this.serial(async () => {
      const { killed } = await this.failoverNow(key);
      await sleep(downMs);
      const node = this.nodes.find((n) => n.port === killed);
      this.spawnNode(node);
      await waitPort(node.port);
      await this.waitOk();
    });
  }

  /** Every master's port. */
  masters() {
    return this.topology().filter((n) => n.master && !n.failed && n.slots.length).map((n) => n.port);
  }

  async stop() {
    for (const n of this.alive()) {
      n.proc.kill("SIGKILL");
      await n.exited;
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
