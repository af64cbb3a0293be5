// Comparison peer for classchat benchmarks: the stack classchat replaces, Node.js with
// Socket.IO 4.8 persisting to PostgreSQL, and @socket.io/redis-adapter for a cluster.
//
// It serves the part of the classchat client contract that `classchat-load fanout` and
// `classchat-load connect` use (see README.md for exactly what is and is not here):
//
//   REST (PEER_API_ADDR)      POST /chat/rooms/group, POST /chat/rooms/:id/members,
//                             POST /chat/rooms/:id/messages, GET /healthz, GET /readyz
//   Socket.IO (PEER_SOCKET_ADDR, path /socket.io/, websocket transport)
//                             join-chat-rooms, leave-chat-room, send-chat-message
//   presence                  a user is online from their first socket on any node until
//                             their last socket on every node is gone; each change is told
//                             once to every contact (member of a room the user is in) with
//                             chat-user-status-update { userId, status, lastSeen }; the
//                             last seen time is stored in PostgreSQL (users.last_seen)
//
// Environment: DATABASE_URL (required), CLASSCHAT_JWT_SECRET (required, HS256),
// CLASSCHAT_JWT_ISSUER / CLASSCHAT_JWT_AUDIENCE (optional), REDIS_URL (set => cluster),
// PEER_API_ADDR (127.0.0.1:4600), PEER_SOCKET_ADDR (127.0.0.1:4601), PG_POOL_SIZE (16),
// PG_SCHEMA (socketio_peer), PEER_NODE_ID (hostname), PRESENCE_TTL_SECS (30).

import http from "node:http";
import os from "node:os";
import { randomUUID } from "node:crypto";

import jwt from "jsonwebtoken";
import pg from "pg";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";

// ---------------------------------------------------------------------------------------
// Configuration

const config = {
  apiAddr: parseAddr(process.env.PEER_API_ADDR ?? "127.0.0.1:4600"),
  socketAddr: parseAddr(process.env.PEER_SOCKET_ADDR ?? "127.0.0.1:4601"),
  databaseUrl: process.env.DATABASE_URL,
  poolSize: Number.parseInt(process.env.PG_POOL_SIZE ?? "16", 10),
  // Its own schema, so pointing it at classchat's database cannot mix the two tables sets.
  pgSchema: process.env.PG_SCHEMA || "socketio_peer",
  redisUrl: process.env.REDIS_URL || null,
  jwtSecret: process.env.CLASSCHAT_JWT_SECRET,
  jwtIssuer: process.env.CLASSCHAT_JWT_ISSUER || undefined,
  jwtAudience: process.env.CLASSCHAT_JWT_AUDIENCE || undefined,
  nodeId: process.env.PEER_NODE_ID || os.hostname(),
  presenceTtlMs: 1000 * Number.parseInt(process.env.PRESENCE_TTL_SECS ?? "30", 10),
};

const LIMITS = {
  contentMax: 4000,
  nameMax: 200,
  membersPerAdd: 50,
  roomsPerJoin: 100,
  bodyBytes: 64 * 1024,
};

const ROLES = new Set(["student", "teacher", "admin"]);

function parseAddr(s) {
  const i = s.lastIndexOf(":");
  if (i < 0) throw new Error(`address "${s}" is not host:port`);
  return { host: s.slice(0, i).replace(/^\[|\]$/g, "") || "0.0.0.0", port: Number(s.slice(i + 1)) };
}

if (!config.databaseUrl) fatal("DATABASE_URL is required (postgres://…)");
if (!config.jwtSecret) fatal("CLASSCHAT_JWT_SECRET is required (HS256 secret)");
if (!Number.isInteger(config.poolSize) || config.poolSize < 1) fatal("PG_POOL_SIZE must be a positive integer");
if (!/^[a-z_][a-z0-9_]*$/.test(config.pgSchema)) fatal("PG_SCHEMA must be a plain lower-case identifier");
if (!(config.presenceTtlMs > 0)) fatal("PRESENCE_TTL_SECS must be a positive integer");

function fatal(msg) {
  console.error(`node-socketio peer: ${msg}`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------
// Errors, as the contract spells them: { error: { code, message } } with an HTTP status

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const badRequest = (code, msg) => new ApiError(400, code, msg);
const notFound = () => new ApiError(404, "room_not_found", "no such room");
const forbidden = (msg) => new ApiError(403, "forbidden", msg);
const unauthorized = (msg) => new ApiError(401, "unauthorized", msg);

function errorBody(err) {
  if (err instanceof ApiError) return { code: err.code, message: err.message };
  console.error("internal error:", err);
  return { code: "internal", message: "internal error" };
}

// ---------------------------------------------------------------------------------------
// Authentication (HS256 only; `none` and algorithm confusion are rejected by pinning)

function verifyToken(token) {
  if (typeof token !== "string" || token.length === 0) throw unauthorized("missing token");
  let claims;
  try {
    claims = jwt.verify(token, config.jwtSecret, {
      algorithms: ["HS256"],
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
    });
  } catch (e) {
    throw unauthorized(`invalid token: ${e.message}`);
  }
  const { sub, role, name, exp } = claims;
  if (typeof sub !== "string" || sub.length < 1 || sub.length > 128) throw unauthorized("invalid sub claim");
  if (!ROLES.has(role)) throw unauthorized("invalid role claim");
  if (typeof exp !== "number") throw unauthorized("exp claim is required");
  return { userId: sub, role, name: typeof name === "string" && name ? name : sub };
}

// ---------------------------------------------------------------------------------------
// PostgreSQL

// BIGINT (seq) as a JS number rather than a string.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number.parseInt(v, 10));

const pool = new pg.Pool({
  connectionString: config.databaseUrl,
  max: config.poolSize,
  options: `-c search_path=${config.pgSchema}`,
});
pool.on("error", (err) => console.error("pg pool error:", err.message));

const SCHEMA = `
CREATE SCHEMA IF NOT EXISTS ${config.pgSchema};

CREATE TABLE IF NOT EXISTS rooms (
  id               TEXT PRIMARY KEY,
  kind             TEXT NOT NULL,
  name             TEXT,
  created_by       TEXT NOT NULL,
  created_at       TIMESTAMPTZ NOT NULL,
  last_seq         BIGINT NOT NULL DEFAULT 0,
  last_activity_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS rooms_by_activity ON rooms (last_activity_at, id);

CREATE TABLE IF NOT EXISTS members (
  room_id   TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  user_id   TEXT NOT NULL,
  room_role TEXT NOT NULL,
  joined_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (room_id, user_id)
);
CREATE INDEX IF NOT EXISTS members_by_user ON members (user_id, room_id);

CREATE TABLE IF NOT EXISTS messages (
  id                TEXT PRIMARY KEY,
  room_id           TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  seq               BIGINT NOT NULL,
  sender_id         TEXT NOT NULL,
  sender_name       TEXT NOT NULL,
  content           TEXT NOT NULL,
  client_message_id TEXT,
  created_at        TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_room_seq ON messages (room_id, seq);
CREATE UNIQUE INDEX IF NOT EXISTS messages_sender_client_id ON messages (sender_id, client_message_id)
  WHERE client_message_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS users (
  id        TEXT PRIMARY KEY,
  name      TEXT NOT NULL,
  role      TEXT NOT NULL,
  last_seen TIMESTAMPTZ
);
`;

// Several nodes start at once: serialise the DDL with an advisory lock.
async function migrate() {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock(hashtext('classchat-node-socketio-peer'))");
    await client.query(SCHEMA);
  } finally {
    await client.query("SELECT pg_advisory_unlock(hashtext('classchat-node-socketio-peer'))").catch(() => {});
    client.release();
  }
}

async function withTransaction(fn) {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

function toMessage(row) {
  return {
    id: row.id,
    roomId: row.room_id,
    seq: row.seq,
    senderId: row.sender_id,
    senderName: row.sender_name,
    content: row.content,
    clientMessageId: row.client_message_id,
    replyToId: null,
    mentions: [],
    createdAt: row.created_at.toISOString(),
    editedAt: null,
    deletedAt: null,
    deletedBy: null,
  };
}

function toRoom(row, members) {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    lastSeq: row.last_seq,
    lastActivityAt: row.last_activity_at.toISOString(),
    members: members.map((m) => ({ userId: m.user_id, roomRole: m.room_role })),
  };
}

/** The room and the caller's role in it; 404 if it does not exist or the caller may not see it. */
async function access(user, roomId) {
  const { rows } = await pool.query(
    `SELECT r.id, m.room_role
       FROM rooms r LEFT JOIN members m ON m.room_id = r.id AND m.user_id = $2
      WHERE r.id = $1`,
    [roomId, user.userId],
  );
  const row = rows[0];
  if (!row || (!row.room_role && user.role !== "admin")) throw notFound();
  return { roomRole: row.room_role };
}

async function roomDetail(roomId) {
  const [room, members] = await Promise.all([
    pool.query("SELECT * FROM rooms WHERE id = $1", [roomId]),
    pool.query("SELECT user_id, room_role FROM members WHERE room_id = $1 ORDER BY joined_at, user_id", [roomId]),
  ]);
  return toRoom(room.rows[0], members.rows);
}

// ---------------------------------------------------------------------------------------
// Domain operations (shared by REST and Socket.IO)

function stringList(value, field, max) {
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string" || v.length < 1 || v.length > 128)) {
    throw badRequest("invalid_input", `${field} must be an array of ids`);
  }
  if (value.length > max) throw new ApiError(413, "too_many", `at most ${max} ${field}`);
  return [...new Set(value)];
}

async function createGroup(user, body) {
  if (user.role === "student") throw forbidden("students cannot create group rooms");
  const name = body?.name;
  if (typeof name !== "string" || name.trim().length === 0 || name.length > LIMITS.nameMax) {
    throw badRequest("invalid_input", `name must be 1-${LIMITS.nameMax} characters`);
  }
  const memberIds = stringList(body.memberIds ?? [], "memberIds", LIMITS.membersPerAdd).filter((id) => id !== user.userId);
  const id = randomUUID();
  const now = new Date();
  await withTransaction(async (db) => {
    await db.query(
      "INSERT INTO rooms (id, kind, name, created_by, created_at, last_activity_at) VALUES ($1, 'group', $2, $3, $4, $4)",
      [id, name, user.userId, now],
    );
    await db.query(
      `INSERT INTO members (room_id, user_id, room_role, joined_at)
       SELECT $1, u, CASE WHEN u = $2 THEN 'owner' ELSE 'member' END, $3
         FROM unnest($4::text[]) AS u`,
      [id, user.userId, now, [user.userId, ...memberIds]],
    );
  });
  const room = await roomDetail(id);
  joinMemberRoom(id, [user.userId, ...memberIds]);
  if (memberIds.length > 0) {
    notify(memberIds, { type: "group-invite", room: withoutMembers(room), by: by(user) });
  }
  return room;
}

async function addMembers(user, roomId, body) {
  const { roomRole } = await access(user, roomId);
  if (user.role !== "admin" && roomRole !== "owner" && roomRole !== "admin") {
    throw forbidden("only the room's owner or admins add members");
  }
  const userIds = stringList(body?.userIds, "userIds", LIMITS.membersPerAdd);
  const before = await pool.query("SELECT user_id FROM members WHERE room_id = $1", [roomId]);
  const { rows } = await pool.query(
    `INSERT INTO members (room_id, user_id, room_role, joined_at)
     SELECT $1, u, 'member', now() FROM unnest($2::text[]) AS u
     ON CONFLICT DO NOTHING
     RETURNING user_id`,
    [roomId, userIds],
  );
  const added = rows.map((r) => r.user_id);
  const room = await roomDetail(roomId);
  if (added.length > 0) {
    joinMemberRoom(roomId, added);
    const summary = withoutMembers(room);
    notify(added, { type: "group-invite", room: summary, by: by(user) });
    const existing = before.rows.map((r) => r.user_id).filter((id) => id !== user.userId);
    notify(existing, { type: "member-added", room: summary, by: by(user), userIds: added });
  }
  return room;
}

/** Persists a message with the room's next seq; a repeated clientMessageId returns the first. */
async function sendMessage(user, roomId, body) {
  const content = body?.content;
  if (typeof content !== "string" || content.length === 0) throw badRequest("invalid_input", "content is required");
  if (content.length > LIMITS.contentMax) throw new ApiError(413, "content_too_long", `content is at most ${LIMITS.contentMax} characters`);
  const clientMessageId = body.clientMessageId ?? null;
  if (clientMessageId !== null && (typeof clientMessageId !== "string" || clientMessageId.length > 128)) {
    throw badRequest("invalid_input", "clientMessageId must be a string of at most 128 characters");
  }
  await access(user, roomId);

  const now = new Date();
  const inserted = await withTransaction(async (db) => {
    const { rows: [room] } = await db.query(
      "UPDATE rooms SET last_seq = last_seq + 1, last_activity_at = $2 WHERE id = $1 RETURNING last_seq",
      [roomId, now],
    );
    const { rows } = await db.query(
      `INSERT INTO messages (id, room_id, seq, sender_id, sender_name, content, client_message_id, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (sender_id, client_message_id) WHERE client_message_id IS NOT NULL DO NOTHING
       RETURNING *`,
      [randomUUID(), roomId, room.last_seq, user.userId, user.name, content, clientMessageId, now],
    );
    if (rows.length === 0) throw new DuplicateSend();
    return rows[0];
  }).catch((err) => {
    if (err instanceof DuplicateSend) return null; // rolled back: the seq was not used
    throw err;
  });

  if (inserted === null) {
    const { rows } = await pool.query(
      "SELECT * FROM messages WHERE sender_id = $1 AND client_message_id = $2",
      [user.userId, clientMessageId],
    );
    return { message: toMessage(rows[0]), created: false };
  }
  const message = toMessage(inserted);
  io.to(`r:${roomId}`).emit("new-chat-message", envelope(message));
  return { message, created: true };
}

class DuplicateSend extends Error {}

async function joinRooms(socket, payload) {
  const user = socket.data.user;
  const roomIds = stringList(payload?.roomIds, "roomIds", LIMITS.roomsPerJoin);
  const { rows } = user.role === "admin"
    ? await pool.query("SELECT id AS room_id FROM rooms WHERE id = ANY($1)", [roomIds])
    : await pool.query("SELECT room_id FROM members WHERE user_id = $1 AND room_id = ANY($2)", [user.userId, roomIds]);
  const ok = new Set(rows.map((r) => r.room_id));
  const joined = roomIds.filter((id) => ok.has(id));
  const rejected = roomIds.filter((id) => !ok.has(id)).map((roomId) => ({ roomId, code: "room_not_found" }));
  socket.join(joined.map((id) => `r:${id}`));
  const data = { roomIds: joined, rejected };
  socket.emit("chat-rooms-joined", envelope(data));
  return data;
}

function leaveRoom(socket, payload) {
  const roomId = payload?.roomId;
  if (typeof roomId !== "string") throw badRequest("invalid_input", "roomId is required");
  socket.leave(`r:${roomId}`);
  return { roomId };
}

const envelope = (data) => ({ data, timestamp: new Date().toISOString() });
const by = (user) => ({ userId: user.userId, name: user.name });
const withoutMembers = ({ members, ...room }) => room;

function notify(userIds, data) {
  if (userIds.length > 0) io.to(userIds.map((id) => `u:${id}`)).emit("chat-notification", envelope(data));
}

// ---------------------------------------------------------------------------------------
// Presence
//
// Every socket of a user sits in `m:<roomId>` for each room the user is a member of
// (joined on connect, and when the user is added to a room), whether or not it joined the
// room's messages (`r:<roomId>`). A status change goes to all of the user's `m:` rooms
// at once, except the user's own sockets: Socket.IO sends one copy to a socket that is in
// several of them, and the Redis adapter carries the broadcast to every node.
//
// Sockets are counted per user across the cluster: in Redis, a hash per user with one
// field per node instance (HINCRBY); a field counts only while its node's liveness key
// exists, so a crashed node's sockets stop counting after the TTL. Without REDIS_URL the
// count is this process's own.

const localSockets = new Map(); // userId -> sockets on this node

function joinMemberRoom(roomId, userIds) {
  if (userIds.length > 0) io.in(userIds.map((id) => `u:${id}`)).socketsJoin(`m:${roomId}`);
}

/** `lastSeen` is the time of the change, RFC 3339 like every time in the contract. */
function announceStatus(userId, roomIds, status, at) {
  if (roomIds.length === 0) return; // no room, no contact
  io.to(roomIds.map((id) => `m:${id}`))
    .except(`u:${userId}`)
    .emit("chat-user-status-update", envelope({ userId, status, lastSeen: at.toISOString() }));
}

// Both answer the user's socket count across the cluster after the change.
const SUM_LIVE = `
local flat = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #flat, 2 do
  if redis.call('EXISTS', ARGV[3] .. flat[i]) == 1 then total = total + tonumber(flat[i + 1])
  else redis.call('HDEL', KEYS[1], flat[i]) end
end`;
const PRESENCE_CONNECT = `
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
${SUM_LIVE}
return total`;
const PRESENCE_DISCONNECT = `
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
${SUM_LIVE}
if total <= 0 then redis.call('DEL', KEYS[1]) end
return total`;

const presenceKey = (userId) => `peer:presence:${userId}`;
const NODE_KEY_PREFIX = "peer:node:";
// A restarted node must not count its previous life's sockets: one field per process.
const instanceId = `${config.nodeId}:${randomUUID()}`;

/** Counts one more socket of the user; returns the count across the cluster. */
async function countSocket(userId) {
  const total = presenceRedis
    ? await presenceRedis.presenceConnect(presenceKey(userId), instanceId, config.presenceTtlMs, NODE_KEY_PREFIX)
    : null;
  const local = (localSockets.get(userId) ?? 0) + 1;
  localSockets.set(userId, local);
  return total ?? local;
}

/** Counts one socket of the user less; returns the count across the cluster. */
async function uncountSocket(userId) {
  const local = (localSockets.get(userId) ?? 1) - 1;
  if (local > 0) localSockets.set(userId, local);
  else localSockets.delete(userId);
  if (!presenceRedis) return local;
  return presenceRedis.presenceDisconnect(presenceKey(userId), instanceId, config.presenceTtlMs, NODE_KEY_PREFIX);
}

/**
 * Connect middleware: runs before the client is told it is connected (as classchat does
 * its presence before answering the handshake). Joins `u:<id>` and the member rooms,
 * counts the socket and tells the contacts if this is the user's first socket anywhere.
 * (`socketsJoin` reaches connected sockets only: a user added to a room between the query
 * below and the end of the handshake is not in its member room until they reconnect.)
 */
async function presenceOnConnect(socket) {
  const user = socket.data.user;
  socket.join(`u:${user.userId}`);
  const { rows } = await pool.query("SELECT room_id FROM members WHERE user_id = $1", [user.userId]);
  const roomIds = rows.map((r) => r.room_id);
  socket.join(roomIds.map((id) => `m:${id}`));
  let total;
  try {
    total = await countSocket(user.userId);
  } catch (err) {
    // Connected without presence, as classchat does when its presence update fails.
    console.error("presence update on connect failed:", err.message);
    socket.data.counted = false;
    return;
  }
  socket.data.counted = true;
  if (total === 1) announceStatus(user.userId, roomIds, "online", new Date());
}

/** The socket is gone: the user's last socket anywhere makes them offline. */
async function presenceOnDisconnect(socket, roomIds) {
  // Stopping: the node's liveness key is gone, the other nodes no longer count its sockets.
  if (!socket.data.counted || stopping) return;
  socket.data.counted = false;
  const user = socket.data.user;
  const total = await uncountSocket(user.userId);
  if (total > 0) return;
  const lastSeen = new Date();
  // Told before the write, with no await in between, so that the node's announcements
  // keep the order of its Redis answers (a quick reconnect cannot be overtaken).
  announceStatus(user.userId, roomIds, "offline", lastSeen);
  await pool.query(
    `INSERT INTO users (id, name, role, last_seen) VALUES ($1, $2, $3, $4)
     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, role = EXCLUDED.role, last_seen = EXCLUDED.last_seen`,
    [user.userId, user.name, user.role, lastSeen],
  );
}

const memberRoomsOf = (socket) => [...socket.rooms].filter((r) => r.startsWith("m:")).map((r) => r.slice(2));

/** Keeps this node's liveness key and its users' presence keys from expiring. */
async function refreshPresence() {
  const batch = presenceRedis.pipeline();
  batch.set(NODE_KEY_PREFIX + instanceId, "1", "PX", config.presenceTtlMs);
  for (const userId of localSockets.keys()) batch.pexpire(presenceKey(userId), config.presenceTtlMs);
  await batch.exec();
}

// ---------------------------------------------------------------------------------------
// Socket.IO

const socketServer = http.createServer((req, res) => {
  res.writeHead(404, { "content-type": "application/json" });
  res.end(JSON.stringify({ error: { code: "not_found", message: "no such path" } }));
});

const io = new Server(socketServer, {
  path: "/socket.io/",
  // No sticky sessions in front of the nodes: WebSocket only, as the Socket.IO docs advise.
  transports: ["websocket"],
  serveClient: false,
});

io.use((socket, next) => {
  const hs = socket.handshake;
  const header = hs.headers.authorization;
  const token = hs.auth?.token
    ?? hs.query?.token
    ?? (typeof header === "string" && header.startsWith("Bearer ") ? header.slice(7) : undefined);
  try {
    socket.data.user = verifyToken(token);
    next();
  } catch (e) {
    const err = new Error("unauthorized");
    err.data = { code: "unauthorized", message: e.message };
    next(err);
  }
});

io.use(async (socket, next) => {
  try {
    await presenceOnConnect(socket);
  } catch (err) {
    console.error("connect failed:", err);
    const e = new Error("internal");
    e.data = { code: "internal", message: "internal error" };
    return next(e);
  }
  // The client left while this ran: Socket.IO drops the socket without a "disconnect".
  if (socket.conn.readyState !== "open") {
    presenceOnDisconnect(socket, memberRoomsOf(socket)).catch((err) => console.error("presence update on disconnect failed:", err.message));
    return next(new Error("closed"));
  }
  next();
});

io.on("connection", (socket) => {
  const user = socket.data.user;
  // The rooms are still there in "disconnecting" (gone by "disconnect").
  socket.on("disconnecting", () => {
    presenceOnDisconnect(socket, memberRoomsOf(socket))
      .catch((err) => console.error("presence update on disconnect failed:", err.message));
  });

  // A socket's events run one at a time, in the order it sent them (Socket.IO would
  // otherwise run the async handlers concurrently), and each is acked { ok, data | error }.
  let queue = Promise.resolve();
  const handle = (event, handler) => {
    socket.on(event, (...args) => {
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : () => {};
      queue = queue.then(async () => {
        try {
          ack({ ok: true, data: await handler(args[0]) });
        } catch (err) {
          ack({ ok: false, error: errorBody(err) });
        }
      });
    });
  };

  handle("join-chat-rooms", (payload) => joinRooms(socket, payload));
  handle("leave-chat-room", (payload) => leaveRoom(socket, payload));
  handle("send-chat-message", async (payload) => {
    if (typeof payload?.roomId !== "string") throw badRequest("invalid_input", "roomId is required");
    return (await sendMessage(user, payload.roomId, payload)).message;
  });
});

// ---------------------------------------------------------------------------------------
// REST (plain node:http)

const routes = [
  ["POST", /^\/chat\/rooms\/group$/, async (user, body) => [201, await createGroup(user, body)]],
  ["POST", /^\/chat\/rooms\/([^/]+)\/members$/, async (user, body, id) => [200, await addMembers(user, id, body)]],
  ["POST", /^\/chat\/rooms\/([^/]+)\/messages$/, async (user, body, id) => {
    if (body !== null && typeof body === "object") {
      const { message, created } = await sendMessage(user, id, body);
      return [created ? 201 : 200, message];
    }
    throw badRequest("invalid_input", "a JSON object body is required");
  }],
];

function send(res, status, payload) {
  const body = JSON.stringify(payload);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", (chunk) => {
      size += chunk.length;
      if (size > LIMITS.bodyBytes) {
        reject(new ApiError(413, "payload_too_large", "request body too large"));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (size === 0) return resolve(null);
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch {
        reject(badRequest("invalid_json", "body is not valid JSON"));
      }
    });
    req.on("error", reject);
  });
}

const apiServer = http.createServer(async (req, res) => {
  const path = req.url.split("?", 1)[0];
  try {
    if (req.method === "GET" && path === "/healthz") return send(res, 200, { status: "ok", node: config.nodeId });
    if (req.method === "GET" && path === "/readyz") {
      await pool.query("SELECT 1");
      return send(res, 200, { status: "ready", node: config.nodeId });
    }
    let matched = false;
    for (const [method, pattern, handler] of routes) {
      const m = pattern.exec(path);
      if (!m) continue;
      matched = true;
      if (req.method !== method) continue;
      const header = req.headers.authorization ?? "";
      const user = verifyToken(header.startsWith("Bearer ") ? header.slice(7) : "");
      const body = await readJson(req);
      const [status, data] = await handler(user, body, ...m.slice(1).map(decodeURIComponent));
      return send(res, status, { data });
    }
    throw matched
      ? new ApiError(405, "method_not_allowed", "method not allowed")
      : new ApiError(404, "not_found", "no such path");
  } catch (err) {
    send(res, err instanceof ApiError ? err.status : 500, { error: errorBody(err) });
  }
});

// ---------------------------------------------------------------------------------------
// Start and stop

const redisClients = [];
let presenceRedis = null; // the adapter's publishing client, with the presence scripts
let presenceTimer = null;

async function main() {
  await migrate();
  if (config.redisUrl) {
    const pubClient = new Redis(config.redisUrl);
    const subClient = pubClient.duplicate();
    redisClients.push(pubClient, subClient);
    for (const c of redisClients) c.on("error", (err) => console.error("redis error:", err.message));
    io.adapter(createAdapter(pubClient, subClient));
    pubClient.defineCommand("presenceConnect", { numberOfKeys: 1, lua: PRESENCE_CONNECT });
    pubClient.defineCommand("presenceDisconnect", { numberOfKeys: 1, lua: PRESENCE_DISCONNECT });
    presenceRedis = pubClient;
    await refreshPresence();
    presenceTimer = setInterval(() => {
      refreshPresence().catch((err) => console.error("presence refresh failed:", err.message));
    }, config.presenceTtlMs / 3);
  }
  await Promise.all([
    new Promise((resolve) => apiServer.listen(config.apiAddr.port, config.apiAddr.host, resolve)),
    new Promise((resolve) => socketServer.listen(config.socketAddr.port, config.socketAddr.host, resolve)),
  ]);
  console.log(
    `node-socketio peer ${config.nodeId} listening: api ${config.apiAddr.host}:${config.apiAddr.port}, ` +
      `socket.io ${config.socketAddr.host}:${config.socketAddr.port}, pg pool ${config.poolSize}, ` +
      (config.redisUrl ? "redis adapter" : "in-memory adapter"),
  );
}

let stopping = false;
async function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`node-socketio peer ${config.nodeId}: ${signal}, shutting down`);
  apiServer.close();
  clearInterval(presenceTimer);
  // Other nodes stop counting this node's sockets at once.
  if (presenceRedis) await presenceRedis.del(NODE_KEY_PREFIX + instanceId).catch(() => {});
  io.close();
  await Promise.allSettled([pool.end(), ...redisClients.map((c) => c.quit())]);
  process.exit(0);
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));

main().catch((err) => {
  console.error("node-socketio peer: failed to start:", err);
  process.exit(1);
});
