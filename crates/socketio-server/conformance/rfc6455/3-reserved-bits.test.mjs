// Autobahn section 3: no extension is negotiated, so a frame with any of RSV1–RSV3 set fails the connection with 1002 (and nothing after it is processed).
import { test } from 'node:test';
import { Conn } from './conn.mjs';
import { OP, frame, chunks, message } from './wire.mjs';

const hello = message(Buffer.from('Hello, world!'));

test('3.1 a text frame with RSV = 1 fails the connection with 1002', async () => {
  const c = await Conn.open();
  c.send(frame(OP.TEXT, hello, { rsv: 1 }));
  await c.expectClose([1002]);
});

test('3.2 after an echo, a text frame with RSV = 2 and a ping: close 1002, the ping is not answered', async () => {
  const c = await Conn.open();
  await c.echo('Hello, world!');
  c.send(frame(OP.TEXT, hello, { rsv: 2 }), frame(OP.PING, 'p'));
  await c.expectClose([1002]);
});

test('3.3 a valid text frame, a text frame with RSV = 3 and a ping written frame by frame: echo, close 1002, no pong', async () => {
  const c = await Conn.open();
  await c.sendPieces([frame(OP.TEXT, hello)]);
  await c.expectEcho('Hello, world!');
  await c.sendPieces([frame(OP.TEXT, hello, { rsv: 3 }), frame(OP.PING, 'p')]);
  await c.expectClose([1002]);
});

test('3.4 a text frame with RSV = 4 written 1 byte at a time fails the connection with 1002', async () => {
  const c = await Conn.open();
  await c.sendPieces(chunks(frame(OP.TEXT, hello, { rsv: 4 }), 1), 0);
  await c.expectClose([1002]);
});

test('3.5 a binary frame with RSV = 5 fails the connection with 1002', async () => {
  const c = await Conn.open();
  c.send(frame(OP.BINARY, Buffer.from([0, 1, 2, 0xff]), { rsv: 5 }));
  await c.expectClose([1002]);
});

test('3.6 a ping with RSV = 6 fails the connection with 1002 and gets no pong', async () => {
  const c = await Conn.open();
  c.send(frame(OP.PING, 'Hello, world!', { rsv: 6 }));
  await c.expectClose([1002]);
});

test('3.7 a close frame with RSV = 7 fails the connection with 1002', async () => {
  const c = await Conn.open();
  c.send(frame(OP.CLOSE, Buffer.from([0x03, 0xe8]), { rsv: 7 }));
  await c.expectClose([1002]);
});

test('3.8 a continuation frame with RSV = 1 inside a fragmented message fails the connection with 1002', async () => {
  const c = await Conn.open();
  const m = message(Buffer.from('fragmented'));
  c.send(frame(OP.TEXT, m.subarray(0, 5), { fin: false }), frame(OP.CONT, m.subarray(5), { rsv: 1 }));
  await c.expectClose([1002]);
});
