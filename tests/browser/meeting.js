// A full-mesh WebRTC meeting over classchat's signalling, for the browser tests.
// The newcomer offers to every participant already there; the others answer.
// window.meeting exposes: peerId, pcs (Map peerId → RTCPeerConnection), joinAck, restIce,
// events (names received), joined (meeting-participant-joined data), malformed (events not
// shaped { data, timestamp }), error, done (join finished), and stats() for the test.
"use strict";

(() => {
  const q = new URLSearchParams(location.search);
  const socketUrl = q.get("socket");
  const restUrl = q.get("rest");
  const token = q.get("token");
  const roomId = q.get("room");
  const relay = q.get("relay") === "1";

  const M = (window.meeting = {
    peerId: null,
    pcs: new Map(),
    left: [],
    joined: [],
    joinAck: null,
    restIce: null,
    iceServers: null,
    events: [],
    malformed: [],
    signalErrors: [],
    error: null,
    done: false,
    stats,
  });

  const logEl = document.getElementById("log");
  const log = (...a) => {
    logEl.textContent += a.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join(" ") + "\n";
  };
  const fail = (e) => {
    M.error = M.error || String(e && e.stack ? e.stack : e);
    log("ERROR", M.error);
  };

  let socket;
  let stream;
  const pending = new Map(); // peerId → ICE candidates that arrived before the remote description

  async function signal(to, sig) {
    const a = await socket.timeout(15000).emitWithAck("meeting-signal", { roomId, to, signal: sig });
    if (!a || a.ok !== true) M.signalErrors.push({ to, type: sig.type, ack: a });
  }

  function peer(peerId) {
    let pc = M.pcs.get(peerId);
    if (pc) return pc;
    pc = new RTCPeerConnection({ iceServers: M.iceServers, iceTransportPolicy: relay ? "relay" : "all" });
    M.pcs.set(peerId, pc);
    for (const track of stream.getTracks()) pc.addTrack(track, stream);
    pc.onicecandidate = (ev) => {
      if (ev.candidate) signal(peerId, { type: "ice-candidate", candidate: ev.candidate.toJSON() }).catch(fail);
    };
    pc.ontrack = (ev) => {
      if (ev.track.kind !== "video") return;
      const v = document.createElement("video");
      v.autoplay = true;
      v.muted = true;
      v.dataset.peer = peerId;
      v.srcObject = ev.streams[0] || new MediaStream([ev.track]);
      document.getElementById("videos").appendChild(v);
    };
    pc.onconnectionstatechange = () => log("pc", peerId, pc.connectionState);
    return pc;
  }

  async function flush(peerId, pc) {
    for (const c of pending.get(peerId) || []) await pc.addIceCandidate(c);
    pending.delete(peerId);
  }

  async function onSignal(body) {
    const d = body && body.data;
    if (!d || d.roomId !== roomId) return;
    const { from, signal: s } = d;
    if (s.type === "offer") {
      const pc = peer(from);
      await pc.setRemoteDescription({ type: "offer", sdp: s.sdp });
      await flush(from, pc);
      await pc.setLocalDescription(await pc.createAnswer());
      await signal(from, { type: "answer", sdp: pc.localDescription.sdp });
    } else if (s.type === "answer") {
      const pc = M.pcs.get(from);
      if (!pc) throw new Error(`answer from unknown peer ${from}`);
      await pc.setRemoteDescription({ type: "answer", sdp: s.sdp });
      await flush(from, pc);
    } else if (s.type === "ice-candidate") {
      const pc = M.pcs.get(from);
      if (pc && pc.remoteDescription) await pc.addIceCandidate(s.candidate);
      else pending.set(from, [...(pending.get(from) || []), s.candidate]);
    }
  }

  // Signals are handled one at a time, in arrival order.
  let chain = Promise.resolve();
  const serial = (fn) => (body) => {
    chain = chain.then(() => fn(body)).catch(fail);
  };

  async function main() {
    if (!socketUrl || !restUrl || !token || !roomId) throw new Error("missing query parameters");
    const r = await fetch(`${restUrl}/chat/meetings/ice-servers`, { headers: { Authorization: `Bearer ${token}` } });
    const rb = await r.json();
    if (r.status !== 200) throw new Error(`GET /chat/meetings/ice-servers answered ${r.status}: ${JSON.stringify(rb)}`);
    M.restIce = rb.data;

    stream = await navigator.mediaDevices.getUserMedia({
      audio: true,
      video: { width: 320, height: 240, frameRate: 15 },
    });

    socket = io(socketUrl, { auth: { token }, transports: ["websocket"], reconnection: false });
    socket.onAny((event, ...args) => {
      M.events.push(event);
      const b = args[0];
      const wrapped = args.length === 1 && b && typeof b === "object" && "data" in b && typeof b.timestamp === "string";
      if (!wrapped) M.malformed.push({ event, args });
      if (event === "meeting-participant-joined" && wrapped && b.data.roomId === roomId) M.joined.push(b.data);
    });
    socket.on("meeting-signal", serial(onSignal));
    socket.on(
      "meeting-participant-left",
      serial(async (body) => {
        const d = body && body.data;
        if (!d || d.roomId !== roomId) return;
        const pc = M.pcs.get(d.peerId);
        if (pc) {
          pc.close();
          M.pcs.delete(d.peerId);
        }
        M.left.push(d);
      }),
    );
    await new Promise((res, rej) => {
      socket.once("connect", res);
      socket.once("connect_error", (e) => rej(new Error(`connect_error: ${e.message}`)));
    });

    const ack = await socket.timeout(15000).emitWithAck("meeting-join", { roomId, audio: true, video: true });
    M.joinAck = ack;
    if (!ack || ack.ok !== true) throw new Error(`meeting-join refused: ${JSON.stringify(ack)}`);
    M.peerId = ack.data.peerId;
    M.iceServers = Array.isArray(ack.data.iceServers) ? ack.data.iceServers : M.restIce.iceServers;
    log("joined as", M.peerId, "with", ack.data.participants.length, "participant(s)");

    // The newcomer offers to everyone already there.
    serial(async () => {
      for (const p of ack.data.participants) {
        if (p.peerId === M.peerId) continue;
        const pc = peer(p.peerId);
        await pc.setLocalDescription(await pc.createOffer());
        await signal(p.peerId, { type: "offer", sdp: pc.localDescription.sdp });
      }
      M.done = true;
    })();
  }

  /** Per remote peer: connection state, inbound video bytes and frames, the selected pair's candidate types. */
  async function stats() {
    const out = [];
    for (const [peerId, pc] of M.pcs) {
      const report = await pc.getStats();
      const byId = new Map();
      report.forEach((s) => byId.set(s.id, s));
      let videoBytesReceived = 0;
      let framesDecoded = 0;
      let pairId = null;
      report.forEach((s) => {
        if (s.type === "inbound-rtp" && s.kind === "video") {
          videoBytesReceived += s.bytesReceived || 0;
          framesDecoded += s.framesDecoded || 0;
        }
        if (s.type === "transport" && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
      });
      if (!pairId) report.forEach((s) => {
        if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") pairId = s.id;
      });
      const pair = pairId && byId.get(pairId);
      const local = pair && byId.get(pair.localCandidateId);
      const remote = pair && byId.get(pair.remoteCandidateId);
      out.push({
        peerId,
        connectionState: pc.connectionState,
        iceConnectionState: pc.iceConnectionState,
        videoBytesReceived,
        framesDecoded,
        localCandidateType: local ? local.candidateType : null,
        remoteCandidateType: remote ? remote.candidateType : null,
        localRelayProtocol: local ? local.relayProtocol || null : null,
      });
    }
    return out;
  }

  main().catch(fail);
})();
