// Autobahn section 2: pings are answered with a pong carrying the same payload (up to 125 bytes), longer ones are a protocol error, unsolicited pongs are ignored.
import { test } from 'node:test';
import { Conn } from './conn.mjs';
import { OP, frame, chunks } from './wire.mjs';

const HELLO = Buffer.from('Hello, world!');
const SMALL_BINARY = Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff]);
const P125 = Buffer.alloc(125, 0xfe);

test('2.1 a ping without payload is answered with a pong without payload', async () => {
  const c = await Conn.open();
  c.send(frame(OP.PING));
  await c.expectPong(Buffer.alloc(0));
  await c.close();
});

test('2.2 a ping with a small text payload gets a pong with the same payload', async () => {
  const c = await Conn.open();
  c.send(frame(OP.PING, HELLO));
  await c.expectPong(HELLO);
  await c.close();
});

test('2.3 a ping with a small binary payload gets a pong with the same payload', async () => {
  const c = await Conn.open();
  c.send(frame(OP.PING, SMALL_BINARY));
  await c.expectPong(SMALL_BINARY);
  await c.close();
});

test('2.4 a ping with a 125-byte payload (the most a control frame holds) gets a pong with the same payload', async () => {
  const c = await Conn.open();
  c.send(frame(OP.PING, P125));
  await c.expectPong(P125);
  await c.close();
});

test('2.5 a ping with a 126-byte payload is a protocol error: close 1002, no pong', async () => {
  const c = await Conn.open();
  c.send(frame(OP.PING, Buffer.alloc(126, 0xfe)));
  await c.expectClose([1002]);
});

test('2.6 a ping with a 125-byte payload written 1 byte at a time gets a pong with the same payload', async () => {
  const c = await Conn.open();
  await c.sendPieces(chunks(frame(OP.PING, P125), 1));
  await c.expectPong(P125);
  await c.close();
});

test('2.7 an unsolicited pong without payload is ignored: the next thing back is an echo', async () => {
  const c = await Conn.open();
  c.send(frame(OP.PONG));
  await c.echo('after an unsolicited pong');
  await c.close();
});

test('2.8 an unsolicited pong with a payload is ignored: the next thing back is an echo', async () => {
  const c = await Conn.open();
  c.send(frame(OP.PONG, 'unsolicited pong payload'));
  await c.echo('after an unsolicited pong with payload');
  await c.close();
});

test('2.9 an unsolicited pong then a ping: only the ping is answered', async () => {
  const c = await Conn.open();
  c.send(frame(OP.PONG, 'unsolicited pong payload'), frame(OP.PING, 'ping payload'));
  await c.expectPong('ping payload');
  await c.echo('nothing else came back');
  await c.close();
});

test('2.10 ten pings in one write are answered by ten pongs, in order', async () => {
  const c = await Conn.open();
  const payloads = Array.from({ length: 10 }, (_, i) => `payload-${i}`);
  c.send(...payloads.map((p) => frame(OP.PING, p)));
  for (const p of payloads) await c.expectPong(p);
  await c.close();
});

test('2.11 ten pings written 1 byte at a time are answered by ten pongs, in order', async () => {
  const c = await Conn.open();
  const payloads = Array.from({ length: 10 }, (_, i) => `payload-${i}`);
  await c.sendPieces(chunks(Buffer.concat(payloads.map((p) => frame(OP.PING, p))), 1), 0);
  for (const p of payloads) await c.expectPong(p);
  await c.close();
});

test('2.12 a ping between two messages is answered in order: echo, pong, echo', async () => {
  const c = await Conn.open();
  await c.echo('before');
  c.send(frame(OP.PING, 'between'));
  await c.expectPong('between');
  await c.echo('after');
  await c.close();
});

test('2.13 a pong with a 126-byte payload is a protocol error: close 1002', async () => {
  const c = await Conn.open();
  c.send(frame(OP.PONG, Buffer.alloc(126, 1)));
  await c.expectClose([1002]);
});
