// Autobahn section 1: text and binary frames of every length encoding (7-bit, 16-bit, 64-bit) and their edges, in one write and in chunks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Conn } from './conn.mjs';
import { OP, frame, sized, chunks, attachmentHeader, WRAP } from './wire.mjs';

// 1.1.x: the text frame's payload is the whole `42["message","x…x"]` event, so its length is exact.
const TEXT = [
  ['1.1.2', 125],
  ['1.1.3', 126],
  ['1.1.4', 127],
  ['1.1.5', 128],
  ['1.1.6', 65535],
  ['1.1.7', 65536],
  ['1.1.9', 500_000],
];

test('1.1.1 an empty text frame is no WebSocket error: the session ends as an empty Engine.IO packet, with 1000', async () => {
  const c = await Conn.open();
  c.send(frame(OP.TEXT, ''));
  await c.expectClose([1000]);
});

for (const [id, n] of TEXT) {
  test(`${id} a text message of ${n} bytes in one frame comes back whole`, async () => {
    const c = await Conn.open();
    const { bytes, str } = sized(n);
    c.send(frame(OP.TEXT, bytes));
    await c.expectEcho(str);
    await c.close();
  });
}

test('1.1.8 a text message of 65536 bytes written in chunks of 997 bytes comes back whole', async () => {
  const c = await Conn.open();
  const { bytes, str } = sized(65536);
  await c.sendPieces(chunks(frame(OP.TEXT, bytes), 997), 0);
  await c.expectEcho(str);
  await c.close();
});

test(`1.1.10 the smallest Socket.IO message (${WRAP} bytes, an empty string) comes back`, async () => {
  const c = await Conn.open();
  const { bytes, str } = sized(WRAP);
  c.send(frame(OP.TEXT, bytes));
  await c.expectEcho(str);
  await c.close();
});

test('1.1.11 the 16-bit length 126 split across TCP writes inside its header comes back', async () => {
  const c = await Conn.open();
  const { bytes, str } = sized(126);
  const f = frame(OP.TEXT, bytes);
  await c.sendPieces([f.subarray(0, 1), f.subarray(1, 3), f.subarray(3, 7), f.subarray(7)]);
  await c.expectEcho(str);
  await c.close();
});

test('1.1.12 the 64-bit length split across TCP writes inside its header comes back', async () => {
  const c = await Conn.open();
  const { bytes, str } = sized(70_000);
  const f = frame(OP.TEXT, bytes);
  await c.sendPieces([f.subarray(0, 2), f.subarray(2, 6), f.subarray(6, 11), f.subarray(11, 14), f.subarray(14)]);
  await c.expectEcho(str);
  await c.close();
});

// 1.2.x: binary frames, sent as the attachment of an event the echo server does not answer;
// the connection must stay usable (a text message still echoes) and nothing else comes back.
const BINARY = [
  ['1.2.1', 0],
  ['1.2.2', 125],
  ['1.2.3', 126],
  ['1.2.4', 127],
  ['1.2.5', 128],
  ['1.2.6', 65535],
  ['1.2.7', 65536],
  ['1.2.9', 500_000],
];

for (const [id, n] of BINARY) {
  test(`${id} a binary message of ${n} bytes in one frame is accepted; the connection stays usable`, async () => {
    const c = await Conn.open();
    c.send(attachmentHeader(), frame(OP.BINARY, Buffer.alloc(n, 0xfe)));
    await c.echo(`after ${n} binary bytes`);
    await c.close();
  });
}

test('1.2.8 a binary message of 65536 bytes written in chunks of 997 bytes is accepted; the connection stays usable', async () => {
  const c = await Conn.open();
  c.send(attachmentHeader());
  await c.sendPieces(chunks(frame(OP.BINARY, randomBytes(65536)), 997), 0);
  await c.echo('after chunked binary');
  await c.close();
});

test('1.3.1 server frames use the shortest length encoding (7, 16 and 64 bits around 125/126 and 65535/65536)', async () => {
  const c = await Conn.open();
  // The echo adds 5 bytes ("message-back" for "message"): these land on each side of both edges.
  for (const n of [120, 121, 65530, 65531]) {
    const { bytes, str } = sized(n);
    c.send(frame(OP.TEXT, bytes));
    await c.expectEcho(str);
  }
  assert.deepEqual(c.violations, []);
  await c.close();
});

test('1.4.1 an unmasked client frame fails the connection with 1002 (RFC 6455 §5.1)', async () => {
  const c = await Conn.open();
  c.send(frame(OP.TEXT, sized(30).bytes, { mask: false }));
  await c.expectClose([1002]);
});
