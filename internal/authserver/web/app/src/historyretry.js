// historyretry.js reads the channel's history again when a read fails
// (Ably out of reach for a moment, a token renewed mid-read): the page
// would otherwise say "could not read the channel history" until a
// re-attach or a reload, and requests published before it opened would
// stay unseen. HISTORY_RETRY_DELAYS_MS paces the tries; a read that fails
// after the last one is reported for good (channel.js).

export const HISTORY_RETRY_DELAYS_MS = [1000, 2000, 4000, 8000];

// readWithRetry calls read() until it resolves, waiting the given delays
// between tries. opts: ended() after the first try, worked or not (what
// arrives from then on the user may see: view.js warns of changes to it),
// retrying(err, waitMs) before each wait, stop() (true: give up, e.g. the
// channel is no longer attached), sleep(ms), delays. It resolves when a
// read worked and rejects with the last error when the tries are spent or
// stop() says so.
export async function readWithRetry(read, opts) {
  const delays = opts.delays || HISTORY_RETRY_DELAYS_MS;
  const sleep = opts.sleep || ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  const stop = opts.stop || (() => false);
  for (let attempt = 0; ; attempt++) {
    try {
      await read();
      if (attempt === 0) opts.ended();
      return;
    } catch (err) {
      if (attempt === 0) opts.ended();
      if (attempt >= delays.length || stop()) throw err;
      opts.retrying(err, delays[attempt]);
      await sleep(delays[attempt]);
      if (stop()) throw err;
    }
  }
}
