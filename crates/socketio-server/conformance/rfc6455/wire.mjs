// What the RFC 6455 suite puts on the wire: masked client frames, Socket.IO `message` events of exact sizes, raw HTTP handshakes.
import net from 'node:net';
import crypto from 'node:crypto';

export const PORT = Number(process.env.PORT);
export const HOST = '127.0.0.1';
/** The echo server's maxPayload (bytes of one WebSocket message). */
export const MAX_PAYLOAD = 1_000_000;
/** How long any one expected event may take: generous, the machine may be loaded. */
export const TIMEOUT = Number(process.env.RFC6455_TIMEOUT_MS || 15_000);
export const PATH = '/socket.io/?EIO=4&transport=websocket';
export const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa };

/** A client frame: masked (unless `mask: false`), its length encoded minimally. */
export function frame(opcode, payload = Buffer.alloc(0), { fin = true, rsv = 0, mask = true } = {}) {
  payload = Buffer.from(payload);
  const len = payload.length;
  const head = Buffer.alloc(len < 126 ? 2 : len < 65536 ? 4 : 10);
  head[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  if (len < 126) head[1] = len;
  else if (len < 65536) (head[1] = 126), head.writeUInt16BE(len, 2);
  else (head[1] = 127), head.writeBigUInt64BE(BigInt(len), 2);
  if (!mask) return Buffer.concat([head, payload]);
  head[1] |= 0x80;
  const key = crypto.randomBytes(4);
  const body = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) body[i] = payload[i] ^ key[i & 3];
  return Buffer.concat([head, key, body]);
}

/** A close frame's payload: the code (if any) and the reason. */
export function closeBody(code, reason = Buffer.alloc(0)) {
  if (code === undefined) return Buffer.alloc(0);
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return Buffer.concat([b, Buffer.from(reason)]);
}

const PREFIX = Buffer.from('42["message","');
const SUFFIX = Buffer.from('"]');
/** Bytes around the JSON string of a `message` event. */
export const WRAP = PREFIX.length + SUFFIX.length;

/** The bytes of a JSON string's body: as they are, except the ASCII JSON must escape (so multi-byte sequences, valid or not, stay raw). */
export function jsonBody(bytes) {
  const out = [];
  for (const b of Buffer.from(bytes)) {
    if (b < 0x20 || b === 0x22 || b === 0x5c) out.push(...Buffer.from(`\\u${b.toString(16).padStart(4, '0')}`));
    else out.push(b);
  }
  return Buffer.from(out);
}

/** The text of `42["message",<bytes as a JSON string>]`. */
export function message(bytes) {
  return Buffer.concat([PREFIX, jsonBody(bytes), SUFFIX]);
}

/** A `message` event of exactly `n` bytes (n >= WRAP) and the string it carries. */
export function sized(n, fill = 'x') {
  const s = fill.repeat(n - WRAP);
  return { bytes: Buffer.concat([PREFIX, Buffer.from(s), SUFFIX]), str: s };
}

/** The text of the binary event `name` with `n` attachments: `45n-["name",{"_placeholder":true,"num":0},…]`. */
export function binaryEventText(name, n) {
  const placeholders = Array.from({ length: n }, (_, num) => JSON.stringify({ _placeholder: true, num }));
  return `45${n}-[${JSON.stringify(name)},${placeholders.join(',')}]`;
}

/** The text frame of a binary event with `n` attachments (sent next, as binary frames), named so the echo server does not answer it: whatever the binary frames hold is no WebSocket or Socket.IO error. */
export function attachmentHeader(n = 1) {
  return frame(OP.TEXT, binaryEventText('binary-case', n));
}

/** The text frame of a `message` event with `n` attachments, which the echo server answers (`binaryEcho` in conn.mjs). */
export function binaryMessage(n) {
  return frame(OP.TEXT, binaryEventText('message', n));
}

/** Splits `buf` into pieces of `size` bytes (the last may be shorter). */
export function chunks(buf, size) {
  const out = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

/** `buf` as one message of opcode `op` in fragments of `size` bytes: a first frame, then continuations, the last with fin. */
export function fragments(buf, size, op = OP.TEXT) {
  const parts = chunks(buf, size);
  return parts.map((p, i) => frame(i ? OP.CONT : op, p, { fin: i === parts.length - 1 }));
}

/** An HTTP request on a fresh TCP connection; resolves with the status line, headers, and the socket and bytes after the headers. */
export function httpRequest(lines) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(PORT, HOST);
    sock.setNoDelay(true);
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => (sock.destroy(), reject(new Error('no HTTP response'))), TIMEOUT);
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      clearTimeout(timer);
      sock.off('data', onData);
      sock.pause();
      const [statusLine, ...rest] = buf.subarray(0, end).toString('latin1').split('\r\n');
      const headers = {};
      for (const l of rest) {
        const i = l.indexOf(':');
        const k = l.slice(0, i).trim().toLowerCase();
        headers[k] = headers[k] === undefined ? l.slice(i + 1).trim() : `${headers[k]}, ${l.slice(i + 1).trim()}`;
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, sock, rest: buf.subarray(end + 4) });
    };
    sock.on('data', onData);
    sock.on('error', (e) => (clearTimeout(timer), reject(e)));
    sock.write([`GET ${PATH} HTTP/1.1`, `Host: ${HOST}:${PORT}`, ...lines, '', ''].join('\r\n'));
  });
}

/** The request headers of a valid opening handshake, with `key`. */
export function upgradeHeaders(key) {
  return ['Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Key: ${key}`, 'Sec-WebSocket-Version: 13'];
}

export function acceptKey(key) {
  return crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
}

