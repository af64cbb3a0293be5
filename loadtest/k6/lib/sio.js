// Socket.IO v4 client for the classchat k6 scenarios: Engine.IO 4 / Socket.IO protocol 5
// framing over k6's event-based WebSocket API (k6/experimental/websockets, many sockets
// per VU). It opens the socket, waits for the Engine.IO open packet `0{...}`, sends the
// namespace CONNECT `40{"token":...}`, waits for `40{...}` (or `44{...}`, a refusal),
// answers every ping `2` with `3`, emits `42["ev",data]` (with an ack id: `42<id>[...]`,
// answered by `43<id>[...]`) and hands incoming `42[...]` events to listeners.
//
// The frame functions (socketUrl, decode, encode*) use no k6 API. CI runs every scenario
// with the real k6 against three nodes behind HAProxy (tests/e2e/k6-scripts.test.mjs).

import { WebSocket } from 'k6/experimental/websockets';
import { clearTimeout, setTimeout } from 'k6/timers';
import { Counter, Rate, Trend } from 'k6/metrics';

export const connectTime = new Trend('sio_connect_ms', true);
export const connectErrors = new Rate('sio_connect_errors');
export const ackTime = new Trend('sio_ack_ms', true);
export const ackTimeouts = new Counter('sio_ack_timeouts');
export const closedByServer = new Counter('sio_closed_unexpectedly');

// ---- frames -------------------------------------------------------------------------

const EIO_TYPES = ['open', 'close', 'ping', 'pong', 'message', 'upgrade', 'noop'];
const SIO_TYPES = ['connect', 'disconnect', 'event', 'ack', 'connect_error', 'binary_event', 'binary_ack'];

/** The WebSocket URL of a node's Socket.IO endpoint, from `http://host:4501`, `ws://…` or `host:port`. */
export function socketUrl(base) {
  let u = String(base).trim().replace(/\/+$/, '');
  if (/^https:\/\//.test(u)) u = 'wss://' + u.slice(8);
  else if (/^http:\/\//.test(u)) u = 'ws://' + u.slice(7);
  else if (!/^wss?:\/\//.test(u)) u = 'ws://' + u;
  if (!/\/socket\.io$/.test(u)) u += '/socket.io';
  return u + '/?EIO=4&transport=websocket';
}

/** Namespace CONNECT with its auth payload: `40{"token":"…"}`. */
export function encodeConnect(auth, nsp) {
  const ns = nsp && nsp !== '/' ? nsp + ',' : '';
  return '40' + ns + (auth === undefined ? '' : JSON.stringify(auth));
}

/** An event `42["name",data]`, or `42<id>["name",data]` when the sender wants an ack. */
export function encodeEvent(name, data, id) {
  const args = data === undefined ? [name] : [name, data];
  return '42' + (id === undefined || id === null ? '' : String(id)) + JSON.stringify(args);
}

/** The answer to an event the server sent with an ack id: `43<id>[...args]`. */
export function encodeAck(id, args) {
  return '43' + String(id) + JSON.stringify(args || []);
}

export const PONG = '3';

/**
 * One text frame, decoded. Engine.IO packets give `{ type: 'open'|'close'|'ping'|'pong'|
 * 'noop'|'upgrade', data }` (`data` of `open` parsed); Socket.IO packets give `{ type:
 * 'connect'|'disconnect'|'event'|'ack'|'connect_error'|…, nsp, id, data }`, plus `name` and
 * `args` for an event and `args` for an ack. Anything else: `{ type: 'invalid', raw }`.
 */
export function decode(text) {
  const s = String(text);
  const eio = EIO_TYPES[s.charCodeAt(0) - 48];
  if (!eio) return { type: 'invalid', raw: s };
  if (eio !== 'message') {
    const rest = s.slice(1);
    if (eio !== 'open') return { type: eio, data: rest };
    try {
      return { type: 'open', data: JSON.parse(rest) };
    } catch (e) {
      return { type: 'invalid', raw: s };
    }
  }
  const type = SIO_TYPES[s.charCodeAt(1) - 48];
  if (!type) return { type: 'invalid', raw: s };
  const p = { type: type, nsp: '/', id: null, data: undefined };
  let i = 2;
  if (type === 'binary_event' || type === 'binary_ack') {
    const dash = s.indexOf('-', i);
    p.attachments = Number(s.slice(i, dash));
    i = dash + 1;
  }
  if (s.charAt(i) === '/') {
    const comma = s.indexOf(',', i);
    const end = comma < 0 ? s.length : comma;
    p.nsp = s.slice(i, end);
    i = comma < 0 ? end : end + 1;
  }
  let j = i;
  while (j < s.length && s.charCodeAt(j) >= 48 && s.charCodeAt(j) <= 57) j++;
  if (j > i) p.id = Number(s.slice(i, j));
  if (j < s.length) {
    try {
      p.data = JSON.parse(s.slice(j));
    } catch (e) {
      return { type: 'invalid', raw: s };
    }
  }
  if (type === 'event' || type === 'binary_event') {
    if (!Array.isArray(p.data) || typeof p.data[0] !== 'string') return { type: 'invalid', raw: s };
    p.name = p.data[0];
    p.args = p.data.slice(1);
  } else if (type === 'ack' || type === 'binary_ack') {
    p.args = Array.isArray(p.data) ? p.data : [];
  }
  return p;
}

/** True for a classchat ack `{ ok: true, data }`. */
export function isOk(ack) {
  return !!ack && ack.ok === true;
}

// ---- client -------------------------------------------------------------------------

/**
 * One Socket.IO connection. Listeners (`on(name, fn)`): `connect`, `connect_error` (any
 * failure before CONNECT: refusal `44`, timeout, close; `fn(reason, data)`), `disconnect`
 * (closed after connecting, not by us), `close`, and every server event by name (`fn(body)`,
 * the `{ data, timestamp }` envelope).
 */
export class Socket {
  constructor(url, token, opts) {
    const o = opts || {};
    this.url = url;
    this.token = token;
    this.ackTimeoutMs = o.ackTimeoutMs || 10000;
    this.listeners = {};
    this.acks = {};
    this.nextId = 0;
    this.connected = false;
    this.settled = false; // connect or connect_error reported
    this.closing = false;
    this.pings = 0;
    this.startedAt = Date.now();
    this.ws = new WebSocket(url);
    this.timer = setTimeout(() => this.fail('timeout'), o.connectTimeoutMs || 10000);
    // k6 blocks its event loop on close() while CONNECTING: a socket given up on before
    // its WebSocket opened is closed once it does (see shut()).
    this.ws.addEventListener('open', () => {
      if (this.closing) this.ws.close();
    });
    this.ws.addEventListener('message', (e) => this.frame(e.data));
    this.ws.addEventListener('error', (e) => {
      this.lastError = (e && (e.error || e.message)) || 'error';
    });
    this.ws.addEventListener('close', () => this.closed());
  }

  on(name, fn) {
    (this.listeners[name] = this.listeners[name] || []).push(fn);
    return this;
  }

  fire(name, a, b) {
    const ls = this.listeners[name];
    if (ls) for (let i = 0; i < ls.length; i++) ls[i](a, b);
  }

  /** Emits an event; with `ack`, `ack(value, null)` on the answer or `ack(null, 'timeout'|'closed')`. */
  emit(name, data, ack) {
    if (!this.connected) {
      if (ack) ack(null, 'closed');
      return false;
    }
    if (!ack) {
      this.ws.send(encodeEvent(name, data));
      return true;
    }
    const id = ++this.nextId;
    const entry = { fn: ack, at: Date.now(), timer: null };
    entry.timer = setTimeout(() => {
      delete this.acks[id];
      ackTimeouts.add(1);
      ack(null, 'timeout');
    }, this.ackTimeoutMs);
    this.acks[id] = entry;
    this.ws.send(encodeEvent(name, data, id));
    return true;
  }

  close() {
    this.connected = false;
    this.dropAcks();
    if (!this.settled) this.fail('closed');
    this.shut();
  }

  /** Closes the WebSocket now if it is open, or as soon as it opens. */
  shut() {
    this.closing = true;
    if (this.ws.readyState === 1) this.ws.close();
  }

  frame(text) {
    const p = decode(text);
    if (p.type === 'ping') {
      this.pings++;
      this.ws.send(PONG);
    } else if (p.type === 'event') {
      this.fire(p.name, p.args[0], p);
    } else if (p.type === 'ack') {
      const a = this.acks[p.id];
      if (!a) return;
      delete this.acks[p.id];
      clearTimeout(a.timer);
      ackTime.add(Date.now() - a.at);
      a.fn(p.args[0], null);
    } else if (p.type === 'open') {
      this.sid = p.data.sid;
      this.ws.send(encodeConnect({ token: this.token }));
    } else if (p.type === 'connect') {
      if (this.settled) return;
      this.settled = true;
      this.connected = true;
      clearTimeout(this.timer);
      this.connectMs = Date.now() - this.startedAt;
      connectTime.add(this.connectMs);
      connectErrors.add(false);
      this.fire('connect');
    } else if (p.type === 'connect_error') {
      this.refusal = p.data;
      this.fail('refused', p.data);
      this.shut();
    } else if (p.type === 'disconnect' || p.type === 'close') {
      this.ws.close(); // by the server: reported as a disconnect when the close comes
    }
  }

  fail(reason, data) {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    connectErrors.add(true);
    // Why, in k6's output: a refusal's code, a timeout, or the WebSocket's error.
    console.warn(`socket.io connect failed: ${reason}${data ? ' ' + JSON.stringify(data) : ''}`);
    this.fire('connect_error', reason, data);
    if (reason === 'timeout') this.shut();
  }

  dropAcks() {
    const ids = Object.keys(this.acks);
    for (let i = 0; i < ids.length; i++) {
      const a = this.acks[ids[i]];
      delete this.acks[ids[i]];
      clearTimeout(a.timer);
      a.fn(null, 'closed');
    }
  }

  closed() {
    const wasConnected = this.connected;
    this.connected = false;
    clearTimeout(this.timer);
    this.dropAcks();
    if (!this.settled) this.fail(this.lastError ? 'error: ' + this.lastError : 'closed');
    if (wasConnected && !this.closing) {
      closedByServer.add(1);
      this.fire('disconnect');
    }
    this.fire('close');
  }
}
