// Uploads, attachments and forwards (issue 13) with the real socket.io-client: a 20 MiB
// upload is streamed with the server's memory growing by a small part of the file
// (read from /proc), a ranged download; `send-chat-message` with `attachmentIds` and with
// `forwardFromId` reaches members on one node and across three nodes (sharing an uploads
// directory), whose signed urls work on any node.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join as pathJoin } from "node:path";
import { Readable } from "node:stream";

import { ackOk, closeAll, connectUser, join } from "./lib/client.mjs";
import { startCluster } from "./lib/cluster.mjs";
import { startServer, mintToken } from "./lib/server.mjs";
import { MESSAGE_FIELDS, uid } from "./lib/util.mjs";

const PNG = Buffer.from("89504e470d0a1a0a0000000d49484452000000010000000108020000", "hex");

/** Resident memory of a process, and its peak so far, in bytes. */
function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"))[1]) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}

/** POSTs `size` bytes of a PNG in 64 KiB chunks, streamed (no Content-Length). */
async function uploadStream(server, who, size) {
  let sent = 0;
  const body = Readable.from(
    (async function* () {
      yield PNG;
      sent = PNG.length;
      const chunk = Buffer.alloc(64 * 1024, 7);
      while (sent < size) {
        const part = chunk.subarray(0, Math.min(chunk.length, size - sent));
        sent += part.length;
        yield part;
      }
    })(),
  );
  const res = await fetch(`${server.apiUrl}/chat/uploads`, {
    method: "POST",
    headers: { authorization: `Bearer ${who.token}`, "content-type": "image/png", "x-filename": "big.png" },
    body,
    duplex: "half",
  });
  return { status: res.status, body: await res.json() };
}

async function upload(server, who, type, name, bytes) {
  const res = await fetch(`${server.apiUrl}/chat/uploads`, {
    method: "POST",
    headers: { authorization: `Bearer ${who.token}`, "content-type": type, "x-filename": name },
    body: bytes,
  });
  assert.equal(res.status, 201);
  return (await res.json()).data;
}

const ATTACHMENT_FIELDS = ["contentType", "id", "kind", "name", "size", "url"];

describe("uploads on one node", () => {
  let node;
  const secret = "uploads-e2e-secret-of-at-least-32-bytes";
  const user = (id, role = "student") => ({ id, token: mintToken(secret, { sub: id, role, name: id }) });
  const clients = [];
  before(async () => {
    node = await startServer({ env: { CLASSCHAT_JWT_SECRET: secret, CLASSCHAT_RATE_UPLOAD_BURST: "100" } });
  });
  after(async () => {
    closeAll(clients);
    await node?.stop();
  });

  test("a 20 MiB upload is streamed: the server's memory grows by well under the file's size", async () => {
    const t = user(uid("t"), "teacher");
    // Warm up the paths (allocator arenas, the first part buffers) with a small upload.
    assert.equal((await uploadStream(node, t, 512 * 1024)).status, 201);
    const before = memory(node.proc.pid);
    const size = 20 * 1024 * 1024;
    const r = await uploadStream(node, t, size);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.data.size, size);
    const after = memory(node.proc.pid);
    const growth = after.peak - before.rss;
    console.log(`# RSS before ${before.rss >> 20} MiB, peak after ${after.peak >> 20} MiB: grew ${(growth / 1048576).toFixed(1)} MiB for a 20 MiB file`);
    // Buffering the file would grow it by 20 MiB or more; streaming by a few parts.
    assert.ok(growth < size * 0.4, `peak RSS grew by ${growth} bytes for a ${size}-byte upload`);
    // The whole file, then a range near its end (a player seeking).
    const full = await fetch(`${node.apiUrl}/chat/uploads/${r.body.data.id}`, { headers: { authorization: `Bearer ${t.token}` } });
    assert.equal((await full.arrayBuffer()).byteLength, size);
    const part = await fetch(`${node.apiUrl}${r.body.data.url}`, { headers: { range: `bytes=${size - 1000}-` } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get("content-range"), `bytes ${size - 1000}-${size - 1}/${size}`);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), Buffer.alloc(1000, 7));
  });

  test("send-chat-message with attachmentIds reaches the room with signed urls; forwardFromId carries forwardedFrom", async () => {
    const t = user(uid("t"), "teacher");
    const s = user(uid("s"));
    const a = await node.ok("POST", "/chat/rooms/group", t, { name: "a", memberIds: [s.id] }, 201);
    const b = await node.ok("POST", "/chat/rooms/group", t, { name: "b", memberIds: [s.id] }, 201);
    const onT = await connectUser(node, t);
    const onS = await connectUser(node, s);
    clients.push(onT, onS);
    await join(onT, [a.id, b.id]);
    await join(onS, [a.id, b.id]);
    const file = await upload(node, t, "image/png", "chart.png", PNG);
    assert.deepEqual(Object.keys(file).sort(), ATTACHMENT_FIELDS);
    const sent = await ackOk(onT.socket, "send-chat-message", { roomId: a.id, content: "", attachmentIds: [file.id] });
    const { data } = await onS.rec.waitFor("new-chat-message", (d) => d.id === sent.id);
    assert.deepEqual(Object.keys(data).sort(), [...MESSAGE_FIELDS].sort());
    assert.deepEqual(Object.keys(data.attachments[0]).sort(), ATTACHMENT_FIELDS);
    const img = await fetch(node.apiUrl + data.attachments[0].url);
    assert.equal(img.status, 200, "the signed url loads without a token");
    assert.deepEqual(Buffer.from(await img.arrayBuffer()), PNG);

    const fwd = await ackOk(onS.socket, "send-chat-message", { roomId: b.id, forwardFromId: sent.id });
    const got = await onT.rec.waitFor("new-chat-message", (d) => d.id === fwd.id);
    assert.deepEqual(got.data.forwardedFrom, {
      messageId: sent.id,
      roomId: a.id,
      senderId: t.id,
      senderName: t.id,
      createdAt: sent.createdAt,
    });
    assert.equal(got.data.attachments[0].id, file.id);
  });
});

describe("uploads across three nodes", () => {
  let c;
  let shared;
  const clients = [];
  before(async () => {
    // In a cluster every node reads the same store: a shared directory here, S3 in production.
    shared = mkdtempSync(pathJoin(tmpdir(), "cc-uploads-"));
    c = await startCluster({ nodes: 3, env: { CLASSCHAT_UPLOADS_URL: shared } });
  });
  after(async () => {
    closeAll(clients);
    await c?.stop();
    rmSync(shared, { recursive: true, force: true });
  });

  test("a voice message sent on one node reaches members on the others, and its url plays on every node", async () => {
    const [A, B, C] = c.nodes;
    const t = c.user(uid("t"), "teacher");
    const s = c.user(uid("s"));
    const room = await A.ok("POST", "/chat/rooms/group", t, { name: "voice", memberIds: [s.id] }, 201);
    const onB = await connectUser(B, s);
    const onC = await connectUser(C, t);
    clients.push(onB, onC);
    await join(onB, [room.id]);
    await join(onC, [room.id]);
    const ogg = Buffer.concat([Buffer.from("OggS\0\x02", "binary"), Buffer.alloc(500, 3)]);
    const res = await fetch(`${A.apiUrl}/chat/uploads`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.token}`, "content-type": "audio/ogg", "x-filename": "voice.ogg", "x-duration-ms": "3100" },
      body: ogg,
    });
    const voice = (await res.json()).data;
    assert.equal(voice.kind, "audio");
    assert.equal(voice.durationMs, 3100);
    const sent = await ackOk(onC.socket, "send-chat-message", { roomId: room.id, attachmentIds: [voice.id] });
    const { data } = await onB.rec.waitFor("new-chat-message", (d) => d.id === sent.id);
    assert.equal(data.attachments[0].durationMs, 3100);
    for (const node of c.nodes) {
      const r = await fetch(node.apiUrl + data.attachments[0].url, { headers: { range: "bytes=0-3" } });
      assert.equal(r.status, 206, `on ${node.apiUrl}`);
      assert.equal(Buffer.from(await r.arrayBuffer()).toString("latin1"), "OggS");
    }
    // A member downloads by token on a third node.
    const byToken = await B.rest("GET", `/chat/uploads/${voice.id}`, s);
    assert.equal(byToken.status, 200);
  });
});
