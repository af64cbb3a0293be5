// Writing: sending with optimistic display and clientMessageId retries, typing, replies,
// edits, @mentions, attachments with an upload progress bar, and voice messages.

import { $, el, notice, state, upload } from "./state.js";
import { renderMessages } from "./messages.js";
import { receive } from "./live.js";

const attached = []; // uploads done for the next message: attachment objects

export function startReply(m) {
  state.editing = null;
  state.replyTo = m;
  state.menuFor = null;
  banner(`Replying to ${m.senderName}: ${(m.content || "").slice(0, 60)}`);
  renderMessages();
  $("text").focus();
}

export function startEdit(m) {
  state.replyTo = null;
  state.editing = m;
  state.menuFor = null;
  banner("Editing your message");
  $("text").value = m.content;
  renderMessages();
  $("text").focus();
}

function banner(text) {
  $("compose-banner").hidden = !text;
  $("compose-banner-text").textContent = text || "";
}

export function cancelCompose() {
  if (state.editing) $("text").value = "";
  state.replyTo = null;
  state.editing = null;
  banner("");
}
$("compose-cancel").addEventListener("click", () => (cancelCompose(), $("text").focus()));

/** `@userId` words naming members of the room. */
function mentionsIn(room, content) {
  const words = new Set([...content.matchAll(/@([\w.-]+)/g)].map((x) => x[1].toLowerCase()));
  return (room.members || []).map((m) => m.userId).filter((id) => words.has(id.toLowerCase()) && id !== state.me.sub);
}

$("send-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const content = $("text").value;
  const room = state.rooms.get(state.current);
  if (!room || (!content.trim() && !attached.length)) return;
  if (state.editing?.roomId === room.id) {
    const m = state.editing;
    const ack = await state.socket.timeout(10_000).emitWithAck("edit-chat-message", { roomId: room.id, messageId: m.id, content }).catch(() => null);
    if (!ack?.ok) return notice(`Cannot edit: ${ack?.error.message || "no answer, try again"}`);
    $("text").value = "";
    cancelCompose();
    return;
  }
  const clientMessageId = crypto.randomUUID();
  const body = { roomId: room.id, content, clientMessageId };
  if (state.replyTo?.roomId === room.id) body.replyToId = state.replyTo.id;
  const mentions = mentionsIn(room, content);
  if (mentions.length) body.mentions = mentions;
  if (attached.length) body.attachmentIds = attached.map((a) => a.id);
  room.messages.push({ ...body, id: clientMessageId, pending: true, senderId: state.me.sub, senderName: state.me.name || state.me.sub, attachments: [...attached] });
  $("text").value = "";
  attached.length = 0;
  renderAttached();
  cancelCompose();
  renderMessages({ anchor: "bottom" });
  send(body);
  clearTimeout(state.typingTimer);
  state.typingSent = 0;
  state.socket.emit("chat-typing", { roomId: room.id, isTyping: false });
});

/**
 * Sends until acked; a repeated clientMessageId is stored once, however often it is sent.
 * While the socket is down nothing is retried here: the connect handler resends every
 * pending message (`resendPending`), in the order they were written.
 */
export function send(body, attempt = 0) {
  if (!state.socket.connected) return;
  state.socket.timeout(5000).emit("send-chat-message", body, (err, ack) => {
    if (ack?.ok) return receive(ack.data);
    if (ack && ack.error.code !== "rate_limited") return failed(body, ack.error);
    setTimeout(() => send(body, attempt + 1), Math.min(1000 * 2 ** attempt, 30_000));
  });
}

export function resendPending() {
  for (const room of state.rooms.values()) {
    for (const m of room.messages.filter((x) => x.pending)) {
      const { roomId, content, clientMessageId, replyToId, mentions, attachmentIds } = m;
      send({ roomId, content, clientMessageId, replyToId, mentions, attachmentIds });
    }
  }
}

/** Refused: the message leaves the list and its text comes back to the box. */
function failed(body, error) {
  const room = state.rooms.get(body.roomId);
  room.messages = room.messages.filter((m) => m.clientMessageId !== body.clientMessageId || !m.pending);
  notice(`Not sent: ${error.message}`);
  if (room.id === state.current) {
    if (!$("text").value) $("text").value = body.content || "";
    renderMessages();
  }
}

$("text").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $("send-form").requestSubmit();
    return;
  }
  if (e.key === "Escape" && (state.replyTo || state.editing)) return cancelCompose();
  if (!state.current || !state.socket || state.editing) return;
  // "typing" again every 2 s while keys come (the server stops it after 3 s), "stopped" 2 s after the last.
  const now = Date.now();
  if (now - (state.typingSent || 0) > 2000) {
    state.typingSent = now;
    state.socket.emit("chat-typing", { roomId: state.current, isTyping: true });
  }
  clearTimeout(state.typingTimer);
  const roomId = state.current;
  state.typingTimer = setTimeout(() => {
    state.typingSent = 0;
    state.socket.emit("chat-typing", { roomId, isTyping: false });
  }, 2000);
});

// ---- attachments ----
$("attach").addEventListener("click", () => $("file").click());
$("file").addEventListener("change", async () => {
  const files = [...$("file").files];
  $("file").value = "";
  await Promise.all(files.map((f) => uploadOne(f, {})));
});

async function uploadOne(file, opts) {
  const bar = el("progress", { max: "1", value: "0", "aria-label": `Uploading ${opts.name || file.name}` });
  const row = el("li", {}, el("span", { text: opts.name || file.name }), bar);
  $("uploads").append(row);
  try {
    const a = await upload(file, { ...opts, onProgress: (p) => (bar.value = p) });
    attached.push(a);
    return a;
  } catch (err) {
    notice(`Cannot upload ${opts.name || file.name}: ${err.message}`);
    return null;
  } finally {
    row.remove();
    renderAttached();
  }
}

function renderAttached() {
  $("attached").replaceChildren(...attached.map((a) => el("li", {}, el("span", { text: `📎 ${a.name}` }),
    el("button", { type: "button", text: "×", "aria-label": `Remove ${a.name}`, onclick: () => (attached.splice(attached.indexOf(a), 1), renderAttached()) }))));
}

// ---- voice messages ----
let recorder = null;
$("record").addEventListener("click", async () => {
  if (recorder) return recorder.stop();
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (err) {
    return notice(`No microphone: ${err.message}`);
  }
  const chunks = [];
  const started = performance.now();
  recorder = new MediaRecorder(stream);
  recorder.ondataavailable = (e) => e.data.size && chunks.push(e.data);
  recorder.onstop = async () => {
    stream.getTracks().forEach((t) => t.stop());
    const type = (recorder.mimeType || "audio/webm").split(";")[0];
    recorder = null;
    $("record").textContent = "Voice";
    $("record").setAttribute("aria-pressed", "false");
    const blob = new Blob(chunks, { type });
    const name = `voice-${new Date().toISOString().slice(0, 19).replace(/:/g, "-")}.${type.split("/")[1]}`;
    const a = await uploadOne(blob, { name, type, durationMs: performance.now() - started });
    if (a) $("send-form").requestSubmit();
  };
  recorder.start();
  $("record").textContent = "Stop and send";
  $("record").setAttribute("aria-pressed", "true");
});
