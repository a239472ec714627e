// main.js starts the inbox on the page the auth server rendered: it reads
// the settings, connects to Ably as the user, keeps the pending set
// (pending.js) and the view (view.js) in step, and publishes the user's
// decisions as approval-response messages of the contract.

import { connect } from './channel.js';
import { readConfig } from './config.js';
import { OUTCOME_EXPIRED } from './contract.js';
import { responseMessage } from './decision.js';
import { EV_IGNORED, EV_REQUEST, EV_RESOLVED, EV_UPDATED, Pending } from './pending.js';
import { InboxView } from './view.js';

function start() {
  const root = document.getElementById('inbox');
  if (!root) return;
  const cfg = readConfig(root.dataset);
  const pending = new Pending(cfg.agentClientId);
  let conn = null;
  const view = new InboxView(document, {
    user: cfg.user,
    role: cfg.role,
    roles: cfg.roles,
    maxReason: cfg.maxReason,
    now: () => Date.now(),
    onDecide: async (r, choice) => {
      if (!pending.get(r.key)) throw new Error('this request is no longer pending');
      await conn.channel.publish(responseMessage(r, choice));
    },
  });

  const onMessage = (m) => {
    const ev = pending.apply(m);
    switch (ev.kind) {
      case EV_REQUEST:
      case EV_UPDATED:
        view.upsert(ev.request);
        break;
      case EV_RESOLVED:
        view.remove(ev.resolved.key);
        view.resolved({ ...ev.resolved, tool: ev.resolved.tool || (ev.request ? ev.request.tool : '') });
        break;
      case EV_IGNORED:
        if (ev.previous) view.remove(ev.previous.key);
        break;
    }
  };

  conn = connect(cfg, {
    onMessage,
    onConnection: (state, reason) => view.setConnection(state, reason),
    onChannel: (state, reason) => {
      if (state === 'failed' || state === 'suspended') view.channelProblem(state, reason);
    },
    onCaughtUp: () => view.loaded(),
    onSessionEnded: () => view.sessionEnded(),
    onRole: (role) => view.setRole(role),
  });

  setInterval(() => {
    for (const r of pending.expire()) {
      view.remove(r.key);
      view.resolved({
        key: r.key,
        toolCallId: r.toolCallId,
        workflowId: r.workflowId,
        tool: r.tool,
        outcome: OUTCOME_EXPIRED,
        decidedBy: '',
        role: '',
        reason: '',
        at: r.expiresAt,
      });
    }
    view.tick(Date.now());
  }, 1000);
}

if (typeof document !== 'undefined') start();
