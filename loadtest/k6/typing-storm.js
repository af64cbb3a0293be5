// k6 scenario "typing-storm", as `classchat-load typing-storm`: ROOMS rooms x MEMBERS
// members, one VU per room; the members take turns sending `chat-typing` `{ roomId,
// isTyping: true }` at RATE events/s over all rooms for DURATION seconds. Every other
// member must get `chat-user-typing` for each accepted start (counted as missing if not),
// with its latency measured from the send (same VU, same clock); the server's own
// `isTyping: false` after its 3 s auto-stop is counted too, then the sockets close.
//
// Env: ROOMS (10), MEMBERS (20), RATE (50), DURATION (30 s), SETTLE (4 s: the auto-stop
// and late arrivals), DELIVERY_P99_MS (50, the latency threshold), plus lib/setup.js's
// CLASSCHAT_*. Server limits: 5 typing events/s per user, 200/s per client address
// (CLASSCHAT_RATE_TYPING_*).

import { check } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';
import { clearInterval, setInterval } from 'k6/timers';

import { closeAll, openMembers } from './lib/room.js';
import { createRooms, num, range, runId } from './lib/setup.js';
import { isOk } from './lib/sio.js';

const ROOMS = num('ROOMS', 10);
const MEMBERS = num('MEMBERS', 20);
const RATE = num('RATE', 50);
const DURATION = num('DURATION', 30);
const SETTLE = num('SETTLE', 4);
// The latency threshold: p(99) under this many ms (a loaded CI machine needs more).
const P99_MS = num('DELIVERY_P99_MS', 50);

const sent = new Counter('typing_sent');
const refused = new Rate('typing_refused');
const started = new Counter('typing_starts_received');
const stopped = new Counter('typing_stops_received');
const missing = new Counter('typing_missing');
const latency = new Trend('typing_delivery_ms', true);

export const options = {
  setupTimeout: '10m',
  scenarios: {
    typing: { executor: 'per-vu-iterations', vus: ROOMS, iterations: 1, maxDuration: DURATION + SETTLE + 120 + 's' },
  },
  thresholds: {
    typing_refused: ['rate==0'],
    typing_missing: ['count==0'],
    typing_starts_received: ['count>0'],
    typing_delivery_ms: ['p(99)<' + P99_MS],
    sio_connect_errors: ['rate==0'],
    room_join_errors: ['rate==0'],
    checks: ['rate==1'],
  },
};

export function setup() {
  const run = runId();
  const specs = range(ROOMS).map((r) => ({
    owner: run + '-owner' + r,
    name: 'k6 typing ' + r,
    members: range(MEMBERS).map((i) => run + '-r' + r + '-t' + i),
  }));
  return { run: run, rooms: createRooms(specs) };
}

export default function (data) {
  const r = __VU - 1; // one VU per room
  if (r >= data.rooms.length) return;
  const roomId = data.rooms[r];
  const users = range(MEMBERS).map((i) => data.run + '-r' + r + '-t' + i);
  const sentAt = {}; // user id -> time of that user's last accepted-or-pending start
  const onTyping = (m, body) => {
    const d = body && body.data;
    if (!d || d.roomId !== roomId) return;
    if (!d.isTyping) {
      stopped.add(1);
      return;
    }
    started.add(1);
    m.starts++;
    if (sentAt[d.userId] !== undefined) latency.add(Date.now() - sentAt[d.userId]);
  };
  openMembers(roomId, users, r * MEMBERS, { 'chat-user-typing': onTyping }, (members) => {
    members.forEach((m) => (m.starts = 0));
    storm(roomId, members, sentAt);
  });
}

function storm(roomId, members, sentAt) {
  const senders = members.filter((m) => m.joined);
  const perRoom = RATE / ROOMS;
  const begin = Date.now();
  const end = begin + DURATION * 1000;
  const accepted = {}; // user id -> accepted starts
  let n = 0;
  let inflight = 0;
  let quietSince = 0;
  const timer = setInterval(() => {
    const now = Date.now();
    if (now < end && senders.length > 0) {
      const due = Math.min(Math.floor(((now - begin) * perRoom) / 1000) + 1, n + 100);
      for (; n < due; n++) {
        const m = senders[n % senders.length];
        inflight++;
        sent.add(1);
        sentAt[m.user] = Date.now();
        m.socket.emit('chat-typing', { roomId: roomId, isTyping: true }, (ack) => {
          inflight--;
          refused.add(!isOk(ack));
          if (isOk(ack)) accepted[m.user] = (accepted[m.user] || 0) + 1;
        });
      }
      return;
    }
    if (inflight > 0) return;
    if (quietSince === 0) quietSince = now;
    if (now < quietSince + SETTLE * 1000) return;
    clearInterval(timer);
    // Each joined member should have seen every accepted start of every other member.
    const total = Object.keys(accepted).reduce((s, u) => s + accepted[u], 0);
    const gaps = senders.reduce((s, m) => s + Math.max(0, total - (accepted[m.user] || 0) - m.starts), 0);
    missing.add(gaps);
    check(total, { 'some typing starts accepted': (v) => v > 0 });
    closeAll(members);
  }, Math.max(1, Math.min(50, 1000 / perRoom)));
}
