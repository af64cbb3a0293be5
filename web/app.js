// The classchat reference web client: plain ES modules, the official socket.io-client
// browser build, no framework. This module signs in and starts the others.

import { $, api, claims, state } from "./state.js";
import { loadRooms } from "./rooms.js";
import { connect } from "./live.js";
import "./compose.js";
import "./search.js";

state.config = await (await fetch("config.json")).json();

let signingIn = false;
async function signIn(token) {
  if (signingIn || state.socket) return;
  signingIn = true;
  try {
    await start(token);
  } finally {
    signingIn = false;
  }
}

async function start(token) {
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
  document.querySelector(".room-item")?.focus();
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
  const json = await res.json().catch(() => ({}));
  if (!res.ok) {
    $("signin-error").textContent = json.error?.message || "try it is not available";
    return;
  }
  await signIn(json.data.token).catch((err) => ($("signin-error").textContent = `Cannot sign in: ${err.message}`));
});

$("sign-out").addEventListener("click", () => {
  sessionStorage.removeItem("classchat-token");
  location.reload();
});

$("my-status").addEventListener("change", () => {
  state.status = $("my-status").value; // sent again after a reconnect
  state.socket?.emit("update-chat-status", { status: state.status });
});

$("try-form").hidden = !state.config.tryIt;
const saved = sessionStorage.getItem("classchat-token");
if (saved) signIn(saved).catch(() => ($("signin").hidden = false));
else $("signin").hidden = false;
