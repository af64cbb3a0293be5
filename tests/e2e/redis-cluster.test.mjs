// Redis Cluster: a master failover in the middle of a run. Three classchat nodes share
// a local Redis Cluster (3 masters, 3 replicas; sharded pub/sub). Messages are sent
// continuously through all three nodes into rooms whose channels hash to different
// masters while the master serving the first room is SIGKILLed; its replica takes over.
// Every acknowledged message reaches every member exactly once and in order (the relay
// heals what the dead master swallowed), and presence and typing work afterwards. The
// contract and chaos tests also run on a Redis Cluster (cluster.test.mjs, chaos.test.mjs).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { ackOk, closeAll, connectUser, join, sleep } from "./lib/client.mjs";
import { startCluster } from "./lib/cluster.mjs";
import { LIFTED_RATES } from "./lib/server.mjs";
import { uid } from "./lib/util.mjs";

const ROOMS = 6;
const MESSAGES = 300;

describe("a Redis Cluster master fails over mid-run", () => {
  let c;
  before(async () => {
    c = await startCluster({ nodes: 3, redisCluster: true, env: { ...LIFTED_RATES, CLASSCHAT_PRESENCE_TTL_SECS: "6" } });
  });
  after(async () => {
    await c?.stop();
  });

  test("every acknowledged message reaches every member exactly once and in order, and presence and typing work after", { timeout: 300_000 }, async () => {
    const [A, B, C] = c.nodes;
    const t = c.user(uid("t"), "teacher");
    const students = [uid("s1"), uid("s2"), uid("s3")].map((id) => c.user(id));
    const members = [t, ...students];
    const homes = [A, B, C, A];
    const clients = [];
    try {
      for (const [i, u] of members.entries()) clients.push(await connectUser(homes[i], u));
      const rooms = [];
      for (let i = 0; i < ROOMS; i++) {
        rooms.push(await A.ok("POST", "/chat/rooms/group", t, { name: `shard ${i}`, memberIds: students.map((s) => s.id) }, 201));
      }
      const masterOf = (room) => c.redis.masterOf(c.redis.slotOf(`{${room.id}}`));
      const spread = new Set(rooms.map(masterOf));
      console.log(`rooms per master: ${JSON.stringify(rooms.map(masterOf))}`);
      assert.ok(spread.size >= 2, "the rooms' channels live on several masters");
      for (const x of clients) await join(x, rooms.map((r) => r.id));

      // Send continuously, round robin over nodes and rooms; retry a refused send with
      // the same clientMessageId. The room's master dies after the first third.
      const acked = new Map(rooms.map((r) => [r.id, []]));
      let failover = null;
      let retries = 0;
      let n = 0;
      for (; n < MESSAGES; n++) {
        if (n === MESSAGES / 3) {
          failover = c.redis.failover(`{${rooms[0].id}}`).then((f) => {
            console.log(`failover: ${JSON.stringify(f)} done before message ${n}`);
            return f;
          });
        }
        const room = rooms[n % ROOMS];
        const node = c.nodes[n % 3];
        for (;;) {
          const r = await node.rest("POST", `/chat/rooms/${room.id}/messages`, t, { content: `m${n}`, clientMessageId: `fo-${n}` });
          if (r.status === 200 || r.status === 201) {
            acked.get(room.id).push(r.body.data);
            break;
          }
          retries += 1;
          await sleep(50);
        }
        await sleep(5);
      }
      const f = await failover;
      assert.notEqual(f.master, f.killed, "a replica took over the room's slot");
      console.log(`sent ${MESSAGES} messages, ${retries} retries`);

      for (const x of clients) {
        for (const room of rooms) {
          const want = acked.get(room.id);
          await x.rec.waitCount("new-chat-message", want.length, (d) => d.roomId === room.id, { timeout: 60_000 });
        }
      }
      await sleep(500);
      for (const [i, x] of clients.entries()) {
        for (const room of rooms) {
          const want = acked.get(room.id).map((m) => m.id);
          const got = x.rec.data("new-chat-message", (d) => d.roomId === room.id).map((d) => d.id);
          assert.deepEqual(got, want, `${members[i].id} got room ${room.name}'s messages exactly once, in order`);
        }
      }

      // Presence and typing after the failover (retried until the new master is in use).
      const [ct, cs1, cs2] = clients;
      await ackOk(cs1.socket, "update-chat-status", { status: "busy" });
      await ct.rec.waitFor("chat-user-status-update", (d) => d.userId === students[0].id && d.status === "busy", { timeout: 15_000 });
      await ackOk(cs2.socket, "chat-typing", { roomId: rooms[0].id, isTyping: true });
      for (const x of [ct, cs1]) {
        await x.rec.waitFor("chat-user-typing", (d) => d.userId === students[1].id && d.isTyping === true, { timeout: 15_000 });
      }
      const admin = c.user(uid("admin"), "admin");
      const stats = await B.ok("GET", "/chat/ws/stats", admin);
      assert.ok(stats.onlineUsers >= 4, `onlineUsers ${stats.onlineUsers}`);
    } finally {
      closeAll(clients);
    }
  });
});
