// Search: full-text over every message the user can read; a result opens its room at
// the message. Snippets mark matches with <mark>, built as DOM nodes (never innerHTML).

import { $, api, el, state } from "./state.js";
import { showMessage } from "./messages.js";
import { roomName } from "./rooms.js";

/** The server's snippet (HTML-escaped text with <mark>…</mark>) as safe nodes. */
function snippetNodes(snippet) {
  const text = (s) => {
    const t = document.createElement("textarea");
    t.innerHTML = s; // decodes entities only: a textarea's content is never parsed as markup
    return document.createTextNode(t.value);
  };
  return snippet.split(/(<mark>.*?<\/mark>)/s).filter(Boolean).map((part) =>
    part.startsWith("<mark>") ? el("mark", {}, text(part.slice(6, -7))) : text(part));
}

async function search(q, cursor) {
  const params = new URLSearchParams({ q, limit: "20" });
  if (cursor) params.set("cursor", cursor);
  return api("GET", `/chat/search?${params}`);
}

function resultItem({ message: m, snippet }) {
  const room = state.rooms.get(m.roomId);
  return el("li", {}, el("button", { type: "button", class: "result", onclick: () => showMessage(m.roomId, m) },
    el("span", { class: "room-name", text: room ? roomName(room) : "a room" }),
    el("span", { class: "sender", text: m.senderName }),
    el("span", { class: "snippet" }, ...snippetNodes(snippet || m.content || ""))));
}

$("search-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const q = $("search").value.trim();
  const list = $("results");
  if (!q) return closeSearch();
  $("results-title").hidden = false;
  $("room-list").hidden = true;
  list.replaceChildren(el("li", { class: "hint", text: "Searching…" }));
  try {
    let res = await search(q);
    const items = res.data.map(resultItem);
    list.replaceChildren(...(items.length ? items : [el("li", { class: "hint", text: `Nothing found for “${q}”` })]));
    const more = () => {
      const btn = el("button", { type: "button", text: "More results", onclick: async () => {
        btn.parentElement.remove();
        res = await search(q, res.nextCursor);
        list.append(...res.data.map(resultItem));
        if (res.nextCursor) more();
      } });
      list.append(el("li", {}, btn));
    };
    if (res.nextCursor) more();
  } catch (err) {
    list.replaceChildren(el("li", { class: "error", text: `Cannot search: ${err.message}` }));
  }
});

function closeSearch() {
  $("search").value = "";
  $("results").replaceChildren();
  $("results-title").hidden = true;
  $("room-list").hidden = false;
}

$("search").addEventListener("keydown", (e) => e.key === "Escape" && closeSearch());
$("search-clear").addEventListener("click", closeSearch);
