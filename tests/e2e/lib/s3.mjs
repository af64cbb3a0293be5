// A throwaway S3-compatible server (moto's `moto_server`, installed by tests/run.sh into
// a venv and named by CLASSCHAT_MOTO_SERVER) on a free loopback port, with one bucket,
// and the settings a classchat node needs to store its uploads there.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";

import { freePort, waitPort } from "./cluster.mjs";

export const MOTO = process.env.CLASSCHAT_MOTO_SERVER || "/var/tmp/classchat-tools/venv/bin/moto_server";

/** Starts moto on 127.0.0.1 with bucket `bucket`: `{ url, env(prefix), keys(), uploads(), stop() }`. */
export async function startS3(bucket = "classchat-test") {
  if (!existsSync(MOTO)) {
    throw new Error(`no S3 server at ${MOTO}: run tests/run.sh (it installs moto[server] into a venv) or set CLASSCHAT_MOTO_SERVER`);
  }
  const port = await freePort();
  const proc = spawn(MOTO, ["-H", "127.0.0.1", "-p", String(port)], { stdio: ["ignore", "ignore", "pipe"] });
  const log = [];
  proc.stderr.on("data", (c) => log.push(String(c)));
  await waitPort(port, 30_000);
  const url = `http://127.0.0.1:${port}`;
  const made = await fetch(`${url}/${bucket}`, { method: "PUT" });
  if (made.status !== 200) throw new Error(`CreateBucket answered ${made.status}`);
  return {
    url,
    /** The node settings that put uploads under s3://bucket/prefix on this server. */
    env: (prefix) => ({
      CLASSCHAT_UPLOADS_URL: `s3://${bucket}/${prefix}`,
      AWS_ENDPOINT: url,
      AWS_ALLOW_HTTP: "true",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_REGION: "us-east-1",
    }),
    /** The object keys under `prefix`. */
    async keys(prefix) {
      const xml = await (await fetch(`${url}/${bucket}?list-type=2&prefix=${encodeURIComponent(prefix)}`)).text();
      return [...xml.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]);
    },
    /** Multipart uploads begun and neither completed nor aborted. */
    async openUploads() {
      const xml = await (await fetch(`${url}/${bucket}?uploads`)).text();
      return [...xml.matchAll(/<UploadId>([^<]*)<\/UploadId>/g)].map((m) => m[1]);
    },
    log: () => log.join(""),
    async stop() {
      proc.kill("SIGTERM");
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.once("exit", r)));
    },
  };
}
