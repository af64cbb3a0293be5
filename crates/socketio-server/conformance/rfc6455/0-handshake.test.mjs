// RFC 6455 §4: the opening handshake — what the server accepts, and how it refuses a bad version or missing headers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { Conn } from './conn.mjs';
import { httpRequest, upgradeHeaders, acceptKey, MAX_PAYLOAD } from './wire.mjs';

const newKey = () => crypto.randomBytes(16).toString('base64');
const without = (lines, name) => lines.filter((l) => !l.toLowerCase().startsWith(name.toLowerCase() + ':'));

async function refused(lines, statuses = [400]) {
  const res = await httpRequest(lines);
  res.sock.destroy();
  assert.ok(statuses.includes(res.status), `status ${res.status}, expected ${statuses.join(' or ')}`);
  assert.equal(res.headers['sec-websocket-accept'], undefined, 'no accept key on a refusal');
  return res;
}

test('0.1 a valid handshake gets 101 with Upgrade, Connection and the accept key of RFC 6455 §4.2.2', async () => {
  const key = newKey();
  const res = await httpRequest(upgradeHeaders(key));
  res.sock.destroy();
  assert.equal(res.status, 101);
  assert.equal(res.headers.upgrade.toLowerCase(), 'websocket');
  assert.ok(res.headers.connection.toLowerCase().split(/\s*,\s*/).includes('upgrade'));
  assert.equal(res.headers['sec-websocket-accept'], acceptKey(key));
});

test('0.2 the first message after the handshake is the Engine.IO open packet with maxPayload 1000000', async () => {
  const c = await Conn.open({ connect: false });
  assert.equal(typeof c.openPacket.sid, 'string');
  assert.equal(c.openPacket.maxPayload, MAX_PAYLOAD);
  c.sock.destroy();
});

test('0.3 header names and tokens are case-insensitive, Connection may list other tokens', async () => {
  const key = newKey();
  const res = await httpRequest(['upgrade: WebSocket', 'connection: keep-alive, UPGRADE', `sec-websocket-key: ${key}`, 'sec-websocket-version: 13']);
  res.sock.destroy();
  assert.equal(res.status, 101);
  assert.equal(res.headers['sec-websocket-accept'], acceptKey(key));
});

for (const [i, version] of ['8', '12', '14', '0', 'x'].entries()) {
  test(`0.4.${i + 1} Sec-WebSocket-Version: ${version} is refused with 426 (or 400) and Sec-WebSocket-Version: 13`, async () => {
    const lines = without(upgradeHeaders(newKey()), 'Sec-WebSocket-Version');
    const res = await refused([...lines, `Sec-WebSocket-Version: ${version}`], [426, 400]);
    assert.equal(res.headers['sec-websocket-version'], '13');
  });
}

test('0.5 a missing Sec-WebSocket-Version is refused with 426 (or 400) and Sec-WebSocket-Version: 13', async () => {
  const res = await refused(without(upgradeHeaders(newKey()), 'Sec-WebSocket-Version'), [426, 400]);
  assert.equal(res.headers['sec-websocket-version'], '13');
});

test('0.6 a missing Sec-WebSocket-Key is refused with 400', async () => {
  await refused(without(upgradeHeaders(newKey()), 'Sec-WebSocket-Key'));
});

for (const [i, [what, key]] of [
  ['not base64', 'not a key at all!'],
  ['8 bytes', crypto.randomBytes(8).toString('base64')],
  ['17 bytes', crypto.randomBytes(17).toString('base64')],
  ['empty', ''],
].entries()) {
  test(`0.7.${i + 1} a Sec-WebSocket-Key that is ${what} (not 16 bytes in base64) is refused with 400`, async () => {
    await refused(upgradeHeaders(key));
  });
}

test('0.8 a missing Upgrade header is refused with 400', async () => {
  await refused(without(upgradeHeaders(newKey()), 'Upgrade'));
});

test('0.9 Upgrade: h2c (not websocket) is refused with 400', async () => {
  await refused([...without(upgradeHeaders(newKey()), 'Upgrade'), 'Upgrade: h2c']);
});

test('0.10 a Connection header without the upgrade token is refused with 400', async () => {
  await refused([...without(upgradeHeaders(newKey()), 'Connection'), 'Connection: keep-alive']);
});
