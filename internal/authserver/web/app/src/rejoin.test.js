import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REJOIN_DELAYS_MS } from './backoff.js';
import { FLAP_LIMIT } from './flap.js';
import { Rejoiner, STATE_REJOINING } from './rejoin.js';

// FakeChannel plays ably-js's RealtimeChannel against a server that keeps
// an attachment until it is detached: an attach while the server still
// has one is resumed (continuity), as after a failure on the client's side.
class FakeChannel {
  constructor(state, serverAttached) {
    this.state = state;
    this.serverAttached = serverAttached;
    this.calls = [];
    this.attachFailures = 0; // attaches to refuse, from the next one on
    this.detachesLost = 0; // detaches that do not reach the server, from the next one on
  }

  async attach() {
    this.calls.push('attach');
    if (this.state === 'attached') return null;
    if (this.attachFailures > 0) {
      this.attachFailures--;
      this.state = 'failed';
      throw new Error('attach refused');
    }
    const resumed = this.serverAttached;
    this.serverAttached = true;
    this.state = 'attached';
    return { current: 'attached', resumed };
  }

  async detach() {
    this.calls.push('detach');
    if (this.state === 'failed') throw new Error('Unable to detach as channel state is failed');
    this.state = 'detached';
    if (this.detachesLost > 0) this.detachesLost--;
    else this.serverAttached = false;
  }
}

function rejoiner(ch, { gone = () => false } = {}) {
  let clock = 1_000_000;
  const said = [];
  const waits = [];
  const r = new Rejoiner(ch, {
    gone,
    onChannel: (state, reason) => said.push([state, reason]),
    now: () => clock,
    sleep: async (ms) => {
      waits.push(ms);
      clock += ms;
    },
  });
  return { r, said, waits, tick: (ms) => (clock += ms) };
}

const decodeFailure = { message: 'Delta message decode failure - previous message not available', code: 40018 };

test('a failed channel is attached, detached, and attached afresh', async () => {
  const ch = new FakeChannel('failed', true);
  const { r, said, waits } = rejoiner(ch);
  await r.run('vcdiff: 40019');
  assert.deepEqual(ch.calls, ['attach', 'detach', 'attach']);
  assert.equal(ch.state, 'attached');
  assert.deepEqual(said, [
    [STATE_REJOINING, 'vcdiff: 40019'],
    ['attached', ''],
  ]);
  assert.deepEqual(waits, [REJOIN_DELAYS_MS[0]]);
  assert.equal(r.active, false);
});

test('a channel that fails starts a rejoin', async () => {
  const ch = new FakeChannel('failed', true);
  const { r, said } = rejoiner(ch);
  r.onChange({ current: 'failed', reason: { message: 'Missing Vcdiff decoder', code: 40019 } });
  assert.equal(r.active, true);
  assert.deepEqual(said[0], [STATE_REJOINING, 'Missing Vcdiff decoder']);
  // Changes while it rejoins are its own.
  r.onChange({ current: 'failed', reason: { message: 'again' } });
  while (r.active) await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(ch.calls, ['attach', 'detach', 'attach']);
  assert.deepEqual(said.at(-1), ['attached', '']);
});

test('re-attaching in a loop starts a rejoin; re-attaching now and then does not', async () => {
  const ch = new FakeChannel('attached', true);
  const { r, said } = rejoiner(ch);
  // The page's own attaches have no reason: they never count.
  for (let i = 0; i < 20; i++) r.onChange({ current: 'attaching', reason: null });
  for (let i = 0; i < FLAP_LIMIT; i++) r.onChange({ current: 'attaching', reason: decodeFailure });
  assert.equal(r.active, false);
  assert.deepEqual(said, []);
  r.onChange({ current: 'attaching', reason: decodeFailure });
  assert.equal(r.active, true);
  assert.match(said[0][1], /^the channel keeps re-attaching: Delta message decode failure/);
  while (r.active) await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(ch.calls, ['detach', 'attach']);
  assert.equal(ch.serverAttached, true);
  assert.deepEqual(said.at(-1), ['attached', '']);
});

test('attempts are bounded: when they are spent the page says to reload', async () => {
  const ch = new FakeChannel('failed', true);
  ch.attachFailures = 1000;
  const { r, said, waits } = rejoiner(ch);
  await r.run('it failed');
  assert.deepEqual(waits, REJOIN_DELAYS_MS);
  assert.equal(ch.calls.filter((c) => c === 'attach').length, 2 * REJOIN_DELAYS_MS.length);
  assert.deepEqual(said.at(-1), ['failed', 'attach refused; the page stopped re-attaching the channel: reload it']);
  assert.equal(r.active, false);
  // Spent: the next trouble soon after is not tried again.
  ch.calls = [];
  await r.run('again');
  assert.deepEqual(ch.calls, []);
  assert.equal(said.at(-1)[0], 'failed');
});

test('an attach that resumes (the detach did not reach the server) is tried again', async () => {
  const ch = new FakeChannel('attached', true);
  ch.detachesLost = 1;
  const { r, said, waits } = rejoiner(ch);
  await r.run('loop');
  assert.deepEqual(waits, REJOIN_DELAYS_MS.slice(0, 2));
  assert.deepEqual(ch.calls, ['detach', 'attach', 'detach', 'attach']);
  assert.deepEqual(said.at(-1), ['attached', '']);
});

test('trouble long after a rejoin worked gets every attempt again', async () => {
  const ch = new FakeChannel('failed', true);
  const { r, waits, tick } = rejoiner(ch);
  for (let i = 0; i < 10; i++) {
    ch.state = 'failed';
    await r.run('again and again');
    tick(60_000);
  }
  assert.deepEqual(waits, Array(10).fill(REJOIN_DELAYS_MS[0]));
});

test('no rejoin once the connection is gone', async () => {
  let gone = true;
  const ch = new FakeChannel('failed', true);
  const { r, said } = rejoiner(ch, { gone: () => gone });
  await r.run('connection failed');
  assert.deepEqual(ch.calls, []);
  assert.deepEqual(said, []);
  // Gone while it waits: it stops there.
  gone = false;
  const { r: r2, said: said2 } = rejoiner(ch, { gone: () => gone });
  const done = r2.run('failed');
  gone = true;
  await done;
  assert.deepEqual(ch.calls, ['attach', 'detach']);
  assert.deepEqual(said2, [[STATE_REJOINING, 'failed']]);
});

test('one rejoin at a time: a second run while one is under way does nothing', async () => {
  const ch = new FakeChannel('failed', true);
  const { r, said, waits } = rejoiner(ch);
  const first = r.run('first');
  await r.run('second');
  await first;
  assert.deepEqual(ch.calls, ['attach', 'detach', 'attach']);
  assert.deepEqual(waits, [REJOIN_DELAYS_MS[0]]);
  assert.deepEqual(said, [
    [STATE_REJOINING, 'first'],
    ['attached', ''],
  ]);
});

// Re-attaches counted before a rejoin that worked are forgotten: a loop
// after it needs more than FLAP_LIMIT of its own.
test('a rejoin that worked starts the count of re-attaches again', async () => {
  const ch = new FakeChannel('attached', true);
  const { r, said } = rejoiner(ch);
  for (let i = 0; i < FLAP_LIMIT - 1; i++) r.onChange({ current: 'attaching', reason: decodeFailure });
  ch.state = 'failed';
  r.onChange({ current: 'failed', reason: { message: 'Missing Vcdiff decoder', code: 40019 } });
  while (r.active) await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(said.at(-1), ['attached', '']);
  const before = said.length;
  for (let i = 0; i < FLAP_LIMIT; i++) r.onChange({ current: 'attaching', reason: decodeFailure });
  assert.equal(r.active, false);
  assert.equal(said.length, before);
});
