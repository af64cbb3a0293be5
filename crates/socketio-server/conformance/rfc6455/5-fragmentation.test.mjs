// Autobahn section 5: fragmented messages are reassembled (with control frames allowed between fragments); fragmented control frames, orphan continuations and a new data frame inside a fragmented message fail with 1002.
import { test } from 'node:test';
import { Conn } from './conn.mjs';
import { OP, frame, chunks, message, attachmentHeader } from './wire.mjs';

const STR = 'fragment1fragment2';
const M = message(Buffer.from(STR));
const half = (b) => [b.subarray(0, b.length >> 1), b.subarray(b.length >> 1)];
const [F1, F2] = half(M);

test('5.1 a ping fragmented into 2 frames fails the connection with 1002', async () => {
  const c = await Conn.open();
  c.send(frame(OP.PING, 'fragment1', { fin: false }), frame(OP.CONT, 'fragment2'));
  await c.expectClose([1002]);
});

test('5.2 a pong fragmented into 2 frames fails the connection with 1002', async () => {
  const c = await Conn.open();
  c.send(frame(OP.PONG, 'fragment1', { fin: false }), frame(OP.CONT, 'fragment2'));
  await c.expectClose([1002]);
});

test('5.3 a text message in 2 fragments in one write comes back whole', async () => {
  const c = await Conn.open();
  c.send(frame(OP.TEXT, F1, { fin: false }), frame(OP.CONT, F2));
  await c.expectEcho(STR);
  await c.close();
});

test('5.4 a text message in 2 fragments, one write each, comes back whole', async () => {
  const c = await Conn.open();
  await c.sendPieces([frame(OP.TEXT, F1, { fin: false }), frame(OP.CONT, F2)]);
  await c.expectEcho(STR);
  await c.close();
});

test('5.5 a text message in 2 fragments written 1 byte at a time comes back whole', async () => {
  const c = await Conn.open();
  await c.sendPieces(chunks(Buffer.concat([frame(OP.TEXT, F1, { fin: false }), frame(OP.CONT, F2)]), 1), 0);
  await c.expectEcho(STR);
  await c.close();
});

for (const [id, how] of [
  ['5.6', 'in one write'],
  ['5.7', 'one write per frame'],
  ['5.8', '1 byte per write'],
]) {
  test(`${id} a text message in 2 fragments with a ping between them (${how}): the pong, then the message`, async () => {
    const c = await Conn.open();
    const frames = [frame(OP.TEXT, F1, { fin: false }), frame(OP.PING, 'ping payload'), frame(OP.CONT, F2)];
    if (how === 'in one write') c.send(...frames);
    else await c.sendPieces(how === '1 byte per write' ? chunks(Buffer.concat(frames), 1) : frames, how === '1 byte per write' ? 0 : 1);
    await c.expectPong('ping payload');
    await c.expectEcho(STR);
    await c.close();
  });
}

test('5.9 a continuation frame (fin = 1) with nothing to continue fails the connection with 1002', async () => {
  const c = await Conn.open();
  c.send(frame(OP.CONT, M));
  await c.expectClose([1002]);
});

test('5.10 the same orphan continuation written 1 byte at a time fails the connection with 1002', async () => {
  const c = await Conn.open();
  await c.sendPieces(chunks(frame(OP.CONT, M), 1), 0);
  await c.expectClose([1002]);
});

test('5.11 a continuation frame (fin = 0) with nothing to continue fails the connection with 1002', async () => {
  const c = await Conn.open();
  c.send(frame(OP.CONT, F1, { fin: false }), frame(OP.CONT, F2));
  await c.expectClose([1002]);
});

test('5.12 after a complete fragmented message, a stray continuation fails the connection with 1002', async () => {
  const c = await Conn.open();
  c.send(frame(OP.TEXT, F1, { fin: false }), frame(OP.CONT, F2));
  await c.expectEcho(STR);
  c.send(frame(OP.CONT, 'fragment3', { fin: false }), frame(OP.CONT, 'fragment4'), frame(OP.TEXT, M));
  await c.expectClose([1002]);
});

test('5.13 a second text frame inside a fragmented text message fails the connection with 1002', async () => {
  const c = await Conn.open();
  c.send(frame(OP.TEXT, F1, { fin: false }), frame(OP.TEXT, F2));
  await c.expectClose([1002]);
});

test('5.14 a binary frame inside a fragmented text message fails the connection with 1002', async () => {
  const c = await Conn.open();
  c.send(frame(OP.TEXT, F1, { fin: false }), frame(OP.BINARY, Buffer.from([1, 2, 3])), frame(OP.CONT, F2));
  await c.expectClose([1002]);
});

test('5.15 a text frame inside a fragmented binary message fails the connection with 1002', async () => {
  const c = await Conn.open();
  c.send(attachmentHeader(), frame(OP.BINARY, Buffer.from([1, 2]), { fin: false }), frame(OP.TEXT, M));
  await c.expectClose([1002]);
});

test('5.16 a text message in 5 fragments with a ping between each two, one write per frame: 4 pongs, then the message', async () => {
  const c = await Conn.open();
  const parts = chunks(M, Math.ceil(M.length / 5));
  const last = parts.length - 1;
  const frames = parts.flatMap((p, i) => [frame(i ? OP.CONT : OP.TEXT, p, { fin: i === last }), ...(i < last ? [frame(OP.PING, `p${i}`)] : [])]);
  await c.sendPieces(frames);
  for (let i = 0; i < last; i++) await c.expectPong(`p${i}`);
  await c.expectEcho(STR);
  await c.close();
});

test('5.17 a text message in 1-byte fragments (one frame per byte) comes back whole', async () => {
  const c = await Conn.open();
  const parts = chunks(M, 1);
  c.send(...parts.map((p, i) => frame(i ? OP.CONT : OP.TEXT, p, { fin: i === parts.length - 1 })));
  await c.expectEcho(STR);
  await c.close();
});

test('5.18 a text message with empty fragments at its start, middle and end comes back whole', async () => {
  const c = await Conn.open();
  c.send(frame(OP.TEXT, '', { fin: false }), frame(OP.CONT, F1, { fin: false }), frame(OP.CONT, '', { fin: false }), frame(OP.CONT, F2, { fin: false }), frame(OP.CONT, ''));
  await c.expectEcho(STR);
  await c.close();
});

test('5.19 a binary message in 3 fragments with a ping between them is accepted: the pong, then an echo', async () => {
  const c = await Conn.open();
  c.send(attachmentHeader(), frame(OP.BINARY, Buffer.alloc(10, 1), { fin: false }), frame(OP.PING, 'b'), frame(OP.CONT, Buffer.alloc(10, 2), { fin: false }), frame(OP.CONT, Buffer.alloc(10, 3)));
  await c.expectPong('b');
  await c.echo('after fragmented binary');
  await c.close();
});

test('5.20 a close between the fragments of a text message: the close is answered (1000), the message is dropped', async () => {
  const c = await Conn.open();
  c.send(frame(OP.TEXT, F1, { fin: false }), frame(OP.CLOSE, Buffer.from([0x03, 0xe8])), frame(OP.CONT, F2));
  await c.expectClose([1000]);
});
