import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { sha256Hex } from './sha256.js';

test('sha256Hex: FIPS 180-4 vectors', () => {
  const cases = [
    ['', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    ['abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
    ['abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq', '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1'],
  ];
  for (const [input, want] of cases) assert.equal(sha256Hex(input), want, JSON.stringify(input));
});

test('sha256Hex agrees with node:crypto on UTF-8 text of every padding length', () => {
  for (let n = 0; n < 200; n++) {
    const s = randomBytes(n).toString('base64').slice(0, n) + (n % 3 === 0 ? 'é東🙂' : '');
    assert.equal(sha256Hex(s), createHash('sha256').update(s, 'utf8').digest('hex'), `length ${n}`);
  }
});
