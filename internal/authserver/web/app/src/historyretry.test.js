import assert from 'node:assert/strict';
import { test } from 'node:test';

import { HISTORY_RETRY_DELAYS_MS, readWithRetry } from './historyretry.js';

// rig returns readWithRetry's options recording what happened, over a read
// that fails the first `failures` times.
function rig(failures, { stopAfter = Infinity } = {}) {
  const log = [];
  let calls = 0;
  const read = async () => {
    calls++;
    log.push(`read ${calls}`);
    if (calls <= failures) throw new Error(`down ${calls}`);
  };
  const opts = {
    delays: [10, 20, 40],
    sleep: async (ms) => log.push(`sleep ${ms}`),
    ended: () => log.push('ended'),
    retrying: (err, ms) => log.push(`retrying ${err.message} in ${ms}`),
    stop: () => calls >= stopAfter,
  };
  return { read, opts, log };
}

test('a read that works at once ends once, with no retry', async () => {
  const { read, opts, log } = rig(0);
  await readWithRetry(read, opts);
  assert.deepEqual(log, ['read 1', 'ended']);
});

test('a failed read is tried again after each delay until it works; ended comes after the first try', async () => {
  const { read, opts, log } = rig(2);
  await readWithRetry(read, opts);
  assert.deepEqual(log, ['read 1', 'ended', 'retrying down 1 in 10', 'sleep 10', 'read 2', 'retrying down 2 in 20', 'sleep 20', 'read 3']);
});

test('when the tries are spent the last error is reported', async () => {
  const { read, opts, log } = rig(10);
  await assert.rejects(readWithRetry(read, opts), /down 4/);
  assert.equal(log.filter((l) => l.startsWith('read')).length, 4); // the first try and one per delay
  assert.equal(log.filter((l) => l === 'ended').length, 1);
});

test('stop ends the retries (the channel no longer attached)', async () => {
  const { read, opts, log } = rig(10, { stopAfter: 2 });
  await assert.rejects(readWithRetry(read, opts), /down 2/);
  assert.equal(log.filter((l) => l.startsWith('read')).length, 2);
  // Stopped when the read failed: no retry is announced.
  assert.equal(log.at(-1), 'read 2');
});

test('stop during the wait ends the retries before the next read', async () => {
  const { read, opts, log } = rig(10);
  let stopped = false;
  opts.stop = () => stopped;
  opts.sleep = async (ms) => {
    log.push(`sleep ${ms}`);
    stopped = true;
  };
  await assert.rejects(readWithRetry(read, opts), /down 1/);
  assert.deepEqual(log, ['read 1', 'ended', 'retrying down 1 in 10', 'sleep 10']);
});

// Without delays and stop, the README's 1, 2, 4 and 8 s, never stopped.
test('by default a read is tried again after 1, 2, 4 and 8 s', async () => {
  assert.deepEqual(HISTORY_RETRY_DELAYS_MS, [1000, 2000, 4000, 8000]);
  const { read, opts, log } = rig(10);
  delete opts.delays;
  delete opts.stop;
  await assert.rejects(readWithRetry(read, opts), /down 5/);
  assert.deepEqual(log.filter((l) => l.startsWith('sleep')), ['sleep 1000', 'sleep 2000', 'sleep 4000', 'sleep 8000']);
});
