// socket.io-client helpers: connect, ack with timeout, and an event recorder
// that checks every server→client body is `{ data, timestamp }`.

import { io } from "socket.io-client";

export const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export function isRfc3339(s) {
  return typeof s === "string" && RFC3339.test(s) && !Number.isNaN(Date.parse(s));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A socket with the contract's client options (no reconnection, websocket only). */
export function rawSocket(server, opts = {}) {
  return io(server.socketUrl, {
    transports: ["websocket"],
    forceNew: true,
    reconnection: false,
    timeout: 30_000,
    ...opts,
  });
}

/**
 * Records every event a socket receives, with arrival time, and lets tests wait
 * for one. Bodies that are not `{ data, timestamp: RFC 3339 }` are recorded in
 * `malformed`.
 */
export class Recorder {
  constructor(socket, label = "") {
    this.socket = socket;
    this.label = label;
    this.events = []; // { event, body, data, at }
    this.malformed = [];
    this.waiters = [];
    socket.onAny((event, ...args) => {
      const body = args[0];
      const ok =
        args.length === 1 &&
        body !== null &&
        typeof body === "object" &&
        !Array.isArray(body) &&
        "data" in body &&
        isRfc3339(body.timestamp);
      if (!ok) this.malformed.push({ event, args });
      const rec = { event, body, data: body?.data, at: performance.now() };
      this.events.push(rec);
      for (const w of [...this.waiters]) w.check(rec);
    });
  }

  /** Recorded events of that name (optionally matching `pred(data)`). */
  of(event, pred = () => true) {
    return this.events.filter((e) => e.event === event && pred(e.data));
  }

  /** Data of recorded events of that name. */
  data(event, pred) {
    return this.of(event, pred).map((e) => e.data);
  }

  /**
   * Resolves with the first recorded (past or future) event named `event`
   * whose data satisfies `pred`; `from` skips events recorded before that index.
   */
  waitFor(event, pred = () => true, { timeout = 10_000, from = 0 } = {}) {
    const past = this.events.slice(from).find((e) => e.event === event && pred(e.data));
    if (past) return Promise.resolve(past);
    return new Promise((resolve, reject) => {
      const w = {
        check: (rec) => {
          if (rec.event === event && pred(rec.data)) {
            clearTimeout(w.timer);
            this.waiters.splice(this.waiters.indexOf(w), 1);
            resolve(rec);
          }
        },
      };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        const seen = this.events.map((e) => `${e.event} ${JSON.stringify(e.data)}`).slice(-15);
        reject(
          new Error(
            `${this.label}: no "${event}" matching ${pred.toString()} within ${timeout} ms; last events:\n  ${seen.join("\n  ")}`,
          ),
        );
      }, timeout);
      this.waiters.push(w);
    });
  }

  /** Resolves once `n` events named `event` (matching `pred`) were recorded. */
  async waitCount(event, n, pred = () => true, { timeout = 10_000 } = {}) {
    const deadline = Date.now() + timeout;
    while (this.of(event, pred).length < n) {
      if (Date.now() > deadline) {
        throw new Error(
          `${this.label}: only ${this.of(event, pred).length} of ${n} "${event}" events within ${timeout} ms`,
        );
      }
      await sleep(10);
    }
    return this.of(event, pred);
  }

  mark() {
    return this.events.length;
  }

  since(mark, event) {
    return this.events.slice(mark).filter((e) => !event || e.event === event);
  }
}

/** Resolves once connected; rejects with the `connect_error`. */
export function onceConnected(socket, timeout = 30_000) {
  if (socket.connected) return Promise.resolve(socket);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      cleanup();
      reject(new Error("connect timed out"));
    }, timeout);
    const onConnect = () => {
      cleanup();
      resolve(socket);
    };
    const onError = (err) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      clearTimeout(t);
      socket.off("connect", onConnect);
      socket.off("connect_error", onError);
    };
    socket.on("connect", onConnect);
    socket.on("connect_error", onError);
  });
}

/** Resolves with the `connect_error` (fails if the socket connects instead). */
export function connectError(socket, timeout = 15_000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      socket.close();
      reject(new Error("neither connect nor connect_error within timeout"));
    }, timeout);
    socket.on("connect", () => {
      clearTimeout(t);
      socket.close();
      reject(new Error("connected, but the connection should have been refused"));
    });
    socket.on("connect_error", (err) => {
      clearTimeout(t);
      socket.close();
      resolve(err);
    });
  });
}

/** Connects `user` (a handle with `.token`); returns `{ socket, rec }`. */
export async function connectUser(server, user, opts = {}) {
  const socket = rawSocket(server, { auth: { token: user.token }, ...opts });
  const rec = new Recorder(socket, `${user.id}#${socket.id ?? "?"}`);
  await onceConnected(socket);
  rec.label = `${user.id}#${socket.id}`;
  return { socket, rec, user };
}

/** Emits with an ack; resolves with the ack body. `args` are the event's arguments. */
/** The sockets a test file connects: `connect(user)` as `connectUser` against `getServer()`,
 * each kept in `clients` for the file's `after` hook (`closeAll(clients)`). */
export function clientPool(getServer) {
  const clients = [];
  const connect = async (user, opts) => {
    const c = await connectUser(getServer(), user, opts);
    clients.push(c);
    return c;
  };
  return { clients, connect };
}

export function ack(socket, event, ...args) {
  return socket.timeout(15_000).emitWithAck(event, ...args);
}

/** Emits and asserts an `{ ok: true }` ack; returns its `data`. */
export async function ackOk(socket, event, payload) {
  const a = await ack(socket, event, payload);
  if (!a || a.ok !== true) {
    throw new Error(`${event} ${JSON.stringify(payload)?.slice(0, 200)} was refused: ${JSON.stringify(a)}`);
  }
  return a.data;
}

/** Joins rooms and waits for both the ack and the `chat-rooms-joined` event. */
export async function join(client, roomIds) {
  const mark = client.rec.mark();
  const data = await ackOk(client.socket, "join-chat-rooms", { roomIds });
  await client.rec.waitFor("chat-rooms-joined", () => true, { from: mark });
  return data;
}

export function closeAll(clients) {
  for (const c of clients) (c.socket ?? c).close();
}
