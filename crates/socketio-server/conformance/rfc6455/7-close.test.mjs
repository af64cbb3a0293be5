// Autobahn section 7: the closing handshake — valid close codes are echoed, invalid ones and 1-byte payloads get 1002, a non-UTF-8 reason 1007; nothing after a close is processed and the server ends the TCP connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Conn } from './conn.mjs';
import { OP, frame, closeBody, message, sized } from './wire.mjs';

const closeFrame = (code, reason) => frame(OP.CLOSE, closeBody(code, reason));

test('7.1.1 an echo, then a close 1000: the close is echoed with 1000 and the TCP connection ends', async () => {
  const c = await Conn.open();
  await c.echo('Hello World!');
  c.send(closeFrame(1000));
  await c.expectClose([1000]);
});

test('7.1.2 two close frames in one write are answered by one close frame', async () => {
  const c = await Conn.open();
  c.send(closeFrame(1000), closeFrame(1000));
  await c.expectClose([1000]);
});

test('7.1.3 a ping after the close is not answered', async () => {
  const c = await Conn.open();
  c.send(closeFrame(1000), frame(OP.PING, 'after close'));
  await c.expectClose([1000]);
});

test('7.1.4 a text message after the close is not processed (no echo)', async () => {
  const c = await Conn.open();
  c.send(closeFrame(1000), frame(OP.TEXT, message(Buffer.from('after close'))));
  await c.expectClose([1000]);
});

test('7.1.5 a fragment, the close, then the last fragment: the close is answered and the message dropped', async () => {
  const c = await Conn.open();
  const m = message(Buffer.from('fragment1fragment2'));
  c.send(frame(OP.TEXT, m.subarray(0, 10), { fin: false }), closeFrame(1000), frame(OP.CONT, m.subarray(10)));
  await c.expectClose([1000]);
});

test('7.1.6 a 256 KiB message, a close and a ping in one write: the close is answered, no pong follows it', async () => {
  const c = await Conn.open();
  c.send(frame(OP.TEXT, sized(262_144).bytes), closeFrame(1000), frame(OP.PING, 'after close'));
  // The message may or may not be echoed before the session ends; the close must come, and nothing after it.
  let e = await c.next('the echo or the close');
  if (e.type === 'text') assert.ok(e.data.startsWith('42["message-back",'));
  else c.events.unshift(e);
  await c.expectClose([1000]);
});

test('7.3.1 a close without payload is answered with a close (no code, or 1000) and the TCP connection ends', async () => {
  const c = await Conn.open();
  c.send(frame(OP.CLOSE));
  await c.expectClose([undefined, 1000]);
});

test('7.3.2 a close with a 1-byte payload is a protocol error: close 1002', async () => {
  const c = await Conn.open();
  c.send(frame(OP.CLOSE, Buffer.from([0x03])));
  await c.expectClose([1002]);
});

test('7.3.3 a close with code 1000 and no reason is echoed with 1000', async () => {
  const c = await Conn.open();
  c.send(closeFrame(1000));
  await c.expectClose([1000]);
});

test('7.3.4 a close with code 1000 and a reason is echoed with 1000', async () => {
  const c = await Conn.open();
  c.send(closeFrame(1000, 'Hello World!'));
  await c.expectClose([1000]);
});

test('7.3.5 a close with code 1000 and a 123-byte reason (125 bytes, the most a control frame holds) is echoed with 1000', async () => {
  const c = await Conn.open();
  c.send(closeFrame(1000, '*'.repeat(123)));
  await c.expectClose([1000]);
});

test('7.3.6 a close with code 1000 and a 124-byte reason (126 bytes) is a protocol error: close 1002', async () => {
  const c = await Conn.open();
  c.send(closeFrame(1000, '*'.repeat(124)));
  await c.expectClose([1002]);
});

test('7.5.1 a close whose reason is not UTF-8 (κόσμε + ED A0 80) closes with 1007', async () => {
  const c = await Conn.open();
  c.send(closeFrame(1000, Buffer.concat([Buffer.from('κόσμε'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('edited')])));
  await c.expectClose([1007]);
});

test('7.5.2 a close whose reason is valid UTF-8 (κόσμε) is echoed with 1000', async () => {
  const c = await Conn.open();
  c.send(closeFrame(1000, 'κόσμε'));
  await c.expectClose([1000]);
});

const VALID = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
for (const [i, code] of VALID.entries()) {
  test(`7.7.${i + 1} a close with valid code ${code} is echoed with ${code}`, async () => {
    const c = await Conn.open();
    c.send(closeFrame(code, 'reason'));
    await c.expectClose([code]);
  });
}

const INVALID = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
for (const [i, code] of INVALID.entries()) {
  test(`7.9.${i + 1} a close with code ${code} (never valid on the wire) is a protocol error: close 1002`, async () => {
    const c = await Conn.open();
    c.send(closeFrame(code));
    await c.expectClose([1002]);
  });
}

test('7.13.1 the server ends the TCP connection after the closing handshake even if the client keeps it open', async () => {
  const c = await Conn.open();
  c.sock.allowHalfOpen = true;
  c.send(closeFrame(1000));
  const e = await c.next('the close');
  assert.equal(e.code, 1000);
  await c.until(() => (c.ended ? true : undefined), 'the FIN of the server');
  c.sock.destroy();
});

test('7.13.2 an Engine.IO close packet (1) ends the session with a close frame 1000', async () => {
  const c = await Conn.open();
  c.send(frame(OP.TEXT, '1'));
  await c.expectClose([1000]);
});
