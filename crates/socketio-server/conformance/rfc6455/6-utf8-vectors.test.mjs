// Autobahn section 6.5–6.23: each UTF-8 test sequence as a text message, in one frame and in 1-byte fragments: valid ones echo, invalid ones close with 1007.
import { test } from 'node:test';
import { Conn } from './conn.mjs';
import { OP, frame, message, chunks } from './wire.mjs';

// The sequences, after Markus Kuhn's UTF-8 decoder stress test: [group, description, valid (null: per sequence), sequences].
const h = (s) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const KOSME = h('cebae1bdb9cf83cebcceb5'); // κόσμε

/** Every prefix of κόσμε: those that cut a code point are invalid. */
function prefixes() {
  const ends = new Set([2, 5, 7, 9, 11]); // where κ, ό, σ, μ, ε end
  return Array.from({ length: KOSME.length }, (_, i) => [KOSME.subarray(0, i + 1), ends.has(i + 1)]);
}

const continuations = () => Array.from({ length: 64 }, (_, i) => Buffer.from([0x80 + i]));
const lonely = (from, to) => Buffer.from(Array.from({ length: to - from + 1 }, (_, i) => [from + i, 0x20]).flat());
const missingLast = ['c0', 'e080', 'f08080', 'f8808080', 'fc80808080', 'df', 'efbf', 'f7bfbf', 'fbbfbfbf', 'fdbfbfbfbf'];

const GROUPS = [
  ['6.5', 'some valid UTF-8 (κόσμε)', true, [KOSME]],
  ['6.6', 'a prefix of κόσμε', null, prefixes()],
  ['6.7', 'the first sequence of 1, 2, 3 and 4 bytes', true, ['00', 'c280', 'e0a080', 'f0908080'].map(h)],
  ['6.8', 'the first sequence of 5 and 6 bytes (no code point)', false, ['f888808080', 'fc8480808080'].map(h)],
  ['6.9', 'the last sequence of 1, 2, 3 and 4 bytes', true, ['7f', 'dfbf', 'efbfbf', 'f48fbfbf'].map(h)],
  ['6.10', 'the last sequence of 4, 5 and 6 bytes (beyond U+10FFFF)', false, ['f7bfbfbf', 'fbbfbfbfbf', 'fdbfbfbfbfbf'].map(h)],
  ['6.11', 'a boundary code point U+D7FF, U+E000, U+FFFD, U+10FFFF', true, ['ed9fbf', 'ee8080', 'efbfbd', 'f48fbfbf'].map(h)],
  ['6.11', 'U+110000, past the last code point', false, [h('f4908080')]],
  ['6.12', 'unexpected continuation bytes', false, [...['80', 'bf', '80bf', '80bf80', '80bf80bf', '80bf80bf80', '80bf80bf80bf'].map(h), Buffer.concat(continuations())]],
  ['6.13', 'lonely start bytes followed by a space', false, [lonely(0xc0, 0xdf), lonely(0xe0, 0xef), lonely(0xf0, 0xf7), lonely(0xf8, 0xfb), lonely(0xfc, 0xfd)]],
  ['6.14', 'a sequence with its last continuation byte missing', false, missingLast.map(h)],
  ['6.15', 'incomplete sequences concatenated', false, [h(missingLast.join(''))]],
  ['6.16', 'impossible bytes FE and FF', false, ['fe', 'ff', 'fefeffff'].map(h)],
  ['6.17', "an overlong '/'", false, ['c0af', 'e080af', 'f08080af', 'f8808080af', 'fc80808080af'].map(h)],
  ['6.18', 'the largest overlong sequence', false, ['c1bf', 'e09fbf', 'f08fbfbf', 'f887bfbfbf', 'fc83bfbfbfbf'].map(h)],
  ['6.19', 'an overlong NUL', false, ['c080', 'e08080', 'f0808080', 'f880808080', 'fc8080808080'].map(h)],
  ['6.20', 'a single UTF-16 surrogate', false, ['eda080', 'edadbf', 'edae80', 'edafbf', 'edb080', 'edbe80', 'edbfbf'].map(h)],
  [
    '6.21',
    'a UTF-16 surrogate pair encoded as two 3-byte sequences (CESU-8)',
    false,
    ['eda080edb080', 'eda080edbfbf', 'edadbfedb080', 'edadbfedbfbf', 'edae80edb080', 'edae80edbfbf', 'edafbfedb080', 'edafbfedbfbf'].map(h),
  ],
  [
    '6.22',
    'a noncharacter (valid UTF-8)',
    true,
    [
      ...['efbfbe', 'efbfbf'].map(h),
      ...Array.from({ length: 16 }, (_, p) => [0xfffe, 0xffff].map((lo) => Buffer.from(String.fromCodePoint(((p + 1) << 16) | lo)))).flat(),
      ...Array.from({ length: 32 }, (_, i) => Buffer.from(String.fromCodePoint(0xfdd0 + i))),
    ],
  ],
  ['6.23', 'a special (U+FFF9..U+FFFD, valid UTF-8)', true, ['efbfb9', 'efbfba', 'efbfbb', 'efbfbc', 'efbfbd'].map(h)],
];

/** Each sequence as [id, description, bytes, valid]. */
function vectors() {
  const out = [];
  const seen = {};
  for (const [group, what, valid, seqs] of GROUPS) {
    for (const s of seqs) {
      const [bytes, ok] = valid === null ? s : [s, valid];
      seen[group] = (seen[group] || 0) + 1;
      out.push([`${group}.${seen[group]}`, what, bytes, ok]);
    }
  }
  return out;
}

const hex = (b) => (b.length > 12 ? `${b.subarray(0, 12).toString('hex')}…(${b.length} bytes)` : b.toString('hex'));

for (const [id, what, bytes, valid] of vectors()) {
  const m = message(bytes);
  const outcome = valid ? 'comes back' : 'closes with 1007';
  const split = chunks(m, 1).map((p, i, all) => frame(i ? OP.CONT : OP.TEXT, p, { fin: i === all.length - 1 }));
  for (const [how, frames] of [
    ['in one frame', [frame(OP.TEXT, m)]],
    ['in 1-byte fragments', split],
  ]) {
    test(`${id} ${what}: ${hex(bytes)} ${how} ${outcome}`, async () => {
      const c = await Conn.open();
      c.send(...frames);
      if (!valid) return void (await c.expectClose([1007]));
      await c.expectEcho(bytes.toString('utf8'));
      await c.close();
    });
  }
}
