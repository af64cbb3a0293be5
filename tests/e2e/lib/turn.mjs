// A throwaway coturn `turnserver` on a free loopback port, with the TURN REST
// (shared secret) scheme that classchat's `GET /chat/meetings/ice-servers` mints for.

import { spawn, spawnSync } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { freePort, waitPort } from "./cluster.mjs";

/** True when Debian's coturn `turnserver` is on PATH. */
export function turnserverInstalled() {
  return spawnSync("sh", ["-c", "command -v turnserver"], { stdio: "ignore" }).status === 0;
}

/** Credentials of the TURN REST scheme: username "<expiry>:<userId>", credential
 * base64(HMAC-SHA1(secret, username)). */
export function turnCredentials(secret, userId, ttlSecs = 3600) {
  const username = `${Math.floor(Date.now() / 1000) + ttlSecs}:${userId}`;
  const credential = createHmac("sha1", secret).update(username).digest("base64");
  return { username, credential };
}

/**
 * Starts `turnserver` on 127.0.0.1 and a free port with a random secret and realm.
 * Peers on loopback are allowed (the browsers of the tests are on this machine).
 * Returns `{ port, secret, realm, url, log(), stop() }`; `url` is a `turn:` URL over UDP.
 */
export async function startTurn({ startTimeoutMs = 15_000 } = {}) {
  const port = await freePort();
  const secret = randomBytes(24).toString("hex");
  const realm = `classchat-test-${randomBytes(3).toString("hex")}.local`;
  const dir = await mkdtemp(join(tmpdir(), "classchat-turn-"));
  const args = [
    "-n",
    "--use-auth-secret",
    `--static-auth-secret=${secret}`,
    `--realm=${realm}`,
    "--listening-ip=127.0.0.1",
    `--listening-port=${port}`,
    "--relay-ip=127.0.0.1",
    "--allow-loopback-peers",
    "--no-tls",
    "--no-dtls",
    "--no-cli",
    "--no-rfc5780",
    "--no-software-attribute",
    `--pidfile=${join(dir, "turnserver.pid")}`,
    `--userdb=${join(dir, "turndb")}`,
    "--log-file=stdout",
    "--simple-log",
    "--verbose",
  ];
  const proc = spawn("turnserver", args, { stdio: ["ignore", "pipe", "pipe"] });
  const lines = [];
  const keep = (chunk) => {
    for (const l of String(chunk).split("\n")) {
      if (!l) continue;
      lines.push(l);
      if (lines.length > 400) lines.shift();
    }
  };
  proc.stdout.on("data", keep);
  proc.stderr.on("data", keep);
  let exit = null;
  const exited = new Promise((r) =>
    proc.once("exit", (code, signal) => {
      exit = { code, signal };
      r(exit);
    }),
  );
  const alive = () => exit === null;
  try {
    await Promise.race([
      waitPort(port, startTimeoutMs),
      exited.then((e) => {
        throw new Error(`turnserver exited (${JSON.stringify(e)})`);
      }),
    ]);
  } catch (e) {
    if (alive()) proc.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
    throw new Error(`turnserver did not start on 127.0.0.1:${port}: ${e.message}\n${lines.join("\n")}`);
  }
  return {
    port,
    secret,
    realm,
    url: `turn:127.0.0.1:${port}?transport=udp`,
    proc,
    log: (n = 80) => lines.slice(-n).join("\n"),
    /** Lines of the log matching `re` (e.g. allocations made). */
    grep: (re) => lines.filter((l) => re.test(l)),
    async stop() {
      if (alive()) {
        proc.kill("SIGTERM");
        const t = setTimeout(() => alive() && proc.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(t);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
