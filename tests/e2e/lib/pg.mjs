// A throwaway PostgreSQL server for fault tests that stop and start the database.
// Never touches the shared server at CLASSCHAT_TEST_PG_URL: it runs its own cluster
// (initdb into a temp dir, as the `postgres` OS user) on a free port, and can be
// stopped (`pg_ctl -m immediate stop`, like a crash) and started again on that port.

import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { freePort } from "./cluster.mjs";

/** The directory holding initdb and pg_ctl (the newest installed version). */
export function pgBinDir() {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) throw new Error(`no initdb under ${root}/*/bin`);
  return join(root, versions[0], "bin");
}

function asPostgres(bin, args, timeout = 60_000) {
  try {
    return execFileSync("runuser", ["-u", "postgres", "--", bin, ...args], {
      stdio: "pipe",
      encoding: "utf8",
      timeout,
    });
  } catch (e) {
    throw new Error(`${bin} ${args.join(" ")} failed: ${e.message}\n${e.stdout ?? ""}${e.stderr ?? ""}`);
  }
}

const live = new Set();
let exitHookInstalled = false;
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort if a test dies without its `finally`: no postgres left running.
  process.once("exit", () => {
    for (const pg of live) pg.killSync();
  });
}

export class TempPostgres {
  constructor(dir, port, bin) {
    this.dir = dir;
    this.dataDir = join(dir, "data");
    this.sockDir = join(dir, "sock");
    this.logFile = join(dir, "postgres.log");
    this.port = port;
    this.bin = bin;
    this.running = false;
    /** Server URL without a database name; append `/postgres`. */
    this.url = `postgres://postgres@127.0.0.1:${port}`;
  }

  pgCtl(args, timeout) {
    return asPostgres(join(this.bin, "pg_ctl"), ["-D", this.dataDir, ...args], timeout);
  }

  async start() {
    const opts = `-p ${this.port} -k ${this.sockDir} -c listen_addresses=127.0.0.1`;
    this.pgCtl(["-w", "-t", "60", "-l", this.logFile, "-o", opts, "start"], 90_000);
    this.running = true;
    live.add(this);
  }

  /** Stops like a crash: no checkpoint, every connection cut at once. */
  async stop() {
    if (!this.running) return;
    this.pgCtl(["-m", "immediate", "-w", "-t", "60", "stop"], 90_000);
    this.running = false;
  }

  /** The tail of the server log. */
  log(n = 40) {
    try {
      return readFileSync(this.logFile, "utf8").split("\n").slice(-n).join("\n");
    } catch {
      return "";
    }
  }

  killSync() {
    if (!this.running) return;
    try {
      this.pgCtl(["-m", "immediate", "-w", "-t", "20", "stop"], 30_000);
    } catch {
      /* best effort */
    }
    this.running = false;
  }

  /** Stops the server and removes its directory. */
  async cleanup() {
    try {
      await this.stop();
    } catch {
      this.killSync();
    }
    live.delete(this);
    await rm(this.dir, { recursive: true, force: true }).catch(() => {});
  }
}

/** initdb into a fresh temp dir (trust auth, superuser `postgres`) and start it. */
export async function startTempPostgres() {
  const bin = pgBinDir();
  const dir = await mkdtemp(join(tmpdir(), "classchat-pg-"));
  const port = await freePort();
  const pg = new TempPostgres(dir, port, bin);
  try {
    await chmod(dir, 0o755);
    execFileSync("mkdir", ["-p", pg.sockDir]);
    execFileSync("chown", ["-R", "postgres:postgres", dir]);
    asPostgres(join(bin, "initdb"), ["-D", pg.dataDir, "--auth=trust", "-U", "postgres", "-E", "UTF8", "--no-sync"], 120_000);
    installExitHook();
    await pg.start();
  } catch (e) {
    await pg.cleanup();
    throw e;
  }
  return pg;
}
