// The room list (unread badges, last message, presence dots), opening a room, and
// making rooms: new group, new 1:1 chat, adding people.

import { $, api, clearToasts, el, notice, state, toast } from "./state.js";
import { loadOlder, renderMessages } from "./messages.js";
import { cancelCompose } from "./compose.js";
import { joinRooms } from "./live.js";
import { showMeetingButton } from "./meeting.js";

const otherMember = (room) => (room.members || []).find((m) => m.userId !== state.me.sub);

export function roomName(room) {
  if (room.type === "group") return room.name || "Group";
  const other = otherMember(room);
  return other?.name || other?.userId || "Chat";
}

function lastLine(m) {
  if (!m) return "";
  const text = m.content == null ? "(deleted)" : m.content || (m.attachments?.length ? `📎 ${m.attachments[0].name}` : "");
  return `${m.senderName}: ${text}`;
}

/** Loads every page of the caller's rooms (with members of 1:1 rooms, for names) and draws the list. */
export async function loadRooms() {
  const data = [];
  for (let cursor = null; ;) {
    const res = await api("GET", `/chat/rooms?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    data.push(...res.data);
    if (!(cursor = res.nextCursor)) break;
  }
  await Promise.allSettled(data.map(async (r) => {
    const old = state.rooms.get(r.id);
    // A 1:1 room is named after the other member; a group's members load when it opens.
    const members = old?.members?.length ? old.members : r.type === "personal" ? (await api("GET", `/chat/rooms/${r.id}`)).data.members : [];
    state.rooms.set(r.id, { messages: [], ...old, ...r, members });
  }));
  for (const r of data) if (!state.rooms.has(r.id)) state.rooms.set(r.id, { messages: [], members: [], ...r });
  await loadStatuses();
  renderRooms();
}

/** Presence of the other member of each 1:1 room. */
async function loadStatuses() {
  const ids = new Set([...state.rooms.values()].filter((r) => r.type === "personal").map((r) => otherMember(r)?.userId).filter(Boolean));
  await Promise.all([...ids].map(async (id) => {
    if (state.statuses.has(id)) return;
    const res = await api("GET", `/chat/users/${encodeURIComponent(id)}/status`).catch(() => null);
    if (res) state.statuses.set(id, res.data);
  }));
}

export function presenceText(userId) {
  const s = state.statuses.get(userId);
  if (!s) return "";
  if (s.status !== "offline") return s.status;
  return s.lastSeen ? `last seen ${new Date(s.lastSeen).toLocaleString([], { dateStyle: "short", timeStyle: "short" })}` : "offline";
}

export function renderRooms() {
  const recent = (r) => Date.parse(r.lastMessage?.createdAt || r.lastActivityAt || 0);
  const rooms = [...state.rooms.values()].sort((a, b) => recent(b) - recent(a));
  const focused = document.activeElement?.closest?.("#room-list .room-item")?.dataset.roomId;
  $("room-list").replaceChildren(...rooms.map((room) => {
    const other = room.type === "personal" ? otherMember(room) : null;
    const status = other ? state.statuses.get(other.userId)?.status || "offline" : null;
    const unread = room.unreadCount > 0 && room.id !== state.current;
    const btn = el("button", { type: "button", class: `room-item${room.id === state.current ? " current" : ""}`, "data-room-id": room.id, onclick: () => openRoom(room.id), "aria-current": room.id === state.current ? "true" : null },
      el("span", { class: "room-name" }, status ? el("span", { class: `presence ${status}`, role: "img", "aria-label": status }) : null, el("span", { text: roomName(room) })),
      el("span", { class: "room-last", text: lastLine(room.lastMessage) }),
      unread ? el("span", { class: "badge", text: String(room.unreadCount), "aria-label": `${room.unreadCount} unread` }) : null,
      room.mentioned && unread ? el("span", { class: "mention-mark", text: "@", "aria-label": "you were mentioned" }) : null);
    return el("li", {}, btn);
  }));
  // Redrawn on every event: keep a keyboard user's place.
  if (focused) $("room-list").querySelector(`[data-room-id="${CSS.escape(focused)}"]`)?.focus();
}

/** Opens a room: the last 50 messages, receipts, pins, who is online, its meeting. */
let opening = 0;
export async function openRoom(id) {
  const gen = ++opening;
  const previous = state.current;
  state.current = id;
  state.menuFor = null;
  let history, pins, detail;
  try {
    [history, pins, detail] = await Promise.all([
      api("GET", `/chat/rooms/${id}/messages?limit=50`),
      api("GET", `/chat/rooms/${id}/pins?limit=20`),
      api("GET", `/chat/rooms/${id}`),
    ]);
  } catch (err) {
    if (gen === opening) {
      state.current = previous;
      notice(`Cannot open the room: ${err.message}`);
    }
    return;
  }
  if (gen !== opening) return; // another room was opened meanwhile
  delete state.rooms.get(id)?.stale;
  if (!state.rooms.has(id)) state.rooms.set(id, { messages: [], ...detail.data });
  const room = state.rooms.get(id);
  // History, plus what arrived while it loaded and what is still being sent.
  const loaded = history.data.reverse();
  const top = loaded.at(-1)?.seq ?? 0;
  const ids = new Set(loaded.map((m) => m.id));
  room.messages = [...loaded, ...room.messages.filter((m) => !ids.has(m.id) && (m.pending || m.seq > top))];
  room.hasOlder = history.nextCursor != null;
  room.pins = pins.data;
  room.members = detail.data.members;
  room.readers = new Map(detail.data.members.filter((m) => m.userId !== state.me.sub).map((m) => [m.userId, m.lastReadSeq]));
  if (previous !== id) cancelCompose();
  $("room-title").textContent = roomName(room);
  $("room-status").textContent = "";
  $("send-form").hidden = false;
  $("invite").hidden = !(room.type === "group" && (state.me.role === "admin" || ["owner", "admin"].includes(room.members.find((m) => m.userId === state.me.sub)?.roomRole)));
  document.body.classList.add("in-room");
  notice("");
  renderMessages({ anchor: "bottom" });
  markSeen(room);
  room.mentioned = false;
  clearToasts(id);
  renderRooms();
  renderRoomStatus();
  showMeetingButton(room);
  $("text").focus();
}

/** Under the room's name: the other person's presence, or how many members are online. */
export async function renderRoomStatus() {
  const room = state.rooms.get(state.current);
  if (!room) return;
  if (room.type === "personal") {
    $("room-status").textContent = presenceText(otherMember(room)?.userId);
    return;
  }
  const ack = await state.socket?.timeout(5000).emitWithAck("get-room-online-users", { roomId: room.id }).catch(() => null);
  if (ack?.ok && state.current === room.id) $("room-status").textContent = `${ack.data.users.length} of ${room.members.length} online`;
}

export function markSeen(room) {
  const last = room.messages.filter((m) => m.seq).at(-1);
  room.unreadCount = 0;
  if (last) state.socket?.emit("mark-messages-seen", { roomId: room.id, upToSeq: last.seq });
}

$("messages").addEventListener("scroll", () => {
  if ($("messages").scrollTop < 40) loadOlder().catch((err) => notice(`Cannot load older messages: ${err.message}`));
});
$("back").addEventListener("click", () => {
  const was = state.current;
  document.body.classList.remove("in-room");
  state.current = null;
  renderRooms();
  $("room-list").querySelector(`[data-room-id="${CSS.escape(was || "")}"]`)?.focus();
});

/** A small form in the shared dialog; resolves to the answers, or null when cancelled. */
export function ask(title, fields) {
  $("dialog-title").textContent = title;
  const inputs = fields.map((f, i) => {
    const id = `dialog-input${i}`;
    const input = f.options
      ? el("select", { id }, ...f.options.map(([value, text]) => el("option", { value, text })))
      : el("input", { id, required: i === 0 ? true : null, autocomplete: "off" });
    return [el("label", { for: id, text: f.label }), input];
  });
  $("dialog-fields").replaceChildren(...inputs.flat());
  $("dialog").returnValue = ""; // Escape closes without changing it: never an earlier "ok"
  $("dialog").showModal();
  return new Promise((resolve) => {
    $("dialog").addEventListener("close", () => resolve($("dialog").returnValue === "ok" ? inputs.map(([, i]) => i.value) : null), { once: true });
  });
}

$("dialog-cancel").addEventListener("click", () => $("dialog").close("cancel"));

export async function pickRoom(title) {
  const options = [...state.rooms.values()].map((r) => [r.id, roomName(r)]);
  return (await ask(title, [{ label: "Room", options }]))?.[0] || null;
}

async function created(data) {
  await loadRooms();
  await joinRooms([data.id]);
  await openRoom(data.id);
}

const ids = (s) => s.split(",").map((x) => x.trim()).filter(Boolean);
const guarded = (what, fn) => async () => {
  try {
    await fn();
  } catch (err) {
    toast(`${what}: ${err.message}`);
  }
};

$("new-group").addEventListener("click", guarded("Cannot create the group", async () => {
  const answer = await ask("New group", [{ label: "Group name" }, { label: "Member ids, comma-separated" }]);
  if (answer) await created((await api("POST", "/chat/rooms/group", { name: answer[0], memberIds: ids(answer[1]) })).data);
}));

$("new-chat").addEventListener("click", guarded("Cannot start the chat", async () => {
  const answer = await ask("New chat", [{ label: "Their user id" }]);
  if (answer) await created((await api("POST", "/chat/rooms/personal", { userId: answer[0].trim() })).data);
}));

$("invite").addEventListener("click", guarded("Cannot add them", async () => {
  const answer = await ask("Add people", [{ label: "User ids, comma-separated" }]);
  if (!answer) return;
  const { data } = await api("POST", `/chat/rooms/${state.current}/members`, { userIds: ids(answer[0]) });
  state.rooms.get(state.current).members = data.members;
  toast(`Added ${ids(answer[0]).join(", ")}`);
  renderRoomStatus();
}));
