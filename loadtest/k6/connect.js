// k6 scenario "connect", as `classchat-load connect`: ramp SOCKETS authenticated sockets
// over RAMP seconds and hold them all for HOLD seconds. Each VU is one user with
// PER_VU sockets (devices, default 10 like classchat-load); socket j of VU v goes to node
// ((v-1)*PER_VU + j) % nodes. It measures the CONNECT handshake time, connect errors
// (refusals, timeouts) and sockets the server closes while they are held.
//
// Env: SOCKETS (1000), PER_VU (10), RAMP (30 s), HOLD (60 s), plus lib/setup.js's CLASSCHAT_*.
// The server's per-user connect limit (5/s, burst 30) is why PER_VU stays small; the
// per-address one (200/s, burst 5000) bounds the ramp from one k6 machine.

import { check, sleep } from 'k6';
import { Counter } from 'k6/metrics';
import { clearTimeout, setTimeout } from 'k6/timers';

import { runId, num, socketUrlFor, token } from './lib/setup.js';
import { Socket } from './lib/sio.js';

const SOCKETS = num('SOCKETS', 1000);
const PER_VU = Math.max(1, num('PER_VU', 10));
const RAMP = num('RAMP', 30);
const HOLD = num('HOLD', 60);
const VUS = Math.ceil(SOCKETS / PER_VU);

const connected = new Counter('connect_sockets_connected');
const pings = new Counter('connect_pings_answered');

export const options = {
  scenarios: {
    connect: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: RAMP + 's', target: VUS },
        { duration: HOLD + 's', target: VUS },
      ],
      gracefulRampDown: '30s',
      gracefulStop: '30s',
    },
  },
  thresholds: {
    sio_connect_errors: ['rate==0'],
    sio_connect_ms: ['p(95)<1000', 'p(99)<3000'],
    sio_closed_unexpectedly: ['count==0'],
    connect_sockets_connected: ['count>=' + SOCKETS],
    checks: ['rate==1'],
  },
};

export function setup() {
  // Every socket is held until the end of the hold stage, however late its VU started.
  return { run: runId(), endAt: Date.now() + (RAMP + HOLD) * 1000 };
}

export default function (data) {
  const vu = __VU;
  const first = (vu - 1) * PER_VU;
  const n = Math.min(PER_VU, SOCKETS - first);
  const left = data.endAt - Date.now();
  if (n <= 0 || left <= 0) {
    sleep(1); // past the hold (or a spare VU): idle until the scenario ends
    return;
  }
  const tok = token(data.run + '-u' + vu, 'student');
  const sockets = [];
  let open = 0;
  let closed = 0;
  const done = setTimeout(() => {
    check(open, { 'every socket of the VU connected and stayed': (v) => v === n });
    sockets.forEach((s) => s.close());
  }, left);
  for (let j = 0; j < n; j++) {
    const s = new Socket(socketUrlFor(first + j), tok);
    s.on('connect', () => {
      open++;
      connected.add(1);
    });
    s.on('disconnect', () => open--);
    s.on('close', () => {
      if (s.pings > 0) pings.add(s.pings);
      // A VU whose sockets all failed or were dropped does not wait for the end.
      if (++closed === n) clearTimeout(done);
    });
    sockets.push(s);
  }
}
