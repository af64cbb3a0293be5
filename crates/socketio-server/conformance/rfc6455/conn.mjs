// One client WebSocket over raw TCP for the RFC 6455 suite: a strict reader of the server's frames, Engine.IO pings answered, event-driven waits for echoes, pongs and the close.
import crypto from 'node:crypto';
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TIMEOUT, OP, frame, closeBody, message, binaryMessage, binaryEventText, httpRequest, upgradeHeaders, acceptKey } from './wire.mjs';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Close codes that may appear on the wire (RFC 6455 §7.4, IANA registry). */
export function validCloseCode(c) {
  return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

const open = new Set();
// Whatever a failed case left open is dropped, so the test file's process can exit.
after(() => open.forEach((c) => c.sock.destroy()));

export class Conn {
  /** A WebSocket to the echo server, past the Engine.IO open packet and (unless `connect: false`) the Socket.IO CONNECT. */
  static async open({ connect = true } = {}) {
    const key = crypto.randomBytes(16).toString('base64');
    const res = await httpRequest(upgradeHeaders(key));
    assert.equal(res.status, 101, 'the opening handshake is answered with 101');
    assert.equal(res.headers['sec-websocket-accept'], acceptKey(key));
    const c = new Conn(res.sock, res.rest);
    const first = await c.nextText('the Engine.IO open packet');
    assert.match(first, /^0\{/);
    c.openPacket = JSON.parse(first.slice(1));
    if (connect) {
      c.send(frame(OP.TEXT, '40'));
      assert.match(await c.nextText('the Socket.IO CONNECT answer'), /^40\{"sid":/);
    }
    return c;
  }

  constructor(sock, rest) {
    this.sock = sock;
    this.inBuf = Buffer.alloc(0);
    this.partial = null;
    this.events = [];
    this.violations = [];
    this.gotClose = false;
    this.ended = false;
    this.closed = false;
    this.error = null;
    this.pings = 0;
    // What we sent so far, parsed: Engine.IO pongs go out only between whole frames, outside a fragmented message, before our close.
    this.out = { head: Buffer.alloc(0), skip: 0, fragment: false, closed: false };
    this.splitting = 0;
    this.pongOwed = false;
    this.waiters = new Set();
    open.add(this);
    sock.on('data', (d) => this.onData(d));
    sock.on('end', () => ((this.ended = true), this.wake()));
    sock.on('close', () => ((this.closed = true), open.delete(this), this.wake()));
    sock.on('error', (e) => ((this.error = e), this.wake()));
    sock.resume();
    if (rest.length) this.onData(rest);
  }

  violate(what) {
    this.violations.push(what);
  }

  onData(d) {
    this.inBuf = this.inBuf.length ? Buffer.concat([this.inBuf, d]) : d;
    for (;;) {
      const b = this.inBuf;
      if (b.length < 2) break;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) break;
        len = b.readUInt16BE(2);
        off = 4;
        if (len < 126) this.violate(`length ${len} sent in 16 bits`);
      } else if (len === 127) {
        if (b.length < 10) break;
        const l = b.readBigUInt64BE(2);
        if (l > BigInt(1 << 30)) return this.violate(`frame length ${l}`), (this.inBuf = Buffer.alloc(0));
        len = Number(l);
        off = 10;
        if (len < 65536) this.violate(`length ${len} sent in 64 bits`);
      }
      if (b[1] & 0x80) this.violate('a masked server frame'), (off += 4);
      if (b.length < off + len) break;
      this.inBuf = b.subarray(off + len);
      this.onFrame(b[0], b.subarray(off, off + len));
    }
    this.wake();
  }

  onFrame(b0, payload) {
    const fin = (b0 & 0x80) !== 0;
    const op = b0 & 0x0f;
    if (this.gotClose) this.violate(`a frame (opcode ${op}) after the close frame`);
    if (b0 & 0x70) this.violate(`RSV bits ${(b0 >> 4) & 7} on a server frame`);
    if (op >= 8) {
      if (!fin || payload.length > 125) this.violate(`a fragmented or long control frame (opcode ${op})`);
      if (op === OP.CLOSE) return this.onClose(payload);
      if (op === OP.PING || op === OP.PONG) return this.events.push({ type: op === OP.PING ? 'ping' : 'pong', data: Buffer.from(payload) });
      return this.violate(`reserved opcode ${op}`);
    }
    if (op === OP.CONT) {
      if (!this.partial) return this.violate('a continuation frame with nothing to continue');
      this.partial.parts.push(Buffer.from(payload));
    } else if (op === OP.TEXT || op === OP.BINARY) {
      if (this.partial) this.violate('a data frame inside a fragmented message');
      this.partial = { op, parts: [Buffer.from(payload)] };
    } else return this.violate(`reserved opcode ${op}`);
    if (!fin) return;
    const { op: kind, parts } = this.partial;
    this.partial = null;
    const data = Buffer.concat(parts);
    if (kind === OP.BINARY) return this.events.push({ type: 'binary', data });
    let text;
    try {
      text = utf8.decode(data);
    } catch {
      return this.violate('a text message that is not UTF-8');
    }
    if (text === '2') return this.pings++, this.pong();
    // The application's greeting after CONNECT (if it sends one) is not part of any case.
    if (text.startsWith('42["auth",')) return;
    this.events.push({ type: 'text', data: text });
  }

  onClose(payload) {
    let code;
    let reason = '';
    if (payload.length === 1) this.violate('a close payload of 1 byte');
    if (payload.length >= 2) {
      code = payload.readUInt16BE(0);
      if (!validCloseCode(code)) this.violate(`close code ${code} on the wire`);
      try {
        reason = utf8.decode(payload.subarray(2));
      } catch {
        this.violate('a close reason that is not UTF-8');
      }
    }
    this.gotClose = true;
    this.events.push({ type: 'close', code, reason });
  }

  /** Answers an Engine.IO ping with `3` now, or once our frames allow it. */
  pong() {
    const o = this.out;
    if (o.closed) return;
    if (this.splitting || o.head.length || o.skip || o.fragment) return void (this.pongOwed = true);
    this.pongOwed = false;
    this.sock.write(this.track(frame(OP.TEXT, '3')));
  }

  /** Follows our own outgoing frames (headers parsed, payloads skipped). */
  track(buf) {
    const o = this.out;
    for (let i = 0; i < buf.length; ) {
      if (o.skip > 0) {
        const n = Math.min(o.skip, buf.length - i);
        (o.skip -= n), (i += n);
        continue;
      }
      o.head = Buffer.concat([o.head, buf.subarray(i, i + 1)]);
      i++;
      const h = o.head;
      if (h.length < 2) continue;
      let len = h[1] & 0x7f;
      const need = 2 + (len === 126 ? 2 : len === 127 ? 8 : 0) + (h[1] & 0x80 ? 4 : 0);
      if (h.length < need) continue;
      if (len === 126) len = h.readUInt16BE(2);
      else if (len === 127) len = Number(h.readBigUInt64BE(2));
      const op = h[0] & 0x0f;
      const fin = (h[0] & 0x80) !== 0;
      if (op === OP.TEXT || op === OP.BINARY) o.fragment = !fin;
      else if (op === OP.CONT && fin) o.fragment = false;
      else if (op === OP.CLOSE) o.closed = true;
      (o.skip = len), (o.head = Buffer.alloc(0));
    }
    return buf;
  }

  /** Writes bytes (or frames) in one write. */
  send(...bufs) {
    this.sock.write(this.track(Buffer.concat(bufs)));
    if (this.pongOwed) this.pong();
  }

  /** Writes `pieces` one TCP write at a time, each handed to the kernel and `gapMs` apart (so the server likely reads them apart; it must not matter). */
  async sendPieces(pieces, gapMs = 1) {
    this.splitting++;
    for (const p of pieces) {
      if (this.closed) break;
      await new Promise((r) => this.sock.write(this.track(p), r));
      if (gapMs) await sleep(gapMs);
    }
    this.splitting--;
    if (this.pongOwed) this.pong();
  }

  wake() {
    for (const w of [...this.waiters]) w();
  }

  state() {
    const ev = this.events.map((e) => `${e.type}${e.code ? ' ' + e.code : ''}${e.data ? ' ' + String(e.data).slice(0, 40) : ''}`);
    return `events [${ev.join(', ')}], FIN ${this.ended}, closed ${this.closed}, error ${this.error?.code}`;
  }

  /** Resolves with `pred()` once it is defined (checked on every event); fails on a timeout or a protocol violation by the server. */
  until(pred, what) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(reject, new Error(`timed out waiting for ${what}: ${this.state()}`)), TIMEOUT);
      const done = (f, v) => (clearTimeout(timer), this.waiters.delete(check), f(v));
      const check = () => {
        if (this.violations.length) return done(reject, new Error(`the server broke RFC 6455: ${this.violations.join('; ')}`));
        try {
          const v = pred();
          if (v !== undefined) done(resolve, v);
        } catch (e) {
          done(reject, e);
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  /** The next event (text, binary, ping, pong or close frame). */
  next(what) {
    return this.until(() => {
      if (this.events.length) return this.events.shift();
      if (this.closed) throw new Error(`the TCP connection closed before ${what}: ${this.state()}`);
    }, what);
  }

  async nextText(what) {
    const e = await this.next(what);
    assert.equal(e.type, 'text', `${what}: got ${e.type} ${e.code ?? ''}`);
    return e.data;
  }

  /** Expects `42["message-back",str]` as the very next event. */
  async expectEcho(str, what = 'the echo') {
    const t = await this.nextText(what);
    assert.ok(t.startsWith('42["message-back",'), `${what}: got ${t.slice(0, 60)}`);
    const [, got] = JSON.parse(t.slice(2));
    assert.ok(got === str, `${what}: ${String(got).length} chars came back for ${str.length} sent`);
  }

  /** Sends `str` as a `message` event in one frame and expects it back. */
  async echo(str) {
    this.send(frame(OP.TEXT, message(Buffer.from(str))));
    await this.expectEcho(str);
  }

  /** Expects `45n-["message-back",…placeholders]` as the very next event, then each of the n `attachments` as a binary message, byte for byte and in order. */
  async expectBinaryEcho(attachments, what = 'the binary echo') {
    assert.equal(await this.nextText(what), binaryEventText('message-back', attachments.length), `${what}: its text packet`);
    for (const [i, want] of attachments.entries()) {
      const e = await this.next(`${what}: attachment ${i}`);
      assert.equal(e.type, 'binary', `${what}: attachment ${i} is a ${e.type} message`);
      if (!e.data.equals(want)) assert.fail(`${what}: attachment ${i}: ${e.data.length} bytes came back for ${want.length} sent, first difference at byte ${e.data.findIndex((b, k) => b !== want[k])}`);
    }
  }

  /** Sends `attachments` as a `message` event (`45n-`) and its binary frames in one write, and expects them back (`expectBinaryEcho`). */
  async binaryEcho(attachments) {
    this.send(binaryMessage(attachments.length), ...attachments.map((a) => frame(OP.BINARY, a)));
    await this.expectBinaryEcho(attachments);
  }

  async expectPong(payload) {
    const e = await this.next('a pong');
    assert.equal(e.type, 'pong', `expected a pong, got ${e.type} ${e.code ?? ''}`);
    assert.deepEqual(e.data, Buffer.from(payload));
  }

  /** Expects a close frame next with one of `codes` (`undefined` in the list: no code), answers it, and expects the server to end the TCP connection with nothing after the close frame. */
  async expectClose(codes, what = `a close frame with ${codes.join(' or ')}`) {
    const e = await this.next(what);
    assert.equal(e.type, 'close', `${what}: got ${e.type} ${String(e.data ?? '').slice(0, 60)}`);
    assert.ok(codes.includes(e.code), `${what}: got ${e.code}`);
    if (!this.out.closed && !this.closed) this.send(frame(OP.CLOSE, closeBody(e.code)));
    await this.until(() => {
      if (this.closed && !this.ended) throw new Error(`the TCP connection was reset, not closed: ${this.error?.code}`);
      return this.closed ? true : undefined;
    }, 'the server to close the TCP connection');
    assert.deepEqual(this.events, [], 'nothing follows the close frame');
    return e;
  }

  /** The client's closing handshake: close 1000, expect 1000 back and the TCP connection closed. */
  async close() {
    this.send(frame(OP.CLOSE, closeBody(1000)));
    await this.expectClose([1000]);
  }
}
