// k6 scenario "presence-churn", as `classchat-load presence-churn`: USERS users and one
// watcher share a room (so they are contacts). VU 1 is the watcher; VU 2..USERS+1 are the
// users, each connecting, setting `update-chat-status` busy on every other cycle, staying
// 200–500 ms, leaving and coming back 100–300 ms later, for DURATION seconds. The watcher
// counts `chat-user-status-update`s and, once everyone has left, must come to see every
// user it heard of as `offline` (within SETTLE s). `presence_offline_lag_ms` is arrival
// minus the update's `lastSeen`, so it needs the k6 machine's clock in sync with the nodes'.
//
// Env: USERS (50), DURATION (30 s), SETTLE (10 s), plus lib/setup.js's CLASSCHAT_*.
// Each user reconnects about 2–3 times a second: under the server's per-user connect limit.

import { check } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';
import { clearInterval, setInterval, setTimeout } from 'k6/timers';

import { createRooms, num, range, runId, socketUrlFor, token } from './lib/setup.js';
import { isOk, Socket } from './lib/sio.js';

const USERS = num('USERS', 50);
const DURATION = num('DURATION', 30);
const SETTLE = num('SETTLE', 10);

const cycles = new Counter('presence_cycles');
const updates = new Counter('presence_updates_seen');
const leftOnline = new Counter('presence_left_online');
const statusErrors = new Rate('presence_status_errors');
const offlineLag = new Trend('presence_offline_lag_ms', true);

export const options = {
  setupTimeout: '5m',
  scenarios: {
    churn: { executor: 'per-vu-iterations', vus: USERS + 1, iterations: 1, maxDuration: DURATION + SETTLE + 60 + 's' },
  },
  thresholds: {
    presence_left_online: ['count==0'],
    presence_updates_seen: ['count>0'],
    presence_status_errors: ['rate==0'],
    presence_cycles: ['count>0'],
    sio_connect_errors: ['rate==0'],
    checks: ['rate==1'],
  },
};

export function setup() {
  const run = runId();
  const users = range(USERS).map((i) => run + '-c' + i);
  const spec = { owner: run + '-owner', name: 'k6 presence', members: users.concat([run + '-watcher']) };
  createRooms([spec]);
  // The churn starts a second after the watcher, and stops DURATION s later.
  return { run: run, users: users, startAt: Date.now() + 1000, endAt: Date.now() + 1000 + DURATION * 1000 };
}

export default function (data) {
  const vu = __VU;
  if (vu === 1) watch(data);
  else if (vu - 2 < data.users.length) churn(data, vu - 2);
}

function watch(data) {
  const last = {};
  const w = new Socket(socketUrlFor(0), token(data.run + '-watcher', 'student'));
  w.on('chat-user-status-update', (body) => {
    const d = body && body.data;
    if (!d || data.users.indexOf(d.userId) < 0) return;
    updates.add(1);
    last[d.userId] = d.status;
    if (d.status === 'offline' && d.lastSeen) offlineLag.add(Math.max(0, Date.now() - Date.parse(d.lastSeen)));
  });
  w.on('connect_error', () => check(false, { 'watcher connected': (v) => v }));
  w.on('connect', () => {
    const timer = setInterval(() => {
      const now = Date.now();
      if (now < data.endAt + 1000) return; // churners finish their last cycle
      const stale = Object.keys(last).filter((u) => last[u] !== 'offline').length;
      if (stale > 0 && now < data.endAt + 1000 + SETTLE * 1000) return;
      clearInterval(timer);
      leftOnline.add(stale);
      check(Object.keys(last).length, { 'watcher heard of the users': (v) => v > 0 });
      w.close();
    }, 200);
  });
}

function churn(data, i) {
  const hold = 200 + ((i * 37) % 300);
  const pause = 100 + ((i * 53) % 200);
  const tok = token(data.users[i], 'student');
  let n = 0;
  const cycle = () => {
    if (Date.now() >= data.endAt) return;
    n++;
    const s = new Socket(socketUrlFor(i + 1), tok);
    s.on('connect', () => {
      // Leave after the hold, and after the status ack when there is one.
      let waits = 1;
      const leave = () => {
        if (--waits === 0) s.close();
      };
      if (n % 2 === 0) {
        waits++;
        s.emit('update-chat-status', { status: 'busy' }, (ack) => {
          statusErrors.add(!isOk(ack));
          leave();
        });
      }
      setTimeout(leave, hold);
    });
    s.on('close', () => {
      if (s.connectMs !== undefined) cycles.add(1);
      setTimeout(cycle, pause);
    });
  };
  setTimeout(cycle, Math.max(0, data.startAt - Date.now()));
}
