// channel.js connects to Ably as the signed-in user, with the user's own
// JWT through authCallback (so everything the page publishes carries the
// user's clientId, and Ably adds the user's role as extras.userClaim), and
// feeds the approvals channel's messages to a handler in publication
// order: the history up to the attach point first, then the live ones,
// which wait while the history is read. After a reattach that lost
// continuity, the history is read again; the handler ignores what it has
// seen (pending.js). Before the first history read it measures how far the
// browser's clock is from Ably's (onClock), so that a computer whose clock
// runs ahead does not count pending requests as expired.
//
// When ably-js cannot keep the channel (it failed, or re-attaches in a
// loop), the page re-establishes it (rejoin.js) and reads the history
// again.

import { BaseRealtime, FetchRequest, Rest, WebSocketTransport } from 'ably/modular';
import { ablyEndpointOptions } from './config.js';
import { Rejoiner } from './rejoin.js';
import { readWithRetry } from './historyretry.js';
import { fetchToken, roleOf, SessionEndedError } from './token.js';

// The history read at load: at most HISTORY_PAGES pages of
// HISTORY_PAGE_SIZE messages (the CLI reads as much).
export const HISTORY_PAGES = 10;
export const HISTORY_PAGE_SIZE = 100;

// connect returns {client, channel}. hooks: onMessage(m),
// onConnection(state, reason), onChannel(state, reason) (ably-js's channel
// states, and rejoin.js's STATE_REJOINING while the page re-establishes it),
// onCaughtUp() (after a history read that worked), onHistoryEnded() (after
// the first try of a history read, worked or not),
// onHistoryCut(read) (after each history read: read > 0 when it stopped
// at its bound with older messages left unread, 0 when it read them all), onSessionEnded(), onRole(role), onClock(offsetMs)
// (Ably's time minus the browser's).
export function connect(cfg, hooks) {
  const client = new BaseRealtime({
    ...ablyEndpointOptions(cfg),
    useBinaryProtocol: false,
    echoMessages: true,
    // A publish while the connection is down fails at once instead of
    // waiting in ably-js's queue to go out when it comes back (main.js).
    queueMessages: false,
    logLevel: 1,
    plugins: { WebSocketTransport, FetchRequest, Rest },
    authCallback: (_params, callback) => {
      fetchToken(cfg).then(
        (token) => {
          hooks.onRole(roleOf(token, cfg.channel));
          callback(null, token);
        },
        (err) => {
          if (err instanceof SessionEndedError) {
            // Stop asking: the session will not come back. The hook
            // closes the client.
            setTimeout(() => hooks.onSessionEnded(), 0);
          }
          callback(err.message, null);
        },
      );
    },
  });
  client.connection.on((change) => hooks.onConnection(change.current, change.reason && change.reason.message));

  const channel = client.channels.get(cfg.channel);
  let held = []; // live messages that arrive while the history is read
  let attachedOnce = false;
  const live = (m) => {
    if (held) held.push(m);
    else hooks.onMessage(m);
  };

  async function catchUp() {
    held = held || [];
    try {
      const items = [];
      let page = await channel.history({ untilAttach: true, limit: HISTORY_PAGE_SIZE });
      let cut = false;
      for (let n = 1; page; n++) {
        items.push(...page.items);
        if (!page.hasNext()) break;
        page = await page.next();
        if (n >= HISTORY_PAGES) {
          // A full last page may have nothing after it: say the read
          // was cut only when there is more.
          cut = Boolean(page && page.items.length > 0);
          break;
        }
      }
      for (const m of items.reverse()) hooks.onMessage(m); // history is newest first
      hooks.onHistoryCut(cut ? items.length : 0);
    } finally {
      const waiting = held;
      held = null;
      for (const m of waiting) hooks.onMessage(m);
    }
    hooks.onCaughtUp();
  }
  // A failed read is tried again (historyretry.js) while the channel stays
  // attached; the page says so meanwhile, and shows the channel back when
  // a later try works.
  const caughtUpOrSay = () => {
    let retried = false;
    return readWithRetry(catchUp, {
      ended: () => hooks.onHistoryEnded(),
      retrying: (err, ms) => {
        retried = true;
        hooks.onChannel('failed', `could not read the channel history: ${err.message}; reading it again in ${Math.round(ms / 1000)} s`);
      },
      stop: () => channel.state !== 'attached',
    }).then(
      () => {
        if (retried) hooks.onChannel('attached', '');
      },
      (err) => hooks.onChannel('failed', `could not read the channel history: ${err.message}`),
    );
  };

  // firstCatchUp reads the history after the first attach that worked
  // (the subscribe's, or a later one when that failed).
  let started = false;
  const firstCatchUp = async () => {
    if (started) return;
    started = true;
    await measureClock(client, hooks);
    attachedOnce = true;
    return caughtUpOrSay();
  };

  // gone: the connection will not come back (closed at sign-out, or
  // failed): nothing to re-establish, and its own state is on the page.
  const gone = () => ['closing', 'closed', 'failed'].includes(client.connection.state);
  const rejoiner = new Rejoiner(channel, { gone, onChannel: hooks.onChannel });

  channel.on((change) => {
    const reason = change.reason && change.reason.message;
    // While the page re-establishes the channel, the channel is attached
    // when the page is done (rejoin.js says so), not at each of its steps.
    if (!(rejoiner.active && change.current === 'attached')) hooks.onChannel(change.current, reason);
    if (change.current === 'attached') {
      if (!started) firstCatchUp();
      else if (attachedOnce && !change.resumed) caughtUpOrSay();
    }
    rejoiner.onChange(change);
  });
  channel.subscribe(live).then(firstCatchUp, (err) => {
    if (!rejoiner.active) hooks.onChannel('failed', err.message);
  });
  return { client, channel };
}

// measureClock asks Ably for its time and reports how far the browser's
// clock is from it, halving the round trip. When Ably cannot say, the
// browser's clock is used as it is.
async function measureClock(client, hooks) {
  try {
    const before = Date.now();
    const server = await client.time();
    const after = Date.now();
    if (Number.isFinite(server)) hooks.onClock(server - (before + after) / 2);
  } catch {
    // keep the browser's clock
  }
}
