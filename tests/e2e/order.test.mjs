// Events a socket sends are handled in order: back-to-back sends get increasing
// seq in emission order, and other members receive them in seq order.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { startServer, withServerLogs } from "./lib/server.mjs";
import { ack, ackOk, clientPool, closeAll, join } from "./lib/client.mjs";
import { quiet, uid } from "./lib/util.mjs";

let server;
const { clients, connect } = clientPool(() => server);
const it = (name, fn) => test(name, withServerLogs(() => server, fn));

/** Emits `n` sends without waiting; resolves with the acks in emission order. */
function burst(client, roomId, n, tag) {
  const pending = [];
  for (let i = 0; i < n; i++) {
    pending.push(ack(client.socket, "send-chat-message", { roomId, content: `${tag} ${i}` }));
  }
  return Promise.all(pending);
}

function assertIncreasing(seqs, what) {
  for (let i = 1; i < seqs.length; i++) {
    assert.ok(seqs[i] > seqs[i - 1], `${what}: seq ${seqs[i]} at ${i} is not above ${seqs[i - 1]} (${seqs.join(",")})`);
  }
}

describe("ordering", () => {
  before(async () => {
    // Limits high enough that 50 back-to-back sends are not rate limited.
    server = await startServer({
      env: { CLASSCHAT_RATE_SEND_PER_SEC: "1000", CLASSCHAT_RATE_SEND_BURST: "1000" },
    });
  });
  after(async () => {
    closeAll(clients);
    for (const c of clients) assert.deepEqual(c.rec.malformed, [], `${c.rec.label} got malformed event bodies`);
    await server?.stop();
  });

  it("50 back-to-back send-chat-message: strictly increasing seq in emission order, received in seq order", async () => {
    const t = server.user(uid("teacher"), "teacher");
    const a = server.user(uid("a"));
    const b = server.user(uid("b"));
    const g = await server.group(t, [a, b]);
    const ca = await connect(a);
    const cb = await connect(b);
    await join(ca, [g.id]);
    await join(cb, [g.id]);

    const acks = await burst(ca, g.id, 50, "m");
    const bad = acks.filter((x) => x.ok !== true);
    assert.deepEqual(bad, [], "every send is acked ok");
    const msgs = acks.map((x) => x.data);
    assert.deepEqual(
      msgs.map((m) => m.content),
      Array.from({ length: 50 }, (_, i) => `m ${i}`),
      "ack i carries message i",
    );
    const seqs = msgs.map((m) => m.seq);
    assertIncreasing(seqs, "acks");
    // Nobody else writes here: the seqs are consecutive.
    assert.deepEqual(seqs, Array.from({ length: 50 }, (_, i) => seqs[0] + i));

    const got = (await cb.rec.waitCount("new-chat-message", 50, (d) => d.roomId === g.id, { timeout: 20_000 })).map(
      (e) => e.data,
    );
    assert.deepEqual(
      got.map((m) => m.seq),
      seqs,
      "the other member receives them in seq order",
    );
    assert.deepEqual(
      got.map((m) => m.content),
      msgs.map((m) => m.content),
    );
    // The sender's own socket (joined) receives them in the same order.
    const own = await ca.rec.waitCount("new-chat-message", 50, (d) => d.roomId === g.id, { timeout: 20_000 });
    assert.deepEqual(
      own.map((e) => e.data.seq),
      seqs,
    );
    const hist = await server.history(b, g.id);
    assert.deepEqual(
      hist.map((m) => [m.seq, m.content]),
      msgs.map((m) => [m.seq, m.content]),
    );
  });

  it("three senders bursting at once: each sender's seqs follow its emission order and each sender's messages arrive in seq order", async (t) => {
    // Per-sender order is the contract's promise. Across senders the server documents
    // (docs/API.md, Ordering) that racing messages may arrive out of seq order; that is
    // only reported as a diagnostic here.
    const ROUNDS = 5;
    const PER_SENDER = 40;
    const teacher = server.user(uid("teacher"), "teacher");
    const senders = [server.user(uid("a")), server.user(uid("c")), server.user(uid("d"))];
    const b = server.user(uid("b"));
    const g = await server.group(teacher, [...senders, b]);
    const cs = [];
    for (const s of senders) cs.push(await connect(s));
    const cb = await connect(b);
    for (const cl of [...cs, cb]) await join(cl, [g.id]);

    const misordered = [];
    let expectedTotal = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const results = await Promise.all(cs.map((cl, i) => burst(cl, g.id, PER_SENDER, `r${round} s${i}`)));
      for (const [i, acks] of results.entries()) {
        assert.deepEqual(
          acks.filter((x) => x.ok !== true),
          [],
          `sender ${i}'s sends are all acked ok`,
        );
        assertIncreasing(
          acks.map((x) => x.data.seq),
          `round ${round} sender ${i}'s acks`,
        );
        assert.deepEqual(
          acks.map((x) => x.data.content),
          Array.from({ length: PER_SENDER }, (_, k) => `r${round} s${i} ${k}`),
        );
      }
      const all = results.flat().map((x) => x.data.seq).sort((x, y) => x - y);
      assert.deepEqual(all, Array.from({ length: all.length }, (_, i) => all[0] + i), "distinct consecutive seqs");
      expectedTotal += all.length;
      const got = await cb.rec.waitCount("new-chat-message", expectedTotal, (d) => d.roomId === g.id, {
        timeout: 20_000,
      });
      const seqs = got.slice(expectedTotal - all.length).map((e) => e.data.seq);
      // Every sender's own messages arrive in its order, whatever else happens.
      for (const [i, acks] of results.entries()) {
        const mine = new Set(acks.map((x) => x.data.seq));
        assertIncreasing(
          seqs.filter((q) => mine.has(q)),
          `round ${round}: sender ${i}'s messages as b received them`,
        );
      }
      for (let i = 1; i < seqs.length; i++) {
        if (seqs[i] < seqs[i - 1]) misordered.push(`round ${round}: seq ${seqs[i]} arrived after ${seqs[i - 1]}`);
      }
    }
    await quiet();
    assert.equal(cb.rec.of("new-chat-message").length, expectedTotal, "no duplicates");
    const received = cb.rec.data("new-chat-message").map((d) => d.seq);
    assert.equal(new Set(received).size, expectedTotal, "every seq received once");
    t.diagnostic(
      `cross-sender arrivals out of seq order: ${misordered.length}${misordered.length ? ` (e.g. ${misordered.slice(0, 3).join("; ")})` : ""}`,
    );
  });

  it("sockets rejoining with lastSeq while messages keep coming see each one in seq order: the replay, then live", async () => {
    const teacher = server.user(uid("teacher"), "teacher");
    const students = [server.user(uid("r1")), server.user(uid("r2")), server.user(uid("r3"))];
    const g = await server.group(teacher, students);
    const ct = await connect(teacher);
    const first = (await burst(ct, g.id, 30, "history")).map((x) => x.data.seq);
    const cs = [];
    for (const s of students) cs.push(await connect(s));
    // A stream of sends; the students rejoin at different points of it, from seq 1 on.
    const stream = burst(ct, g.id, 150, "stream"); // 180 in all: within one replay (200)
    const rejoined = cs.map(async (c, i) => {
      await new Promise((r) => setTimeout(r, 20 + 40 * i));
      return ackOk(c.socket, "join-chat-rooms", { roomIds: [g.id], lastSeq: { [g.id]: first[0] } });
    });
    const acks = await stream;
    assert.deepEqual(acks.filter((x) => x.ok !== true), [], "every send is acked ok");
    await Promise.all(rejoined);
    const last = acks.at(-1).data.seq;
    for (const [i, c] of cs.entries()) {
      await c.rec.waitFor("new-chat-message", (d) => d.seq === last, { timeout: 20_000 });
      const seqs = c.rec.data("new-chat-message", (d) => d.roomId === g.id).map((d) => d.seq);
      const firstSeen = seqs.filter((q, k) => seqs.indexOf(q) === k);
      assertIncreasing(firstSeen, `student ${i}'s messages by first arrival`);
      assert.equal(firstSeen[0], first[0] + 1, "from the one after lastSeq");
      assert.equal(firstSeen.length, last - first[0], "none missing");
    }
  });
});
