import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compact, indent, JSONTextError } from './json.js';

// A differential test of json.js against JSON.parse, on random text: the
// page reads untrusted arguments with json.js, so it must take exactly
// what JSON is, and what it prints must mean what the text meant. Seeded,
// so a failure repeats; bounded in count.

// mulberry32: a small seeded PRNG.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WS = [' ', '\t', '\n', '\r', '', '', '', '\u00a0', '\ufeff'];
const CHARS = ['a', 'Z', ' ', '"', '\\', '/', '\u0001', '\u001f', '\u007f', 'é', '\u202e', '\u2028', '\ud83d', '\ude00', '😀', '{', '}', '[', ']', ':', ','];
const ESCAPES = ['\\"', '\\\\', '\\/', '\\b', '\\f', '\\n', '\\r', '\\t', '\\u0041', '\\u00e9', '\\ud83d\\ude00', '\\ud800', '\\u12', '\\x41', '\\a', '\\'];
const NUMBERS = ['0', '-0', '1', '-1', '10', '01', '1.5', '1.', '.5', '-', '+1', '1e5', '1E+5', '1e-5', '1e', '2.50', '1e400', '12345678901234567890', '0x10', 'Infinity', 'NaN'];
const LITERALS = ['true', 'false', 'null', 'nul', 'True', 'undefined'];

function gen(r, depth) {
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  const ws = () => pick(WS);
  const str = () => {
    let s = '"';
    for (let n = Math.floor(r() * 5); n > 0; n--) s += r() < 0.3 ? pick(ESCAPES) : pick(CHARS);
    return s + (r() < 0.95 ? '"' : '');
  };
  const k = r();
  if (depth < 4 && k < 0.25) {
    const members = [];
    for (let n = Math.floor(r() * 4); n > 0; n--) members.push(`${ws()}${r() < 0.1 ? pick(NUMBERS) : str()}${ws()}${r() < 0.95 ? ':' : ''}${gen(r, depth + 1)}`);
    return `{${members.join(r() < 0.95 ? ',' : '')}${r() < 0.05 ? ',' : ''}${ws()}}`;
  }
  if (depth < 4 && k < 0.45) {
    const items = [];
    for (let n = Math.floor(r() * 4); n > 0; n--) items.push(gen(r, depth + 1));
    return `[${items.join(r() < 0.95 ? ',' : ' ')}${r() < 0.05 ? ',' : ''}${ws()}]`;
  }
  const v = k < 0.7 ? str() : k < 0.9 ? pick(NUMBERS) : pick(LITERALS);
  return `${ws()}${v}${ws()}`;
}

function standard(text) {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function mine(fn, text) {
  try {
    return { ok: true, out: fn(text) };
  } catch (err) {
    if (!(err instanceof JSONTextError)) throw err;
    return { ok: false };
  }
}

test('json.js takes exactly what JSON.parse takes, and prints what the text means', () => {
  const r = rng(20261206);
  let taken = 0;
  for (let n = 0; n < 20000; n++) {
    let text = gen(r, 0);
    if (r() < 0.2 && text.length > 0) {
      // One more byte changed, dropped or added anywhere.
      const at = Math.floor(r() * text.length);
      const c = CHARS[Math.floor(r() * CHARS.length)];
      const k = r();
      text = k < 0.33 ? text.slice(0, at) + c + text.slice(at + 1) : k < 0.66 ? text.slice(0, at) + text.slice(at + 1) : text.slice(0, at) + c + text.slice(at);
    }
    const want = standard(text);
    for (const [name, fn] of [['compact', compact], ['indent', indent]]) {
      const got = mine(fn, text);
      assert.equal(got.ok, want.ok, `${name}(${JSON.stringify(text)}): json.js ${got.ok ? 'took' : 'refused'} it, JSON.parse ${want.ok ? 'took' : 'refused'} it`);
      if (!got.ok) continue;
      // Without duplicate keys (JSON.parse keeps the last), the printed
      // text parses to the same value.
      if (got.out.duplicates.length === 0) assert.deepEqual(JSON.parse(got.out.text), want.value, `${name}(${JSON.stringify(text)}) = ${JSON.stringify(got.out.text)}`);
    }
    if (want.ok) taken++;
  }
  // The generator must reach both sides of the line.
  assert.ok(taken > 2000 && taken < 18000, `${taken} of 20000 texts were JSON`);
});
