import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FLAP_LIMIT, FLAP_WINDOW_MS, FlapDetector } from './flap.js';

test('a re-attach now and then is ably-js recovering, not a loop', () => {
  const f = new FlapDetector();
  // One every window: never more than one inside it.
  for (let i = 0; i < 100; i++) assert.equal(f.note(i * FLAP_WINDOW_MS), false, `re-attach ${i}`);
  // FLAP_LIMIT at once is still no loop.
  const g = new FlapDetector();
  for (let i = 0; i < FLAP_LIMIT; i++) assert.equal(g.note(1000), false);
});

test('more than FLAP_LIMIT re-attaches within the window is a loop, and the count starts again', () => {
  const f = new FlapDetector();
  const t0 = 50_000;
  for (let i = 0; i < FLAP_LIMIT; i++) assert.equal(f.note(t0 + i), false);
  assert.equal(f.note(t0 + FLAP_LIMIT), true);
  // Counted afresh after a loop was found: the next one is no loop yet.
  assert.equal(f.note(t0 + FLAP_LIMIT + 1), false);
  assert.ok(f.times.length <= FLAP_LIMIT + 1);
});

test('re-attaches that left the window do not count', () => {
  const f = new FlapDetector(2, 1000);
  assert.equal(f.note(0), false);
  assert.equal(f.note(500), false);
  assert.equal(f.note(1000), false); // the one at 0 is out: 500 and 1000 remain
  assert.equal(f.note(1200), true);
});

test('reset forgets what was counted', () => {
  const f = new FlapDetector(2, 1000);
  f.note(0);
  f.note(1);
  f.reset();
  assert.equal(f.note(2), false);
  assert.equal(f.note(3), false);
  assert.equal(f.note(4), true);
});

test('a loop thousands of times a second keeps the memory bounded', () => {
  const f = new FlapDetector();
  let loops = 0;
  for (let i = 0; i < 75_000; i++) if (f.note(i / 10)) loops++;
  assert.equal(loops, Math.floor(75_000 / (FLAP_LIMIT + 1)));
  assert.ok(f.times.length <= FLAP_LIMIT);
});
