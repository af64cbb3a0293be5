// Meetings in the page: start or join the room's meeting, camera and microphone tiles
// (a full mesh of RTCPeerConnections signalled through classchat), mute, camera, leave.

import { $, api, el, notice, state } from "./state.js";

const call = { roomId: null, peerId: null, ice: [], local: null, pcs: new Map(), running: new Map() };
window.classchatMeeting = call; // for tests and the curious

/** The header button of the open room: start, or join the running meeting. */
export async function showMeetingButton(room) {
  $("meeting-btn").hidden = false;
  label();
  // Always asked afresh: a start or end may have been missed while disconnected.
  const res = await api("GET", `/chat/rooms/${room.id}/meeting`).catch(() => null);
  if (res) call.running.set(room.id, res.data);
  else call.running.delete(room.id);
  if (state.current === room.id) label();
}

function label() {
  const btn = $("meeting-btn");
  const running = call.running.get(state.current);
  btn.disabled = call.roomId === state.current;
  btn.textContent = call.roomId === state.current ? "In the meeting" : running ? `Join meeting (${running.participants?.length ?? 0})` : "Start meeting";
}

$("meeting-btn").addEventListener("click", async () => {
  const roomId = state.current;
  $("meeting-btn").disabled = true;
  try {
    if (call.roomId && call.roomId !== roomId) await leave(); // one meeting at a time
    if (!call.running.has(roomId)) call.running.set(roomId, (await api("POST", `/chat/rooms/${roomId}/meeting`, {})).data);
    await join(roomId);
  } catch (err) {
    notice(`Cannot start or join the meeting: ${err.message}`);
  } finally {
    label();
  }
});

const status = (text) => ($("meeting-status").textContent = text);

function tile(id, name, stream, muted) {
  let fig = document.getElementById(`tile-${id}`);
  if (!fig) {
    fig = el("figure", { id: `tile-${id}`, class: "tile" }, el("video", { autoplay: true, playsInline: true, muted }), el("figcaption"));
    $("tiles").append(fig);
  }
  fig.querySelector("figcaption").textContent = name;
  if (stream) fig.querySelector("video").srcObject = stream;
}

function signal(to, sig) {
  state.socket.emit("meeting-signal", { roomId: call.roomId, to, signal: sig });
}

function peer(peerId, name) {
  let p = call.pcs.get(peerId);
  if (p) return p;
  const pc = new RTCPeerConnection({ iceServers: call.ice });
  p = { pc, pending: [], name };
  pc.onconnectionstatechange = () => pc.connectionState === "failed" && drop(peerId);
  call.pcs.set(peerId, p);
  for (const track of call.local.getTracks()) pc.addTrack(track, call.local);
  pc.onicecandidate = (e) => e.candidate && signal(peerId, { type: "ice-candidate", candidate: e.candidate.toJSON() });
  pc.ontrack = (e) => tile(peerId, name, e.streams[0], false);
  tile(peerId, name, null, false);
  return p;
}

function drop(peerId) {
  call.pcs.get(peerId)?.pc.close();
  call.pcs.delete(peerId);
  document.getElementById(`tile-${peerId}`)?.remove();
}

async function join(roomId) {
  call.local ??= await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  const ack = await state.socket.timeout(10_000).emitWithAck("meeting-join", { roomId, audio: true, video: true }).catch(() => null);
  if (!ack?.ok) {
    // Refused or no answer: camera off, and no half-joined peer left behind on the server.
    if (!ack) state.socket.emit("meeting-leave", { roomId });
    call.local.getTracks().forEach((t) => t.stop());
    call.local = null;
    return notice(`Cannot join the meeting: ${ack?.error.message || "no answer"}`);
  }
  Object.assign(call, { roomId, peerId: ack.data.peerId, ice: ack.data.iceServers });
  $("meeting").hidden = false;
  tile("me", `${state.me.name || state.me.sub} (you)`, call.local, true);
  label();
  const others = ack.data.participants.filter((x) => x.peerId !== call.peerId);
  status(`In the meeting with ${others.length} other${others.length === 1 ? "" : "s"}`);
  // The newcomer sends the offers.
  for (const o of others) {
    const p = peer(o.peerId, o.name || o.userId);
    await p.pc.setLocalDescription(await p.pc.createOffer());
    signal(o.peerId, { type: "offer", sdp: p.pc.localDescription.sdp });
  }
  $("mic").focus();
}

function end(why) {
  for (const id of [...call.pcs.keys()]) drop(id);
  call.local?.getTracks().forEach((t) => t.stop());
  Object.assign(call, { roomId: null, peerId: null, local: null });
  $("tiles").replaceChildren();
  $("meeting").hidden = true;
  $("mic").textContent = "Mute";
  $("cam").textContent = "Camera off";
  for (const b of ["mic", "cam"]) $(b).setAttribute("aria-pressed", "false");
  if (why) notice(why);
  if (state.current) label();
}

function toggle(kind, on) {
  const track = call.local?.[kind === "mic" ? "getAudioTracks" : "getVideoTracks"]()[0];
  if (!track) return;
  track.enabled = on ?? !track.enabled;
  $(kind).textContent = kind === "mic" ? (track.enabled ? "Mute" : "Unmute") : track.enabled ? "Camera off" : "Camera on";
  $(kind).setAttribute("aria-pressed", String(!track.enabled));
  state.socket.emit("meeting-media-state", { roomId: call.roomId, [kind === "mic" ? "audio" : "video"]: track.enabled });
}

$("mic").addEventListener("click", () => toggle("mic"));
$("cam").addEventListener("click", () => toggle("cam"));
async function leave() {
  await state.socket.timeout(5000).emitWithAck("meeting-leave", { roomId: call.roomId }).catch(() => null);
  end("You left the meeting");
}
$("leave-meeting").addEventListener("click", leave);

/** The meeting events of the page's socket. */
export function meetingEvents(socket) {
  socket.on("connect", () => {
    call.running.clear();
    const room = state.rooms.get(state.current);
    if (room) showMeetingButton(room);
  });
  socket.on("meeting-started", ({ data }) => {
    call.running.set(data.roomId, data.meeting);
    if (data.roomId === state.current) label();
  });
  socket.on("meeting-ended", ({ data }) => {
    call.running.delete(data.roomId);
    if (data.roomId === call.roomId) end(`The meeting ended (${data.reason})`);
    else if (data.roomId === state.current) label();
  });
  socket.on("meeting-participant-joined", ({ data }) => {
    const m = call.running.get(data.roomId);
    if (m) m.participants = [...(m.participants || []).filter((p) => p.peerId !== data.participant.peerId), data.participant];
    if (data.roomId === call.roomId) status(`${data.participant.name || data.participant.userId} joined`);
    if (data.roomId === state.current) label();
  });
  socket.on("meeting-participant-left", ({ data }) => {
    const m = call.running.get(data.roomId);
    if (m) m.participants = (m.participants || []).filter((p) => p.peerId !== data.peerId);
    if (data.roomId === call.roomId) drop(data.peerId);
    if (data.roomId === state.current) label();
  });
  socket.on("meeting-signal", ({ data }) => onSignal(data).catch((err) => console.warn("signal", err)));
  socket.on("meeting-host-action", ({ data }) => {
    if (data.action === "mute") toggle("mic", false);
    if (data.action === "remove") end(`${data.by} removed you from the meeting`);
  });
  // A dropped socket has left the meeting on the server: say so rather than show frozen tiles.
  socket.on("disconnect", () => call.roomId && end("The connection dropped: join the meeting again"));
}

async function onSignal({ roomId, from, fromUserId, signal: sig }) {
  if (roomId !== call.roomId) return;
  // Only an offer starts a connection: a late candidate of a peer that left makes no ghost tile.
  if (!call.pcs.has(from) && sig.type !== "offer") return;
  const name = call.running.get(roomId)?.participants?.find((p) => p.peerId === from)?.name || fromUserId;
  const p = peer(from, name);
  if (sig.type === "ice-candidate") {
    if (p.pc.remoteDescription) await p.pc.addIceCandidate(sig.candidate);
    else p.pending.push(sig.candidate);
    return;
  }
  // Glare (both sides offered): the peer with the smaller id yields and takes the other's offer.
  if (sig.type === "offer" && p.pc.signalingState === "have-local-offer") {
    if (call.peerId > from) return;
    await p.pc.setLocalDescription({ type: "rollback" });
  }
  await p.pc.setRemoteDescription({ type: sig.type, sdp: sig.sdp });
  for (const c of p.pending.splice(0)) await p.pc.addIceCandidate(c);
  if (sig.type === "offer") {
    await p.pc.setLocalDescription(await p.pc.createAnswer());
    signal(from, { type: "answer", sdp: p.pc.localDescription.sdp });
  }
}
