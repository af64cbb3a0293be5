// Meetings on one node, with the real socket.io-client: every REST endpoint and event
// of the contract's "Meetings" section, its permission rows, and the server choices
// docs/MEETINGS.md records (error codes, ack data, limits, attendance, ICE servers).
//
// Two servers: `server` with the defaults (meetings never end by themselves during a
// test), and `limited` with CLASSCHAT_MEETING_MAX_PARTICIPANTS=2,
// CLASSCHAT_MEETING_EMPTY_SECS=2 and STUN/TURN configured.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { LIFTED_RATES, startServer } from "./lib/server.mjs";
import { ack, ackOk, clientPool, closeAll, isRfc3339, join, sleep } from "./lib/client.mjs";
import {
  ENDED_FIELDS,
  ICE_PATH,
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
  checklist,
  meetingJoin,
  meetingPath,
  meetingsPath,
  offer,
  peerIds,
  restError,
  startMeeting,
  turnCredential,
  withLogs, attendanceStints } from "./lib/meeting.mjs";
import { quiet, uid } from "./lib/util.mjs";

let server;
let limited;
const main = clientPool(() => server);
const lim = clientPool(() => limited);
const it = (name, fn) => test(name, withLogs(() => [server, limited], fn));

const TURN = {
  secret: "e2e-turn-secret-0123456789abcdef",
  ttl: 600,
  stun: ["stun:stun1.example.org:3478", "stun:stun2.example.org:3478"],
  turn: ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349?transport=tcp"],
};

/** A socket of `user` that joined `room`'s chat events (not the meeting). */
async function inRoom(pool, user, room) {
  const c = await pool.connect(user);
  await join(c, [room.id]);
  return c;
}

/** A socket of `user` that joined the room's meeting; `c.peerId` is its peer. */
async function inMeeting(pool, user, room, opts = {}) {
  const c = await pool.connect(user);
  c.joinAck = await meetingJoin(c, room, opts);
  return c;
}

/** A teacher-owned group room with a teacher member, two students and the users' handles. */
async function classroom(srv = server) {
  const owner = srv.user(uid("owner"), "teacher", "Owner");
  const t = srv.user(uid("teach"), "teacher", "Teach");
  const s = srv.user(uid("stud"), "student", "Stud");
  const s2 = srv.user(uid("stud2"), "student", "Stud Two");
  const room = await srv.group(owner, [t, s, s2]);
  return { owner, t, s, s2, room };
}

before(async () => {
  server = await startServer({ env: { ...LIFTED_RATES } });
  limited = await startServer({
    env: {
      ...LIFTED_RATES,
      CLASSCHAT_MEETING_MAX_PARTICIPANTS: "2",
      CLASSCHAT_MEETING_EMPTY_SECS: "2",
      CLASSCHAT_STUN_URLS: TURN.stun.join(","),
      CLASSCHAT_TURN_URLS: TURN.turn.join(","),
      CLASSCHAT_TURN_SECRET: TURN.secret,
      CLASSCHAT_TURN_TTL: String(TURN.ttl),
    },
  });
});

after(async () => {
  const all = [...main.clients, ...lim.clients];
  closeAll(all);
  await Promise.all([server?.stop(), limited?.stop()]);
  for (const c of all) assert.deepEqual(c.rec.malformed, [], `${c.rec.label} got event bodies that are not { data, timestamp }`);
});

describe("meetings over REST", () => {
  it("POST …/meeting: a teacher member starts one (201), a second POST returns it (200); members get chat-notification meeting-started and sockets in the room get meeting-started, once", async () => {
    const { owner, t, s, s2, room } = await classroom();
    const cs = await main.connect(s); // private channel only
    const cs2 = await inRoom(main, s2, room);
    const r = await server.rest("POST", meetingPath(room), t, { title: "Physics" });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const m = assertMeeting(r.body.data, { roomId: room.id, title: "Physics", startedBy: t.id, locked: false });
    assert.deepEqual(m.participants, []);
    assert.ok(Math.abs(Date.parse(m.startedAt) - Date.now()) < 60_000, `startedAt ${m.startedAt} is not now`);

    for (const c of [cs, cs2]) {
      const n = await c.rec.waitFor("chat-notification", (d) => d.type === "meeting-started");
      assert.equal(n.data.room?.id, room.id, `chat-notification meeting-started names the room: ${JSON.stringify(n.data)}`);
      assert.equal(n.data.meeting?.id, m.id, `chat-notification meeting-started carries the meeting: ${JSON.stringify(n.data)}`);
    }
    const ev = await cs2.rec.waitFor("meeting-started", (d) => d.roomId === room.id);
    assert.equal(ev.data.roomId, room.id);
    assertMeeting(ev.data.meeting, { id: m.id, roomId: room.id, title: "Physics", startedBy: t.id, locked: false });

    // The running one again, from the owner, whatever title it asks for.
    const again = await server.rest("POST", meetingPath(room), owner, { title: "Other" });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assertMeeting(again.body.data, { id: m.id, title: "Physics", startedBy: t.id });
    const got = await server.ok("GET", meetingPath(room), s, undefined, 200);
    assertMeeting(got, { id: m.id, roomId: room.id, title: "Physics", startedBy: t.id, startedAt: m.startedAt, locked: false });

    await quiet();
    assert.equal(cs.rec.of("meeting-started").length, 0, "a socket that is not in the room gets no meeting-started");
    assert.equal(cs2.rec.of("meeting-started").length, 1, "meeting-started once: the 200 restart broadcasts nothing");
    for (const c of [cs, cs2]) {
      assert.equal(c.rec.data("chat-notification", (d) => d.type === "meeting-started").length, 1, `${c.rec.label}: one notification`);
    }
  });

  it("POST …/meeting permission rows: a student in a group room gets 403, a non-member 404, an admin from outside and a student who became the room's owner may start", async () => {
    const { owner, s, room } = await classroom();
    await restError(server, "POST", meetingPath(room), s, {}, 403, "forbidden");
    await restError(server, "GET", meetingPath(room), s, undefined, 404, "no_meeting");
    const outsider = server.user(uid("outsider"), "teacher");
    await restError(server, "POST", meetingPath(room), outsider, {}, 404, "room_not_found");
    await restError(server, "POST", meetingPath("no-such-room-" + uid()), owner, {}, 404, "room_not_found");
    const admin = server.user(uid("admin"), "admin", "Admin");
    const r = await server.rest("POST", meetingPath(room), admin, {});
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assertMeeting(r.body.data, { roomId: room.id, startedBy: admin.id });

    // The owner leaves a room whose only other member is a student: the student owns it now.
    const heir = server.user(uid("heir"));
    const g2 = await server.group(owner, [heir]);
    await server.ok("DELETE", `/chat/rooms/${g2.id}/members/${owner.id}`, owner, undefined, 200);
    const detail = await server.ok("GET", `/chat/rooms/${g2.id}`, heir, undefined, 200);
    assert.equal(detail.members.find((x) => x.userId === heir.id)?.roomRole, "owner");
    const r2 = await server.rest("POST", meetingPath(g2), heir, { title: "study group" });
    assert.equal(r2.status, 201, `a student who owns the room may start: ${JSON.stringify(r2.body)}`);
    assertMeeting(r2.body.data, { roomId: g2.id, startedBy: heir.id, title: "study group" });
  });

  it("POST …/meeting in a 1:1 room: either member starts it (201, then 200 for the other); a non-member gets 404", async () => {
    const a = server.user(uid("a"), "student", "Ann");
    const b = server.user(uid("b"), "student", "Ben");
    const x = server.user(uid("x"), "teacher");
    const room = await server.ok("POST", "/chat/rooms/personal", a, { userId: b.id }, 201);
    const ca = await main.connect(a);
    const r = await server.rest("POST", meetingPath(room), b, {});
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const m = assertMeeting(r.body.data, { roomId: room.id, startedBy: b.id, locked: false });
    const n = await ca.rec.waitFor("chat-notification", (d) => d.type === "meeting-started");
    assert.equal(n.data.room?.id, room.id);
    const again = await server.rest("POST", meetingPath(room), a, {});
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.data.id, m.id);
    await restError(server, "POST", meetingPath(room), x, {}, 404, "room_not_found");
    await restError(server, "GET", meetingPath(room), x, undefined, 404, "room_not_found");
    // And the other member of another 1:1 room starts that one.
    const room2 = await server.ok("POST", "/chat/rooms/personal", a, { userId: x.id }, 201);
    const r2 = await server.rest("POST", meetingPath(room2), a, { title: "catch-up" });
    assert.equal(r2.status, 201, JSON.stringify(r2.body));
    assertMeeting(r2.body.data, { roomId: room2.id, startedBy: a.id, title: "catch-up" });
    assert.notEqual(r2.body.data.id, m.id);
  });

  it("POST …/meeting titles: trimmed, blank means none, at most 200 characters (400 invalid_payload past it); the body is optional", async () => {
    const { t, room } = await classroom();
    await restError(server, "POST", meetingPath(room), t, { title: "x".repeat(201) }, 400, "invalid_payload");
    await restError(server, "GET", meetingPath(room), t, undefined, 404, "no_meeting");
    const titles = [
      ["  Physics  ", "Physics"],
      ["   ", null],
      ["é".repeat(200), "é".repeat(200)],
    ];
    for (const [title, want] of titles) {
      const m = await startMeeting(server, t, room, { title });
      assert.equal(m.title, want, `title ${JSON.stringify(title)}`);
      assert.equal((await server.ok("GET", meetingPath(room), t, undefined, 200)).title, want);
      await server.ok("DELETE", meetingPath(room), t, undefined, 200);
    }
    const r = await server.rest("POST", meetingPath(room), t);
    assert.equal(r.status, 201, `POST without a body: ${r.status} ${JSON.stringify(r.body)}`);
    assertMeeting(r.body.data, { roomId: room.id, title: null, startedBy: t.id });
  });

  it("GET …/meeting lists the participants with their media state; 404 no_meeting without one; 404 room_not_found for non-members; admins see any room", async () => {
    const { t, s, s2, room } = await classroom();
    await restError(server, "GET", meetingPath(room), t, undefined, 404, "no_meeting");
    const m = await startMeeting(server, t, room, { title: "Maths" });
    const ct = await inMeeting(main, t, room, { audio: true, video: false });
    const cs = await inMeeting(main, s, room); // flags left out: false
    const got = await server.ok("GET", meetingPath(room), s2, undefined, 200);
    assertMeeting(got, { id: m.id, roomId: room.id, title: "Maths", startedBy: t.id, locked: false });
    assert.deepEqual(peerIds(got), [ct.peerId, cs.peerId].sort());
    assertParticipant(got.participants.find((p) => p.peerId === ct.peerId), {
      userId: t.id,
      name: "Teach",
      audio: true,
      video: false,
      screen: false,
      handRaised: false,
    });
    assertParticipant(got.participants.find((p) => p.peerId === cs.peerId), {
      userId: s.id,
      name: "Stud",
      audio: false,
      video: false,
      screen: false,
      handRaised: false,
    });
    // The ack's participants say the same.
    assert.deepEqual(
      cs.joinAck.participants.map((p) => p.peerId).sort(),
      [ct.peerId, cs.peerId].sort(),
    );
    assert.equal(cs.joinAck.meetingId, m.id);
    const outsider = server.user(uid("outsider"));
    await restError(server, "GET", meetingPath(room), outsider, undefined, 404, "room_not_found");
    const admin = server.user(uid("admin"), "admin");
    const seen = await server.ok("GET", meetingPath(room), admin, undefined, 200);
    assert.equal(seen.id, m.id);
    const noToken = await server.rest("GET", meetingPath(room), null);
    assert.equal(noToken.status, 401);
  });

  it("DELETE …/meeting: students and non-host teachers get 403; the starter, the room owner and an admin end it and everyone gets meeting-ended reason ended", async () => {
    const { owner, t, s, s2, room } = await classroom();
    const other = server.user(uid("teach2"), "teacher");
    await server.ok("POST", `/chat/rooms/${room.id}/members`, owner, { userIds: [other.id] }, 200);
    const admin = server.user(uid("admin"), "admin", "Admin");
    await restError(server, "DELETE", meetingPath(room), t, undefined, 404, "no_meeting");

    for (const ender of [t, owner, admin]) {
      const m = await startMeeting(server, t, room);
      const ct = await inMeeting(main, t, room);
      const cs = await inMeeting(main, s, room);
      const cr = await inRoom(main, s2, room); // in the room, not in the meeting
      await restError(server, "DELETE", meetingPath(room), s, undefined, 403, "forbidden");
      await restError(server, "DELETE", meetingPath(room), other, undefined, 403, "forbidden");
      const r = await server.rest("DELETE", meetingPath(room), ender);
      assert.equal(r.status, 200, `DELETE by ${ender.role} ${ender.id}: ${r.status} ${JSON.stringify(r.body)}`);
      assert.deepEqual(r.body.data, { roomId: room.id, meetingId: m.id, endedBy: ender.id, reason: "ended" });
      for (const c of [ct, cs, cr]) {
        const ev = await c.rec.waitFor("meeting-ended", (d) => d.meetingId === m.id);
        assertEvent(ev.data, ENDED_FIELDS, { roomId: room.id, meetingId: m.id, endedBy: ender.id, reason: "ended" }, "meeting-ended");
      }
      await restError(server, "GET", meetingPath(room), s, undefined, 404, "no_meeting");
      await quiet();
      for (const c of [ct, cs, cr]) {
        assert.equal(c.rec.of("meeting-participant-left").length, 0, `${c.rec.label}: an end sends meeting-ended only`);
        assert.equal(c.rec.of("meeting-ended").length, 1, `${c.rec.label}: one meeting-ended`);
      }
      // The peers are gone with it.
      const late = await ack(cs.socket, "meeting-signal", { roomId: room.id, to: ct.peerId, signal: offer("late") });
      assert.equal(late?.ok, false, `a signal after the end: ${JSON.stringify(late)}`);
      assert.ok(["no_meeting", "not_in_meeting"].includes(late.error?.code), `a signal after the end: ${JSON.stringify(late)}`);
      closeAll([ct, cs, cr]);
    }

    // 1:1: the member who did not start it is not a host.
    const a = server.user(uid("a"));
    const b = server.user(uid("b"));
    const p = await server.ok("POST", "/chat/rooms/personal", a, { userId: b.id }, 201);
    const pm = await startMeeting(server, a, p);
    const cb = await inRoom(main, b, p);
    await restError(server, "DELETE", meetingPath(p), b, undefined, 403, "forbidden");
    await server.ok("DELETE", meetingPath(p), a, undefined, 200);
    const ev = await cb.rec.waitFor("meeting-ended", (d) => d.meetingId === pm.id);
    assertEvent(ev.data, ENDED_FIELDS, { roomId: p.id, endedBy: a.id, reason: "ended" }, "meeting-ended");
  });

  it("GET …/meetings: past and running meetings newest first, attendance one line per user across rejoins and devices; students see only their own line", async () => {
    const { owner, t, s, s2, room } = await classroom();
    // An earlier meeting, ended at once: the older page.
    const first = await startMeeting(server, t, room, { title: "first" });
    await server.ok("DELETE", meetingPath(room), t, undefined, 200);

    const m = await startMeeting(server, t, room, { title: "second" });
    const ct = await inMeeting(main, t, room);
    // s: two stints of ~2 s with a ~2 s gap. s2: two devices overlapping, ~3 s in all.
    const t0 = Date.now();
    const sA = await main.connect(s);
    const s2a = await main.connect(s2);
    const s2b = await main.connect(s2);
    await attendanceStints(room, [sA, sA], [s2a, s2b]);
    const span = Date.now() - t0;

    // While it runs: listed first, endedAt null, the teacher still in (leftAt null).
    const running = await server.rest("GET", meetingsPath(room), t);
    assert.equal(running.status, 200, JSON.stringify(running.body));
    assert.ok("nextCursor" in running.body, "a list answers nextCursor");
    assertPastMeeting(running.body.data[0], { id: m.id, roomId: room.id, title: "second", startedBy: t.id, endedAt: null });
    assertAttendance(
      running.body.data[0].attendance.find((a) => a.userId === t.id),
      { userId: t.id, name: "Teach", leftAt: null },
    );

    await server.ok("DELETE", meetingPath(room), t, undefined, 200);
    await ct.rec.waitFor("meeting-ended", (d) => d.meetingId === m.id);

    const list = await server.rest("GET", meetingsPath(room), t);
    assert.equal(list.status, 200, JSON.stringify(list.body));
    const [latest, older] = list.body.data;
    assert.equal(list.body.data.length, 2);
    assertPastMeeting(latest, { id: m.id, title: "second", startedBy: t.id, endedBy: t.id, endReason: "ended" });
    assert.ok(isRfc3339(latest.endedAt));
    assertPastMeeting(older, { id: first.id, title: "first", endedBy: t.id, endReason: "ended", attendance: [] });
    assert.deepEqual(latest.attendance.map((a) => a.userId).sort(), [t.id, s.id, s2.id].sort(), "one line per user");

    const lineS = assertAttendance(latest.attendance.find((a) => a.userId === s.id), { name: "Stud" });
    assert.ok(lineS.leftAt !== null);
    const spanS = (Date.parse(lineS.leftAt) - Date.parse(lineS.joinedAt)) / 1000;
    console.log(`attendance: s ${JSON.stringify(lineS)} (span ${spanS} s); test span ${span} ms`);
    assert.ok(spanS >= 5.5, `joinedAt is the first join and leftAt the last leave (span ${spanS} s)`);
    assert.ok(lineS.seconds >= 3 && lineS.seconds <= 5, `two ~2 s stints count ~4 s, not the gap: ${lineS.seconds}`);

    const lineS2 = assertAttendance(latest.attendance.find((a) => a.userId === s2.id), { name: "Stud Two" });
    assert.ok(lineS2.seconds >= 2 && lineS2.seconds <= 4, `two devices overlapping count once (~3 s): ${lineS2.seconds}`);

    const lineT = assertAttendance(latest.attendance.find((a) => a.userId === t.id));
    assert.ok(lineT.leftAt !== null, "the meeting's end closes the line of those still in");
    assert.ok(lineT.seconds >= lineS.seconds, `the teacher was in all along: ${lineT.seconds}`);

    // A student sees the meetings with only their own line; the owner and teachers see all.
    const mine = await server.ok("GET", meetingsPath(room), s, undefined, 200);
    assert.equal(mine.length, 2);
    assert.deepEqual(mine[0].attendance.map((a) => a.userId), [s.id]);
    assert.equal(mine[0].attendance[0].seconds, lineS.seconds);
    assert.deepEqual(mine[1].attendance, []);
    const byOwner = await server.ok("GET", meetingsPath(room), owner, undefined, 200);
    assert.equal(byOwner[0].attendance.length, 3);

    // Paging: newest first, one per page.
    const p1 = await server.rest("GET", meetingsPath(room, "?limit=1"), t);
    assert.equal(p1.status, 200);
    assert.deepEqual(p1.body.data.map((x) => x.id), [m.id]);
    assert.equal(typeof p1.body.nextCursor, "string");
    const p2 = await server.rest("GET", meetingsPath(room, `?limit=1&cursor=${encodeURIComponent(p1.body.nextCursor)}`), t);
    assert.equal(p2.status, 200, JSON.stringify(p2.body));
    assert.deepEqual(p2.body.data.map((x) => x.id), [first.id]);
    if (p2.body.nextCursor !== null) {
      const p3 = await server.ok("GET", meetingsPath(room, `?limit=1&cursor=${encodeURIComponent(p2.body.nextCursor)}`), t, undefined, 200);
      assert.deepEqual(p3, []);
    }
    const outsider = server.user(uid("outsider"), "teacher");
    await restError(server, "GET", meetingsPath(room), outsider, undefined, 404, "room_not_found");
  });

  it("GET /chat/meetings/ice-servers with nothing configured answers an empty list", async () => {
    const u = server.user(uid("u"));
    const r = await server.rest("GET", ICE_PATH, u);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.data.iceServers, []);
    assert.equal(typeof r.body.data.ttl, "number");
    assert.equal((await server.rest("GET", ICE_PATH, null)).status, 401);
  });
});

describe("meeting events on one node", () => {
  it("meeting-join: the ack has meetingId, peerId, participants with self and iceServers; others get meeting-participant-joined; a repeated join keeps the peer", async () => {
    const { t, s, s2, room } = await classroom();
    const m = await startMeeting(server, t, room);
    const ct = await inMeeting(main, t, room, { audio: true });
    assert.equal(ct.joinAck.meetingId, m.id);
    assert.deepEqual(ct.joinAck.iceServers, []);
    assert.equal(ct.joinAck.participants.length, 1);
    assertParticipant(ct.joinAck.participants[0], { peerId: ct.peerId, userId: t.id, name: "Teach", audio: true, video: false });
    const cr = await inRoom(main, s2, room); // watches the room

    const cs = await main.connect(s);
    const ackS = await meetingJoin(cs, room, { audio: true, video: true });
    assert.notEqual(cs.peerId, cs.socket.id, "peerId is not the Socket.IO id");
    assert.notEqual(cs.peerId, ct.peerId);
    assert.deepEqual(ackS.participants.map((p) => p.peerId).sort(), [ct.peerId, cs.peerId].sort());
    assertParticipant(ackS.participants.find((p) => p.peerId === cs.peerId), {
      userId: s.id,
      name: "Stud",
      audio: true,
      video: true,
      screen: false,
      handRaised: false,
    });
    for (const c of [ct, cr]) {
      const ev = await c.rec.waitFor("meeting-participant-joined", (d) => d.participant?.peerId === cs.peerId);
      assertEvent(ev.data, ["roomId", "meetingId", "participant"], { roomId: room.id, meetingId: m.id }, "meeting-participant-joined");
      assertParticipant(ev.data.participant, { peerId: cs.peerId, userId: s.id, name: "Stud", audio: true, video: true, screen: false, handRaised: false });
    }
    // Joining again from the same socket answers the same peer and tells nobody.
    const again = await ackOk(cs.socket, "meeting-join", { roomId: room.id });
    assert.equal(again.peerId, cs.peerId);
    const got = await server.ok("GET", meetingPath(room), t, undefined, 200);
    assert.deepEqual(peerIds(got), [ct.peerId, cs.peerId].sort());

    // meeting-join joined the chat room too: s's socket (never joined) gets its messages.
    const msg = await server.ok("POST", `/chat/rooms/${room.id}/messages`, t, { content: "welcome to the call" }, 201);
    await cs.rec.waitFor("new-chat-message", (d) => d.id === msg.id);
    await quiet();
    assert.equal(cs.rec.of("meeting-participant-joined", (d) => d.participant?.peerId === cs.peerId).length, 0, "the joiner is not told of itself");
    for (const c of [ct, cr]) assert.equal(c.rec.of("meeting-participant-joined", (d) => d.participant?.peerId === cs.peerId).length, 1);
  });

  it("meeting-join refusals: no_meeting without a running meeting, room_not_found for non-members; an admin joins any room", async () => {
    const { t, s, room } = await classroom();
    const cs = await main.connect(s);
    await ackError(cs.socket, "meeting-join", { roomId: room.id }, "no_meeting");
    const m = await startMeeting(server, t, room);
    const outsider = server.user(uid("outsider"), "teacher");
    const co = await main.connect(outsider);
    await ackError(co.socket, "meeting-join", { roomId: room.id }, "room_not_found");
    await ackError(co.socket, "meeting-join", { roomId: "no-such-room-" + uid() }, "room_not_found");
    const admin = server.user(uid("admin"), "admin", "Admin");
    const ca = await inMeeting(main, admin, room);
    assert.equal(ca.joinAck.meetingId, m.id);
    assert.ok(co.socket.connected && cs.socket.connected, "refusals keep the connection");
  });

  it("two devices of one user are two peers", async () => {
    const { t, s, room } = await classroom();
    await startMeeting(server, t, room);
    const ct = await inMeeting(main, t, room);
    const d1 = await inMeeting(main, s, room);
    const d2 = await inMeeting(main, s, room);
    assert.notEqual(d1.peerId, d2.peerId);
    const got = await server.ok("GET", meetingPath(room), t, undefined, 200);
    assert.equal(got.participants.filter((p) => p.userId === s.id).length, 2);
    assert.deepEqual(peerIds(got), [ct.peerId, d1.peerId, d2.peerId].sort());
    await ct.rec.waitFor("meeting-participant-joined", (d) => d.participant.peerId === d1.peerId);
    await ct.rec.waitFor("meeting-participant-joined", (d) => d.participant.peerId === d2.peerId);
    // The first device is another peer to the second: it is told.
    const ev = await d1.rec.waitFor("meeting-participant-joined", (d) => d.participant.peerId === d2.peerId);
    assert.equal(ev.data.participant.userId, s.id);
    // One device leaves; the other stays in.
    await ackOk(d1.socket, "meeting-leave", { roomId: room.id });
    const left = await ct.rec.waitFor("meeting-participant-left", (d) => d.peerId === d1.peerId);
    assert.equal(left.data.userId, s.id);
    const after1 = await server.ok("GET", meetingPath(room), t, undefined, 200);
    assert.deepEqual(peerIds(after1), [ct.peerId, d2.peerId].sort());
  });

  it("meeting-leave tells the others reason left and keeps the chat room; a socket that disconnects leaves at once with reason disconnected", async () => {
    const { t, s, s2, room } = await classroom();
    const m = await startMeeting(server, t, room);
    const ct = await inMeeting(main, t, room);
    const cs = await inMeeting(main, s, room);
    const cs2 = await inMeeting(main, s2, room);
    const admin = server.user(uid("admin"), "admin");
    const cr = await inRoom(main, admin, room);

    const lack = await ack(cs.socket, "meeting-leave", { roomId: room.id });
    assert.equal(lack?.ok, true, JSON.stringify(lack));
    assert.deepEqual(lack.data, { roomId: room.id, meetingId: m.id, peerId: cs.peerId }, "meeting-leave ack");
    for (const c of [ct, cs2, cr]) {
      const ev = await c.rec.waitFor("meeting-participant-left", (d) => d.peerId === cs.peerId);
      assertEvent(ev.data, LEFT_FIELDS, { roomId: room.id, meetingId: m.id, peerId: cs.peerId, userId: s.id, reason: "left" }, "meeting-participant-left");
    }
    await ackError(cs.socket, "meeting-leave", { roomId: room.id }, "not_in_meeting");
    // Still in the chat room.
    const msg = await server.ok("POST", `/chat/rooms/${room.id}/messages`, t, { content: "still here?" }, 201);
    await cs.rec.waitFor("new-chat-message", (d) => d.id === msg.id);
    const soft = checklist();
    await soft.check(() =>
      assert.deepEqual(cs.rec.data("meeting-participant-left", (d) => d.peerId === cs.peerId), [], "the leaver is not told of itself (\"others get\")"),
    );

    // Disconnect: gone at once.
    const closedAt = Date.now();
    cs2.socket.close();
    for (const c of [ct, cr]) {
      const ev = await c.rec.waitFor("meeting-participant-left", (d) => d.peerId === cs2.peerId, { timeout: 5000 });
      assertEvent(ev.data, LEFT_FIELDS, { roomId: room.id, meetingId: m.id, peerId: cs2.peerId, userId: s2.id, reason: "disconnected" }, "meeting-participant-left");
    }
    console.log(`participant-left (disconnected) ${Date.now() - closedAt} ms after the socket closed`);
    const got = await server.ok("GET", meetingPath(room), t, undefined, 200);
    assert.deepEqual(peerIds(got), [ct.peerId]);
    await quiet();
    for (const c of [ct, cr]) {
      assert.equal(c.rec.of("meeting-participant-left", (d) => d.peerId === cs2.peerId).length, 1, "told once");
    }
    soft.done();
  });

  it("a member removed from the room, or leaving it, leaves its meeting at once with reason removed and is no longer a peer", async () => {
    const { owner, t, s, s2, room } = await classroom();
    const m = await startMeeting(server, t, room);
    const ct = await inMeeting(main, t, room);
    const cs = await inMeeting(main, s, room);
    const cs2 = await inMeeting(main, s2, room);
    await server.ok("DELETE", `/chat/rooms/${room.id}/members/${s.id}`, owner, undefined, 200);
    for (const c of [ct, cs2]) {
      const ev = await c.rec.waitFor("meeting-participant-left", (d) => d.peerId === cs.peerId);
      assertEvent(ev.data, LEFT_FIELDS, { roomId: room.id, meetingId: m.id, peerId: cs.peerId, userId: s.id, reason: "removed" }, "meeting-participant-left");
    }
    assert.deepEqual(peerIds(await server.ok("GET", meetingPath(room), t, undefined, 200)), [ct.peerId, cs2.peerId].sort());
    await ackError(ct.socket, "meeting-signal", { roomId: room.id, to: cs.peerId, signal: offer("gone") }, "peer_not_found");
    await ackError(cs.socket, "meeting-join", { roomId: room.id }, "room_not_found");
    // Leaving the room oneself does the same.
    await server.ok("DELETE", `/chat/rooms/${room.id}/members/${s2.id}`, s2, undefined, 200);
    const ev = await ct.rec.waitFor("meeting-participant-left", (d) => d.peerId === cs2.peerId);
    assert.equal(ev.data.reason, "removed");
    assert.deepEqual(peerIds(await server.ok("GET", meetingPath(room), t, undefined, 200)), [ct.peerId]);
  });

  it("meeting-signal goes to the addressed peer only, as { roomId, from, fromUserId, signal } untouched", async () => {
    const { t, s, s2, room } = await classroom();
    await startMeeting(server, t, room);
    const ct = await inMeeting(main, t, room);
    const sA = await inMeeting(main, s, room);
    const sB = await inMeeting(main, s, room); // the same user's other device
    const cu = await inMeeting(main, s2, room);
    const admin = server.user(uid("admin"), "admin");
    const cr = await inRoom(main, admin, room);
    const marks = new Map([ct, sA, sB, cu, cr].map((c) => [c, c.rec.mark()]));

    const o = offer("t-to-sA");
    const sent = await ack(ct.socket, "meeting-signal", { roomId: room.id, to: sA.peerId, signal: o });
    assert.equal(sent?.ok, true, JSON.stringify(sent));
    assert.deepEqual(sent.data, { roomId: room.id, to: sA.peerId }, "meeting-signal ack");
    const ev = await sA.rec.waitFor("meeting-signal", (d) => d.from === ct.peerId);
    assert.deepEqual(ev.data, { roomId: room.id, from: ct.peerId, fromUserId: t.id, signal: o });

    const an = answer("sA-to-t");
    await ackOk(sA.socket, "meeting-signal", { roomId: room.id, to: ct.peerId, signal: an });
    const back = await ct.rec.waitFor("meeting-signal", (d) => d.from === sA.peerId);
    assert.deepEqual(back.data, { roomId: room.id, from: sA.peerId, fromUserId: s.id, signal: an });

    const ice = candidate(7);
    await ackOk(cu.socket, "meeting-signal", { roomId: room.id, to: sB.peerId, signal: ice });
    const got = await sB.rec.waitFor("meeting-signal", (d) => d.from === cu.peerId);
    assert.deepEqual(got.data, { roomId: room.id, from: cu.peerId, fromUserId: s2.id, signal: ice });

    await quiet();
    const count = (c) => c.rec.since(marks.get(c), "meeting-signal").length;
    assert.equal(count(sA), 1, "sA: only the offer addressed to it");
    assert.equal(count(sB), 1, "sB: only the candidate addressed to it, not sA's offer");
    assert.equal(count(ct), 1, "t: only the answer");
    assert.equal(count(cu), 0, "a participant nobody addressed gets nothing");
    assert.equal(count(cr), 0, "a room socket outside the meeting gets nothing");
  });

  it("a burst of 50 meeting-signal events arrives in the order sent", async () => {
    const { t, s, room } = await classroom();
    await startMeeting(server, t, room);
    const ct = await inMeeting(main, t, room);
    const cs = await inMeeting(main, s, room);
    const acks = [];
    for (let i = 0; i < 50; i++) acks.push(ack(ct.socket, "meeting-signal", { roomId: room.id, to: cs.peerId, signal: candidate(i) }));
    const answered = await Promise.all(acks);
    assert.deepEqual(answered.filter((a) => a?.ok !== true), [], "every signal of the burst is accepted");
    const got = await cs.rec.waitCount("meeting-signal", 50);
    assert.deepEqual(
      got.map((e) => e.data.signal.candidate.candidate.split(" ")[0]),
      Array.from({ length: 50 }, (_, i) => `candidate:${i}`),
    );
    await quiet();
    assert.equal(cs.rec.of("meeting-signal").length, 50);
  });

  it("meeting-signal refusals: peer_not_found, payload_too_large over 64 KiB, invalid_payload, not_in_meeting, room_not_found; the connection stays up", async () => {
    const { t, s, s2, room } = await classroom();
    await startMeeting(server, t, room);
    const ct = await inMeeting(main, t, room);
    const cs = await inMeeting(main, s, room);
    const cw = await inRoom(main, s2, room); // member, not a participant

    await ackError(ct.socket, "meeting-signal", { roomId: room.id, to: "no-such-peer", signal: offer("x") }, "peer_not_found");
    // A peer of another room's meeting is not in this one.
    const other = await classroom();
    await startMeeting(server, other.t, other.room);
    const elsewhere = await inMeeting(main, other.t, other.room);
    await ackError(ct.socket, "meeting-signal", { roomId: room.id, to: elsewhere.peerId, signal: offer("x") }, "peer_not_found");

    // Size: just under 64 KiB passes intact, over it is refused.
    const big = { type: "offer", sdp: "a".repeat(60_000) };
    await ackOk(ct.socket, "meeting-signal", { roomId: room.id, to: cs.peerId, signal: big });
    const ev = await cs.rec.waitFor("meeting-signal", (d) => d.signal?.sdp?.length === 60_000);
    assert.deepEqual(ev.data.signal, big);
    await ackError(ct.socket, "meeting-signal", { roomId: room.id, to: cs.peerId, signal: { type: "offer", sdp: "b".repeat(70_000) } }, "payload_too_large");

    const soft = checklist();
    await soft.check(() => ackError(ct.socket, "meeting-signal", { roomId: room.id, to: cs.peerId, signal: { type: "renegotiate", sdp: "x" } }, "invalid_payload"));
    await soft.check(() => ackError(ct.socket, "meeting-signal", { roomId: room.id, to: cs.peerId }, "invalid_payload"));

    await ackError(cw.socket, "meeting-signal", { roomId: room.id, to: ct.peerId, signal: offer("x") }, "not_in_meeting");
    await ackError(cw.socket, "meeting-media-state", { roomId: room.id, audio: true }, "not_in_meeting");
    await ackError(cw.socket, "meeting-leave", { roomId: room.id }, "not_in_meeting");
    // Non-members: room_not_found for every event (MEETINGS.md, "Who may do what").
    const outsider = server.user(uid("outsider"));
    const co = await main.connect(outsider);
    for (const [event, payload] of [
      ["meeting-signal", { roomId: room.id, to: ct.peerId, signal: offer("x") }],
      ["meeting-leave", { roomId: room.id }],
      ["meeting-media-state", { roomId: room.id, audio: true }],
      ["meeting-host-action", { roomId: room.id, action: "lock" }],
      ["meeting-signal", { roomId: "no-such-room-" + uid(), to: ct.peerId, signal: offer("x") }],
    ]) {
      await soft.check(() => ackError(co.socket, event, payload, "room_not_found"));
    }

    // A peer that left is not found any more.
    await ackOk(cs.socket, "meeting-leave", { roomId: room.id });
    await ackError(ct.socket, "meeting-signal", { roomId: room.id, to: cs.peerId, signal: offer("gone") }, "peer_not_found");

    await quiet();
    assert.equal(cs.rec.of("meeting-signal").length, 1, "only the accepted signal was relayed");
    for (const c of [ct, cw, co]) assert.ok(c.socket.connected, `${c.rec.label} is still connected`);
    await ackOk(ct.socket, "meeting-media-state", { roomId: room.id, video: true });
    soft.done();
  });

  it("meeting-signal over the rate limit is refused with rate_limited, relays nothing, and the connection stays up", async () => {
    const { t, s, room } = await classroom();
    await startMeeting(server, t, room);
    const ct = await inMeeting(main, t, room);
    const cs = await inMeeting(main, s, room);
    const N = 400; // default burst 200, 50/s
    const acks = await Promise.all(
      Array.from({ length: N }, (_, i) => ack(ct.socket, "meeting-signal", { roomId: room.id, to: cs.peerId, signal: candidate(i) })),
    );
    const okIdx = acks.flatMap((a, i) => (a?.ok === true ? [i] : []));
    const refused = acks.filter((a) => a?.ok !== true);
    console.log(`rate limit: ${okIdx.length} of ${N} signals accepted, ${refused.length} refused`);
    assert.ok(refused.length > 0, "some signals of 400 at once are over the limit");
    assert.deepEqual([...new Set(refused.map((a) => a?.error?.code))], ["rate_limited"]);
    assert.ok(okIdx.length >= 200, `the burst of 200 passes (${okIdx.length} did)`);
    const got = await cs.rec.waitCount("meeting-signal", okIdx.length);
    await quiet();
    assert.equal(cs.rec.of("meeting-signal").length, okIdx.length, "refused signals are not relayed");
    assert.deepEqual(
      got.map((e) => e.data.signal.candidate.candidate.split(" ")[0]),
      okIdx.map((i) => `candidate:${i}`),
      "accepted signals arrive in order",
    );
    assert.ok(ct.socket.connected, "the sender stays connected");
    await sleep(1100);
    await ackOk(ct.socket, "meeting-signal", { roomId: room.id, to: cs.peerId, signal: offer("after the pause") });
    await cs.rec.waitFor("meeting-signal", (d) => d.signal.type === "offer");
  });

  it("meeting-media-state: the others get { roomId, peerId, userId, audio, video, screen, handRaised } and GET …/meeting shows it", async () => {
    const { t, s, s2, room } = await classroom();
    await startMeeting(server, t, room);
    const ct = await inMeeting(main, t, room);
    const cs = await inMeeting(main, s, room, { audio: true });
    const admin = server.user(uid("admin"), "admin");
    const cr = await inRoom(main, admin, room);
    const mack = await ackOk(cs.socket, "meeting-media-state", { roomId: room.id, video: true, handRaised: true });
    const want = { roomId: room.id, peerId: cs.peerId, userId: s.id, audio: true, video: true, screen: false, handRaised: true };
    assertEvent(mack, MEDIA_FIELDS, want, "meeting-media-state ack (the peer's state)");
    for (const c of [ct, cr]) {
      const ev = await c.rec.waitFor("meeting-media-state", (d) => d.peerId === cs.peerId);
      assertEvent(ev.data, MEDIA_FIELDS, want, "meeting-media-state");
    }
    await ackOk(cs.socket, "meeting-media-state", { roomId: room.id, screen: true, audio: false });
    const ev2 = await ct.rec.waitFor("meeting-media-state", (d) => d.peerId === cs.peerId && d.screen === true);
    assertEvent(ev2.data, MEDIA_FIELDS, { ...want, audio: false, screen: true }, "meeting-media-state");
    const got = await server.ok("GET", meetingPath(room), s2, undefined, 200);
    assertParticipant(got.participants.find((p) => p.peerId === cs.peerId), { audio: false, video: true, screen: true, handRaised: true });
    await quiet();
    assert.equal(cs.rec.of("meeting-media-state").length, 0, "the sender is not told of its own state");
    const soft = checklist();
    await soft.check(() => ackError(cs.socket, "meeting-media-state", { roomId: room.id, audio: "loud" }, "invalid_payload"));
    assert.ok(cs.socket.connected);
    soft.done();
  });

  it("meeting-host-action mute, lower-hand and remove: the target alone is told; hosts only; peer_not_found and invalid_payload", async () => {
    const { owner, t, s, s2, room } = await classroom();
    const other = server.user(uid("teach2"), "teacher");
    await server.ok("POST", `/chat/rooms/${room.id}/members`, owner, { userIds: [other.id] }, 200);
    await startMeeting(server, t, room); // t is the starter
    const ct = await inMeeting(main, t, room);
    const co = await inMeeting(main, owner, room);
    const cs = await inMeeting(main, s, room, { audio: true });
    const cs2 = await inMeeting(main, s2, room, { audio: true });
    const cx = await inMeeting(main, other, room); // a teacher, but not a host
    const sB = await inMeeting(main, s, room); // the target user's other device
    const marks = new Map([ct, co, cs, cs2, cx, sB].map((c) => [c, c.rec.mark()]));

    // mute: a request to the target; the server changes nothing.
    const hack = await ackOk(ct.socket, "meeting-host-action", { roomId: room.id, action: "mute", peerId: cs.peerId });
    assertEvent(hack, ["roomId", "action", "peerId"], { roomId: room.id, action: "mute", peerId: cs.peerId }, "meeting-host-action ack");
    const mute = await cs.rec.waitFor("meeting-host-action", (d) => d.action === "mute");
    assertEvent(mute.data, ["roomId", "action", "by"], { roomId: room.id, action: "mute", by: t.id }, "meeting-host-action");
    let got = await server.ok("GET", meetingPath(room), t, undefined, 200);
    assertParticipant(got.participants.find((p) => p.peerId === cs.peerId), { audio: true });

    // lower-hand: the server lowers it; everyone gets the media state, the target the action.
    await ackOk(cs2.socket, "meeting-media-state", { roomId: room.id, handRaised: true });
    await ct.rec.waitFor("meeting-media-state", (d) => d.peerId === cs2.peerId && d.handRaised === true);
    await ackOk(co.socket, "meeting-host-action", { roomId: room.id, action: "lower-hand", peerId: cs2.peerId });
    const lower = await cs2.rec.waitFor("meeting-host-action", (d) => d.action === "lower-hand");
    assertEvent(lower.data, ["roomId", "action", "by"], { roomId: room.id, action: "lower-hand", by: owner.id }, "meeting-host-action");
    for (const c of [ct, co, cs, cx]) {
      const ev = await c.rec.waitFor("meeting-media-state", (d) => d.peerId === cs2.peerId && d.handRaised === false);
      assertEvent(ev.data, MEDIA_FIELDS, { roomId: room.id, userId: s2.id, audio: true, handRaised: false }, "meeting-media-state");
    }
    got = await server.ok("GET", meetingPath(room), t, undefined, 200);
    assertParticipant(got.participants.find((p) => p.peerId === cs2.peerId), { handRaised: false });

    // Refusals.
    await ackError(cs.socket, "meeting-host-action", { roomId: room.id, action: "mute", peerId: ct.peerId }, "forbidden");
    await ackError(cx.socket, "meeting-host-action", { roomId: room.id, action: "remove", peerId: cs.peerId }, "forbidden");
    await ackError(ct.socket, "meeting-host-action", { roomId: room.id, action: "mute", peerId: "no-such-peer" }, "peer_not_found");
    const soft = checklist();
    await soft.check(() => ackError(ct.socket, "meeting-host-action", { roomId: room.id, action: "mute" }, "invalid_payload"));
    await soft.check(() => ackError(ct.socket, "meeting-host-action", { roomId: room.id, action: "kick", peerId: cs.peerId }, "invalid_payload"));
    // An admin who is in the room but not in the meeting: not_in_meeting.
    const admin = server.user(uid("admin"), "admin", "Admin");
    const cadm = await inRoom(main, admin, room);
    await ackError(cadm.socket, "meeting-host-action", { roomId: room.id, action: "mute", peerId: cs.peerId }, "not_in_meeting");

    // remove, by the owner: the target gets the action, then leaves with reason removed.
    await ackOk(co.socket, "meeting-host-action", { roomId: room.id, action: "remove", peerId: cs.peerId });
    const rm = await cs.rec.waitFor("meeting-host-action", (d) => d.action === "remove");
    assertEvent(rm.data, ["roomId", "action", "by"], { roomId: room.id, action: "remove", by: owner.id }, "meeting-host-action");
    for (const c of [ct, co, cs2, cx, sB]) {
      const ev = await c.rec.waitFor("meeting-participant-left", (d) => d.peerId === cs.peerId);
      assertEvent(ev.data, LEFT_FIELDS, { roomId: room.id, peerId: cs.peerId, userId: s.id, reason: "removed" }, "meeting-participant-left");
    }
    const leftOnTarget = cs.rec.of("meeting-participant-left", (d) => d.peerId === cs.peerId)[0];
    if (leftOnTarget) assert.ok(leftOnTarget.at >= rm.at, "the target gets the action before it leaves");
    got = await server.ok("GET", meetingPath(room), t, undefined, 200);
    assert.ok(!peerIds(got).includes(cs.peerId), "the removed peer is gone");
    assert.ok(peerIds(got).includes(sB.peerId), "the user's other device stays");
    await ackError(cs.socket, "meeting-signal", { roomId: room.id, to: ct.peerId, signal: offer("x") }, "not_in_meeting");
    assert.ok(cs.socket.connected, "remove does not disconnect the socket");
    // An admin in the meeting is a host too.
    await meetingJoin(cadm, room);
    await ackOk(cadm.socket, "meeting-host-action", { roomId: room.id, action: "mute", peerId: cs2.peerId });
    const m2 = await cs2.rec.waitFor("meeting-host-action", (d) => d.action === "mute");
    assert.equal(m2.data.by, admin.id);
    // Not locked: the removed user may join again.
    const rejoin = await meetingJoin(cs, room);
    assert.ok(rejoin.peerId);

    await quiet();
    const hostActions = (c) => c.rec.since(marks.get(c), "meeting-host-action").map((e) => e.data.action);
    assert.deepEqual(hostActions(cs), ["mute", "remove"], "the target alone gets mute and remove");
    assert.deepEqual(hostActions(cs2), ["lower-hand", "mute"]);
    for (const c of [ct, co, cx, sB]) assert.deepEqual(hostActions(c), [], `${c.rec.label} is not the target`);
    soft.done();
  });

  it("meeting-host-action lock and unlock: every socket in the room is told, GET shows locked, non-hosts get meeting_locked and hosts still join", async () => {
    const { owner, t, s, s2, room } = await classroom();
    const m = await startMeeting(server, t, room);
    const ct = await inMeeting(main, t, room);
    const cs = await inMeeting(main, s, room);
    const cw = await inRoom(main, s2, room); // in the room, not in the meeting

    await ackError(cs.socket, "meeting-host-action", { roomId: room.id, action: "lock" }, "forbidden");
    await ackOk(ct.socket, "meeting-host-action", { roomId: room.id, action: "lock" });
    for (const c of [ct, cs, cw]) {
      const ev = await c.rec.waitFor("meeting-host-action", (d) => d.action === "lock");
      assertEvent(ev.data, ["roomId", "action", "by"], { roomId: room.id, action: "lock", by: t.id }, "meeting-host-action");
    }
    assertMeeting(await server.ok("GET", meetingPath(room), s2, undefined, 200), { id: m.id, locked: true });

    await ackError(cw.socket, "meeting-join", { roomId: room.id }, "meeting_locked");
    // s leaves and cannot come back while it is locked.
    await ackOk(cs.socket, "meeting-leave", { roomId: room.id });
    await ackError(cs.socket, "meeting-join", { roomId: room.id }, "meeting_locked");
    // Hosts still join: the room owner and an admin.
    const co = await inMeeting(main, owner, room);
    const admin = server.user(uid("admin"), "admin");
    await inMeeting(main, admin, room);
    await ct.rec.waitFor("meeting-participant-joined", (d) => d.participant.peerId === co.peerId);

    await ackOk(co.socket, "meeting-host-action", { roomId: room.id, action: "unlock" });
    for (const c of [ct, cs, cw]) {
      const ev = await c.rec.waitFor("meeting-host-action", (d) => d.action === "unlock");
      assertEvent(ev.data, ["roomId", "action", "by"], { roomId: room.id, action: "unlock", by: owner.id }, "meeting-host-action");
    }
    assertMeeting(await server.ok("GET", meetingPath(room), s2, undefined, 200), { locked: false });
    await meetingJoin(cw, room);
    await meetingJoin(cs, room);
  });
});

describe("meeting limits, the empty-meeting end and ICE servers", () => {
  it("meeting_full with CLASSCHAT_MEETING_MAX_PARTICIPANTS=2: a third peer is refused, also a second device; a freed place can be taken; concurrent joins never exceed it", async () => {
    const { t, s, s2, room } = await classroom(limited);
    await startMeeting(limited, t, room);
    const ct = await inMeeting(lim, t, room);
    const cs = await inMeeting(lim, s, room);
    const c3 = await lim.connect(s2);
    await ackError(c3.socket, "meeting-join", { roomId: room.id }, "meeting_full");
    const t2 = await lim.connect(t);
    await ackError(t2.socket, "meeting-join", { roomId: room.id }, "meeting_full");
    assert.equal((await limited.ok("GET", meetingPath(room), t, undefined, 200)).participants.length, 2);
    await ackOk(cs.socket, "meeting-leave", { roomId: room.id });
    await meetingJoin(c3, room);
    await ackError(cs.socket, "meeting-join", { roomId: room.id }, "meeting_full");
    assert.ok(cs.socket.connected && t2.socket.connected);
    closeAll([ct, cs, c3, t2]);

    // Five sockets join a fresh meeting at once: exactly two get in.
    const r2 = await classroom(limited);
    await startMeeting(limited, r2.t, r2.room);
    const racers = [];
    for (const u of [r2.t, r2.s, r2.s2, r2.owner, r2.s]) racers.push(await lim.connect(u));
    const acks = await Promise.all(racers.map((c) => ack(c.socket, "meeting-join", { roomId: r2.room.id })));
    const ok = acks.filter((a) => a?.ok === true);
    const full = acks.filter((a) => a?.ok === false && a.error?.code === "meeting_full");
    assert.equal(ok.length, 2, `concurrent joins: ${JSON.stringify(acks.map((a) => a?.ok ? "ok" : a?.error?.code))}`);
    assert.equal(full.length, 3);
    const got = await limited.ok("GET", meetingPath(r2.room), r2.t, undefined, 200);
    assert.deepEqual(peerIds(got), ok.map((a) => a.data.peerId).sort());
  });

  it("a meeting with nobody in it for CLASSCHAT_MEETING_EMPTY_SECS (2 s) ends with reason empty, and everyone in the room gets meeting-ended", async () => {
    const { t, s, s2, room } = await classroom(limited);
    // A participant who comes back within the window keeps it running.
    const m = await startMeeting(limited, t, room);
    const ct = await inMeeting(lim, t, room);
    const cs = await inMeeting(lim, s, room);
    const cw = await inRoom(lim, s2, room);
    await ackOk(ct.socket, "meeting-leave", { roomId: room.id });
    await ackOk(cs.socket, "meeting-leave", { roomId: room.id });
    await sleep(1000);
    await meetingJoin(cs, room);
    await sleep(2500);
    assertMeeting(await limited.ok("GET", meetingPath(room), t, undefined, 200), { id: m.id });
    assert.equal(cw.rec.of("meeting-ended").length, 0, "not ended while someone came back in time");

    // Now everyone leaves for good.
    await ackOk(cs.socket, "meeting-leave", { roomId: room.id });
    const leftAt = Date.now();
    for (const c of [ct, cs, cw]) {
      const ev = await c.rec.waitFor("meeting-ended", (d) => d.meetingId === m.id, { timeout: 8000 });
      assertEvent(ev.data, ENDED_FIELDS, { roomId: room.id, meetingId: m.id, endedBy: null, reason: "empty" }, "meeting-ended");
    }
    const took = Date.now() - leftAt;
    console.log(`empty meeting ended ${took} ms after the last peer left (CLASSCHAT_MEETING_EMPTY_SECS=2)`);
    assert.ok(took >= 1500, `ended after ${took} ms: not before the 2 s`);
    assert.ok(took <= 5000, `ended after ${took} ms`);
    await restError(limited, "GET", meetingPath(room), t, undefined, 404, "no_meeting");
    const [past] = await limited.ok("GET", meetingsPath(room), t, undefined, 200);
    assertPastMeeting(past, { id: m.id, endReason: "empty" });
    assert.ok(isRfc3339(past.endedAt));

    // A meeting nobody ever joins ends the same way.
    const m2 = await startMeeting(limited, t, room);
    const ev = await cw.rec.waitFor("meeting-ended", (d) => d.meetingId === m2.id, { timeout: 8000 });
    assert.equal(ev.data.reason, "empty");
  });

  it("GET /chat/meetings/ice-servers with STUN and TURN configured: TURN credentials follow the TURN REST scheme, and the join ack carries the same list", async () => {
    const u = limited.user(uid("u"), "student");
    const nowS = Math.floor(Date.now() / 1000);
    const r = await limited.rest("GET", ICE_PATH, u);
    const afterS = Math.ceil(Date.now() / 1000);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const { iceServers, ttl } = r.body.data;
    assert.equal(ttl, TURN.ttl);
    assert.equal(iceServers.length, 2, JSON.stringify(iceServers));
    const stun = iceServers.find((x) => typeof x.username !== "string");
    const turn = iceServers.find((x) => typeof x.username === "string");
    assert.ok(stun && turn, JSON.stringify(iceServers));
    assert.deepEqual(stun.urls, TURN.stun);
    assert.ok(!("credential" in stun), "no credential for STUN");
    assert.deepEqual(turn.urls, TURN.turn);
    const [expiry, who] = turn.username.split(":");
    assert.equal(who, u.id, `username is "<expiry>:<userId>": ${turn.username}`);
    assert.match(expiry, /^\d+$/);
    assert.ok(Number(expiry) >= nowS + TURN.ttl - 5 && Number(expiry) <= afterS + TURN.ttl + 5, `expiry ${expiry} is now + ${TURN.ttl}`);
    assert.equal(turn.credential, turnCredential(TURN.secret, turn.username), "credential = base64(HMAC-SHA1(secret, username))");

    const { t, s, room } = await classroom(limited);
    await startMeeting(limited, t, room);
    const cs = await inMeeting(lim, s, room);
    const list = cs.joinAck.iceServers;
    assert.equal(list.length, 2, JSON.stringify(list));
    const jt = list.find((x) => typeof x.username === "string");
    assert.deepEqual(list.find((x) => x !== jt).urls, TURN.stun);
    assert.deepEqual(jt.urls, TURN.turn);
    assert.equal(jt.username.split(":")[1], s.id);
    assert.equal(jt.credential, turnCredential(TURN.secret, jt.username));
  });
});
