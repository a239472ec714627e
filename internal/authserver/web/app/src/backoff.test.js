import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff, REJOIN_DELAYS_MS, STABLE_MS } from './backoff.js';

test('attempts wait longer each time, and stop when spent', () => {
  const b = new Backoff();
  const got = [];
  for (let i = 0; i < REJOIN_DELAYS_MS.length + 3; i++) got.push(b.next(1000));
  assert.deepEqual(got, [...REJOIN_DELAYS_MS, -1, -1, -1]);
  // Bounded in time too: about half a minute of waiting in all.
  const total = REJOIN_DELAYS_MS.reduce((a, b) => a + b, 0);
  assert.ok(total <= 60000, `${total} ms`);
  assert.ok(REJOIN_DELAYS_MS.every((d, i) => i === 0 || d > REJOIN_DELAYS_MS[i - 1]));
});

test('trouble soon after an attempt worked goes on from the next delay', () => {
  const b = new Backoff([10, 20, 40], 1000);
  assert.equal(b.next(0), 10);
  b.succeeded(5);
  assert.equal(b.next(500), 20); // 495 ms after it worked: the same trouble
  b.succeeded(600);
  assert.equal(b.next(700), 40);
  b.succeeded(800);
  assert.equal(b.next(900), -1);
});

test('trouble long after an attempt worked starts again from the first delay', () => {
  const b = new Backoff([10, 20], 1000);
  assert.equal(b.next(0), 10);
  assert.equal(b.next(1), 20);
  b.succeeded(2);
  assert.equal(b.next(1002), 10);
  // Spent attempts with no success stay spent, however long after.
  const c = new Backoff([10], 1000);
  assert.equal(c.next(0), 10);
  assert.equal(c.next(10 * STABLE_MS), -1);
});
