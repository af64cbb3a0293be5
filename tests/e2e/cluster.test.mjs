// Cluster mode: three classchat nodes sharing one Redis and one PostgreSQL behave as one
// server. Clients on different nodes see each other's events; presence is cluster-wide;
// a node only receives the Redis traffic of rooms its own sockets are in. Every test runs
// on one Redis and on a Redis Cluster (sharded pub/sub).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { ackOk, closeAll, connectUser, join, sleep } from "./lib/client.mjs";
import { metric, REDIS_SETUPS, startCluster } from "./lib/cluster.mjs";
import { quiet, uid } from "./lib/util.mjs";

for (const setup of REDIS_SETUPS) {
  const start = (opts) => startCluster({ ...opts, redisCluster: setup.redisCluster });

  describe(`three nodes behave as one server, on ${setup.name}`, () => {
    let c;
    before(async () => {
      c = await start({ nodes: 3 });
    });
    after(async () => {
      await c?.stop();
    });

    test("every contract event crosses nodes", async () => {
      const [A, B, C] = c.nodes;
      const alice = c.user(uid("alice"), "teacher");
      const bob = c.user(uid("bob"), "student");
      const carol = c.user(uid("carol"), "student");
      const dave = c.user(uid("dave"), "student");
      const clients = [];
      try {
        // Everyone is known (first authenticated call) and connected to a different node.
        const ca = await connectUser(A, alice);
        const cb = await connectUser(B, bob);
        const cc = await connectUser(C, carol);
        const cd = await connectUser(C, dave);
        clients.push(ca, cb, cc, cd);

        // group-invite crosses from A (REST) to B and C.
        const room = await A.ok("POST", "/chat/rooms/group", alice, { name: "Physics", memberIds: [bob.id, carol.id] }, 201);
        for (const x of [cb, cc]) await x.rec.waitFor("chat-notification", (d) => d.type === "group-invite" && d.room.id === room.id);
        // A second shared room, so status updates must still arrive once per contact.
        const room2 = await B.ok("POST", "/chat/rooms/group", alice, { name: "Chemistry", memberIds: [bob.id, carol.id] }, 201);
        for (const x of [ca, cb, cc]) await join(x, [room.id, room2.id]);

        // REST send on A reaches sockets on B and C (and A).
        await A.ok("POST", `/chat/rooms/${room.id}/messages`, alice, { content: "hello all" }, 201);
        for (const x of [ca, cb, cc]) await x.rec.waitFor("new-chat-message", (d) => d.content === "hello all");

        // A socket send on C reaches A and B.
        const sent = await ackOk(cc.socket, "send-chat-message", { roomId: room.id, content: "from C" });
        for (const x of [ca, cb]) await x.rec.waitFor("new-chat-message", (d) => d.id === sent.id);

        // Typing on B reaches A and C, not B's own socket; the auto-stop crosses too.
        const mark = cb.rec.mark();
        await ackOk(cb.socket, "chat-typing", { roomId: room.id, isTyping: true });
        for (const x of [ca, cc]) await x.rec.waitFor("chat-user-typing", (d) => d.userId === bob.id && d.isTyping === true);
        for (const x of [ca, cc]) {
          await x.rec.waitFor("chat-user-typing", (d) => d.userId === bob.id && d.isTyping === false, { timeout: 6000 });
        }
        assert.equal(cb.rec.since(mark, "chat-user-typing").length, 0);

        // Seen on A reaches B and C.
        await ackOk(ca.socket, "mark-messages-seen", { roomId: room.id, upToSeq: 2 });
        for (const x of [cb, cc]) await x.rec.waitFor("messages-seen", (d) => d.userId === alice.id && d.upToSeq === 2);

        // A teacher on A deletes a student's message; B and C are told.
        await A.ok("DELETE", `/chat/rooms/${room.id}/messages/${sent.id}`, alice);
        for (const x of [cb, cc]) await x.rec.waitFor("chat-message-deleted", (d) => d.messageId === sent.id && d.deletedBy === alice.id);

        // Status on B reaches each contact on A and C exactly once, though they share two rooms.
        const before = { a: ca.rec.mark(), c: cc.rec.mark() };
        await ackOk(cb.socket, "update-chat-status", { status: "busy" });
        await ca.rec.waitFor("chat-user-status-update", (d) => d.userId === bob.id && d.status === "busy");
        await cc.rec.waitFor("chat-user-status-update", (d) => d.userId === bob.id && d.status === "busy");
        await quiet();
        for (const [x, m] of [[ca, before.a], [cc, before.c]]) {
          const got = x.rec.since(m, "chat-user-status-update").filter((e) => e.data.userId === bob.id);
          assert.equal(got.length, 1, "one status update per contact");
        }

        // Mention from B reaches carol on C.
        await ackOk(cb.socket, "send-chat-message", { roomId: room.id, content: "@carol look", mentions: [carol.id] });
        await cc.rec.waitFor("chat-notification", (d) => d.type === "mention" && d.message.content === "@carol look");

        // new-chat: alice on A opens a 1:1 with dave on C; member-added when dave joins the group.
        await A.ok("POST", "/chat/rooms/personal", alice, { userId: dave.id }, 201);
        await cd.rec.waitFor("chat-notification", (d) => d.type === "new-chat");
        await A.ok("POST", `/chat/rooms/${room.id}/members`, alice, { userIds: [dave.id] });
        await cd.rec.waitFor("chat-notification", (d) => d.type === "group-invite" && d.room.id === room.id);
        for (const x of [cb, cc]) {
          await x.rec.waitFor("chat-notification", (d) => d.type === "member-added" && d.userIds.includes(dave.id));
        }

        // Online users of the room, asked on C, include everyone connected anywhere.
        const online = await ackOk(cc.socket, "get-room-online-users", { roomId: room.id });
        const ids = online.users.map((u) => u.userId).sort();
        assert.deepEqual(ids, [alice.id, bob.id, carol.id, dave.id].sort());
        assert.equal(online.users.find((u) => u.userId === bob.id).status, "busy");

        // Removing carol (REST on A) cuts off her socket on C at once.
        await A.ok("DELETE", `/chat/rooms/${room.id}/members/${carol.id}`, alice);
        const cut = cc.rec.mark();
        await A.ok("POST", `/chat/rooms/${room.id}/messages`, alice, { content: "after carol left" }, 201);
        await cb.rec.waitFor("new-chat-message", (d) => d.content === "after carol left");
        await quiet();
        assert.equal(cc.rec.since(cut, "new-chat-message").length, 0);

        // Cluster stats from any node list all three nodes and add them up.
        const admin = c.user(uid("admin"), "admin");
        await sleep(1200); // one heartbeat
        const stats = await B.ok("GET", "/chat/ws/stats", admin);
        assert.equal(stats.nodes.length, 3);
        assert.deepEqual(stats.nodes.map((n) => n.nodeId).sort(), ["node-1", "node-2", "node-3"]);
        assert.equal(stats.connections, 4);
        assert.ok(stats.onlineUsers >= 4);
      } finally {
        closeAll(clients);
      }
    });

    test("the same user on two nodes stays online until both sockets close", async () => {
      const [A, B, C] = c.nodes;
      const eve = c.user(uid("eve"));
      const frank = c.user(uid("frank"));
      await A.ok("POST", "/chat/rooms/personal", frank, { userId: eve.id }, 201);
      const cf = await connectUser(C, frank);
      try {
        const e1 = await connectUser(A, eve);
        await cf.rec.waitFor("chat-user-status-update", (d) => d.userId === eve.id && d.status === "online");
        const e2 = await connectUser(B, eve);
        e1.socket.close();
        await quiet(800);
        assert.equal((await C.ok("GET", `/chat/users/${eve.id}/status`, frank)).status, "online");
        assert.equal(cf.rec.data("chat-user-status-update", (d) => d.userId === eve.id && d.status === "offline").length, 0);
        e2.socket.close();
        const off = await cf.rec.waitFor("chat-user-status-update", (d) => d.userId === eve.id && d.status === "offline");
        assert.ok(off.data.lastSeen);
        await quiet();
        assert.equal(cf.rec.data("chat-user-status-update", (d) => d.userId === eve.id && d.status === "offline").length, 1);
      } finally {
        cf.socket.close();
      }
    });

    test("a node with no sockets in a room receives none of its traffic", async () => {
      const [A, B, C] = c.nodes;
      const t = c.user(uid("teacher"), "teacher");
      const s = c.user(uid("student"));
      const room = await A.ok("POST", "/chat/rooms/group", t, { name: "Quiet", memberIds: [s.id] }, 201);
      const ca = await connectUser(A, t);
      const cb = await connectUser(B, s);
      try {
        await join(ca, [room.id]);
        await join(cb, [room.id]);
        const sample = 'classchat_backplane_received_total{kind="room"}';
        const before = await Promise.all([A, B, C].map((n) => metric(n, sample)));
        for (let i = 0; i < 20; i++) await C.ok("POST", `/chat/rooms/${room.id}/messages`, t, { content: `m${i}` }, 201);
        await cb.rec.waitCount("new-chat-message", 20, (d) => d.roomId === room.id);
        await ca.rec.waitCount("new-chat-message", 20, (d) => d.roomId === room.id);
        const afterN = await Promise.all([A, B, C].map((n) => metric(n, sample)));
        const got = afterN.map((v, i) => v - before[i]);
        console.log(`room messages received per node for 20 sends (A, B in the room; C not): ${got.join(", ")}`);
        assert.equal(got[0], 20);
        assert.equal(got[1], 20);
        assert.equal(got[2], 0, "node C holds no socket in the room and must receive nothing of it");
      } finally {
        closeAll([ca, cb]);
      }
    });
  });

  describe(`interest routing in a room-heavy run, on ${setup.name}`, () => {
    test("each node receives exactly the room traffic of the rooms its sockets are in", async () => {
      // One teacher sends every message: lift the per-user send rate limit.
      const c = await start({ nodes: 3, env: { CLASSCHAT_RATE_SEND_PER_SEC: "100000", CLASSCHAT_RATE_SEND_BURST: "100000" } });
      const clients = [];
      try {
        const t = c.user(uid("t"), "teacher");
        const rooms = 30;
        const perRoom = 10;
        // Rooms 0-9 have sockets on nodes 1 and 2, rooms 10-19 on node 1 only, rooms 20-29 on node 3 only.
        const placement = Array.from({ length: rooms }, (_, i) => (i < 10 ? [0, 1] : i < 20 ? [0] : [2]));
        const ids = [];
        for (let i = 0; i < rooms; i++) {
          const members = placement[i].map((n) => c.user(uid(`r${i}n${n}`)));
          const room = await c.nodes[0].ok("POST", "/chat/rooms/group", t, { name: `room ${i}`, memberIds: members.map((m) => m.id) }, 201);
          ids.push(room.id);
          for (const [k, n] of placement[i].entries()) {
            const x = await connectUser(c.nodes[n], members[k]);
            await join(x, [room.id]);
            clients.push(x);
          }
        }
        const sample = 'classchat_backplane_received_total{kind="room"}';
        const before = await Promise.all(c.nodes.map((n) => metric(n, sample)));
        for (let i = 0; i < rooms; i++) {
          for (let m = 0; m < perRoom; m++) {
            await c.nodes[(i + m) % 3].ok("POST", `/chat/rooms/${ids[i]}/messages`, t, { content: `r${i} m${m}` }, 201);
          }
        }
        for (const x of clients) await x.rec.waitCount("new-chat-message", perRoom);
        const got = (await Promise.all(c.nodes.map((n) => metric(n, sample)))).map((v, i) => v - before[i]);
        const expected = [0, 1, 2].map((n) => placement.filter((p) => p.includes(n)).length * perRoom);
        const total = rooms * perRoom;
        console.log(`room-heavy run: ${rooms} rooms x ${perRoom} messages = ${total} room broadcasts`);
        for (const n of [0, 1, 2]) {
          const inRooms = placement.filter((p) => p.includes(n)).length;
          console.log(`  node-${n + 1}: sockets in ${inRooms} rooms, received ${got[n]} room messages (broadcast-to-all would be ${total})`);
        }
        assert.deepEqual(got, expected);
      } finally {
        closeAll(clients);
        await c.stop();
      }
    });
  });

  describe(`faults, on ${setup.name}`, () => {
    test("a node killed with SIGKILL: its users go offline within the TTL and the others keep serving", async () => {
      const c = await start({ nodes: 3, env: { CLASSCHAT_PRESENCE_TTL_SECS: "6" } });
      try {
        const [A, B, C] = c.nodes;
        const ann = c.user(uid("ann"));
        const ben = c.user(uid("ben"));
        const room = await A.ok("POST", "/chat/rooms/personal", ann, { userId: ben.id }, 201);
        const ca = await connectUser(A, ann);
        const cc = await connectUser(C, ben);
        await ca.rec.waitFor("chat-user-status-update", (d) => d.userId === ben.id && d.status === "online");
        const killedAt = Date.now();
        C.proc.kill("SIGKILL");
        const off = await ca.rec.waitFor("chat-user-status-update", (d) => d.userId === ben.id && d.status === "offline", {
          timeout: 15_000,
        });
        const took = Date.now() - killedAt;
        console.log(`ben went offline ${took} ms after his node was killed (TTL 6 s)`);
        assert.ok(took <= 6000 + 1500, `offline after ${took} ms`);
        assert.ok(off.data.lastSeen);
        await quiet(2500);
        assert.equal(ca.rec.data("chat-user-status-update", (d) => d.userId === ben.id && d.status === "offline").length, 1);
        // The others keep serving.
        await join(ca, [room.id]);
        const cb = await connectUser(B, ben);
        await join(cb, [room.id]);
        await B.ok("POST", `/chat/rooms/${room.id}/messages`, ben, { content: "still here" }, 201);
        await ca.rec.waitFor("new-chat-message", (d) => d.content === "still here");
        closeAll([ca, cb, cc]);
      } finally {
        await c.stop();
      }
    });

    test("after a Redis restart delivery resumes without restarting any node", async () => {
      const c = await start({ nodes: 2 });
      try {
        const [A, B] = c.nodes;
        const t = c.user(uid("t"), "teacher");
        const s = c.user(uid("s"));
        const room = await A.ok("POST", "/chat/rooms/group", t, { name: "R", memberIds: [s.id] }, 201);
        const ca = await connectUser(A, t);
        const cb = await connectUser(B, s);
        await join(ca, [room.id]);
        await join(cb, [room.id]);
        await A.ok("POST", `/chat/rooms/${room.id}/messages`, t, { content: "before" }, 201);
        await cb.rec.waitFor("new-chat-message", (d) => d.content === "before");
        // On a Redis Cluster: the room's master fails over and comes back as a replica.
        await c.redis.restart(1000, `{${room.id}}`);
        // Keep sending until messages flow again; they must within 15 s.
        const deadline = Date.now() + 15_000;
        let n = 0;
        for (;;) {
          n += 1;
          await A.ok("POST", `/chat/rooms/${room.id}/messages`, t, { content: `after ${n}` }, 201);
          try {
            await cb.rec.waitFor("new-chat-message", (d) => d.content === `after ${n}`, { timeout: 500 });
            break;
          } catch (e) {
            if (Date.now() > deadline) throw e;
          }
        }
        // And the other way round: each node re-subscribes on its own reconnect, so retry
        // until node A's subscription is back too (within the same deadline).
        for (;;) {
          await ackOk(cb.socket, "chat-typing", { roomId: room.id, isTyping: true });
          try {
            await ca.rec.waitFor("chat-user-typing", (d) => d.userId === s.id && d.isTyping, { timeout: 500 });
            break;
          } catch (e) {
            if (Date.now() > deadline) throw e;
          }
        }
        assert.ok(A.alive() && B.alive());
        closeAll([ca, cb]);
      } finally {
        await c.stop();
      }
    });
  });

  describe(`behind the load balancer, on ${setup.name}`, () => {
    for (const transports of [["polling"], ["websocket"]]) {
      test(`messages flow between clients on different nodes over ${transports[0]}`, async () => {
        const c = await start({ nodes: 3, lb: true });
        try {
          const lb = { socketUrl: c.lb.socketUrl };
          const t = c.user(uid("t"), "teacher");
          const students = Array.from({ length: 5 }, () => c.user(uid("s")));
          const room = await c.nodes[0].ok("POST", "/chat/rooms/group", t, { name: "LB", memberIds: students.map((s) => s.id) }, 201);
          // withCredentials lets socket.io-client keep HAProxy's stickiness cookie in Node.
          const opts = { transports, withCredentials: true, upgrade: false };
          const clients = [];
          for (const u of [t, ...students]) clients.push(await connectUser(lb, u, opts));
          for (const x of clients) await join(x, [room.id]);
          const perNode = await Promise.all(c.nodes.map((n) => metric(n, "classchat_socket_connections")));
          console.log(`${transports[0]}: sockets per node through the load balancer: ${perNode.join(", ")}`);
          assert.ok(perNode.filter((v) => v > 0).length >= 2, "clients landed on several nodes");
          for (const [i, x] of clients.entries()) {
            await ackOk(x.socket, "send-chat-message", { roomId: room.id, content: `hi ${i}` });
          }
          for (const x of clients) await x.rec.waitCount("new-chat-message", clients.length, (d) => d.roomId === room.id);
          for (const x of clients) assert.equal(x.socket.io.engine.transport.name, transports[0]);
          closeAll(clients);
        } finally {
          await c.stop();
        }
      });
    }
  });
}
