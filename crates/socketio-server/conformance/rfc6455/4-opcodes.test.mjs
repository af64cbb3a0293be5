// Autobahn section 4: frames with a reserved opcode (non-control 3–7, control 0xB–0xF) fail the connection with 1002; what follows them is not processed.
import { test } from 'node:test';
import { Conn } from './conn.mjs';
import { OP, frame, message } from './wire.mjs';

const hello = message(Buffer.from('Hello, world!'));

for (const [group, opcodes] of [
  ['4.1', [3, 4, 5, 6, 7]],
  ['4.2', [0xb, 0xc, 0xd, 0xe, 0xf]],
]) {
  const kind = group === '4.1' ? 'non-control' : 'control';
  const hex = (op) => `0x${op.toString(16).toUpperCase()}`;
  test(`${group}.1 a frame with reserved ${kind} opcode ${hex(opcodes[0])} and no payload fails the connection with 1002`, async () => {
    const c = await Conn.open();
    c.send(frame(opcodes[0]));
    await c.expectClose([1002]);
  });

  test(`${group}.2 a frame with reserved ${kind} opcode ${hex(opcodes[1])} and a payload fails the connection with 1002`, async () => {
    const c = await Conn.open();
    c.send(frame(opcodes[1], 'reserved opcode payload'));
    await c.expectClose([1002]);
  });

  for (const [i, op] of opcodes.slice(2).entries()) {
    const withPayload = i !== 0;
    test(`${group}.${i + 3} after an echo, opcode ${hex(op)} ${withPayload ? 'with' : 'without'} payload and a ping: close 1002, no pong`, async () => {
      const c = await Conn.open();
      await c.echo('Hello, world!');
      c.send(frame(op, withPayload ? 'reserved opcode payload' : ''), frame(OP.PING, 'p'));
      await c.expectClose([1002]);
    });
  }

  test(`${group}.6 opcode ${hex(opcodes[4])} with fin = 0 fails the connection with 1002`, async () => {
    const c = await Conn.open();
    c.send(frame(opcodes[4], 'x', { fin: false }));
    await c.expectClose([1002]);
  });
}

test('4.3.1 a reserved opcode inside a fragmented text message fails the connection with 1002', async () => {
  const c = await Conn.open();
  c.send(frame(OP.TEXT, hello.subarray(0, 4), { fin: false }), frame(5, 'x'), frame(OP.CONT, hello.subarray(4)));
  await c.expectClose([1002]);
});

test('4.3.2 a reserved opcode announcing a large payload fails the connection with 1002 before the payload arrives', async () => {
  const c = await Conn.open();
  const f = frame(4, Buffer.alloc(100_000, 0x61));
  c.send(f.subarray(0, 14));
  await c.expectClose([1002]);
});
