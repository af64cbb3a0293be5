// Autobahn section 9, scaled to the echo server's maxPayload (1,000,000 bytes): messages up to the limit in one frame, in many fragments and in many TCP writes; one byte over closes with 1009; many small frames in a row.
import { test } from 'node:test';
import { Conn } from './conn.mjs';
import { OP, frame, sized, chunks, fragments, message, attachmentHeader, MAX_PAYLOAD } from './wire.mjs';

for (const [id, n] of [
  ['9.1.1', 65_536],
  ['9.1.2', 262_144],
  ['9.1.3', MAX_PAYLOAD],
]) {
  test(`${id} a text message of ${n} bytes in one frame comes back whole`, async () => {
    const c = await Conn.open();
    const { bytes, str } = sized(n);
    c.send(frame(OP.TEXT, bytes));
    await c.expectEcho(str);
    await c.close();
  });
}

for (const [id, n] of [
  ['9.2.1', 262_144],
  ['9.2.2', MAX_PAYLOAD],
]) {
  test(`${id} a binary message of ${n} bytes in one frame is accepted; the connection stays usable`, async () => {
    const c = await Conn.open();
    c.send(attachmentHeader(), frame(OP.BINARY, Buffer.alloc(n, 0xaa)));
    await c.echo(`after ${n} binary bytes`);
    await c.close();
  });
}

for (const [i, size] of [64, 256, 1024, 4096, 16_384, 65_536].entries()) {
  test(`9.3.${i + 1} a text message of ${MAX_PAYLOAD} bytes in fragments of ${size} bytes comes back whole`, async () => {
    const c = await Conn.open();
    const { bytes, str } = sized(MAX_PAYLOAD);
    c.send(...fragments(bytes, size));
    await c.expectEcho(str);
    await c.close();
  });
}

for (const [i, size] of [64, 4096, 65_536].entries()) {
  test(`9.4.${i + 1} a binary message of ${MAX_PAYLOAD} bytes in fragments of ${size} bytes is accepted; the connection stays usable`, async () => {
    const c = await Conn.open();
    c.send(attachmentHeader(), ...fragments(Buffer.alloc(MAX_PAYLOAD, 0x55), size, OP.BINARY));
    await c.echo('after fragmented binary');
    await c.close();
  });
}

for (const [i, size] of [64, 1024, 65_536].entries()) {
  test(`9.5.${i + 1} a text message of ${MAX_PAYLOAD} bytes in one frame, written ${size} bytes per TCP write, comes back whole`, async () => {
    const c = await Conn.open();
    const { bytes, str } = sized(MAX_PAYLOAD);
    await c.sendPieces(chunks(frame(OP.TEXT, bytes), size), 0);
    await c.expectEcho(str);
    await c.close();
  });
}

test(`9.6.1 a text frame of ${MAX_PAYLOAD + 1} bytes closes with 1009, as soon as its header arrives`, async () => {
  const c = await Conn.open();
  const f = frame(OP.TEXT, sized(MAX_PAYLOAD + 1).bytes);
  c.send(f.subarray(0, 14));
  await c.expectClose([1009]);
});

test(`9.6.2 a binary frame of ${MAX_PAYLOAD + 1} bytes closes with 1009`, async () => {
  const c = await Conn.open();
  c.send(attachmentHeader(), frame(OP.BINARY, Buffer.alloc(MAX_PAYLOAD + 1)));
  await c.expectClose([1009]);
});

test(`9.6.3 a text message of ${MAX_PAYLOAD + 1} bytes in fragments of 65536 closes with 1009`, async () => {
  const c = await Conn.open();
  c.send(...fragments(sized(MAX_PAYLOAD + 1).bytes, 65_536));
  await c.expectClose([1009]);
});

test(`9.6.4 fragments that reach ${MAX_PAYLOAD} bytes, then one more byte: close 1009 without waiting for the end`, async () => {
  const c = await Conn.open();
  const full = sized(MAX_PAYLOAD).bytes;
  c.send(frame(OP.TEXT, full, { fin: false }), frame(OP.CONT, 'x', { fin: false }));
  await c.expectClose([1009]);
});

test('9.6.5 a frame announcing 2^63 - 1 bytes closes with 1009 or 1002 at once', async () => {
  const c = await Conn.open();
  const head = Buffer.from([0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]);
  c.send(head);
  await c.expectClose([1009, 1002]);
});

test('9.6.6 a ping between fragments of a message at the limit is no part of its size: pong, then the echo', async () => {
  const c = await Conn.open();
  const { bytes, str } = sized(MAX_PAYLOAD);
  c.send(frame(OP.TEXT, bytes.subarray(0, MAX_PAYLOAD - 1), { fin: false }), frame(OP.PING, 'x'.repeat(125)), frame(OP.CONT, bytes.subarray(MAX_PAYLOAD - 1)));
  await c.expectPong('x'.repeat(125));
  await c.expectEcho(str);
  await c.close();
});

test('9.7.1 200 small text messages in one write come back in order', async () => {
  const c = await Conn.open();
  const strs = Array.from({ length: 200 }, (_, i) => `small-${i}`);
  c.send(...strs.map((s) => frame(OP.TEXT, message(Buffer.from(s)))));
  for (const s of strs) await c.expectEcho(s);
  await c.close();
});

test('9.7.2 2000 small text messages in writes of 100 come back in order', async () => {
  const c = await Conn.open();
  for (let burst = 0; burst < 20; burst++) {
    const strs = Array.from({ length: 100 }, (_, i) => `m-${burst}-${i}`);
    c.send(...strs.map((s) => frame(OP.TEXT, message(Buffer.from(s)))));
    for (const s of strs) await c.expectEcho(s);
  }
  await c.close();
});

test('9.7.3 1000 pings with distinct payloads in one write get 1000 pongs in order', async () => {
  const c = await Conn.open();
  const payloads = Array.from({ length: 1000 }, (_, i) => `ping-${i}`);
  c.send(...payloads.map((p) => frame(OP.PING, p)));
  for (const p of payloads) await c.expectPong(p);
  await c.close();
});

test('9.8.1 1000 small binary frames (as attachments) in one write are accepted; the connection stays usable', async () => {
  const c = await Conn.open();
  const frames = [];
  // 100 events of 10 attachments each: the events stay well under the server's queue of 256 per socket.
  for (let i = 0; i < 1000; i++) frames.push(...(i % 10 ? [] : [attachmentHeader(10)]), frame(OP.BINARY, Buffer.from([i & 0xff, i >> 8])));
  c.send(...frames);
  await c.echo('after 1000 binary frames');
  await c.close();
});

test('9.8.2 a text message of 10000 bytes in 10000 fragments of 1 byte comes back whole', async () => {
  const c = await Conn.open();
  const { bytes, str } = sized(10_000);
  c.send(...fragments(bytes, 1));
  await c.expectEcho(str);
  await c.close();
});
