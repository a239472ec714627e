// main.js starts the inbox on the page the auth server rendered: it reads
// the settings, connects to Ably as the user, keeps the pending set
// (pending.js) and the view (view.js) in step, and publishes the user's
// decisions as approval-response messages of the contract.
//
// Time is Ably's (the browser's clock corrected by the offset channel.js
// measures): whether a request has expired does not depend on how well the
// computer keeps time. Signing out in one tab ends every open tab of the
// browser at once (a BroadcastChannel), as the session cookie they share
// is gone; a session that ends any other way is found at the next token
// renewal.

import { connect } from './channel.js';
import { readConfig } from './config.js';
import { OUTCOME_EXPIRED } from './contract.js';
import { newMessageId, publishFailure, responseMessage } from './decision.js';
import { EV_IGNORED, EV_NOT_COUNTED, EV_REQUEST, EV_RESOLVED, EV_UPDATED, Pending } from './pending.js';
import { STATE_REJOINING } from './rejoin.js';
import { InboxView } from './view.js';

// The tabs of one browser tell each other about a sign-out on this
// BroadcastChannel (same origin only).
const SESSION_CHANNEL = 'hitl-inbox-session';
const SIGNED_OUT = 'signed-out';

function start() {
  const root = document.getElementById('inbox');
  if (!root) return;
  const cfg = readConfig(root.dataset);
  let offset = 0; // Ably's clock minus the browser's
  const now = () => Date.now() + offset;
  const pending = new Pending(cfg.agentClientId, now);
  let conn = null;
  let ended = false;
  const view = new InboxView(document, {
    user: cfg.user,
    role: cfg.role,
    roles: cfg.roles,
    maxReason: cfg.maxReason,
    now,
    onDecide: async (r, choice) => {
      if (ended) throw new Error('you are signed out: sign in again to decide');
      if (pending.get(r.key)?.runId !== r.runId) throw new Error('this request is no longer pending');
      // As the CLI does: a decision is sent now or not at all, never held
      // and sent later, when the approver may have moved on (channel.js
      // turns ably-js's queueing off for a drop during the publish).
      if (conn.client.connection.state !== 'connected') {
        throw new Error(`no connection to Ably (${conn.client.connection.state}); the decision was not sent: decide again once the page is connected`);
      }
      const id = newMessageId();
      try {
        await conn.channel.publish(responseMessage(r, choice, id));
      } catch (err) {
        // The connection went down under it: it may have reached Ably.
        throw publishFailure(err, id, conn.client.connection.state);
      }
      return id;
    },
  });

  // endSession stops the page for good: no more tokens, no more decisions.
  const endSession = () => {
    if (ended) return;
    ended = true;
    view.sessionEnded();
    if (conn) conn.client.close();
  };
  const tabs = typeof BroadcastChannel === 'function' ? new BroadcastChannel(SESSION_CHANNEL) : null;
  if (tabs) {
    tabs.onmessage = (e) => {
      if (e.data === SIGNED_OUT) endSession();
    };
    const logout = document.getElementById('logout-form');
    if (logout) logout.addEventListener('submit', () => tabs.postMessage(SIGNED_OUT));
  }

  const onMessage = (m) => {
    const ev = pending.apply(m);
    switch (ev.kind) {
      case EV_REQUEST:
        // A new card, even for a call on the page: a reset run's request
        // is no version of the earlier run's.
        view.add(ev.request);
        break;
      case EV_UPDATED:
        view.upsert(ev.request);
        break;
      case EV_RESOLVED:
        view.remove(ev.resolved.key);
        view.resolved({ ...ev.resolved, tool: ev.resolved.tool || (ev.request ? ev.request.tool : ''), arguments: ev.request ? ev.request.arguments : '' });
        break;
      case EV_IGNORED:
        if (ev.previous) view.remove(ev.previous.key);
        break;
      case EV_NOT_COUNTED:
        // Only this user's; the view shows it only about the last
        // decision this page sent on the request.
        if (ev.notice.approver === cfg.user) view.notCounted(ev.notice);
        break;
    }
  };

  conn = connect(cfg, {
    onMessage,
    onConnection: (state, reason) => view.setConnection(state, reason),
    onChannel: (state, reason) => {
      if (state === 'failed' || state === 'suspended' || state === STATE_REJOINING) view.channelProblem(state, reason);
      else if (state === 'attached') view.channelBack();
    },
    onCaughtUp: () => view.loaded(),
    onHistoryEnded: () => view.historyEnded(),
    onHistoryCut: (read) => view.historyCut(read),
    onSessionEnded: endSession,
    onRole: (role) => view.setRole(role),
    onClock: (ms) => {
      offset = ms;
    },
  });

  setInterval(() => {
    for (const r of pending.expire()) {
      view.remove(r.key);
      view.resolved({
        key: r.key,
        toolCallId: r.toolCallId,
        workflowId: r.workflowId,
        tool: r.tool,
        arguments: r.arguments,
        outcome: OUTCOME_EXPIRED,
        decidedBy: '',
        approvedBy: [],
        role: '',
        reason: '',
        at: r.expiresAt,
      });
    }
    view.tick(now());
  }, 1000);
}

if (typeof document !== 'undefined') start();
