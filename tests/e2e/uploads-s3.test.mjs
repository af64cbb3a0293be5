// Uploads in an S3-compatible bucket (issue 13, CLASSCHAT_UPLOADS_URL=s3://…): a node
// stores a 12 MiB file in parts through object_store's S3 client, serves it whole and by
// range, aborts an upload over the limit (no object, no open multipart upload left), and
// its sweep deletes never-attached objects. The server is moto's (tests/run.sh installs it).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { request } from "node:http";

import { startS3 } from "./lib/s3.mjs";
import { startServer, mintToken } from "./lib/server.mjs";
import { eventually, uid } from "./lib/util.mjs";

const PNG = Buffer.from("89504e470d0a1a0a0000000d49484452000000010000000108020000", "hex");
const secret = randomBytes(32).toString("hex");
const user = (id, role = "student") => ({ id, token: mintToken(secret, { sub: id, role, name: id }) });

async function post(node, who, body, type = "image/png") {
  const res = await fetch(`${node.apiUrl}/chat/uploads`, {
    method: "POST",
    headers: { authorization: `Bearer ${who.token}`, "content-type": type, "x-filename": "f.png" },
    body,
  });
  return { status: res.status, body: await res.json() };
}

describe("uploads in an S3 bucket", () => {
  let s3;
  let node;
  const prefix = `run-${randomBytes(3).toString("hex")}`;
  before(async () => {
    s3 = await startS3();
    node = await startServer({
      env: {
        ...s3.env(prefix),
        CLASSCHAT_JWT_SECRET: secret,
        CLASSCHAT_MAX_UPLOAD_BYTES: String(16 * 1024 * 1024),
        CLASSCHAT_UPLOAD_ORPHAN_SECS: "2",
        CLASSCHAT_UPLOAD_SWEEP_SECS: "1",
      },
    });
  });
  after(async () => {
    await node?.stop();
    await s3?.stop();
  });

  test("a 12 MiB file goes to the bucket in parts and comes back whole and by range", async () => {
    const t = user(uid("t"), "teacher");
    const file = Buffer.concat([PNG, randomBytes(12 * 1024 * 1024 - PNG.length)]);
    const up = await post(node, t, file);
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const id = up.body.data.id;
    assert.deepEqual(await s3.keys(prefix), [`${prefix}/${id}`]);
    const room = await node.ok("POST", "/chat/rooms/group", t, { name: "s3", memberIds: [] }, 201);
    await node.ok("POST", `/chat/rooms/${room.id}/messages`, t, { attachmentIds: [id] }, 201);
    const whole = await fetch(node.apiUrl + up.body.data.url);
    assert.ok(Buffer.from(await whole.arrayBuffer()).equals(file), "the same bytes");
    const part = await fetch(node.apiUrl + up.body.data.url, { headers: { range: "bytes=9000000-9000099" } });
    assert.equal(part.status, 206);
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(file.subarray(9000000, 9000100)));
  });

  test("an upload past the limit is aborted: no object and no open multipart upload", async () => {
    const t = user(uid("t"), "teacher");
    const before = (await s3.keys(prefix)).length;
    // Chunked, so the server learns the size only as the bytes come; it answers 413 (and
    // closes) while the client is still sending: read the answer, ignore the broken pipe.
    const status = await new Promise((resolve, reject) => {
      const req = request(`${node.apiUrl}/chat/uploads`, {
        method: "POST",
        headers: { authorization: `Bearer ${t.token}`, "content-type": "image/png", "x-filename": "big.png" },
      });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on("error", () => {});
      setTimeout(() => reject(new Error("no answer")), 30_000);
      (async () => {
        req.write(PNG);
        for (let i = 0; i < 20 && !req.destroyed; i++) {
          if (!req.write(Buffer.alloc(1024 * 1024, i))) await new Promise((r) => req.once("drain", r).once("close", r));
        }
        req.end();
      })();
    });
    assert.equal(status, 413);
    assert.equal((await s3.keys(prefix)).length, before);
    assert.deepEqual(await s3.openUploads(), []);
  });

  test("a never-attached upload is deleted from the bucket by the sweep", async () => {
    const s = user(uid("s"));
    const up = await post(node, s, Buffer.concat([PNG, Buffer.alloc(1000)]));
    const key = `${prefix}/${up.body.data.id}`;
    assert.ok((await s3.keys(prefix)).includes(key));
    await eventually("the orphan deleted", async () => !(await s3.keys(prefix)).includes(key), { timeout: 15_000 });
    const gone = await node.rest("GET", `/chat/uploads/${up.body.data.id}`, s);
    assert.equal(gone.status, 404);
  });
});
