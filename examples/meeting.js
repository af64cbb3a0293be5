// The meeting page's logic: a full mesh of RTCPeerConnections, signalled through
// classchat (`meeting-join`, `meeting-signal`, …). The newcomer sends the offers.
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
for (const k of ["api", "sock", "token", "room"]) if (params.get(k)) $(k).value = params.get(k);
const state = { socket: null, me: null, room: null, ice: [], local: null, pcs: new Map(), hand: false };
const status = (s) => ($("status").textContent = s);

async function rest(method, path) {
  const r = await fetch($("api").value + path, { method, headers: { authorization: `Bearer ${$("token").value}` } });
  const body = await r.json();
  if (!r.ok) throw new Error(`${body.error.code}: ${body.error.message}`);
  return body.data;
}

function tile(id, label) {
  let fig = document.getElementById(`v-${id}`);
  if (!fig) {
    fig = document.createElement("figure");
    fig.id = `v-${id}`;
    fig.innerHTML = "<video autoplay playsinline></video><figcaption></figcaption>";
    $("videos").append(fig);
  }
  fig.querySelector("figcaption").textContent = label;
  return fig.querySelector("video");
}

function send(to, signal) {
  state.socket.emit("meeting-signal", { roomId: state.room, to, signal }, (ack) => {
    if (!ack.ok) console.warn("signal refused", ack.error);
  });
}

function peer(id, label) {
  let p = state.pcs.get(id);
  if (p) return p;
  const pc = new RTCPeerConnection({ iceServers: state.ice });
  p = { pc, pending: [] };
  state.pcs.set(id, p);
  for (const track of state.local.getTracks()) pc.addTrack(track, state.local);
  pc.onicecandidate = (e) => e.candidate && send(id, { type: "ice-candidate", candidate: e.candidate.toJSON() });
  pc.ontrack = (e) => (tile(id, label || id).srcObject = e.streams[0]);
  pc.onconnectionstatechange = () => console.log(id, pc.connectionState);
  return p;
}

function drop(id) {
  state.pcs.get(id)?.pc.close();
  state.pcs.delete(id);
  document.getElementById(`v-${id}`)?.remove();
}

async function onSignal({ data: { from, fromUserId, signal } }) {
  const p = peer(from, fromUserId);
  if (signal.type === "ice-candidate") {
    if (p.pc.remoteDescription) await p.pc.addIceCandidate(signal.candidate);
    else p.pending.push(signal.candidate);
    return;
  }
  await p.pc.setRemoteDescription({ type: signal.type, sdp: signal.sdp });
  for (const c of p.pending.splice(0)) await p.pc.addIceCandidate(c);
  if (signal.type === "offer") {
    await p.pc.setLocalDescription(await p.pc.createAnswer());
    send(from, { type: "answer", sdp: p.pc.localDescription.sdp });
  }
}

function leaveAll(why) {
  for (const id of [...state.pcs.keys()]) drop(id);
  state.socket?.close();
  state.socket = null;
  for (const b of ["mic", "cam", "hand", "leave"]) $(b).disabled = true;
  status(why);
}

async function join() {
  state.room = $("room").value.trim();
  state.local ??= await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  tile("me", "me").srcObject = state.local;
  const socket = io($("sock").value, { auth: { token: $("token").value }, transports: ["websocket"] });
  state.socket = socket;
  socket.on("connect_error", (e) => status(`cannot connect: ${e.data?.code || e.message}`));
  socket.on("meeting-signal", (e) => onSignal(e).catch(console.error));
  socket.on("meeting-participant-joined", ({ data }) => status(`${data.participant.name || data.participant.userId} joined`));
  socket.on("meeting-participant-left", ({ data }) => drop(data.peerId));
  socket.on("meeting-host-action", ({ data }) => {
    if (data.action === "mute") toggle("mic", false);
    if (data.action === "remove") leaveAll(`removed by ${data.by}`);
  });
  socket.on("meeting-ended", ({ data }) => leaveAll(`meeting ended (${data.reason})`));
  socket.on("connect", async () => {
    const ack = await socket.emitWithAck("meeting-join", { roomId: state.room, audio: true, video: true });
    if (!ack.ok) return leaveAll(`cannot join: ${ack.error.code}`);
    state.me = ack.data.peerId;
    state.ice = ack.data.iceServers;
    for (const b of ["mic", "cam", "hand", "leave"]) $(b).disabled = false;
    status(`in the meeting with ${ack.data.participants.length - 1} other(s)`);
    for (const other of ack.data.participants.filter((x) => x.peerId !== state.me)) {
      const p = peer(other.peerId, other.name || other.userId);
      await p.pc.setLocalDescription(await p.pc.createOffer());
      send(other.peerId, { type: "offer", sdp: p.pc.localDescription.sdp });
    }
  });
}

function toggle(kind, on) {
  const track = state.local[kind === "mic" ? "getAudioTracks" : "getVideoTracks"]()[0];
  track.enabled = on ?? !track.enabled;
  $(kind).textContent = kind === "mic" ? (track.enabled ? "Mute" : "Unmute") : track.enabled ? "Camera off" : "Camera on";
  state.socket.emit("meeting-media-state", { roomId: state.room, [kind === "mic" ? "audio" : "video"]: track.enabled });
}

$("setup").onsubmit = (e) => (e.preventDefault(), join().catch((err) => status(String(err))));
$("start").onclick = () => rest("POST", `/chat/rooms/${encodeURIComponent($("room").value.trim())}/meeting`)
  .then((m) => status(`meeting ${m.id} is running`), (err) => status(String(err)));
$("mic").onclick = () => toggle("mic");
$("cam").onclick = () => toggle("cam");
$("hand").onclick = () => {
  state.hand = !state.hand;
  $("hand").textContent = state.hand ? "Lower hand" : "Raise hand";
  state.socket.emit("meeting-media-state", { roomId: state.room, handRaised: state.hand });
};
$("leave").onclick = () => state.socket.emit("meeting-leave", { roomId: state.room }, () => leaveAll("left the meeting"));
window.classchatMeeting = state; // for tests and the curious
