// Shared state of the classchat web client, small DOM helpers, REST calls and uploads.

export const $ = (id) => document.getElementById(id);

/** Everything the page knows; one object so the modules agree. */
export const state = {
  config: null,
  token: null,
  me: null,
  socket: null,
  rooms: new Map(), // roomId → room summary + { messages, readers, members, lastChangeSeq, hasOlder }
  current: null, // the open room's id
  statuses: new Map(), // userId → { status, lastSeen }
  replyTo: null, // message being replied to
  editing: null, // message being edited
  menuFor: null, // id of the message whose actions are shown
  mine: new Set(), // `${messageId} ${emoji}` of reactions this user added
};

/** `el("button", { class: "x", text: "Hi", onclick, "aria-label": … }, child…)` */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k in node && typeof v !== "string") node[k] = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

/** A REST call with the user's token; throws an Error carrying the server's code. */
export async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { authorization: `Bearer ${state.token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw Object.assign(new Error(json.error?.message || `HTTP ${res.status}`), { code: json.error?.code });
  return json;
}

/** The token's claims (not verified here: the server does that). */
export function claims(token) {
  const part = token.split(".")[1] || "";
  const bytes = Uint8Array.from(atob(part.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

/**
 * Uploads one file (POST /chat/uploads, raw body) and reports progress from 0 to 1.
 * XMLHttpRequest, because fetch has no upload progress.
 */
export function upload(file, { name = file.name, type = file.type, durationMs, onProgress } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/chat/uploads");
    xhr.setRequestHeader("authorization", `Bearer ${state.token}`);
    xhr.setRequestHeader("content-type", (type || "application/octet-stream").split(";")[0]);
    xhr.setRequestHeader("x-filename", encodeURIComponent(name || "file"));
    if (durationMs != null) xhr.setRequestHeader("x-duration-ms", String(Math.round(durationMs)));
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress?.(e.loaded / e.total);
    xhr.onload = () => {
      let json = {};
      try {
        json = JSON.parse(xhr.responseText);
      } catch {}
      if (xhr.status === 201) resolve(json.data);
      else reject(Object.assign(new Error(json.error?.message || `HTTP ${xhr.status}`), { code: json.error?.code }));
    };
    xhr.onerror = () => reject(new Error("the upload was cut off"));
    xhr.send(file);
  });
}

/**
 * A notification above the room list (read out by screen readers), never over the
 * conversation. One with an action stays until used, dismissed or its room is opened;
 * the others go after 8 s; at most 5 show.
 */
export function toast(text, { onclick, roomId } = {}) {
  const item = el("li", { "data-room-id": roomId });
  if (onclick) {
    item.append(el("button", { type: "button", class: "go", text, onclick: () => (item.remove(), onclick()) }),
      el("button", { type: "button", class: "dismiss", text: "×", "aria-label": `Dismiss: ${text}`, onclick: () => item.remove() }));
  } else {
    item.append(el("span", { text }));
    setTimeout(() => item.remove(), 8000);
  }
  $("toasts").append(item);
  while ($("toasts").children.length > 5) $("toasts").firstElementChild.remove();
}

/** Notifications about a room go once it is opened. */
export function clearToasts(roomId) {
  for (const li of $("toasts").querySelectorAll(`li[data-room-id="${CSS.escape(roomId)}"]`)) li.remove();
}

/** Shows an error in the conversation's alert line. */
export function notice(text) {
  $("notice").textContent = text;
}

export const time = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
export const userName = (room, userId) => room?.members?.find((m) => m.userId === userId)?.name || userId;
