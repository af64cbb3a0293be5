// Headless Chromium (Debian's, driven by playwright-core: no browser download) with a
// fake camera and microphone, and a tiny static HTTP server for the pages in tests/browser/.

import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import http from "node:http";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "..", "..", "..");

/** The Chromium binary: CLASSCHAT_CHROMIUM, else Debian's /usr/bin/chromium. */
export const CHROMIUM = process.env.CLASSCHAT_CHROMIUM || "/usr/bin/chromium";


/** Chromium flags: fake media devices, no permission prompt, real host IPs in candidates. */
export const CHROMIUM_ARGS = [
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
  "--disable-features=WebRtcHideLocalIpsWithMdns",
  "--autoplay-policy=no-user-gesture-required",
  "--disable-gpu",
  "--disable-dev-shm-usage",
];

/** Launches headless Chromium (with --no-sandbox when running as root, which Chromium requires). */
export async function launchBrowser() {
  // Never skipped: tests/run.sh installs Chromium, so a missing one is a failure to fix.
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium, or set CLASSCHAT_CHROMIUM`);
  const { chromium } = await import("playwright-core");
  const args = [...CHROMIUM_ARGS];
  if (typeof process.getuid === "function" && process.getuid() === 0) args.push("--no-sandbox");
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args, timeout: 60_000 });
}

/** What the static server serves: URL path → file. Nothing else is reachable. */
const FILES = {
  "/meeting.html": [join(REPO, "tests", "browser", "meeting.html"), "text/html; charset=utf-8"],
  "/meeting.js": [join(REPO, "tests", "browser", "meeting.js"), "text/javascript; charset=utf-8"],
  "/socket.io.min.js": [
    join(REPO, "tests", "e2e", "node_modules", "socket.io-client", "dist", "socket.io.min.js"),
    "text/javascript; charset=utf-8",
  ],
};

/** Serves FILES on 127.0.0.1 and a free port; returns `{ url, close() }`. */
export async function startStatic() {
  const server = http.createServer(async (req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    const entry = FILES[path];
    if (!entry || req.method !== "GET") {
      res.writeHead(404).end("not found");
      return;
    }
    try {
      const body = await readFile(entry[0]);
      res.writeHead(200, { "content-type": entry[1], "cache-control": "no-store" }).end(body);
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections?.();
        server.close(() => r());
      }),
  };
}
