// Meetings across three classchat nodes sharing Redis and PostgreSQL: participants on
// different nodes see each other, signals find their peer on whatever node it is, the
// participant limit holds cluster-wide, and a participant whose node is SIGKILLed leaves
// within the presence TTL. The kill is the last test: it leaves node 3 dead.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { LIFTED_RATES } from "./lib/server.mjs";
import { ack, ackOk, closeAll, connectUser, isRfc3339, join, sleep } from "./lib/client.mjs";
import { startCluster } from "./lib/cluster.mjs";
import {
  ENDED_FIELDS,
  LEFT_FIELDS,
  MEDIA_FIELDS,
  ackError,
  answer,
  assertAttendance,
  assertEvent,
  assertMeeting,
  assertParticipant,
  assertPastMeeting,
  candidate,
  meetingJoin,
  meetingPath,
  meetingsPath,
  offer,
  peerIds,
  restError,
  startMeeting,
  withLogs, attendanceStints } from "./lib/meeting.mjs";
import { quiet, uid } from "./lib/util.mjs";

const TTL_SECS = 3;
const MAX = 5;

let c;
const clients = [];
const it = (name, fn) => test(name, withLogs(() => c?.nodes, fn));

/** A socket of `user` on `node`. */
async function connect(node, user) {
  const x = await connectUser(node, user);
  x.rec.label = `${user.id}@${node === c.nodes[0] ? "node-1" : node === c.nodes[1] ? "node-2" : "node-3"}`;
  clients.push(x);
  return x;
}

/** A socket of `user` on `node` that joined the room's meeting. */
async function inMeeting(node, user, room, opts = {}) {
  const x = await connect(node, user);
  x.joinAck = await meetingJoin(x, room, opts);
  return x;
}

/** A teacher-owned group room with a teacher member and three students. */
async function classroom() {
  const owner = c.user(uid("owner"), "teacher", "Owner");
  const t = c.user(uid("teach"), "teacher", "Teach");
  const s = c.user(uid("stud"), "student", "Stud");
  const u = c.user(uid("ursula"), "student", "Ursula");
  const w = c.user(uid("walt"), "student", "Walt");
  const room = await c.nodes[0].group(owner, [t, s, u, w]);
  return { owner, t, s, u, w, room };
}

describe("meetings across three nodes", () => {
  before(async () => {
    c = await startCluster({
      nodes: 3,
      env: {
        ...LIFTED_RATES,
        CLASSCHAT_PRESENCE_TTL_SECS: String(TTL_SECS),
        CLASSCHAT_MEETING_MAX_PARTICIPANTS: String(MAX),
      },
    });
  });
  after(async () => {
    closeAll(clients);
    await c?.stop();
    for (const x of clients) assert.deepEqual(x.rec.malformed, [], `${x.rec.label} got event bodies that are not { data, timestamp }`);
  });

  it("participants on different nodes see each other's join, media state and leave; GET …/meeting from any node lists them all", async () => {
    const [A, B, C] = c.nodes;
    const { owner, t, s, u, room } = await classroom();
    const m = await startMeeting(A, t, room, { title: "Cluster class" });
    const ct = await inMeeting(A, t, room, { audio: true });
    const cr = await connect(C, owner); // watches the room from node 3
    await join(cr, [room.id]);
    const cs = await inMeeting(B, s, room);
    const cu = await inMeeting(C, u, room, { video: true });

    assert.deepEqual(cu.joinAck.participants.map((p) => p.peerId).sort(), [ct.peerId, cs.peerId, cu.peerId].sort());
    assertParticipant(cu.joinAck.participants.find((p) => p.peerId === ct.peerId), { userId: t.id, name: "Teach", audio: true, video: false });
    for (const x of [ct, cr]) {
      const ev = await x.rec.waitFor("meeting-participant-joined", (d) => d.participant?.peerId === cs.peerId);
      assertEvent(ev.data, ["roomId", "meetingId", "participant"], { roomId: room.id, meetingId: m.id }, "meeting-participant-joined");
      assertParticipant(ev.data.participant, { userId: s.id, name: "Stud", audio: false, video: false });
    }
    for (const x of [ct, cs, cr]) {
      const ev = await x.rec.waitFor("meeting-participant-joined", (d) => d.participant?.peerId === cu.peerId);
      assertParticipant(ev.data.participant, { userId: u.id, name: "Ursula", audio: false, video: true, screen: false, handRaised: false });
    }
    for (const [i, node] of c.nodes.entries()) {
      const got = await node.ok("GET", meetingPath(room), t, undefined, 200);
      assertMeeting(got, { id: m.id, roomId: room.id, title: "Cluster class", startedBy: t.id, locked: false });
      assert.deepEqual(peerIds(got), [ct.peerId, cs.peerId, cu.peerId].sort(), `GET on node-${i + 1}`);
      assertParticipant(got.participants.find((p) => p.peerId === cu.peerId), { userId: u.id, video: true, audio: false });
    }

    // Media state from node 3 reaches nodes 1 and 2 (and the watcher on node 3).
    await ackOk(cu.socket, "meeting-media-state", { roomId: room.id, audio: true, handRaised: true });
    for (const x of [ct, cs, cr]) {
      const ev = await x.rec.waitFor("meeting-media-state", (d) => d.peerId === cu.peerId);
      assertEvent(
        ev.data,
        MEDIA_FIELDS,
        { roomId: room.id, peerId: cu.peerId, userId: u.id, audio: true, video: true, screen: false, handRaised: true },
        "meeting-media-state",
      );
    }
    const seenOnA = await A.ok("GET", meetingPath(room), s, undefined, 200);
    assertParticipant(seenOnA.participants.find((p) => p.peerId === cu.peerId), { audio: true, video: true, handRaised: true });

    // A leave on node 2 reaches nodes 1 and 3.
    await ackOk(cs.socket, "meeting-leave", { roomId: room.id });
    for (const x of [ct, cu, cr]) {
      const ev = await x.rec.waitFor("meeting-participant-left", (d) => d.peerId === cs.peerId);
      assertEvent(ev.data, LEFT_FIELDS, { roomId: room.id, meetingId: m.id, peerId: cs.peerId, userId: s.id, reason: "left" }, "meeting-participant-left");
    }
    // A disconnect on node 3 reaches nodes 1 and 2 at once.
    cu.socket.close();
    for (const x of [ct, cr]) {
      const ev = await x.rec.waitFor("meeting-participant-left", (d) => d.peerId === cu.peerId, { timeout: 5000 });
      assert.equal(ev.data.reason, "disconnected");
    }
    for (const node of [A, B, C]) {
      assert.deepEqual(peerIds(await node.ok("GET", meetingPath(room), t, undefined, 200)), [ct.peerId]);
    }
    await quiet(800);
    assert.equal(ct.rec.of("meeting-participant-left").length, 2, "one left event per peer");
    assert.deepEqual(cs.rec.data("meeting-participant-left", (d) => d.peerId === cs.peerId), [], "the leaver is not told of itself (\"others get\")");
  });

  it("a signal from node 1 reaches the addressed peer on node 3 only, in order, and the answer comes back", async () => {
    const [A, B, C] = c.nodes; // sender on A, target on C, bystanders on B and C
    const { t, s, u, w, room } = await classroom();
    await startMeeting(A, t, room);
    const ct = await inMeeting(A, t, room);
    const target = await inMeeting(C, s, room);
    const sameUser = await inMeeting(B, s, room); // the target user's other device
    const cu = await inMeeting(B, u, room);
    const cw = await inMeeting(C, w, room); // another peer on the target's node
    const marks = new Map([ct, target, sameUser, cu, cw].map((x) => [x, x.rec.mark()]));

    const o = offer("node1-to-node3");
    await ackOk(ct.socket, "meeting-signal", { roomId: room.id, to: target.peerId, signal: o });
    const ev = await target.rec.waitFor("meeting-signal", (d) => d.signal?.type === "offer");
    assert.deepEqual(ev.data, { roomId: room.id, from: ct.peerId, fromUserId: t.id, signal: o });

    const burst = await Promise.all(
      Array.from({ length: 30 }, (_, i) => ack(ct.socket, "meeting-signal", { roomId: room.id, to: target.peerId, signal: candidate(i) })),
    );
    assert.deepEqual(burst.filter((a) => a?.ok !== true), []);
    const got = await target.rec.waitCount("meeting-signal", 30, (d) => d.signal?.type === "ice-candidate");
    assert.deepEqual(
      got.map((e) => e.data.signal.candidate.candidate.split(" ")[0]),
      Array.from({ length: 30 }, (_, i) => `candidate:${i}`),
      "signals from one socket arrive across nodes in the order sent",
    );

    const an = answer("node3-to-node1");
    await ackOk(target.socket, "meeting-signal", { roomId: room.id, to: ct.peerId, signal: an });
    const back = await ct.rec.waitFor("meeting-signal", (d) => d.from === target.peerId);
    assert.deepEqual(back.data, { roomId: room.id, from: target.peerId, fromUserId: s.id, signal: an });

    await quiet(800);
    const count = (x) => x.rec.since(marks.get(x), "meeting-signal").length;
    assert.equal(count(target), 31);
    assert.equal(count(ct), 1);
    for (const x of [sameUser, cu, cw]) assert.equal(count(x), 0, `${x.rec.label} was not addressed`);

    // A peer on another node that left is not found any more.
    await ackOk(cw.socket, "meeting-leave", { roomId: room.id });
    await ct.rec.waitFor("meeting-participant-left", (d) => d.peerId === cw.peerId);
    await ackError(ct.socket, "meeting-signal", { roomId: room.id, to: cw.peerId, signal: offer("gone") }, "peer_not_found");
  });

  it("starting on three nodes at once gives one meeting (201 once, 200 twice); a DELETE on one node ends it for participants on every node", async () => {
    const [A, B, C] = c.nodes;
    const { owner, t, s, u, w, room } = await classroom();
    const admin = c.user(uid("admin"), "admin", "Admin");
    const cw = await connect(C, w);
    await join(cw, [room.id]);
    const starters = [t, owner, admin];
    const rs = await Promise.all(c.nodes.map((node, i) => node.rest("POST", meetingPath(room), starters[i], { title: `try ${i}` })));
    assert.deepEqual(rs.map((r) => r.status).sort(), [200, 200, 201], JSON.stringify(rs.map((r) => [r.status, r.body])));
    const ids = new Set(rs.map((r) => r.body.data.id));
    assert.equal(ids.size, 1, "one meeting");
    const created = rs.find((r) => r.status === 201).body.data;
    const starter = starters[rs.findIndex((r) => r.status === 201)];
    assertMeeting(created, { roomId: room.id, startedBy: starter.id });
    for (const r of rs) assertMeeting(r.body.data, { id: created.id, startedBy: starter.id, title: created.title });
    await cw.rec.waitFor("meeting-started", (d) => d.meeting?.id === created.id);
    await cw.rec.waitFor("chat-notification", (d) => d.type === "meeting-started");
    await quiet(800);
    assert.equal(cw.rec.of("meeting-started").length, 1, "one meeting-started");
    assert.equal(cw.rec.data("chat-notification", (d) => d.type === "meeting-started").length, 1, "one notification");

    const pa = await inMeeting(A, s, room);
    const pb = await inMeeting(B, u, room);
    const pc = await inMeeting(C, t, room);
    await restError(B, "DELETE", meetingPath(room), s, undefined, 403, "forbidden");
    const r = await B.rest("DELETE", meetingPath(room), starter);
    assert.equal(r.status, 200, `${r.status} ${JSON.stringify(r.body)}`);
    assert.deepEqual(r.body.data, { roomId: room.id, meetingId: created.id, endedBy: starter.id, reason: "ended" });
    for (const x of [pa, pb, pc, cw]) {
      const ev = await x.rec.waitFor("meeting-ended", (d) => d.meetingId === created.id);
      assertEvent(ev.data, ENDED_FIELDS, { roomId: room.id, meetingId: created.id, endedBy: starter.id, reason: "ended" }, "meeting-ended");
    }
    for (const node of [A, B, C]) await restError(node, "GET", meetingPath(room), t, undefined, 404, "no_meeting");
    await quiet(800);
    for (const x of [pa, pb, pc]) assert.equal(x.rec.of("meeting-participant-left").length, 0, `${x.rec.label}: only meeting-ended`);
  });

  it("host actions cross nodes: mute and remove reach a peer on node 3, lock on node 1 refuses a join on node 2 until unlock", async () => {
    const [A, B, C] = c.nodes; // the host on A
    const { t, s, u, w, room } = await classroom();
    await startMeeting(A, t, room);
    const ct = await inMeeting(A, t, room);
    const cs = await inMeeting(C, s, room, { audio: true });
    const cu = await inMeeting(B, u, room);

    await ackOk(ct.socket, "meeting-host-action", { roomId: room.id, action: "mute", peerId: cs.peerId });
    const mute = await cs.rec.waitFor("meeting-host-action", (d) => d.action === "mute");
    assertEvent(mute.data, ["roomId", "action", "by"], { roomId: room.id, action: "mute", by: t.id }, "meeting-host-action");

    await ackOk(cu.socket, "meeting-media-state", { roomId: room.id, handRaised: true });
    await ct.rec.waitFor("meeting-media-state", (d) => d.peerId === cu.peerId && d.handRaised === true);
    await ackOk(ct.socket, "meeting-host-action", { roomId: room.id, action: "lower-hand", peerId: cu.peerId });
    await cu.rec.waitFor("meeting-host-action", (d) => d.action === "lower-hand" && d.by === t.id);
    await cs.rec.waitFor("meeting-media-state", (d) => d.peerId === cu.peerId && d.handRaised === false);
    assertParticipant((await C.ok("GET", meetingPath(room), t, undefined, 200)).participants.find((p) => p.peerId === cu.peerId), { handRaised: false });

    await ackOk(ct.socket, "meeting-host-action", { roomId: room.id, action: "remove", peerId: cs.peerId });
    await cs.rec.waitFor("meeting-host-action", (d) => d.action === "remove" && d.by === t.id);
    const left = await cu.rec.waitFor("meeting-participant-left", (d) => d.peerId === cs.peerId);
    assertEvent(left.data, LEFT_FIELDS, { roomId: room.id, peerId: cs.peerId, userId: s.id, reason: "removed" }, "meeting-participant-left");
    assert.deepEqual(peerIds(await B.ok("GET", meetingPath(room), t, undefined, 200)), [ct.peerId, cu.peerId].sort());
    await ackError(cs.socket, "meeting-signal", { roomId: room.id, to: ct.peerId, signal: offer("x") }, "not_in_meeting");

    await ackOk(ct.socket, "meeting-host-action", { roomId: room.id, action: "lock" });
    for (const x of [cs, cu]) await x.rec.waitFor("meeting-host-action", (d) => d.action === "lock" && d.by === t.id);
    assertMeeting(await C.ok("GET", meetingPath(room), u, undefined, 200), { locked: true });
    const cw = await connect(B, w);
    await ackError(cw.socket, "meeting-join", { roomId: room.id }, "meeting_locked");
    await ackError(cs.socket, "meeting-join", { roomId: room.id }, "meeting_locked");
    await ackOk(ct.socket, "meeting-host-action", { roomId: room.id, action: "unlock" });
    await cu.rec.waitFor("meeting-host-action", (d) => d.action === "unlock");
    assertMeeting(await B.ok("GET", meetingPath(room), u, undefined, 200), { locked: false });
    await meetingJoin(cw, room);
    await ct.rec.waitFor("meeting-participant-joined", (d) => d.participant.peerId === cw.peerId);
  });

  it(`meeting_full holds across nodes: sockets on three nodes joining at once never exceed CLASSCHAT_MEETING_MAX_PARTICIPANTS=${MAX}`, async () => {
    const { owner, t, s, u, w, room } = await classroom();
    await startMeeting(c.nodes[0], t, room);
    const users = [owner, t, s, u, w, s, u, w, t];
    const racers = [];
    for (const [i, user] of users.entries()) racers.push(await connect(c.nodes[i % 3], user));
    const round = async (sockets) => {
      const acks = await Promise.all(sockets.map((x) => ack(x.socket, "meeting-join", { roomId: room.id })));
      for (const [i, a] of acks.entries()) if (a?.ok) sockets[i].peerId = a.data.peerId;
      return acks;
    };
    const acks = await round(racers);
    const codes = acks.map((a) => (a?.ok ? "ok" : a?.error?.code));
    assert.equal(codes.filter((x) => x === "ok").length, MAX, `first round: ${codes.join(", ")}`);
    assert.deepEqual([...new Set(codes.filter((x) => x !== "ok"))], ["meeting_full"]);
    const inside = racers.filter((_, i) => acks[i]?.ok);
    const outside = racers.filter((_, i) => !acks[i]?.ok);
    for (const node of c.nodes) {
      assert.deepEqual(peerIds(await node.ok("GET", meetingPath(room), t, undefined, 200)), inside.map((x) => x.peerId).sort());
    }
    // Two leave; the four outside race for the two places.
    for (const x of inside.slice(0, 2)) await ackOk(x.socket, "meeting-leave", { roomId: room.id });
    const acks2 = await round(outside);
    const codes2 = acks2.map((a) => (a?.ok ? "ok" : a?.error?.code));
    assert.equal(codes2.filter((x) => x === "ok").length, 2, `second round: ${codes2.join(", ")}`);
    assert.deepEqual([...new Set(codes2.filter((x) => x !== "ok"))], ["meeting_full"]);
    const now = await c.nodes[2].ok("GET", meetingPath(room), t, undefined, 200);
    assert.equal(now.participants.length, MAX);
  });

  it("attendance across nodes: a leave on node 1 and a rejoin on node 2 make one line counting both stints; devices on two nodes count once", async () => {
    const [A, B, C] = c.nodes;
    const { owner, t, s, u, room } = await classroom();
    const m = await startMeeting(C, t, room);
    const ct = await inMeeting(C, t, room);
    const sA = await connect(A, s);
    const sB = await connect(B, s);
    const uA = await connect(A, u);
    const uB = await connect(B, u);
    await attendanceStints(room, [sA, sB], [uA, uB]);
    await A.ok("DELETE", meetingPath(room), t, undefined, 200);
    await ct.rec.waitFor("meeting-ended", (d) => d.meetingId === m.id);

    for (const node of [A, B]) {
      const [past] = await node.ok("GET", meetingsPath(room), owner, undefined, 200);
      assertPastMeeting(past, { id: m.id, startedBy: t.id, endedBy: t.id, endReason: "ended" });
      assert.deepEqual(past.attendance.map((a) => a.userId).sort(), [t.id, s.id, u.id].sort());
      const ls = assertAttendance(past.attendance.find((a) => a.userId === s.id), { name: "Stud" });
      const span = (Date.parse(ls.leftAt) - Date.parse(ls.joinedAt)) / 1000;
      assert.ok(span >= 5.5, `first join on node 1 to last leave on node 2: ${span} s`);
      assert.ok(ls.seconds >= 3 && ls.seconds <= 5, `two ~2 s stints on two nodes: ${ls.seconds}`);
      const lu = assertAttendance(past.attendance.find((a) => a.userId === u.id), { name: "Ursula" });
      assert.ok(lu.seconds >= 2 && lu.seconds <= 4, `two devices on two nodes overlapping count once (~3 s): ${lu.seconds}`);
    }
    const mine = await B.ok("GET", meetingsPath(room), u, undefined, 200);
    assert.deepEqual(mine[0].attendance.map((a) => a.userId), [u.id]);
  });

  // Last: it leaves node 3 dead.
  it(`a participant's node SIGKILLed: the others get meeting-participant-left reason disconnected within the presence TTL (${TTL_SECS} s), GET stops listing its peers, attendance closes its line`, async () => {
    const [A, B, C] = c.nodes;
    const { t, s, u, w, room } = await classroom();
    const m = await startMeeting(A, t, room);
    const ct = await inMeeting(A, t, room);
    const cs = await inMeeting(B, s, room);
    const cu = await inMeeting(C, u, room); // only on node 3
    const wC = await inMeeting(C, w, room); // w has a device on node 3 …
    const wA = await inMeeting(A, w, room); // … and one on node 1
    for (const x of [ct, cs]) await x.rec.waitFor("meeting-participant-joined", (d) => d.participant.peerId === wA.peerId);
    await sleep(1500);

    const killedAt = Date.now();
    const killedPerf = performance.now();
    C.proc.kill("SIGKILL");
    await C.exited;
    const took = {};
    for (const x of [ct, cs, wA]) {
      for (const gone of [cu, wC]) {
        const ev = await x.rec.waitFor("meeting-participant-left", (d) => d.peerId === gone.peerId, { timeout: TTL_SECS * 1000 + 10_000 });
        assertEvent(
          ev.data,
          LEFT_FIELDS,
          { roomId: room.id, meetingId: m.id, peerId: gone.peerId, userId: gone.user.id, reason: "disconnected" },
          "meeting-participant-left",
        );
        took[`${x.rec.label} told of ${gone.rec.label}`] = Math.round(ev.at - killedPerf);
      }
    }
    const sweptAt = Date.now();
    console.log(`told of the dead node's peers (ms after SIGKILL, TTL ${TTL_SECS} s): ${JSON.stringify(took)}`);
    for (const [k, ms] of Object.entries(took)) assert.ok(ms <= TTL_SECS * 1000 + 1500, `${k} after ${ms} ms`);

    for (const node of [A, B]) {
      const got = await node.ok("GET", meetingPath(room), t, undefined, 200);
      assert.deepEqual(peerIds(got), [ct.peerId, cs.peerId, wA.peerId].sort(), "the dead node's peers are gone, w's other device stays");
    }
    await ackError(ct.socket, "meeting-signal", { roomId: room.id, to: cu.peerId, signal: offer("dead") }, "peer_not_found");
    await quiet(800);
    for (const x of [ct, cs]) {
      assert.equal(x.rec.of("meeting-participant-left", (d) => d.peerId === wA.peerId).length, 0, "w's device on node 1 did not leave");
      assert.equal(x.rec.of("meeting-participant-left", (d) => d.peerId === cu.peerId).length, 1, "told once");
    }
    // Signals still flow between the survivors.
    await ackOk(cs.socket, "meeting-signal", { roomId: room.id, to: wA.peerId, signal: offer("survivors") });
    await wA.rec.waitFor("meeting-signal", (d) => d.from === cs.peerId);

    await B.ok("DELETE", meetingPath(room), t, undefined, 200);
    for (const x of [ct, cs, wA]) await x.rec.waitFor("meeting-ended", (d) => d.meetingId === m.id);
    const [past] = await A.ok("GET", meetingsPath(room), t, undefined, 200);
    assertPastMeeting(past, { id: m.id, endReason: "ended" });
    assert.deepEqual(past.attendance.map((a) => a.userId).sort(), [t.id, s.id, u.id, w.id].sort());
    const lu = assertAttendance(past.attendance.find((a) => a.userId === u.id));
    assert.ok(isRfc3339(lu.leftAt), "the dead node's participant has a leftAt");
    const leftMs = Date.parse(lu.leftAt);
    assert.ok(
      leftMs >= killedAt - TTL_SECS * 1000 - 1000 && leftMs <= sweptAt + 1000,
      `leftAt ${lu.leftAt} lies between the kill (${new Date(killedAt).toISOString()}) and the sweep`,
    );
    assert.ok(lu.seconds >= 1, `u was in ~1.5 s before the kill: ${lu.seconds}`);
    const lw = assertAttendance(past.attendance.find((a) => a.userId === w.id));
    assert.ok(Date.parse(lw.leftAt) >= sweptAt - 1000, "w stayed in on node 1 until the end");
  });
});
