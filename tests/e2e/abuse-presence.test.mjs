// Issue 11 #2 and #10 against a running node: status changes are rate-limited and
// coalesced (a user in many rooms cannot flood their contacts or the node's memory), and
// room online-user queries are rate-limited and cached.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { startServer, withServerLogs } from "./lib/server.mjs";
import { ack, ackOk, clientPool, closeAll, sleep } from "./lib/client.mjs";
import { uid } from "./lib/util.mjs";

let server;
const { clients, connect } = clientPool(() => server);
const it = (name, fn) => test(name, withServerLogs(() => server, fn));

function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : 0;
}

const ROOMS = 300;
const BURST = 10;

before(async () => {
  server = await startServer({
    env: {
      CLASSCHAT_RATE_STATUS_BURST: String(BURST),
      CLASSCHAT_RATE_STATUS_PER_SEC: "1",
      // This set-up makes many rooms quickly, legitimately.
      CLASSCHAT_RATE_ROOM_CREATE_PER_SEC: "1000",
      CLASSCHAT_RATE_ROOM_CREATE_BURST: "1000",
      CLASSCHAT_RATE_ONLINE_USERS_BURST: "5",
      CLASSCHAT_RATE_ONLINE_USERS_PER_SEC: "1",
    },
  });
});

after(async () => {
  closeAll(clients);
  await server?.stop();
});

describe("status changes (issue 11 #2)", () => {
  it("a user in many rooms changing status fast is refused past the burst, and contacts get each state once and the final one", async () => {
    const t = server.user(uid("teacher"), "teacher");
    const a = server.user(uid("flapper"));
    const b = server.user(uid("friend"));
    for (let i = 0; i < ROOMS; i += 25) {
      await Promise.all(
        Array.from({ length: Math.min(25, ROOMS - i) }, () => server.group(t, [a, b])),
      );
    }
    const cb = await connect(b);
    const ca = await connect(a);
    await cb.rec.waitFor("chat-user-status-update", (d) => d.userId === a.id && d.status === "online");
    await sleep(300);
    const mark = cb.rec.mark();
    const rssBefore = rssKiB(server.proc.pid);

    const statuses = ["away", "busy", "online"];
    const acks = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        ack(ca.socket, "update-chat-status", { status: statuses[i % 3] }),
      ),
    );
    const accepted = acks.filter((x) => x.ok === true);
    const refused = acks.filter((x) => x.ok === false);
    assert.ok(accepted.length <= BURST + 3, `${accepted.length} changes accepted, burst is ${BURST}`);
    assert.ok(refused.length >= 200 - BURST - 3);
    for (const r of refused) {
      assert.equal(r.error.code, "rate_limited", JSON.stringify(r));
      assert.ok(r.error.retryAfter >= 1);
    }
    // REST shares the bucket.
    const rest = await server.rest("PUT", "/chat/status", a, { status: "away" });
    assert.equal(rest.status, 429, JSON.stringify(rest.body));
    assert.ok(Number(rest.headers.get("retry-after")) >= 1);

    // Events for socket acks come in order: the last accepted is the final state.
    const last = accepted[accepted.length - 1].data.status;
    const started = performance.now();
    await cb.rec.waitFor(
      "chat-user-status-update",
      (d) => d.userId === a.id && d.status === last,
      { from: mark, timeout: 10_000 },
    );
    await sleep(1000);
    const got = cb.rec.since(mark, "chat-user-status-update").filter((e) => e.data.userId === a.id);
    // Once per change at most, however many rooms are shared (300 here).
    assert.ok(got.length >= 1 && got.length <= accepted.length, `friend got ${got.length} updates for ${accepted.length} changes`);
    assert.equal(got[got.length - 1].data.status, last);
    assert.ok(performance.now() - started < 10_000);
    const grown = rssKiB(server.proc.pid) - rssBefore;
    assert.ok(grown < 100 * 1024, `RSS grew by ${grown} KiB`);
  });
});

describe("room online users (issue 11 #10)", () => {
  it("get-room-online-users is rate-limited per user past its burst", async () => {
    const t = server.user(uid("teacher"), "teacher");
    const a = server.user(uid("asker"));
    const g = await server.group(t, [a]);
    const ca = await connect(a);
    const acks = await Promise.all(
      Array.from({ length: 30 }, () => ack(ca.socket, "get-room-online-users", { roomId: g.id })),
    );
    const ok = acks.filter((x) => x.ok === true);
    const refused = acks.filter((x) => x.ok === false);
    assert.ok(ok.length >= 1 && ok.length <= 7, `${ok.length} answered`);
    for (const r of refused) assert.equal(r.error.code, "rate_limited");
    assert.ok(ok[0].data.users.some((u) => u.userId === a.id));
  });
});

describe("1:1 rooms (issue 11 #7)", () => {
  it("after a block the other user's socket is out of the room: their sends are refused, the blocker's messages and presence no longer reach them, and they cannot reopen it", async () => {
    const a = server.user(uid("opener"));
    const b = server.user(uid("target"));
    const room = await server.ok("POST", "/chat/rooms/personal", a, { userId: b.id }, 201);
    const ca = await connect(a);
    const cb = await connect(b);
    await ackOk(ca.socket, "join-chat-rooms", { roomIds: [room.id] });
    await ackOk(cb.socket, "join-chat-rooms", { roomIds: [room.id] });
    await ackOk(cb.socket, "send-chat-message", { roomId: room.id, content: "before" });
    await ca.rec.waitFor("new-chat-message", (d) => d.content === "before");

    const blocked = await server.ok("POST", `/chat/rooms/${room.id}/block`, b, {}, 200);
    assert.deepEqual(blocked, { roomId: room.id, blocked: true });
    const mark = ca.rec.mark();
    const send = await ack(ca.socket, "send-chat-message", { roomId: room.id, content: "let me in" });
    assert.equal(send.ok, false);
    assert.equal(send.error.code, "room_not_found");
    await ackOk(cb.socket, "send-chat-message", { roomId: room.id, content: "after" });
    await ackOk(cb.socket, "update-chat-status", { status: "busy" });
    await sleep(600);
    assert.deepEqual(
      ca.rec.since(mark).filter((e) => e.event === "new-chat-message" || (e.event === "chat-user-status-update" && e.data.userId === b.id)),
      [],
    );
    const again = await server.rest("POST", "/chat/rooms/personal", a, { userId: b.id });
    assert.equal(again.status, 403, JSON.stringify(again.body));
    assert.equal(again.body.error.code, "blocked");
    const st = await server.rest("GET", `/chat/users/${b.id}/status`, a);
    assert.equal(st.status, 403);
  });
});
