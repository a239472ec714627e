// rejoin.js re-establishes the approvals channel when ably-js cannot keep
// it: a message it cannot decode fails the channel for good (vcdiff data
// without the plugin: 40019), and one it cannot apply makes it re-attach
// from the message before (a delta whose base it lacks: 40018), which a
// server that sends that message again turns into a loop (flap.js). The
// page then says the channel is not live ('rejoining'), detaches (which
// also ends ably-js's own recovery, so that the next attach does not
// resume from before the message), waits (backoff.js) and attaches afresh.
// The attach, without continuity, makes channel.js read the history
// again; pending.js ignores what it has seen.
//
// A failed channel is still attached for Ably, which would resume it (and
// what it sent meanwhile is lost to the page), and ably-js cannot detach
// it: it is attached first, then detached. An attempt works when the
// attach is without continuity. One rejoin at a time; when its attempts
// are spent the channel stays down and the page says to reload.

import { Backoff } from './backoff.js';
import { FlapDetector } from './flap.js';

export const STATE_REJOINING = 'rejoining';

export class Rejoiner {
  // channel: ably-js's RealtimeChannel (state, attach(), detach()). opts:
  // gone() (true when the connection will not come back: nothing to
  // re-establish), onChannel(state, reason), and for tests now(),
  // sleep(ms), flaps, backoff.
  constructor(channel, opts) {
    this.channel = channel;
    this.gone = opts.gone;
    this.onChannel = opts.onChannel;
    this.now = opts.now || (() => Date.now());
    this.sleep = opts.sleep || ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.flaps = opts.flaps || new FlapDetector();
    this.backoff = opts.backoff || new Backoff();
    this.active = false; // a rejoin is under way
  }

  // onChange takes each of the channel's state changes (ably-js's
  // ChannelStateChange) and starts a rejoin when the channel failed or
  // keeps re-attaching on its own. Changes during a rejoin are its own.
  onChange(change) {
    if (this.active) return;
    const reason = change.reason && change.reason.message;
    let why = '';
    if (change.current === 'failed') why = reason || 'the channel failed';
    // ably-js re-attaching by itself, for a reason, again and again.
    else if (change.current === 'attaching' && change.reason && this.flaps.note(this.now())) why = `the channel keeps re-attaching: ${reason}`;
    if (why) this.run(why).catch((err) => this.onChannel('failed', err.message));
  }

  // run re-establishes the channel; it resolves when done or given up.
  async run(reason) {
    if (this.active || this.gone()) return;
    this.active = true;
    this.onChannel(STATE_REJOINING, reason);
    const ch = this.channel;
    try {
      for (;;) {
        const wait = this.backoff.next(this.now());
        if (wait < 0) {
          this.onChannel('failed', `${reason}; the page stopped re-attaching the channel: reload it`);
          return;
        }
        // Failures here show in the attach below.
        if (ch.state === 'failed') await ch.attach().catch(() => {});
        if (!['initialized', 'detached', 'failed'].includes(ch.state)) await ch.detach().catch(() => {});
        await this.sleep(wait);
        if (this.gone()) return;
        try {
          const change = await ch.attach();
          if (change && !change.resumed) {
            this.backoff.succeeded(this.now());
            this.flaps.reset();
            this.onChannel('attached', '');
            return;
          }
          reason = 'the channel was not detached';
        } catch (err) {
          reason = err.message;
        }
      }
    } finally {
      this.active = false;
    }
  }
}
