// Autobahn section 6.1–6.4: text messages are validated as UTF-8 across fragments and TCP writes (split code points are fine); invalid ones close with 1007, early where the fragments already prove it.
import { test } from 'node:test';
import { Conn } from './conn.mjs';
import { OP, frame, message, chunks } from './wire.mjs';

const HELLO = 'Hello-µ@ßöäüàá-UTF-8!!';
const fragments = (parts) => parts.map((p, i) => frame(i ? OP.CONT : OP.TEXT, p, { fin: i === parts.length - 1 }));
const perCodePoint = (s) => {
  const m = message(Buffer.from(s));
  const head = m.subarray(0, 14);
  return [head, ...[...s].map((ch) => Buffer.from(ch)), m.subarray(m.length - 2)];
};

test('6.2.1 a valid UTF-8 text message in one frame comes back', async () => {
  const c = await Conn.open();
  await c.echo(HELLO);
  await c.close();
});

test('6.2.2 the same message with one fragment per code point comes back', async () => {
  const c = await Conn.open();
  c.send(...fragments(perCodePoint(HELLO)));
  await c.expectEcho(HELLO);
  await c.close();
});

test('6.2.3 the same message in 1-byte fragments (every multi-byte code point split) comes back', async () => {
  const c = await Conn.open();
  c.send(...fragments(chunks(message(Buffer.from(HELLO)), 1)));
  await c.expectEcho(HELLO);
  await c.close();
});

test('6.2.4 κόσμε in 1-byte fragments, one TCP write per fragment, comes back', async () => {
  const c = await Conn.open();
  await c.sendPieces(fragments(chunks(message(Buffer.from('κόσμε')), 1)));
  await c.expectEcho('κόσμε');
  await c.close();
});

test('6.2.5 a one-frame message written 1 byte per TCP write (code points split across reads) comes back', async () => {
  const c = await Conn.open();
  await c.sendPieces(chunks(frame(OP.TEXT, message(Buffer.from('κόσμε 🎉'))), 1), 0);
  await c.expectEcho('κόσμε 🎉');
  await c.close();
});

for (const cut of [1, 2, 3]) {
  test(`6.2.${5 + cut} a 4-byte code point split ${cut}|${4 - cut} between two fragments comes back`, async () => {
    const c = await Conn.open();
    const m = message(Buffer.from('a🎉b'));
    const at = 14 + 1 + cut;
    c.send(...fragments([m.subarray(0, at), m.subarray(at)]));
    await c.expectEcho('a🎉b');
    await c.close();
  });
}

const BAD = Buffer.concat([Buffer.from('κόσμε'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('edited')]);

test('6.3.1 κόσμε + a surrogate (ED A0 80) + "edited" in one frame closes with 1007', async () => {
  const c = await Conn.open();
  c.send(frame(OP.TEXT, message(BAD)));
  await c.expectClose([1007]);
});

test('6.3.2 the same invalid message in 1-byte fragments closes with 1007', async () => {
  const c = await Conn.open();
  c.send(...fragments(chunks(message(BAD), 1)));
  await c.expectClose([1007]);
});

const BEYOND = Buffer.from([0xf4, 0x90, 0x80, 0x80]);

test('6.4.1 fail fast: a fragment holding F4 90 80 80 (beyond U+10FFFF) closes with 1007 before the message ends', async () => {
  const c = await Conn.open();
  const m = message(Buffer.from('κόσμε'));
  c.send(frame(OP.TEXT, m.subarray(0, m.length - 2), { fin: false }), frame(OP.CONT, BEYOND, { fin: false }));
  await c.expectClose([1007]);
});

test('6.4.2 fail fast: an invalid sequence split between fragments (F4 | 90 80 80) closes with 1007 before the message ends', async () => {
  const c = await Conn.open();
  const m = message(Buffer.from('κόσμε'));
  c.send(frame(OP.TEXT, Buffer.concat([m.subarray(0, m.length - 2), BEYOND.subarray(0, 1)]), { fin: false }), frame(OP.CONT, BEYOND.subarray(1), { fin: false }));
  await c.expectClose([1007]);
});

test('6.4.3 an invalid sequence in one frame whose rest arrives in a later TCP write closes with 1007', async () => {
  const c = await Conn.open();
  const f = frame(OP.TEXT, message(Buffer.concat([Buffer.from('κόσμε'), BEYOND, Buffer.from('edited')])));
  await c.sendPieces([f.subarray(0, 30), f.subarray(30)]);
  await c.expectClose([1007]);
});

test('6.4.4 a message whose last fragment ends inside a code point (CE) closes with 1007', async () => {
  const c = await Conn.open();
  c.send(frame(OP.TEXT, '42["message","ab', { fin: false }), frame(OP.CONT, Buffer.from([0xce])));
  await c.expectClose([1007]);
});

test('6.4.5 a code point cut by its fragments, then an ASCII byte where its continuation belongs (E1 | 41) closes with 1007', async () => {
  const c = await Conn.open();
  c.send(frame(OP.TEXT, Buffer.from([...Buffer.from('42["message","'), 0xe1]), { fin: false }), frame(OP.CONT, 'A"]'));
  await c.expectClose([1007]);
});

test('6.4.6 a code point cut by its fragments with a ping between the halves: the pong, then the message', async () => {
  const c = await Conn.open();
  const m = message(Buffer.from('µ'));
  c.send(frame(OP.TEXT, m.subarray(0, 15), { fin: false }), frame(OP.PING, 'mid'), frame(OP.CONT, m.subarray(15)));
  await c.expectPong('mid');
  await c.expectEcho('µ');
  await c.close();
});

test('6.4.7 a ping payload need not be UTF-8: FF FE is answered with a pong of FF FE', async () => {
  const c = await Conn.open();
  c.send(frame(OP.PING, Buffer.from([0xff, 0xfe])));
  await c.expectPong(Buffer.from([0xff, 0xfe]));
  await c.close();
});

test('6.4.8 an invalid byte in the first of many fragments closes with 1007 before the rest is sent', async () => {
  const c = await Conn.open();
  c.send(frame(OP.TEXT, Buffer.from([...Buffer.from('42["message","'), 0xc0, 0xaf]), { fin: false }));
  await c.expectClose([1007]);
});
