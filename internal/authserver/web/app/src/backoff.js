// backoff.js paces and bounds the page's own attempts to re-establish the
// approvals channel (channel.js): each attempt waits longer than the one
// before (REJOIN_DELAYS_MS), and when they are all spent the page stops
// trying and says so, rather than hammering Ably for ever. Trouble that
// comes STABLE_MS or more after the last attempt that worked is new
// trouble: the attempts start again from the first delay.

export const REJOIN_DELAYS_MS = [500, 1000, 2000, 4000, 8000, 15000];
export const STABLE_MS = 60000;

export class Backoff {
  constructor(delays = REJOIN_DELAYS_MS, stableMs = STABLE_MS) {
    this.delays = delays;
    this.stableMs = stableMs;
    this.used = 0;
    this.okAt = null; // when an attempt last worked (ms)
  }

  // next returns how long to wait (ms) before the next attempt at now, or
  // -1 when the attempts are spent.
  next(now) {
    if (this.okAt !== null && now - this.okAt >= this.stableMs) this.used = 0;
    if (this.used >= this.delays.length) return -1;
    return this.delays[this.used++];
  }

  // succeeded records that an attempt worked at now (ms).
  succeeded(now) {
    this.okAt = now;
  }
}
