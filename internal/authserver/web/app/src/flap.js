// flap.js tells when the approvals channel keeps re-attaching. ably-js
// re-attaches on its own when it cannot apply a message (a delta whose
// base it does not have: 40018), resuming from the message before it; a
// server that then sends the same message again makes that a loop without
// end, in which the page receives nothing while its channel looks
// attached between two turns. One such re-attach is ably-js recovering;
// more than FLAP_LIMIT within FLAP_WINDOW_MS is a loop (the one seen took
// thousands a second), and the page re-establishes the channel itself
// (channel.js).

export const FLAP_LIMIT = 5;
export const FLAP_WINDOW_MS = 5000;

export class FlapDetector {
  constructor(limit = FLAP_LIMIT, windowMs = FLAP_WINDOW_MS) {
    this.limit = limit;
    this.windowMs = windowMs;
    this.times = []; // the re-attaches within the window, oldest first
  }

  // note counts one re-attach at now (ms) and returns true when it makes
  // more than limit within the window; the count then starts again, so it
  // holds at most limit + 1 times.
  note(now) {
    this.times.push(now);
    while (this.times.length > 0 && this.times[0] <= now - this.windowMs) this.times.shift();
    if (this.times.length <= this.limit) return false;
    this.times = [];
    return true;
  }

  // reset forgets the re-attaches counted so far.
  reset() {
    this.times = [];
  }
}
