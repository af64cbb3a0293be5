// Nothing is lost right after connect: 2,000 sockets connect at once, each emitting
// join-chat-rooms from its connect handler; every one gets the ack and chat-rooms-joined.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { startServer, withServerLogs } from "./lib/server.mjs";
import { rawSocket, sleep } from "./lib/client.mjs";
import { uid } from "./lib/util.mjs";

const USERS = 200;
const SOCKETS_PER_USER = 10;
const ROOMS = 5; // 40 users per room
const ROUNDS = 3;
const ROUND_TIMEOUT_MS = 90_000;

let server;
let admin;
let teacher;
let users = []; // { id, token, roomId }
let rooms = [];
const it = (name, fn) => test(name, withServerLogs(() => server, fn));

async function waitUntil(what, fn, timeout) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function stats() {
  return server.ok("GET", "/chat/ws/stats", admin);
}

/** One round: all sockets at once; resolves with per-socket results. */
async function round(n) {
  const total = USERS * SOCKETS_PER_USER;
  const states = [];
  let acked = 0;
  let joinedEv = 0;
  let connectErrors = 0;
  let done;
  const allDone = new Promise((r) => (done = r));
  const check = () => {
    if (acked === total && joinedEv === total) done();
  };
  const started = performance.now();
  for (const u of users) {
    for (let k = 0; k < SOCKETS_PER_USER; k++) {
      const socket = rawSocket(server, { auth: { token: u.token }, timeout: ROUND_TIMEOUT_MS });
      const st = { user: u, socket, acks: [], joined: [], connectError: null, messages: [], online: new Map() };
      states.push(st);
      socket.on("connect", () => {
        socket.emit("join-chat-rooms", { roomIds: [u.roomId] }, (a) => {
          st.acks.push(a);
          acked += 1;
          check();
        });
      });
      socket.on("chat-rooms-joined", (body) => {
        st.joined.push(body);
        joinedEv += 1;
        check();
      });
      socket.on("new-chat-message", (body) => st.messages.push(body.data));
      socket.on("chat-user-status-update", (body) => {
        if (body.data.status === "online") st.online.set(body.data.userId, (st.online.get(body.data.userId) ?? 0) + 1);
      });
      socket.on("connect_error", (e) => {
        st.connectError = e;
        connectErrors += 1;
      });
    }
  }
  let timer;
  const timeout = new Promise((r) => (timer = setTimeout(() => r("timeout"), ROUND_TIMEOUT_MS)));
  const outcome = await Promise.race([allDone.then(() => "done"), timeout]);
  clearTimeout(timer);
  const ms = Math.round(performance.now() - started);
  return { states, outcome, ms, acked, joinedEv, connectErrors, total, n };
}

function closeRound(r) {
  for (const st of r.states) st.socket.close();
}

describe("connect storm", () => {
  before(async () => {
    // 6,000 connects from one address in a few seconds: the per-address connect budget
    // (burst 5,000, 200/s) is not what this test is about, and a quick machine crossed it.
    server = await startServer({ env: { CLASSCHAT_RATE_CONNECT_PER_SEC_PER_IP: "100000", CLASSCHAT_RATE_CONNECT_BURST_PER_IP: "100000" } });
    admin = server.user(uid("admin"), "admin");
    teacher = server.user(uid("teacher"), "teacher");
    users = Array.from({ length: USERS }, (_, i) => server.user(`storm-${i}-${uid("s")}`));
    for (let r = 0; r < ROOMS; r++) {
      const members = users.slice((r * USERS) / ROOMS, ((r + 1) * USERS) / ROOMS);
      const g = await server.group(teacher, members, `storm room ${r}`);
      rooms.push(g);
      for (const m of members) m.roomId = g.id;
    }
  });
  after(async () => {
    await server?.stop();
  });

  it(`${ROUNDS} rounds of ${USERS * SOCKETS_PER_USER} sockets joining from their connect handler: every join acked and answered`, async (t) => {
    for (let n = 1; n <= ROUNDS; n++) {
      const r = await round(n);
      try {
        const summary = `round ${n}: ${r.outcome} after ${r.ms} ms; acks ${r.acked}/${r.total}, chat-rooms-joined ${r.joinedEv}/${r.total}, connect_error ${r.connectErrors}`;
        t.diagnostic(summary);
        const firstErr = r.states.find((s) => s.connectError)?.connectError;
        assert.equal(r.connectErrors, 0, `${summary}; first: ${firstErr?.message}`);
        const noAck = r.states.filter((s) => s.acks.length === 0).length;
        const noEvent = r.states.filter((s) => s.joined.length === 0).length;
        assert.equal(r.outcome, "done", `${summary}; ${noAck} sockets without ack, ${noEvent} without chat-rooms-joined`);
        const wrong = [];
        for (const s of r.states) {
          const a = s.acks[0];
          const e = s.joined[0];
          if (s.acks.length !== 1 || a?.ok !== true || a.data?.roomIds?.[0] !== s.user.roomId || a.data.roomIds.length !== 1 || a.data.rejected?.length !== 0) {
            wrong.push(`ack ${JSON.stringify(s.acks)}`);
          }
          if (s.joined.length !== 1 || JSON.stringify(e?.data) !== JSON.stringify(a?.data) || typeof e?.timestamp !== "string") {
            wrong.push(`chat-rooms-joined ${JSON.stringify(s.joined)}`);
          }
        }
        assert.deepEqual(wrong.slice(0, 5), [], `${summary}; ${wrong.length} sockets wrong`);

        // However many sockets a contact opened at once, "online" came at most once per contact.
        const dup = [];
        for (const s of r.states) {
          for (const [who, count] of s.online) if (count > 1) dup.push(`${s.user.id} got ${count}x online for ${who}`);
        }
        assert.deepEqual(dup.slice(0, 5), [], `${summary}; ${dup.length} duplicate online announcements`);

        // The joins took effect: one message per room reaches every socket.
        const sent = new Map();
        for (const g of rooms) {
          const m = await server.ok("POST", `/chat/rooms/${g.id}/messages`, teacher, { content: `round ${n}` }, 201);
          sent.set(g.id, m.id);
        }
        const missing = () =>
          r.states.filter((s) => !s.messages.some((m) => m.id === sent.get(s.user.roomId))).length;
        await waitUntil("every socket to receive its room's message", () => missing() === 0, 30_000).catch((e) => {
          throw new Error(`${summary}; ${missing()} sockets did not get their room's message: ${e.message}`);
        });
        const st = await stats();
        assert.equal(st.connections, r.total, `stats: ${JSON.stringify(st)}`);
        assert.equal(st.onlineUsers, USERS);
      } finally {
        closeRound(r);
      }
      // Every socket is gone on the server before the next round.
      await waitUntil(
        "the server to see all sockets closed",
        async () => (await stats()).connections === 0,
        30_000,
      );
      await waitUntil("everyone to be offline", async () => (await stats()).onlineUsers === 0, 30_000);
    }
    assert.ok(server.alive());
    assert.equal(await server.healthz(), 200);
  });
});
