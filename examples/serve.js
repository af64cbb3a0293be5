// Serves the meeting page (examples/meeting.html) and the socket.io-client browser
// bundle on http://localhost:8080, for trying a meeting in two browser tabs.
//
//   (cd examples && npm ci) && node examples/serve.js      [PORT=8080]
//
// Browsers give camera and microphone only to secure pages: http://localhost is one.
const http = require("node:http");
const fs = require("node:fs");
const path = require("node:path");

const FILES = {
  "/": ["meeting.html", "text/html; charset=utf-8"],
  "/meeting.html": ["meeting.html", "text/html; charset=utf-8"],
  "/meeting.js": ["meeting.js", "text/javascript; charset=utf-8"],
  "/socket.io.min.js": [
    path.join("node_modules", "socket.io-client", "dist", "socket.io.min.js"),
    "text/javascript; charset=utf-8",
  ],
};
const port = Number(process.env.PORT || 8080);
http
  .createServer((req, res) => {
    const pathname = new URL(req.url, "http://x").pathname;
    if (pathname === "/favicon.ico") return res.writeHead(204).end();
    const file = FILES[pathname];
    if (!file) return res.writeHead(404).end("not found");
    fs.readFile(path.join(__dirname, file[0]), (err, body) => {
      if (err) return res.writeHead(500).end(String(err));
      res.writeHead(200, { "content-type": file[1], "cache-control": "no-store" }).end(body);
    });
  })
  .listen(port, "127.0.0.1", () => console.log(`meeting page: http://localhost:${port}/`));
