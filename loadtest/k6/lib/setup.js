// Configuration and REST set-up for the classchat k6 scenarios: node URLs and numbers from
// __ENV, HS256 tokens minted inside k6 (k6/crypto HMAC-SHA256, base64url without padding)
// with the nodes' secret CLASSCHAT_JWT_SECRET, and group rooms created in setup() by a
// teacher owner: POST /chat/rooms/group with the first 50 members, then
// POST /chat/rooms/{id}/members 50 at a time (the server's default per-add limit).
//
// Env: CLASSCHAT_SOCKET_URLS, CLASSCHAT_API_URLS (comma-separated, one entry per node, in
// any order; connection k goes to node k % n), CLASSCHAT_JWT_SECRET, CLASSCHAT_PREFIX
// (user id prefix, default "k6"), CLASSCHAT_MAX_MEMBERS_PER_ADD (default 50).

import { fail } from 'k6';
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';
import http from 'k6/http';

import { socketUrl } from './sio.js';

function list(name, fallback) {
  return String(__ENV[name] || fallback)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** A number from __ENV, or `fallback` when unset. */
export function num(name, fallback) {
  const v = __ENV[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!isFinite(n) || n < 0) throw new Error(name + '=' + v + ' is not a non-negative number');
  return n;
}

export function socketUrls() {
  return list('CLASSCHAT_SOCKET_URLS', 'http://127.0.0.1:4501').map(socketUrl);
}

export function apiUrls() {
  return list('CLASSCHAT_API_URLS', 'http://127.0.0.1:4500').map((u) => {
    const v = u.replace(/\/+$/, '');
    return /^https?:\/\//.test(v) ? v : 'http://' + v;
  });
}

/** The Socket.IO URL for connection number `k` (spread over the nodes round-robin). */
export function socketUrlFor(k) {
  const urls = socketUrls();
  return urls[k % urls.length];
}

/** The REST base URL for request number `k`. */
export function apiUrlFor(k) {
  const urls = apiUrls();
  return urls[k % urls.length];
}

export function b64url(s) {
  return encoding.b64encode(s, 'rawurl');
}

/** An HS256 JWT for user `sub` with `role` (student | teacher | admin), valid 24 h. */
export function token(sub, role, name) {
  const secret = __ENV.CLASSCHAT_JWT_SECRET;
  if (!secret) fail('CLASSCHAT_JWT_SECRET is not set (the HS256 secret the nodes verify with)');
  const claims = { sub: sub, role: role || 'student', name: name || sub, exp: Math.floor(Date.now() / 1000) + 86400 };
  const signed = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' })) + '.' + b64url(JSON.stringify(claims));
  return signed + '.' + crypto.hmac('sha256', secret, signed, 'base64rawurl');
}

/** A run id, so repeated runs against one database never share users or rooms. */
export function runId() {
  const prefix = __ENV.CLASSCHAT_PREFIX || 'k6';
  return prefix + '-' + Date.now().toString(36) + Math.floor(Math.random() * 1296).toString(36);
}

export function range(n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(i);
  return out;
}

function params(tok, name) {
  return {
    headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + tok },
    tags: { name: name },
  };
}

/** `data` of a REST answer; fails the set-up on anything but 2xx. `name` tags the request. */
function answer(res, what) {
  if (res.status < 200 || res.status > 299) fail(what + ' answered ' + res.status + ': ' + res.body);
  return res.json().data;
}

export function rest(method, url, tok, body, name) {
  const res = http.request(method, url, body === undefined ? null : JSON.stringify(body), params(tok, name || url));
  return answer(res, method + ' ' + url);
}

/**
 * Creates group rooms, each `{ owner, name, members: [user ids] }` (owner: a teacher, who
 * becomes the room's owner and member); room r is created on node r. Member chunks after the
 * first are added in parallel across rooms (in order within a room). Returns the room ids.
 */
export function createRooms(specs) {
  const per = num('CLASSCHAT_MAX_MEMBERS_PER_ADD', 50);
  const ids = specs.map((s, r) => {
    const tok = token(s.owner, 'teacher');
    const body = { name: s.name, memberIds: s.members.slice(0, per) };
    return rest('POST', apiUrlFor(r) + '/chat/rooms/group', tok, body, 'POST /chat/rooms/group').id;
  });
  const chunks = Math.max.apply(null, [0].concat(specs.map((s) => Math.ceil(s.members.length / per))));
  for (let c = 1; c < chunks; c++) {
    const batch = [];
    specs.forEach((s, r) => {
      const userIds = s.members.slice(c * per, (c + 1) * per);
      if (userIds.length === 0) return;
      const url = apiUrlFor(r) + '/chat/rooms/' + ids[r] + '/members';
      const p = params(token(s.owner, 'teacher'), 'POST /chat/rooms/{id}/members');
      batch.push({ method: 'POST', url: url, body: JSON.stringify({ userIds: userIds }), params: p });
    });
    http.batch(batch).forEach((res, i) => answer(res, 'POST ' + batch[i].url));
  }
  return ids;
}
