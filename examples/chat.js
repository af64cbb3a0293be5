// A terminal chat client for classchat: joins one room, prints what arrives, sends each
// line typed on stdin.
//
//   TOKEN=<jwt> ROOM=<room id> [URL=http://localhost:4501] node examples/chat.js
//
// Run `npm ci` in examples/ first (it installs socket.io-client). End stdin (Ctrl-D) to
// quit once the lines sent so far are acknowledged.
const { io } = require("socket.io-client");
const readline = require("node:readline");

const { TOKEN, ROOM, URL = "http://localhost:4501" } = process.env;
if (!TOKEN || !ROOM) {
  console.error("usage: TOKEN=<jwt> ROOM=<room id> [URL=http://localhost:4501] node chat.js");
  process.exit(2);
}
const socket = io(URL, { auth: { token: TOKEN } });

socket.on("connect", async () => {
  // Joined rooms do not survive a reconnect: join on every "connect".
  const ack = await socket.emitWithAck("join-chat-rooms", { roomIds: [ROOM] });
  if (!ack.ok) return console.error("cannot join:", ack.error.code, ack.error.message);
  console.log("joined:", ack.data.roomIds, "rejected:", ack.data.rejected);
});
socket.on("connect_error", (err) => console.error("cannot connect:", err.data || err.message));
socket.on("new-chat-message", ({ data: m }) => console.log(`#${m.seq} ${m.senderName}: ${m.content}`));

const pending = new Set();
const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (!line.trim()) return;
  const sent = socket
    .emitWithAck("send-chat-message", { roomId: ROOM, content: line })
    .then((ack) => {
      if (!ack.ok) console.error("not sent:", ack.error.code, ack.error.message);
    })
    .finally(() => pending.delete(sent));
  pending.add(sent);
});
lines.on("close", async () => {
  await Promise.allSettled([...pending]);
  socket.close();
});
