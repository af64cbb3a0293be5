// The classchat reference web client: plain ES modules, the official socket.io-client
// browser build, no framework. Sign in with a token (or "try it" on a zero-configuration
// node), see your rooms with unread counts, read and send messages live.

import { io } from "./vendor/socket.io.esm.min.js";

const $ = (id) => document.getElementById(id);
const state = { token: null, me: null, socket: null, rooms: new Map(), current: null, typingTimer: null };
const config = await (await fetch("config.json")).json();

// ---- REST ----
async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { authorization: `Bearer ${state.token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(json.error?.message || `${res.status}`);
  return json;
}

function claims(token) {
  const part = token.split(".")[1] || "";
  return JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/")));
}

// ---- sign in ----
async function signIn(token) {
  state.token = token;
  state.me = claims(token);
  await api("GET", "/chat/rooms?limit=1");
  sessionStorage.setItem("classchat-token", token);
  $("signin").hidden = true;
  $("chat").hidden = false;
  $("me").textContent = `${state.me.name || state.me.sub} (${state.me.role})`;
  $("new-group").hidden = state.me.role === "student";
  await loadRooms();
  connect();
}

$("token-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await signIn($("token").value.trim());
  } catch (err) {
    $("signin-error").textContent = `Cannot sign in: ${err.message}`;
  }
});

$("try-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const res = await fetch("try-token", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: $("try-name").value, role: $("try-role").value }),
  });
  const json = await res.json();
  if (!res.ok) {
    $("signin-error").textContent = json.error?.message || "try it is not available";
    return;
  }
  await signIn(json.data.token);
});

$("sign-out").addEventListener("click", () => {
  sessionStorage.removeItem("classchat-token");
  location.reload();
});

// ---- rooms ----
function roomName(room) {
  if (room.type === "group") return room.name || "Group";
  const other = (room.members || []).find((m) => m.userId !== state.me.sub);
  return other?.name || other?.userId || "Chat";
}

async function loadRooms() {
  const { data } = await api("GET", "/chat/rooms?limit=100");
  for (const r of data) state.rooms.set(r.id, { ...state.rooms.get(r.id), ...r, messages: state.rooms.get(r.id)?.messages || [] });
  renderRooms();
}

function renderRooms() {
  const list = $("room-list");
  list.replaceChildren();
  const rooms = [...state.rooms.values()].sort((a, b) => (b.lastMessage?.seq ? Date.parse(b.lastMessage.createdAt) : 0) - (a.lastMessage?.seq ? Date.parse(a.lastMessage.createdAt) : 0));
  for (const room of rooms) {
    const li = document.createElement("li");
    const btn = document.createElement("button");
    btn.type = "button";
    btn.className = "room-item" + (room.id === state.current ? " current" : "");
    btn.dataset.roomId = room.id;
    const name = document.createElement("span");
    name.className = "room-name";
    name.textContent = roomName(room);
    const last = document.createElement("span");
    last.className = "room-last";
    last.textContent = room.lastMessage ? `${room.lastMessage.senderName}: ${room.lastMessage.content ?? "(deleted)"}` : "";
    btn.append(name, last);
    if (room.unreadCount > 0 && room.id !== state.current) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = room.unreadCount;
      badge.setAttribute("aria-label", `${room.unreadCount} unread`);
      btn.append(badge);
    }
    btn.addEventListener("click", () => openRoom(room.id));
    li.append(btn);
    list.append(li);
  }
}

async function openRoom(id) {
  state.current = id;
  const room = state.rooms.get(id);
  const { data } = await api("GET", `/chat/rooms/${id}/messages?limit=50`);
  room.messages = data.reverse();
  await loadReaders(room);
  $("room-title").textContent = roomName(room);
  $("send-form").hidden = false;
  document.body.classList.add("in-room");
  renderMessages();
  markSeen(room);
  renderRooms();
  $("text").focus();
}

$("back").addEventListener("click", () => document.body.classList.remove("in-room"));

function markSeen(room) {
  const last = room.messages.at(-1);
  room.unreadCount = 0;
  if (last?.seq) state.socket?.emit("mark-messages-seen", { roomId: room.id, upToSeq: last.seq });
}

function renderMessages() {
  const room = state.rooms.get(state.current);
  const ol = $("messages");
  ol.replaceChildren();
  const mine = (room?.messages || []).filter((m) => m.senderId === state.me.sub && m.seq);
  const lastMine = mine.at(-1);
  for (const m of room?.messages || []) {
    const li = document.createElement("li");
    li.className = "message" + (m.senderId === state.me.sub ? " mine" : "") + (m.pending ? " pending" : "");
    li.dataset.seq = m.seq ?? "";
    const who = document.createElement("span");
    who.className = "sender";
    who.textContent = m.senderName;
    const text = document.createElement("span");
    text.className = "content";
    text.textContent = m.content ?? "(deleted)";
    li.append(who, text);
    // Who may delete is the server's rule; the button shows where it can say yes.
    const mayTry = m.senderId === state.me.sub || state.me.role !== "student";
    if (m.seq && m.content != null && mayTry) {
      const del = document.createElement("button");
      del.type = "button";
      del.className = "delete";
      del.textContent = "Delete";
      del.setAttribute("aria-label", `Delete: ${m.content.slice(0, 40)}`);
      del.addEventListener("click", () => remove(room, m));
      li.append(del);
    }
    if (m === lastMine) {
      const readers = [...(room.readers || new Map())].filter(([, seq]) => seq >= m.seq).map(([u]) => u);
      if (readers.length) {
        const seen = document.createElement("span");
        seen.className = "seen";
        seen.textContent = `Seen by ${readers.join(", ")}`;
        li.append(seen);
      }
    }
    ol.append(li);
  }
  ol.scrollTop = ol.scrollHeight;
}

async function remove(room, m) {
  try {
    await api("DELETE", `/chat/rooms/${room.id}/messages/${m.id}`);
  } catch (err) {
    $("notice").textContent = `Cannot delete: ${err.message}`;
  }
}

/** Read receipts of the room's members, from `seen-by` of my last message, then live. */
async function loadReaders(room) {
  room.readers = room.readers || new Map();
  const lastMine = room.messages.filter((m) => m.senderId === state.me.sub && m.seq).at(-1);
  if (!lastMine) return;
  const { data } = await api("GET", `/chat/rooms/${room.id}/messages/${lastMine.id}/seen-by`);
  for (const r of data) room.readers.set(r.userId, Math.max(room.readers.get(r.userId) || 0, r.lastReadSeq));
}

// ---- live ----
function connect() {
  const url = config.socketUrl || `${location.protocol}//${location.hostname}:${config.socketPort}`;
  const socket = io(url, { auth: { token: state.token }, transports: ["websocket"] });
  state.socket = socket;
  socket.on("connect", () => {
    $("conn").textContent = "online";
    const lastSeq = {};
    for (const r of state.rooms.values()) if (r.messages.length) lastSeq[r.id] = r.messages.at(-1).seq || 0;
    socket.emit("join-chat-rooms", { roomIds: [...state.rooms.keys()], lastSeq });
  });
  socket.on("disconnect", () => ($("conn").textContent = "reconnecting…"));
  socket.on("new-chat-message", ({ data: m }) => receive(m));
  socket.on("chat-message-deleted", ({ data }) => {
    const room = state.rooms.get(data.roomId);
    const m = room?.messages.find((x) => x.id === data.messageId);
    if (m) m.content = null;
    if (room?.lastMessage?.id === data.messageId) room.lastMessage.content = null;
    if (data.roomId === state.current) renderMessages();
    renderRooms();
  });
  socket.on("messages-seen", ({ data }) => {
    const room = state.rooms.get(data.roomId);
    if (!room || data.userId === state.me.sub) return;
    room.readers = room.readers || new Map();
    room.readers.set(data.userId, Math.max(room.readers.get(data.userId) || 0, data.upToSeq));
    if (data.roomId === state.current) renderMessages();
  });
  socket.on("chat-user-typing", ({ data }) => {
    if (data.roomId !== state.current || data.userId === state.me.sub) return;
    $("typing").textContent = data.isTyping ? `${data.userName || data.userId} is typing…` : "";
  });
  socket.on("chat-notification", async ({ data }) => {
    if (data.room && !state.rooms.has(data.room.id)) {
      await loadRooms();
      socket.emit("join-chat-rooms", { roomIds: [data.room.id] });
    }
  });
}

function receive(m) {
  let room = state.rooms.get(m.roomId);
  if (!room) return loadRooms();
  const i = room.messages.findIndex((x) => x.id === m.id || (x.pending && x.clientMessageId && x.clientMessageId === m.clientMessageId));
  if (i >= 0) room.messages[i] = m;
  else if (!room.messages.length || m.seq > (room.messages.at(-1).seq || 0)) room.messages.push(m);
  room.lastMessage = m;
  if (m.roomId === state.current) {
    renderMessages();
    if (m.senderId !== state.me.sub) markSeen(room);
  } else if (m.senderId !== state.me.sub) {
    room.unreadCount = (room.unreadCount || 0) + 1;
  }
  renderRooms();
}

// ---- sending ----
$("send-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const content = $("text").value;
  if (!content.trim() || !state.current) return;
  $("text").value = "";
  const clientMessageId = crypto.randomUUID();
  const room = state.rooms.get(state.current);
  room.messages.push({ id: clientMessageId, clientMessageId, pending: true, senderId: state.me.sub, senderName: state.me.name || state.me.sub, content });
  renderMessages();
  sendWithRetry(room.id, content, clientMessageId);
  state.socket.emit("chat-typing", { roomId: room.id, isTyping: false });
});

function sendWithRetry(roomId, content, clientMessageId, attempt = 0) {
  state.socket.timeout(5000).emit("send-chat-message", { roomId, content, clientMessageId }, (err, ack) => {
    if (ack?.ok) return receive(ack.data);
    // A lost ack or a drop: the same clientMessageId is stored once, however often it is sent.
    if (attempt < 5) setTimeout(() => sendWithRetry(roomId, content, clientMessageId, attempt + 1), 1000 * (attempt + 1));
  });
}

$("text").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) {
    e.preventDefault();
    $("send-form").requestSubmit();
    return;
  }
  if (!state.current || !state.socket) return;
  if (!state.typingTimer) state.socket.emit("chat-typing", { roomId: state.current, isTyping: true });
  clearTimeout(state.typingTimer);
  state.typingTimer = setTimeout(() => {
    state.typingTimer = null;
    state.socket.emit("chat-typing", { roomId: state.current, isTyping: false });
  }, 2000);
});

// ---- new rooms ----
function ask(title, label1, label2) {
  $("dialog-title").textContent = title;
  $("dialog-label1").textContent = label1;
  $("dialog-label2").textContent = label2 || "";
  $("dialog-input2").hidden = !label2;
  $("dialog-input1").value = "";
  $("dialog-input2").value = "";
  $("dialog").showModal();
  return new Promise((resolve) => {
    $("dialog").addEventListener("close", () => resolve($("dialog").returnValue === "ok" ? [$("dialog-input1").value, $("dialog-input2").value] : null), { once: true });
  });
}

$("new-group").addEventListener("click", async () => {
  const answer = await ask("New group", "Group name", "Member ids, comma-separated");
  if (!answer) return;
  const memberIds = answer[1].split(",").map((s) => s.trim()).filter(Boolean);
  const { data } = await api("POST", "/chat/rooms/group", { name: answer[0], memberIds });
  await loadRooms();
  state.socket.emit("join-chat-rooms", { roomIds: [data.id] });
  openRoom(data.id);
});

$("new-chat").addEventListener("click", async () => {
  const answer = await ask("New chat", "Their user id");
  if (!answer) return;
  const { data } = await api("POST", "/chat/rooms/personal", { userId: answer[0].trim() });
  await loadRooms();
  state.socket.emit("join-chat-rooms", { roomIds: [data.id] });
  openRoom(data.id);
});

// ---- start ----
$("try-form").hidden = !config.tryIt;
const saved = sessionStorage.getItem("classchat-token");
if (saved) signIn(saved).catch(() => ($("signin").hidden = false));
else $("signin").hidden = false;
