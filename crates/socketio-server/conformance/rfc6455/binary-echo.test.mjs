// Autobahn sections 1.2, 5, 9.2, 9.4 and 9.8 with binary messages the echo server answers: each goes out as an attachment of `45n-["message",{placeholder}…]`, and the case expects `45n-["message-back",…]` followed by every attachment, byte for byte and in order. Also the Socket.IO limits on attachments: their total bytes (maxPayload) and their number (10).
import { test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { Conn } from './conn.mjs';
import { OP, frame, chunks, fragments, binaryMessage, binaryEventText, MAX_PAYLOAD } from './wire.mjs';

// 1.2.x: one attachment in one frame, across every length encoding and its edges.
for (const [id, n] of [
  ['1.2.1', 0],
  ['1.2.2', 125],
  ['1.2.3', 126],
  ['1.2.4', 127],
  ['1.2.5', 128],
  ['1.2.6', 65535],
  ['1.2.7', 65536],
  ['1.2.9', 500_000],
]) {
  test(`${id} echo: a binary attachment of ${n} bytes in one frame comes back as 451-["message-back",…] and the same bytes`, async () => {
    const c = await Conn.open();
    await c.binaryEcho([randomBytes(n)]);
    await c.close();
  });
}

test('1.2.8 echo: a binary attachment of 65536 bytes written (with its event) in chunks of 997 bytes comes back whole', async () => {
  const c = await Conn.open();
  const data = randomBytes(65536);
  await c.sendPieces(chunks(Buffer.concat([binaryMessage(1), frame(OP.BINARY, data)]), 997), 0);
  await c.expectBinaryEcho([data]);
  await c.close();
});

test('5.19 echo: a binary attachment in 3 fragments with a ping between each two (one write per frame): 2 pongs, then the attachment whole', async () => {
  const c = await Conn.open();
  const data = randomBytes(300);
  const [f1, f2, f3] = fragments(data, 100, OP.BINARY);
  await c.sendPieces([binaryMessage(1), f1, frame(OP.PING, 'b1'), f2, frame(OP.PING, 'b2'), f3]);
  await c.expectPong('b1');
  await c.expectPong('b2');
  await c.expectBinaryEcho([data]);
  await c.close();
});

// 9.2.x: large attachments in one frame, up to the limits: a binary message is at most
// maxPayload bytes (over it: 1009), and so are all the attachments of one packet together.
for (const [id, n] of [
  ['9.2.1', 262_144],
  ['9.2.2', MAX_PAYLOAD],
]) {
  test(`${id} echo: a binary attachment of ${n} bytes in one frame comes back whole`, async () => {
    const c = await Conn.open();
    await c.binaryEcho([randomBytes(n)]);
    await c.close();
  });
}

test(`9.2.3 echo: a binary attachment of ${MAX_PAYLOAD + 1} bytes (one over maxPayload) closes with 1009; nothing is echoed`, async () => {
  const c = await Conn.open();
  c.send(binaryMessage(1), frame(OP.BINARY, randomBytes(MAX_PAYLOAD + 1)));
  await c.expectClose([1009]);
});

test(`9.2.4 echo: 2 attachments of exactly ${MAX_PAYLOAD} bytes together (the packet's limit) come back whole`, async () => {
  const c = await Conn.open();
  await c.binaryEcho([randomBytes(MAX_PAYLOAD / 2), randomBytes(MAX_PAYLOAD / 2)]);
  await c.close();
});

test(`9.2.5 echo: 2 attachments of ${MAX_PAYLOAD + 1} bytes together, each within maxPayload, close the session (1000, as for any Socket.IO violation); nothing is echoed`, async () => {
  const c = await Conn.open();
  c.send(binaryMessage(2), frame(OP.BINARY, randomBytes(MAX_PAYLOAD / 2)), frame(OP.BINARY, randomBytes(MAX_PAYLOAD / 2 + 1)));
  await c.expectClose([1000]);
});

// 9.4.x: an attachment of maxPayload bytes in many fragments (the helper answers the
// server's Engine.IO pings once the write is handed over).
for (const [i, size] of [64, 4096, 65_536].entries()) {
  test(`9.4.${i + 1} echo: a binary attachment of ${MAX_PAYLOAD} bytes in fragments of ${size} bytes comes back whole`, async () => {
    const c = await Conn.open();
    const data = randomBytes(MAX_PAYLOAD);
    c.send(binaryMessage(1), ...fragments(data, size, OP.BINARY));
    await c.expectBinaryEcho([data]);
    await c.close();
  });
}

test('9.8.1 echo: 4510-[…] with 10 attachments of 10 sizes (0 to 300,000 bytes) comes back with all 10, in order', async () => {
  const c = await Conn.open();
  const sizes = [300_000, 0, 1, 125, 126, 65_536, 127, 128, 100_000, 65_535];
  await c.binaryEcho(sizes.map((n) => randomBytes(n)));
  await c.close();
});

test('9.8.2 echo: 4511-[…] (11 attachments, over the limit of 10) closes the session with 1000 as soon as the text packet arrives', async () => {
  const c = await Conn.open();
  c.send(frame(OP.TEXT, binaryEventText('message', 11)));
  await c.expectClose([1000]);
});
