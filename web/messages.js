// The conversation: renders a room's messages (replies, forwards, attachments,
// reactions, pins, receipts) and the actions on each one.

import { $, api, el, notice, state, time, userName } from "./state.js";
import { startEdit, startReply } from "./compose.js";
import { pickRoom } from "./rooms.js";

export const EMOJI = ["👍", "❤️", "😂", "🎉", "❓"];

const preview = (m) => (m ? (m.content ?? "(deleted)") || (m.attachments?.length ? `📎 ${m.attachments[0].name}` : "") : "");

/** Renders the open room; keeps the reader at the bottom if they were there. */
export function renderMessages({ anchor } = {}) {
  const room = state.rooms.get(state.current);
  const ol = $("messages");
  const atBottom = ol.scrollHeight - ol.scrollTop - ol.clientHeight < 80;
  const [oldHeight, oldTop] = [ol.scrollHeight, ol.scrollTop];
  // Redrawn on every event: keep a keyboard user's place (the same control of the same message).
  const active = document.activeElement;
  const focusId = active?.closest?.("#messages .message")?.dataset.id;
  const focusLabel = active?.getAttribute?.("aria-label") || active?.textContent;
  const items = [];
  if (room?.hasOlder) items.push(el("li", { class: "older" }, el("button", { type: "button", id: "load-older", text: "Load earlier messages", onclick: () => loadOlder() })));
  const lastMine = (room?.messages || []).filter((m) => m.senderId === state.me.sub && m.seq).at(-1);
  for (const m of room?.messages || []) items.push(messageItem(room, m, m === lastMine));
  ol.replaceChildren(...items);
  renderPins(room);
  if (focusId) {
    const item = ol.querySelector(`.message[data-id="${CSS.escape(focusId)}"]`);
    const same = [...(item?.querySelectorAll("button") || [])].find((b) => (b.getAttribute("aria-label") || b.textContent) === focusLabel);
    (same || item?.querySelector(".more"))?.focus({ preventScroll: true });
  }
  if (anchor === "older") ol.scrollTop = ol.scrollHeight - oldHeight + oldTop;
  else if (anchor && anchor !== "bottom") ol.querySelector(`.message[data-id="${CSS.escape(anchor)}"]`)?.scrollIntoView({ block: "center" });
  else if (anchor === "bottom" || atBottom) ol.scrollTop = ol.scrollHeight;
  else ol.scrollTop = oldTop;
}

function messageItem(room, m, isLastMine) {
  const mine = m.senderId === state.me.sub;
  const deleted = m.deletedAt != null || m.content == null;
  const li = el("li", { class: `message${mine ? " mine" : ""}${m.pending ? " pending" : ""}`, "data-id": m.id, "data-seq": m.seq ?? "" });
  if (m.forwardedFrom) li.append(el("span", { class: "forwarded", text: `Forwarded from ${m.forwardedFrom.senderName || m.forwardedFrom.senderId}` }));
  if (m.replyToId) {
    const orig = room.messages.find((x) => x.id === m.replyToId);
    li.append(el("span", { class: "reply-quote", text: orig ? `↪ ${orig.senderName}: ${preview(orig).slice(0, 80)}` : "↪ an earlier message" }));
  }
  li.append(
    el("span", { class: "sender" }, el("span", { text: m.senderName || m.senderId }), m.createdAt ? el("time", { datetime: m.createdAt, text: ` ${time(m.createdAt)}` }) : null),
    el("span", { class: "content", text: deleted ? "(deleted)" : m.content }),
  );
  if (m.attachments?.length) li.append(el("div", { class: "attachments" }, ...m.attachments.map(attachmentView)));
  const meta = [m.editedAt && !deleted ? "edited" : null, m.pinned ? "📌 pinned" : null, m.replyCount ? `${m.replyCount} ${m.replyCount === 1 ? "reply" : "replies"}` : null].filter(Boolean);
  if (meta.length) li.append(el("span", { class: "meta", text: meta.join(" · ") }));
  if (m.reactions?.length) {
    li.append(el("div", { class: "reactions" }, ...m.reactions.map((r) => {
      const pressed = state.mine.has(`${m.id} ${r.emoji}`);
      return el("button", { type: "button", class: "reaction", "aria-pressed": String(pressed), "aria-label": `${r.emoji} ${r.count}, ${pressed ? "remove yours" : "add yours"}`, text: `${r.emoji} ${r.count}`, onclick: () => react(room, m, r.emoji) });
    })));
  }
  if (m.seq && !deleted) {
    const open = state.menuFor === m.id;
    li.append(el("button", { type: "button", class: "more", text: "⋯", "aria-expanded": String(open), "aria-label": `Actions for: ${preview(m).slice(0, 40)}`, onclick: () => toggleMenu(m.id) }));
    if (open) li.append(actions(room, m));
  }
  if (isLastMine) {
    const readers = [...(room.readers || new Map())].filter(([, seq]) => seq >= m.seq).map(([u]) => userName(room, u));
    if (readers.length) li.append(el("span", { class: "seen", text: `Seen by ${readers.join(", ")}` }));
  }
  return li;
}

/** Only the server's own paths (or http(s)) become links and sources. */
const safeUrl = (u) => (typeof u === "string" && (u.startsWith("/") || /^https?:\/\//.test(u)) ? u : "#");

function attachmentView(a) {
  a = { ...a, url: safeUrl(a.url) };
  const label = `${a.name}${a.durationMs ? ` (${Math.round(a.durationMs / 1000)} s)` : ""}`;
  if (a.kind === "image") return el("a", { href: a.url, target: "_blank", rel: "noopener" }, el("img", { src: a.url, alt: a.name, loading: "lazy" }));
  if (a.kind === "audio") return el("figure", {}, el("audio", { src: a.url, controls: true, preload: "metadata", "aria-label": label }), el("figcaption", { text: `🎤 ${label}` }));
  if (a.kind === "video") return el("figure", {}, el("video", { src: a.url, controls: true, preload: "metadata", "aria-label": label }), el("figcaption", { text: label }));
  return el("a", { class: "file", href: a.url, download: a.name, text: `📎 ${a.name} (${Math.ceil(a.size / 1024)} KiB)` });
}

/** Whether this user may pin in the room (the server decides; this hides what it would refuse). */
function mayPin(room) {
  if (room.type !== "group" || state.me.role === "admin") return true;
  const member = room.members?.find((x) => x.userId === state.me.sub);
  return state.me.role === "teacher" || ["owner", "admin"].includes(member?.roomRole);
}

function actions(room, m) {
  const mine = m.senderId === state.me.sub;
  const mayDelete = mine || state.me.role !== "student";
  const bar = el("div", { class: "actions-bar", role: "group", "aria-label": "Message actions" },
    el("button", { type: "button", text: "Reply", onclick: () => startReply(m) }),
    ...EMOJI.map((e) => el("button", { type: "button", class: "emoji", text: e, "aria-label": `React ${e}`, onclick: () => react(room, m, e) })),
    mine && m.content ? el("button", { type: "button", text: "Edit", onclick: () => startEdit(m) }) : null,
    mayPin(room) ? el("button", { type: "button", text: m.pinned ? "Unpin" : "Pin", onclick: () => pin(room, m) }) : null,
    el("button", { type: "button", text: "Forward", onclick: () => forward(m) }),
    mayDelete ? el("button", { type: "button", class: "delete", text: "Delete", onclick: () => remove(room, m) }) : null,
  );
  return bar;
}

function toggleMenu(id) {
  state.menuFor = state.menuFor === id ? null : id;
  renderMessages();
  document.querySelector(`.message[data-id="${CSS.escape(id)}"] .more`)?.focus();
}

async function react(room, m, emoji) {
  const key = `${m.id} ${emoji}`;
  const action = state.mine.has(key) ? "remove" : "add";
  const ack = await state.socket.emitWithAck("react-chat-message", { roomId: room.id, messageId: m.id, emoji, action });
  if (!ack.ok) return notice(`Cannot react: ${ack.error.message}`);
  if (action === "add") state.mine.add(key);
  else state.mine.delete(key);
  applyReaction(ack.data);
}

/** A reaction count from an ack or a `chat-message-reaction` event. */
export function applyReaction(d) {
  const m = state.rooms.get(d.roomId)?.messages.find((x) => x.id === d.messageId);
  if (!m) return;
  if (d.userId === state.me.sub) (d.action === "add" ? state.mine.add(`${m.id} ${d.emoji}`) : state.mine.delete(`${m.id} ${d.emoji}`));
  const others = (m.reactions || []).filter((r) => r.emoji !== d.emoji);
  const at = (m.reactions || []).findIndex((r) => r.emoji === d.emoji);
  if (d.count > 0) others.splice(at < 0 ? others.length : at, 0, { emoji: d.emoji, count: d.count });
  m.reactions = others;
  if (d.roomId === state.current) renderMessages();
}

async function pin(room, m) {
  try {
    await api(m.pinned ? "DELETE" : "PUT", `/chat/rooms/${room.id}/pins/${m.id}`);
  } catch (err) {
    notice(`Cannot pin: ${err.message}`);
  }
}

async function forward(m) {
  const target = await pickRoom("Forward to");
  if (!target) return;
  const ack = await state.socket.emitWithAck("send-chat-message", { roomId: target, forwardFromId: m.id, clientMessageId: crypto.randomUUID() });
  notice(ack.ok ? "" : `Cannot forward: ${ack.error.message}`);
}

async function remove(room, m) {
  try {
    await api("DELETE", `/chat/rooms/${room.id}/messages/${m.id}`);
  } catch (err) {
    notice(`Cannot delete: ${err.message}`);
  }
}

/** The room's pinned messages, above the conversation. */
function renderPins(room) {
  const pins = (room?.pins || []).filter((m) => m.content != null || m.attachments?.length);
  $("pins").hidden = !pins.length;
  $("pins").replaceChildren(...pins.map((m) => el("li", {}, el("button", { type: "button", text: `📌 ${m.senderName}: ${preview(m).slice(0, 60)}`, onclick: () => showMessage(room.id, m) }))));
}

/** Older history when the reader reaches the top (infinite scroll by `seq`); one load at a time, shared. */
export function loadOlder() {
  const room = state.rooms.get(state.current);
  const oldest = room?.messages.find((m) => m.seq)?.seq;
  if (room?.loadingOlder) return room.loadingOlder;
  if (!room?.hasOlder || !oldest) return Promise.resolve();
  room.loadingOlder = (async () => {
    const res = await api("GET", `/chat/rooms/${room.id}/messages?before=${oldest}&limit=50`);
    const known = new Set(room.messages.map((m) => m.id));
    room.messages.unshift(...res.data.reverse().filter((m) => !known.has(m.id)));
    room.hasOlder = res.nextCursor != null && res.data.length > 0;
    if (room.id === state.current) renderMessages({ anchor: "older" });
  })().finally(() => (room.loadingOlder = null));
  return room.loadingOlder;
}

/** Opens a room at a message (from search or a pin), loading history back to it. */
export async function showMessage(roomId, m) {
  const { openRoom } = await import("./rooms.js");
  if (state.current !== roomId) await openRoom(roomId);
  const room = state.rooms.get(roomId);
  while (state.current === roomId && !room.messages.some((x) => x.id === m.id) && room.hasOlder) await loadOlder();
  renderMessages({ anchor: m.id });
  const item = document.querySelector(`.message[data-id="${CSS.escape(m.id)}"]`);
  item?.classList.add("found");
  item?.setAttribute("tabindex", "-1");
  item?.focus();
}
