// The shipped examples, run as a person would: examples/chat.js as a child process (its
// own node_modules, installed with `npm ci` when missing) against a spawned classchat
// node, talking with a socket.io-client in the same room; examples/meeting.html served by
// examples/serve.js in two Chromium tabs, as the README's "Try a meeting" says.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { launchBrowser } from "./lib/browser.mjs";
import { freePort, waitPort } from "./lib/cluster.mjs";
import { startServer, withServerLogs } from "./lib/server.mjs";
import { closeAll, connectUser, join as joinRooms } from "./lib/client.mjs";
import { uid } from "./lib/util.mjs";

const EXAMPLES = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "examples");

let server;
const clients = [];
const children = [];
const it = (name, fn) => test(name, withServerLogs(() => server, fn));

/** `node examples/chat.js` with TOKEN/ROOM/URL; collects its stdout and stderr lines. */
function chat(env) {
  const proc = spawn(process.execPath, [join(EXAMPLES, "chat.js")], {
    cwd: EXAMPLES,
    env: { PATH: process.env.PATH, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.push(proc);
  const out = { lines: [], err: "", proc };
  let buf = "";
  proc.stdout.setEncoding("utf8").on("data", (chunk) => {
    buf += chunk;
    const parts = buf.split("\n");
    buf = parts.pop();
    out.lines.push(...parts);
  });
  proc.stderr.setEncoding("utf8").on("data", (chunk) => (out.err += chunk));
  out.exited = new Promise((res) => proc.once("exit", (code) => res(code)));
  return out;
}

/** Waits until `out` printed a line matching `re`. */
async function line(out, re, timeout = 15_000) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    const found = out.lines.find((l) => re.test(l));
    if (found) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`chat.js printed no line matching ${re}\nstdout:\n${out.lines.join("\n")}\nstderr:\n${out.err}`);
}

/** `npm ci` in examples/ when its socket.io-client is missing. */
function installExamples() {
  if (!existsSync(join(EXAMPLES, "node_modules", "socket.io-client"))) {
    const r = spawnSync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: EXAMPLES, encoding: "utf8" });
    assert.equal(r.status, 0, `npm ci in examples/: ${r.stderr}`);
  }
}

describe("examples/chat.js", () => {
  before(async () => {
    installExamples();
    server = await startServer();
  });
  after(async () => {
    closeAll(clients);
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    await server?.stop();
  });

  it("sends a typed line to the room and prints what arrives", async () => {
    const alice = server.user(uid("alice"), "teacher", "Alice");
    const bob = server.user(uid("bob"), "student", "Bob");
    const room = await server.group(alice, [bob]);
    const cb = await connectUser(server, bob);
    clients.push(cb);
    await joinRooms(cb, [room.id]);

    const out = chat({ TOKEN: alice.token, ROOM: room.id, URL: server.socketUrl });
    assert.match(await line(out, /^joined: /), new RegExp(`^joined: \\[ '${room.id}' \\] rejected: \\[\\]$`));

    const mark = cb.rec.mark();
    out.proc.stdin.write("Hi Bob, did you read chapter 4?\n");
    const got = await cb.rec.waitFor("new-chat-message", (m) => m.roomId === room.id, { from: mark });
    assert.equal(got.data.content, "Hi Bob, did you read chapter 4?");
    assert.equal(got.data.senderId, alice.id);
    // Its own message comes back to it like any other.
    await line(out, new RegExp(`^#${got.data.seq} Alice: Hi Bob, did you read chapter 4\\?$`));

    cb.socket.emit("send-chat-message", { roomId: room.id, content: "Yes, on page 80 now" });
    await line(out, /^#\d+ Bob: Yes, on page 80 now$/);

    // End of input: it waits for its sends' acks, closes the socket and exits.
    out.proc.stdin.end();
    assert.equal(await out.exited, 0, out.err);
    assert.equal(out.err, "");
  });

  it("says why when the token is refused", async () => {
    const out = chat({ TOKEN: "not-a-token", ROOM: "r", URL: server.socketUrl });
    const deadline = Date.now() + 15_000;
    while (!out.err.includes("cannot connect:") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(out.err, /cannot connect: \{ code: 'unauthorized', message: '.+' \}/);
    out.proc.kill("SIGTERM");
    await out.exited;
  });
});

describe("examples/meeting.html (README: Try a meeting)", () => {
  let node;
  let serve;
  let browser;
  before(async () => {
    installExamples();
    node = await startServer();
    const port = await freePort();
    serve = spawn(process.execPath, [join(EXAMPLES, "serve.js")], { env: { PATH: process.env.PATH, PORT: String(port) }, stdio: "ignore" });
    await waitPort(port);
    serve.url = `http://127.0.0.1:${port}/`;
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    serve?.kill("SIGKILL");
    await node?.stop();
  });

  test("two tabs start and join a meeting and each receives the other's video", { timeout: 120_000 }, async () => {
    const alice = node.user(uid("alice"), "teacher", "Alice");
    const bob = node.user(uid("bob"), "student", "Bob");
    const room = await node.group(alice, [bob]);
    const ctx = await browser.newContext();
    const tabs = [];
    for (const who of [alice, bob]) {
      const tab = await ctx.newPage();
      const q = new URLSearchParams({ api: node.apiUrl, sock: node.socketUrl, token: who.token, room: room.id });
      await tab.goto(`${serve.url}?${q}`);
      tabs.push(tab);
    }
    const status = (tab, text) => tab.waitForFunction((t) => document.getElementById("status").textContent.includes(t), text, { timeout: 30_000 });
    await tabs[0].click("#start");
    await status(tabs[0], "is running");
    await tabs[0].click("#join");
    await status(tabs[0], "in the meeting with 0 other(s)");
    await tabs[1].click("#join");
    await status(tabs[1], "in the meeting with 1 other(s)");
    const video = (tab) =>
      tab.evaluate(async () => {
        const out = [];
        for (const { pc } of window.classchatMeeting.pcs.values()) {
          let bytes = 0;
          (await pc.getStats()).forEach((s) => {
            if (s.type === "inbound-rtp" && s.kind === "video") bytes += s.bytesReceived;
          });
          out.push({ state: pc.connectionState, bytes });
        }
        return out;
      });
    const flowing = async () => (await Promise.all(tabs.map(video))).map((v) => v.length === 1 && v[0].state === "connected" ? v[0].bytes : -1);
    const deadline = Date.now() + 30_000;
    let first = await flowing();
    while (first.some((b) => b <= 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      first = await flowing();
    }
    assert.ok(first.every((b) => b > 0), `both tabs connected with video: ${JSON.stringify(first)}`);
    await new Promise((r) => setTimeout(r, 2000));
    const later = await flowing();
    assert.ok(later.every((b, i) => b > first[i]), `video keeps arriving: ${JSON.stringify({ first, later })}`);
    // Leaving tells the other tab, which drops the call's tile.
    await tabs[1].click("#leave");
    await status(tabs[1], "left the meeting");
    await tabs[0].waitForFunction(() => window.classchatMeeting.pcs.size === 0, null, { timeout: 15_000 });
  });
});
