// The live connection: joins every room with catch-up (lastSeq and lastChangeSeq) on each
// (re)connect, and applies what the server sends to the rooms and the page.

import { io } from "./vendor/socket.io.esm.min.js";
import { $, api, state, toast } from "./state.js";
import { applyReaction, renderMessages } from "./messages.js";
import { loadRooms, markSeen, openRoom, renderRoomStatus, renderRooms, roomName } from "./rooms.js";
import { meetingEvents } from "./meeting.js";
import { resendPending } from "./compose.js";

/** The highest seq held with nothing missing below it, back to the oldest loaded. */
function heldSeq(room) {
  let held = 0;
  for (const m of room.messages) if (m.seq && (held === 0 || m.seq === held + 1)) held = m.seq;
  return held;
}

/** Joins rooms made or found after the connect (a new group, an invite) with a catch-up baseline. */
export const joinRooms = (ids) => joinAll(state.socket, ids);

async function joinAll(socket, rooms = [...state.rooms.keys()]) {
  const lastSeq = {};
  const lastChangeSeq = {};
  for (const r of rooms.map((id) => state.rooms.get(id)).filter(Boolean)) {
    // Every join asks for a catch-up, so every room gets a baseline for its changes. A room
    // with messages shown but no baseline (its first join failed) is reloaded instead.
    if (r.lastChangeSeq == null && r.messages.some((m) => m.seq)) {
      r.messages = r.messages.filter((m) => m.pending);
      r.stale = true;
    }
    lastSeq[r.id] = r.messages.some((m) => m.seq) ? heldSeq(r) : r.lastMessage?.seq ?? r.lastSeq ?? 0;
    if (r.lastChangeSeq != null) lastChangeSeq[r.id] = r.lastChangeSeq;
  }
  const roomIds = rooms;
  for (let i = 0; i < roomIds.length; i += 100) {
    const ids = roomIds.slice(i, i + 100);
    const pick = (o) => Object.fromEntries(Object.entries(o).filter(([k]) => ids.includes(k)));
    const ack = await socket.timeout(30_000).emitWithAck("join-chat-rooms", { roomIds: ids, lastSeq: pick(lastSeq), lastChangeSeq: pick(lastChangeSeq) }).catch(() => null);
    if (!ack?.ok) continue;
    for (const c of ack.data.changeCatchUp || []) {
      const room = state.rooms.get(c.roomId);
      if (room) room.lastChangeSeq = c.lastChangeSeq;
    }
    // More missed than one join replays: reload those rooms from history.
    const incomplete = [...(ack.data.catchUp || []), ...(ack.data.changeCatchUp || [])].filter((c) => c.complete === false).map((c) => c.roomId);
    for (const id of new Set(incomplete)) {
      const room = state.rooms.get(id);
      room.messages = room.messages.filter((m) => m.pending);
      room.stale = true;
    }
  }
}

export function connect() {
  const url = state.config.socketUrl || `${location.protocol}//${location.hostname}:${state.config.socketPort}`;
  // auth as a function: every reconnect sends the token in force.
  // Status changes come in batches, one per 250 ms at most (docs/API.md, presence at class scale).
  const socket = io(url, { auth: (cb) => cb({ token: state.token, statusUpdates: "batched" }), transports: ["websocket"] });
  state.socket = socket;
  let connection = 0;
  socket.on("connect", async () => {
    const mine = ++connection; // a quicker reconnect supersedes this one
    $("conn").textContent = "connecting…";
    // The replay fills in the rooms; unread counts and rooms made meanwhile come from
    // REST afterwards, so nothing is counted twice. Then what was written offline goes out.
    state.replaying = true;
    try {
      const joined = new Set(state.rooms.keys());
      await joinAll(socket);
      if (mine !== connection) return;
      state.replaying = false;
      await loadRooms().catch(() => {});
      const added = [...state.rooms.keys()].filter((id) => !joined.has(id));
      if (added.length) await joinAll(socket, added);
      resendPending();
      if (state.status && state.status !== "online") socket.emit("update-chat-status", { status: state.status });
      $("conn").textContent = "online";
      const open = state.rooms.get(state.current);
      if (open) {
        if (open.stale || !open.messages.some((m) => m.seq)) await openRoom(open.id);
        markSeen(open);
        renderMessages();
        renderRoomStatus();
      }
      renderRooms();
    } catch (err) {
      $("conn").textContent = `online (${err.message})`;
    } finally {
      if (mine === connection) state.replaying = false;
    }
  });
  socket.on("disconnect", () => ($("conn").textContent = "reconnecting…"));
  socket.on("connect_error", (err) => ($("conn").textContent = `offline (${err.data?.code || err.message})`));
  socket.on("new-chat-message", ({ data }) => receive(data));
  socket.on("chat-message-deleted", ({ data }) => change(data, (m) => Object.assign(m, { content: null, deletedAt: data.deletedAt || new Date().toISOString(), deletedBy: data.deletedBy, attachments: [] })));
  socket.on("chat-message-edited", ({ data }) => change(data, (m) => Object.assign(m, { content: data.content, editedAt: data.editedAt })));
  socket.on("chat-message-reaction", ({ data }) => {
    bumpChange(data);
    applyReaction(data);
  });
  socket.on("chat-message-pinned", ({ data }) => {
    change(data, (m) => (m.pinned = data.pinned));
    const room = state.rooms.get(data.roomId);
    if (room && data.roomId === state.current) {
      api("GET", `/chat/rooms/${room.id}/pins?limit=20`)
        .then(({ data: pins }) => data.roomId === state.current && ((room.pins = pins), renderMessages()))
        .catch(() => {});
    }
  });
  socket.on("messages-seen", ({ data }) => {
    const room = state.rooms.get(data.roomId);
    if (!room) return;
    if (data.userId === state.me.sub) {
      // Read on another tab or device of mine.
      if (data.upToSeq >= (room.lastMessage?.seq ?? 0)) room.unreadCount = 0;
      return renderRooms();
    }
    room.readers = room.readers || new Map();
    room.readers.set(data.userId, Math.max(room.readers.get(data.userId) || 0, data.upToSeq));
    if (data.roomId === state.current) renderMessages();
  });
  socket.on("chat-user-typing", ({ data }) => {
    if (data.roomId !== state.current || data.userId === state.me.sub) return;
    $("typing").textContent = data.isTyping ? `${data.userName || data.userId} is typing…` : "";
  });
  socket.on("chat-users-status-update", ({ data }) => {
    for (const u of data.users) state.statuses.set(u.userId, u);
    renderRooms();
    renderRoomStatus();
  });
  // Large rooms tell how many are online instead of each member's comings and goings.
  socket.on("room-online-count", ({ data }) => {
    if (data.roomId === state.current) $("room-status").textContent = `${data.online} of ${data.members} online`;
  });
  socket.on("chat-notification", ({ data }) => notification(socket, data).catch(() => {}));
  socket.on("session-expiring", ({ data }) => toast(`Your session ends at ${new Date(data.expiresAt).toLocaleTimeString()}: sign in again to stay connected`));
  socket.on("session-expired", () => {
    sessionStorage.removeItem("classchat-token");
    $("conn").textContent = "signed out: the session ended";
  });
  meetingEvents(socket);
}

async function notification(socket, data) {
  const by = data.by?.name || data.by?.userId || "Someone";
  const self = data.by?.userId === state.me.sub;
  const known = state.rooms.has(data.room?.id);
  if (data.room && !known) {
    await loadRooms();
    await joinAll(socket, [data.room.id]);
  }
  const room = state.rooms.get(data.room?.id);
  const name = room ? roomName(room) : data.room?.name || "a chat";
  const open = () => openRoom(data.room.id);
  const roomId = data.room?.id;
  if (data.type === "new-chat") toast(`${by} started a chat with you`, { onclick: open, roomId });
  else if (data.type === "group-invite") toast(`${by} added you to ${name}`, { onclick: open, roomId });
  else if (data.type === "member-added") toast(`${by} added ${data.userIds.join(", ")} to ${name}`, { onclick: open, roomId });
  else if (data.type === "mention") {
    if (room && data.room.id !== state.current) room.mentioned = true;
    toast(`${by} mentioned you in ${name}: ${data.message?.content?.slice(0, 60) || ""}`, { onclick: open, roomId });
    renderRooms();
  } else if (data.type === "meeting-started" && !self) toast(`${by} started a meeting in ${name}`, { onclick: open, roomId });
}

function bumpChange(d) {
  const room = state.rooms.get(d.roomId);
  if (room && d.changeSeq) room.lastChangeSeq = Math.max(room.lastChangeSeq || 0, d.changeSeq);
}

/** A change to one message (delete, edit, pin) from the room's change log. */
function change(d, apply) {
  bumpChange(d);
  const room = state.rooms.get(d.roomId);
  if (!room) return;
  const m = room.messages.find((x) => x.id === d.messageId);
  if (m) apply(m);
  if (room.lastMessage?.id === d.messageId) apply(room.lastMessage);
  for (const p of room.pins || []) if (p.id === d.messageId) apply(p);
  if (d.roomId === state.current) renderMessages();
  renderRooms();
}

/** A message from the live stream, a catch-up replay or a send's ack; each id is kept once, in seq order. */
export function receive(m) {
  const room = state.rooms.get(m.roomId);
  if (!room) return loadRooms().catch(() => {});
  const i = room.messages.findIndex((x) => x.id === m.id || (x.pending && x.clientMessageId && x.clientMessageId === m.clientMessageId));
  const fresh = i < 0 || room.messages[i].pending;
  if (i >= 0) room.messages.splice(i, 1);
  let at = room.messages.length;
  while (at > 0 && (room.messages[at - 1].pending || room.messages[at - 1].seq > m.seq)) at--;
  // Older than what is loaded: history has it when the reader scrolls there.
  if (i < 0 && room.messages.length && at === 0 && room.hasOlder) return;
  room.messages.splice(at, 0, m);
  if (fresh) {
    const original = m.replyToId && room.messages.find((x) => x.id === m.replyToId);
    if (original) original.replyCount = (original.replyCount || 0) + 1;
  }
  if (!room.lastMessage || m.seq >= room.lastMessage.seq) room.lastMessage = m;
  const fromOther = m.senderId !== state.me.sub;
  if (m.roomId === state.current) {
    renderMessages();
    if (fromOther && i < 0) $("announce").textContent = `New message from ${m.senderName}`;
    if (fromOther && !document.hidden) markSeen(room);
  } else if (i < 0 && fromOther && !state.replaying) {
    room.unreadCount = (room.unreadCount || 0) + 1;
  }
  renderRooms();
}

// Back to a hidden tab: what arrived meanwhile is read now.
document.addEventListener("visibilitychange", () => {
  const room = state.rooms.get(state.current);
  if (!document.hidden && room) markSeen(room);
});
