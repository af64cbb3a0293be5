// The shipped examples, run as a person would: examples/chat.js as a child process (its
// own node_modules, installed with `npm ci` when missing) against a spawned classchat
// node, talking with a socket.io-client in the same room.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

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

describe("examples/chat.js", () => {
  before(async () => {
    if (!existsSync(join(EXAMPLES, "node_modules", "socket.io-client"))) {
      const r = spawnSync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: EXAMPLES, encoding: "utf8" });
      assert.equal(r.status, 0, `npm ci in examples/: ${r.stderr}`);
    }
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
