// k6 scenario "fanout", as `classchat-load fanout --via socket`: ROOMS rooms x MEMBERS
// members (created in setup()); one VU per room holds the room's member sockets and one
// sender (the teacher who owns the room), which sends `send-chat-message` over its socket
// at RATE messages/s over all rooms for DURATION seconds, content `t=<unix micros>`. Every
// member measures send→arrival latency from that timestamp (same k6 process, same clock)
// and counts deliveries, duplicates and out-of-order arrivals by `seq`; once the acks are
// in and deliveries settle, every acknowledged seq a member never saw counts as lost.
//
// Env: ROOMS (10), MEMBERS (100), RATE (100, all rooms together), DURATION (30 s),
// SETTLE (5 s, how long to wait for late deliveries), DELIVERY_P99_MS (50, the latency
// threshold), plus lib/setup.js's CLASSCHAT_*.

import { check } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';
import { clearInterval, setInterval } from 'k6/timers';

import { closeAll, openMembers } from './lib/room.js';
import { createRooms, num, range, runId, socketUrlFor, token } from './lib/setup.js';
import { isOk, Socket } from './lib/sio.js';

const ROOMS = num('ROOMS', 10);
const MEMBERS = num('MEMBERS', 100);
const RATE = num('RATE', 100);
const DURATION = num('DURATION', 30);
const SETTLE = num('SETTLE', 5);
// The latency threshold: p(99) under this many ms (a loaded CI machine needs more).
const P99_MS = num('DELIVERY_P99_MS', 50);

const latency = new Trend('fanout_delivery_ms', true);
const deliveries = new Counter('fanout_deliveries');
const duplicates = new Counter('fanout_duplicates');
const outOfOrder = new Counter('fanout_out_of_order');
const lost = new Counter('fanout_lost');
const sent = new Counter('fanout_sent');
const sendErrors = new Rate('fanout_send_errors');

export const options = {
  setupTimeout: '10m',
  scenarios: {
    fanout: { executor: 'per-vu-iterations', vus: ROOMS, iterations: 1, maxDuration: DURATION + SETTLE + 120 + 's' },
  },
  thresholds: {
    fanout_delivery_ms: ['p(99)<' + P99_MS],
    fanout_deliveries: ['count>0'],
    fanout_lost: ['count==0'],
    fanout_duplicates: ['count==0'],
    fanout_out_of_order: ['count==0'],
    fanout_send_errors: ['rate==0'],
    sio_connect_errors: ['rate==0'],
    room_join_errors: ['rate==0'],
    checks: ['rate==1'],
  },
};

export function setup() {
  const run = runId();
  const specs = range(ROOMS).map((r) => ({
    owner: run + '-s' + r,
    name: 'k6 fanout ' + r,
    members: range(MEMBERS).map((i) => run + '-r' + r + '-m' + i),
  }));
  return { run: run, rooms: createRooms(specs) };
}

/** The send time (ms since the epoch) in a `t=<micros or ms>` content, or null. */
function sentAt(content) {
  const t = typeof content === 'string' && content.slice(0, 2) === 't=' ? Number(content.slice(2)) : NaN;
  if (!isFinite(t)) return null;
  return t > 1e14 ? t / 1000 : t;
}

function receive(m, body) {
  const msg = body && body.data;
  if (!msg || msg.roomId !== m.roomId) return;
  if (m.seen[msg.seq]) {
    duplicates.add(1);
    return;
  }
  m.seen[msg.seq] = true;
  if (msg.seq < m.last) outOfOrder.add(1);
  else m.last = msg.seq;
  deliveries.add(1);
  const t = sentAt(msg.content);
  if (t !== null) latency.add(Date.now() - t);
}

export default function (data) {
  const r = __VU - 1; // one VU per room
  if (r >= data.rooms.length) return;
  const roomId = data.rooms[r];
  const users = range(MEMBERS).map((i) => data.run + '-r' + r + '-m' + i);
  const sender = new Socket(socketUrlFor(r * (MEMBERS + 1) + MEMBERS), token(data.run + '-s' + r, 'teacher'));
  let members = null;
  let senderUp = false;
  const start = () => {
    if (members && senderUp) send(data.run, r, roomId, sender, members);
  };
  sender.on('connect', () => {
    senderUp = true;
    start();
  });
  sender.on('connect_error', () => closeAll(members || []));
  openMembers(roomId, users, r * (MEMBERS + 1), { 'new-chat-message': receive }, (ms) => {
    ms.forEach((m) => {
      m.roomId = roomId;
      m.seen = {};
      m.last = 0;
    });
    members = ms;
    if (sender.settled && !senderUp) closeAll(ms);
    start();
  });
}

function send(run, r, roomId, sender, members) {
  const perRoom = RATE / ROOMS;
  const begin = Date.now();
  const end = begin + DURATION * 1000;
  const acked = [];
  let n = 0;
  let inflight = 0;
  let quietSince = 0;
  const timer = setInterval(() => {
    const now = Date.now();
    if (now < end) {
      const due = Math.min(Math.floor(((now - begin) * perRoom) / 1000) + 1, n + 100);
      for (; n < due; n++) {
        inflight++;
        sent.add(1);
        const body = { roomId: roomId, content: 't=' + Date.now() * 1000, clientMessageId: run + '-' + r + '-' + n };
        sender.emit('send-chat-message', body, (ack) => {
          inflight--;
          sendErrors.add(!isOk(ack));
          if (isOk(ack)) acked.push(ack.data.seq);
        });
      }
      return;
    }
    // Done sending: wait for the acks (each one comes or times out), then for the
    // deliveries of every acknowledged seq, at most SETTLE s.
    if (inflight > 0) return;
    if (quietSince === 0) quietSince = now;
    const missing = (m) => acked.filter((seq) => !m.seen[seq]).length;
    const gaps = members.filter((m) => m.joined).reduce((sum, m) => sum + missing(m), 0);
    if (gaps > 0 && now < quietSince + SETTLE * 1000) return;
    clearInterval(timer);
    lost.add(gaps);
    duplicates.add(0);
    outOfOrder.add(0);
    check(acked.length, { 'sender got acks': (v) => v > 0 });
    sender.close();
    closeAll(members);
  }, Math.max(1, Math.min(50, 1000 / perRoom)));
}
