// view.js renders the inbox into the page the auth server served: the
// connection state, one card per pending request, and the recently
// resolved list. Every string from the channel goes in through
// textContent (Trusted Types forbid innerHTML anyway), with hidden
// characters marked (text.js). Decisions go out through the onDecide
// callback; the view only collects them.

import { argumentLabel, requestNames } from './cardname.js';
import { DECISION_APPROVED, DECISION_REJECTED } from './contract.js';
import { UnconfirmedError } from './decision.js';
import { compact, indent } from './json.js';
import { STATE_REJOINING } from './rejoin.js';
import { approvalCheck } from './roles.js';
import { escapeHidden, formatAgo, formatClock, formatLeft, mixedScriptWords, plain, visibleParts } from './text.js';

// MAX_RESOLVED_SHOWN bounds the recently resolved list.
const MAX_RESOLVED_SHOWN = 20;
// NO_ANSWER_MS is how long after a decision was sent the card says the
// agent has not answered, and offers the buttons again.
const NO_ANSWER_MS = 15000;

// SLOW_SEND_MS is how long a decision may wait for Ably's acknowledgement
// before the card says it may go out later.
const SLOW_SEND_MS = 5000;

// BUTTON_NAMES gives a card's buttons, by class, their accessible names:
// the words they show, and the request's name (cardname.js), so that the
// buttons of two requests of one tool are not alike.
const BUTTON_NAMES = {
  approve: (n) => `Approve ${n}`,
  edit: (n) => `Approve with edits: ${n}…`,
  reject: (n) => `Reject ${n}…`,
  'send-reject': (n) => `Send rejection: ${n}`,
  'send-edit': (n) => `Approve edited arguments: ${n}`,
  cancel: (n) => `Cancel: ${n}`,
};

const CONNECTION_TEXT = {
  initialized: 'Connecting…',
  connecting: 'Connecting…',
  connected: 'Live',
  disconnected: 'Offline — reconnecting…',
  suspended: 'Offline — retrying every 30 s…',
  closing: 'Disconnected',
  closed: 'Disconnected',
  failed: 'Connection failed',
};

// h creates an element with attributes (strings; "class", "hidden",
// "dataset" object) and children (elements or strings, as text).
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children) append(el, c);
  return el;
}

function append(el, c) {
  if (c === undefined || c === null || c === false) return;
  if (Array.isArray(c)) c.forEach((x) => append(el, x));
  else el.append(typeof c === 'string' ? document.createTextNode(c) : c);
}

// shown renders s with hidden characters marked.
function shown(s, keepNewlines = false) {
  const frag = document.createDocumentFragment();
  for (const p of visibleParts(String(s ?? ''), keepNewlines)) {
    const title = p.marks ? `${p.marks} more combining marks on this letter, not drawn` : `hidden character ${p.codePoint}`;
    frag.append(p.hidden ? h('span', { class: 'hidden-char', title }, p.text) : document.createTextNode(p.text));
  }
  return frag;
}

function setShown(el, s, keepNewlines = false) {
  el.replaceChildren(shown(s, keepNewlines));
}

// prettyArguments returns the arguments re-indented, and a warning when
// they are not JSON, hold duplicate keys, or words that mix letters of
// scripts that look alike.
function prettyArguments(args) {
  if (args.trim() === '') return { text: '(none)', warning: '', json: false };
  try {
    const { text, duplicates } = indent(args);
    const warnings = [];
    if (duplicates.length) {
      warnings.push(
        `These arguments repeat the key${duplicates.length > 1 ? 's' : ''} ${duplicates.map((d) => JSON.stringify(plain(d))).join(', ')}: every occurrence is shown, but a tool may read only one of them.`,
      );
    }
    const lookalike = lookalikeWarning(args);
    if (lookalike) warnings.push(lookalike);
    return { text, warning: warnings.join(' '), json: true };
  } catch (err) {
    const warning = `These arguments are not valid JSON (${err.message}); they are shown as sent.`;
    return { text: args, warning: [warning, lookalikeWarning(args)].filter(Boolean).join(' '), json: false };
  }
}

// lookalikeWarning points out the words of args that mix letters of
// scripts that look alike, or is ''.
function lookalikeWarning(args) {
  const mixed = mixedScriptWords(args);
  if (!mixed.length) return '';
  const shownWords = mixed.slice(0, 5).map((m) => `${JSON.stringify(plain(m.word))} (${m.letters.slice(0, 3).join(', ')})`);
  return `Some words mix letters of scripts that look alike: ${shownWords.join('; ')}${mixed.length > 5 ? ` and ${mixed.length - 5} more` : ''}. Such a word can pass for another name, key or web address.`;
}

export class InboxView {
  // opts: {user, role, roles, maxReason, onDecide(request, choice) →
  // Promise, now() → ms}.
  constructor(doc, opts) {
    this.doc = doc;
    this.opts = opts;
    this.role = opts.role;
    this.cards = new Map(); // key → {el, request, parts, sent}
    this.resolvedItems = new Map(); // key → {el, entry}
    this.nextId = 1;
    this.ended = false; // the session ended: nothing more is sent
    this.historyWasCut = false; // the last history read stopped at its bound
    this.conn = { state: 'initialized', reason: '' }; // the Ably connection's
    this.channelIssue = null; // {state, reason} while the channel is down
    this.historyRead = false; // the history was read once: what arrives since, the user may have seen before
    this.$ = (id) => doc.getElementById(id);
  }

  // setConnection shows the Ably connection state (not once the session
  // ended: the page stays signed out).
  setConnection(state, reason) {
    if (this.ended) return;
    this.conn = { state, reason };
    // Connected, with the channel down, is not live.
    if (state === 'connected' && this.channelIssue) {
      this.showChannelIssue();
      return;
    }
    const el = this.$('conn');
    el.dataset.state = state;
    let text = CONNECTION_TEXT[state] || state;
    if ((state === 'failed' || state === 'suspended' || state === 'disconnected') && reason) text += ` (${plain(reason)})`;
    // A live region: ably-js reports "connected" again at each token
    // renewal, which would say "Live" again.
    if (el.textContent !== text) el.textContent = text;
    this.doc.body.dataset.connection = state;
  }

  // channelProblem shows that the approvals channel, not the connection,
  // is unusable (failed, or its history could not be read), or that the
  // page is re-establishing it (STATE_REJOINING), until channelBack.
  channelProblem(state, reason) {
    if (this.ended) return;
    this.channelIssue = { state, reason };
    this.showChannelIssue();
  }

  showChannelIssue() {
    const { state, reason } = this.channelIssue;
    const el = this.$('conn');
    el.dataset.state = state;
    const why = reason ? ` (${plain(reason)})` : '';
    const text = state === STATE_REJOINING ? `Not live: re-attaching the channel…${why}` : `Channel unavailable${why}`;
    if (el.textContent !== text) el.textContent = text;
  }

  // channelBack shows the connection's state again once the channel is
  // attached.
  channelBack() {
    if (this.ended || !this.channelIssue) return;
    this.channelIssue = null;
    this.setConnection(this.conn.state, this.conn.reason);
  }

  // sessionEnded tells the user to sign in again, for good, and takes the
  // buttons off every card: nothing this page sends would count.
  sessionEnded() {
    this.ended = true;
    const el = this.$('conn');
    el.dataset.state = 'signed-out';
    el.replaceChildren('Signed out: your session ended. ', h('a', { href: '/' }, 'Sign in again'));
    this.doc.body.dataset.connection = 'signed-out';
    this.updateCounts();
    // The header no longer claims a session, nor offers to end it.
    const who = this.$('signed-in');
    if (who) who.textContent = 'Signed out';
    const logout = this.$('logout-form');
    if (logout) logout.hidden = true;
    for (const c of this.cards.values()) this.renderActions(c);
  }

  // historyCut says that the history read stopped at its bound (read > 0):
  // requests older than the messages read are not on the page; 0 (a later
  // read got everything) takes the warning away.
  historyCut(read) {
    const el = this.$('history-cut');
    if (!el) return;
    this.historyWasCut = read > 0;
    this.updateCounts();
    if (read === 0) {
      el.hidden = true;
      return;
    }
    el.textContent = `Only the newest ${read} messages of the channel were read, and it has older ones: a request made before them is not shown here, even if it still waits. The CLI reads further (approver list --history-pages N).`;
    el.hidden = false;
  }

  // setRole shows the role the user's token carries (display only).
  setRole(role) {
    if (this.ended || !role || role === this.role) return;
    this.role = role;
    this.$('my-role').textContent = plain(role);
    for (const c of this.cards.values()) this.renderActions(c);
    this.updateCounts();
  }

  // historyEnded records that the first history read ended, worked or
  // not: what arrives from now on is live, and the user may have seen a
  // request before it changes (upsert warns then).
  historyEnded() {
    this.historyRead = true;
  }

  // loaded hides the loading line once the history is read. What the
  // first read brought was not announced card by card (add, resolved):
  // a screen reader hears how many requests wait for this user, once.
  loaded() {
    const first = !this.$('loading').hidden;
    this.historyRead = true;
    this.$('loading').hidden = true;
    this.updateCounts();
    if (!first) return;
    const mine = this.decidableCount();
    if (mine > 0) this.announce(`${mine} request${mine > 1 ? 's wait' : ' waits'} for your decision.`);
  }

  updateCounts() {
    this.nameCards();
    const n = this.cards.size;
    this.$('pending-count').textContent = String(n);
    const empty = this.$('empty');
    empty.hidden = n > 0 || !this.$('loading').hidden;
    // With the history read cut, older requests may wait unseen.
    empty.textContent = this.historyWasCut ? 'No request waits among the messages read (see above).' : 'Nothing is waiting for a decision.';
    this.$('resolved-empty').hidden = this.resolvedItems.size > 0;
    // The tab's title counts what this user can decide now: an editor's
    // tab does not announce 15 requests only a publisher may decide.
    const mine = this.decidableCount();
    this.doc.title = `${mine > 0 ? `(${mine}) ` : ''}Inbox · Approval inbox`;
  }

  // nameCards names each card's request for its buttons (cardname.js),
  // telling it apart from the others on the page, and names the buttons
  // again whose name changed: a second request of a tool, or new
  // arguments, can change another card's.
  nameCards() {
    const items = [];
    for (const c of this.cards.values()) {
      const r = c.request;
      if (c.argsNamed !== r.arguments) {
        c.argsNamed = r.arguments;
        c.argLabel = argumentLabel(r.arguments);
      }
      items.push({ key: r.key, tool: r.tool, arg: c.argLabel, toolCallId: r.toolCallId, workflowId: r.workflowId });
    }
    const names = requestNames(items);
    for (const c of this.cards.values()) {
      const name = names.get(c.request.key);
      if (name === c.name) continue;
      c.name = name;
      this.nameButtons(c);
    }
  }

  // nameButtons gives card c's buttons their names (BUTTON_NAMES), the
  // tool's alone until nameCards named the card.
  nameButtons(c) {
    const name = c.name ?? plain(c.request.tool);
    for (const b of c.el.querySelectorAll('button')) {
      const named = BUTTON_NAMES[b.classList[0]];
      if (!named) continue;
      const label = named(name);
      if (b.getAttribute('aria-label') !== label) b.setAttribute('aria-label', label);
    }
  }

  // decidableCount is how many requests on the page wait for this user.
  decidableCount() {
    return [...this.cards.values()].filter((c) => this.canDecide(c.request)).length;
  }

  // announce says text to a screen reader (a polite live region): about
  // what happens live, not about what the page reads from the history
  // when it opens, which would be one "New request" per request read.
  announce(text) {
    if (!this.historyRead) return;
    this.$('announce').textContent = text;
  }

  // add shows a new request on a card of its own. The call may have been
  // on the page already, when a run made by a Temporal reset asks for it
  // again (pending.js): its card of the earlier run goes, with whatever was
  // sent or typed on it, which was about the earlier request; its entry in
  // the resolved list goes too, as the call waits again, and the new card
  // says how it was resolved before.
  add(r) {
    const old = this.cards.get(r.key);
    const hadFocus = old !== undefined && old.el.contains(this.doc.activeElement);
    if (old) this.dropCard(old);
    const earlier = this.resolvedItems.get(r.key);
    if (earlier) this.dropResolved(r.key);
    const card = this.buildCard(r, earlier ? earlier.entry : null);
    this.cards.set(r.key, card);
    this.placeCard(card);
    this.updateCounts();
    const what = r.runId ? 'Asked again after a reset of the run' : 'New request';
    this.announce(`${what}: ${plain(r.tool)}, needs ${plain(r.requiredRole)}.`);
    if (hadFocus) card.parts.title.focus();
  }

  // upsert updates the card of an earlier version of a request
  // (escalation, quorum progress, new arguments after an edit), or shows
  // it (add) when it has none.
  upsert(r) {
    const c = this.cards.get(r.key);
    if (!c) {
      this.add(r);
      return;
    }
    this.keepingFocus(c, () => this.update(c, r));
  }

  update(c, r) {
    const argsChanged = c.request.arguments !== r.arguments || c.request.argumentsDigest !== r.argumentsDigest;
    c.request = r;
    this.fillCard(c);
    if (c.sent && (c.sent.decision === DECISION_APPROVED ? this.approvedByMe(r) : this.rejectedByMe(r))) {
      // The agent counted this user's decision (a quorum waits for more).
      c.sent = null;
      clearTimeout(c.noAnswer);
    }
    if (argsChanged) {
      c.sent = null;
      this.closeForms(c);
      // Said where the earlier arguments were before the user: not while
      // the history is read at load (its revisions are no change anyone
      // saw here), nor to the approver whose counted edit these are.
      const ownEdit = Boolean(r.editedBy) && r.editedBy.clientId === this.opts.user && this.approvedByMe(r);
      // Said once: the card's status line is a live region, so no
      // announcement beside it, and it names the tool.
      if (this.historyRead && !ownEdit) {
        this.setStatus(c, `The arguments of ${plain(r.tool)} changed: review them again before deciding.`, 'warn');
      }
    }
    this.renderActions(c);
    this.updateCounts(); // an escalation or a counted approval changes who can decide
  }

  // remove takes a request's card off the page (resolved elsewhere, or
  // expired), keeping the keyboard focus on the list.
  remove(key) {
    const c = this.cards.get(key);
    if (!c) return;
    const hadFocus = c.el.contains(this.doc.activeElement);
    const next = c.el.nextElementSibling || c.el.previousElementSibling;
    this.dropCard(c);
    this.updateCounts();
    if (hadFocus) (next ? next.querySelector('h3') : this.$('pending-title')).focus();
  }

  dropCard(c) {
    c.el.remove();
    clearTimeout(c.noAnswer);
    this.cards.delete(c.request.key);
  }

  // isShown reports whether card c is still the one of its call on the
  // page: a decision sent from a card that has gone since says nothing
  // about the card that replaced it (add).
  isShown(c) {
    return this.cards.get(c.request.key) === c;
  }

  dropResolved(key) {
    const item = this.resolvedItems.get(key);
    item.el.remove();
    this.resolvedItems.delete(key);
    this.updateCounts();
  }

  // resolved adds or updates an entry of the recently resolved list.
  resolved(entry) {
    const old = this.resolvedItems.get(entry.key);
    if (old) old.el.remove();
    const el = h(
      'li',
      { class: 'resolved-item', dataset: { toolCallId: entry.toolCallId, workflowId: entry.workflowId, outcome: entry.outcome } },
      h('span', { class: `outcome outcome-${entry.outcome}` }, entry.outcome || 'resolved'),
      ' ',
      h('span', { class: 'tool' }, shown(entry.tool)),
      entry.arguments ? [' ', h('code', { class: 'args-summary' }, shown(argumentsSummary(entry.arguments)))] : null,
      ': ',
      h('span', { class: 'summary' }),
      ' ',
      // The run in words, not only in a tooltip, which neither a keyboard
      // nor a screen reader reaches.
      h('span', { class: 'ids muted' }, h('code', { class: 'call' }, shown(entry.toolCallId)), ' (run ', h('code', { class: 'run' }, shown(entry.workflowId)), ')'),
    );
    if (entry.reason) el.append(' ', h('q', { class: 'reason' }, shown(entry.reason)));
    const item = { el, entry };
    this.resolvedItems.set(entry.key, item);
    this.$('resolved').prepend(el);
    while (this.resolvedItems.size > MAX_RESOLVED_SHOWN) {
      const [k, oldest] = this.resolvedItems.entries().next().value;
      oldest.el.remove();
      this.resolvedItems.delete(k);
    }
    this.tickResolved(item, this.opts.now());
    this.updateCounts();
    this.announce(`${plain(entry.tool)} ${entry.outcome || 'resolved'}${decidedBy(entry)}.`);
  }

  // tick updates the countdowns and the "… ago" times.
  tick(now) {
    for (const c of this.cards.values()) this.tickCard(c, now);
    for (const item of this.resolvedItems.values()) this.tickResolved(item, now);
  }

  tickCard(c, now) {
    const r = c.request;
    if (r.expiresAt === null) {
      c.parts.countdown.textContent = 'no expiry';
      return;
    }
    const left = r.expiresAt - now;
    c.parts.countdown.textContent = `${formatLeft(left)} left`;
    c.parts.countdown.title = `until ${formatClock(r.expiresAt, now)}`;
    const urgent = left < 60000;
    // The red countdown, in words, once: a screen reader does not hear a
    // countdown tick, nor see it turn red.
    if (urgent && !c.el.classList.contains('urgent') && c.el.isConnected && this.canDecide(r)) {
      this.announce(`${plain(r.tool)} expires in less than a minute.`);
    }
    c.el.classList.toggle('urgent', urgent);
  }

  tickResolved(item, now) {
    const e = item.entry;
    const by = decidedBy(e);
    const ago = e.at === null ? '' : ` ${formatAgo(now - e.at)}`;
    // A quorum's roles are in decidedBy; e.role is the last approver's.
    const role = e.role && !quorum(e) ? ` · ${plain(e.role)}` : '';
    item.el.querySelector('.summary').textContent = `${e.outcome || 'resolved'}${by}${ago}${role}`;
  }

  // sent records that this page sent a decision from card c.
  sent(c, choice) {
    if (!this.isShown(c)) return;
    c.sent = choice;
    const what = choice.decision === DECISION_APPROVED ? (choice.arguments !== undefined ? 'Approval with edits' : 'Approval') : 'Rejection';
    this.setStatus(c, `${what} sent as ${plain(this.opts.user)}. Waiting for the agent…`, 'ok');
    this.renderActions(c);
    clearTimeout(c.noAnswer);
    c.noAnswer = setTimeout(() => {
      if (!this.isShown(c) || c.sent !== choice) return;
      c.sent = null;
      this.setStatus(c, 'The agent has not confirmed your decision yet. It may still be counting it, or it ignored it (the audit in Temporal says why). You can decide again.', 'warn');
      this.renderActions(c);
    }, NO_ANSWER_MS);
  }

  // notCounted says on the request's card that the agent did not count
  // this user's decision, and why, and offers the buttons again: only about
  // the last decision this page sent on it (by its message id), once.
  notCounted(n) {
    const c = this.cards.get(n.key);
    if (!c || !c.sentId || n.ablyMessageId !== c.sentId) return;
    c.sentId = null;
    c.sent = null;
    clearTimeout(c.noAnswer);
    // Said once, by the card's status line (a live region).
    this.setStatus(c, `The agent did not count your decision on ${plain(c.request.tool)}: ${plain(n.reason)}. You can decide again.`, 'error');
    this.renderActions(c);
  }

  // unconfirmed says that the decision sent from card c may count: the
  // connection went down before Ably confirmed it. The buttons come back
  // as after any decision the agent does not answer (sent): offered at
  // once, "Could not send" would have the user decide again, as if
  // nothing had gone out, while the first decision counts.
  unconfirmed(c, choice, err) {
    if (!this.isShown(c)) return;
    c.busy = false;
    c.sentId = err.messageId;
    this.sent(c, choice);
    this.setStatus(c, `Not confirmed: ${plain(err.message)}. Wait for the agent's word on it before deciding again.`, 'warn');
  }

  failed(c, err) {
    if (!this.isShown(c)) return;
    this.setStatus(c, `Could not send your decision: ${plain(err && err.message ? err.message : String(err))}`, 'error');
    c.busy = false;
    this.renderActions(c);
  }

  // setStatus writes card c's status line (a live region) when it
  // changes: written again with the same words at every re-announcement
  // of the request, it would be said again each time.
  setStatus(c, text, kind) {
    const st = c.parts.status;
    if (st.textContent !== text) st.textContent = text;
    if (st.dataset.kind !== (kind || '')) st.dataset.kind = kind || '';
  }

  // --- cards -----------------------------------------------------------

  // buildCard makes the card of request r; earlier is the entry of the
  // resolved list of its call, when a reset run asks for it again.
  buildCard(r, earlier = null) {
    const id = `req-${this.nextId++}`;
    const parts = {
      title: h('h3', { id: `${id}-title`, tabindex: '-1', class: 'tool' }),
      needs: h('span', { class: 'badge needs' }),
      countdown: h('span', { class: 'countdown' }),
      facts: h('dl', { class: 'facts' }),
      // A group: a name on a pre of no role is one ARIA forbids, which a
      // screen reader may not say.
      args: h('pre', { class: 'args', tabindex: '0', role: 'group', 'aria-label': 'Arguments' }),
      argsWarning: h('p', { class: 'warn args-warning', hidden: true }),
      actions: h('div', { class: 'actions' }),
      readonly: h('p', { class: 'readonly', hidden: true }),
      forms: h('div', { class: 'forms' }),
      status: h('p', { class: 'status', role: 'status' }),
    };
    const el = h(
      'li',
      { class: 'card', id, 'aria-labelledby': `${id}-title`, dataset: { toolCallId: r.toolCallId, workflowId: r.workflowId } },
      h('div', { class: 'card-head' }, parts.title, parts.needs, parts.countdown),
      parts.facts,
      h('h4', {}, 'Arguments'),
      parts.args,
      parts.argsWarning,
      parts.readonly,
      parts.actions,
      parts.forms,
      parts.status,
    );
    const c = { id, el, request: r, parts, sent: null, busy: false, form: null, earlier };
    this.fillCard(c);
    this.renderActions(c);
    this.tickCard(c, this.opts.now());
    return c;
  }

  // placeCard inserts the card in order of request time.
  placeCard(c) {
    const list = this.$('pending');
    const at = c.request.requestedAt ?? 0;
    for (const other of this.cards.values()) {
      if (other !== c && other.el.isConnected && (other.request.requestedAt ?? 0) > at) {
        list.insertBefore(c.el, other.el);
        return;
      }
    }
    list.append(c.el);
  }

  fillCard(c) {
    const r = c.request;
    const p = c.parts;
    setShown(p.title, r.tool);
    p.needs.textContent = `needs ${plain(r.requiredRole) || '?'}`;
    c.el.dataset.requiredRole = r.requiredRole;

    // Drawn again at each re-announcement: the digest stays open if it was.
    const digestOpen = Boolean(p.facts.querySelector('details.digest-full[open]'));
    const facts = [];
    const fact = (name, cls, value) => facts.push(h('div', { class: `fact ${cls}` }, h('dt', {}, name), h('dd', {}, value)));
    fact('Requested by', 'requester', r.requester ? shown(r.requester) : h('span', { class: 'muted' }, '(not given)'));
    fact('Required role', 'required-role', shown(r.requiredRole || '?'));
    if (r.requestedAt !== null) fact('Requested at', 'requested-at', formatClock(r.requestedAt, this.opts.now()));
    // The countdown's clock time, in words a keyboard or touch user gets
    // too (the countdown's title is a mouse's tooltip).
    if (r.expiresAt !== null) fact('Expires at', 'expires-at', formatClock(r.expiresAt, this.opts.now()));
    if (r.approvals > 1 || r.approvedBy.length > 0) {
      const n = r.approvedBy.length;
      const who = n ? `, by ${approverList(r.approvedBy)}` : '';
      const mine = this.approvedByMe(r) ? ' — including you' : '';
      fact('Approvals', 'quorum', `${n} of ${r.approvals} approval${r.approvals > 1 ? 's' : ''}${who}${mine}`);
    }
    if (r.escalation) {
      const e = r.escalation;
      const parts = [`escalated to ${plain(r.requiredRole) || '?'}`];
      if (e.since !== null) parts.push(`since ${formatClock(e.since, this.opts.now())}`);
      const more = [];
      if (e.level !== null) more.push(`level ${e.level}`);
      if (e.previousRole) more.push(`was ${plain(e.previousRole)}`);
      fact('Escalation', 'escalation', parts.join(' ') + (more.length ? ` (${more.join('; ')})` : ''));
    }
    if (r.rejectedBy.length > 0) {
      const who = approverList(r.rejectedBy);
      const mine = this.rejectedByMe(r) ? ' — including you' : '';
      fact('Rejections', 'rejections', `${r.rejectedBy.length} of ${r.approvals}, by ${who}${mine}`);
    }
    const rules = [];
    if (r.distinctFromRequester) rules.push("the requester's own decision does not count");
    if (r.rejectBy === 'quorum' && r.approvals > 1) rules.push(`a rejection needs ${r.approvals} approvers too`);
    if (rules.length) fact('Rules', 'rules', rules.join('; '));
    if (r.nextEscalation) {
      fact('Next escalation', 'next-escalation', `to ${plain(r.nextEscalation.minRole)} at ${formatClock(r.nextEscalation.at, this.opts.now())}, if still undecided: then only ${plain(r.nextEscalation.minRole)} or higher can decide`);
    }
    if (r.editable) fact('Edits', 'editable', 'an approver may edit the arguments');
    if (r.editedBy) {
      const e = r.editedBy;
      const at = e.at !== null ? ` at ${formatClock(e.at, this.opts.now())}` : '';
      fact('Edited by', 'edited-by', `${plain(e.clientId)}${e.role ? ` (${plain(e.role)})` : ''}${at}: the arguments below are this approver's edit, not the agent's`);
    }
    // The digest in short, and in full behind a disclosure that a
    // keyboard and a screen reader open too (a tooltip, neither).
    if (r.argumentsDigest) {
      fact(
        'Arguments digest',
        'digest',
        h('details', { class: 'digest-full', open: digestOpen }, h('summary', {}, h('code', {}, shortDigest(r.argumentsDigest))), h('code', {}, plain(r.argumentsDigest))),
      );
    }
    fact('Tool call', 'tool-call-id', h('code', {}, shown(r.toolCallId)));
    fact('Run', 'workflow-id', h('code', {}, shown(r.workflowId)));
    if (r.runId) fact('Asked again', 'reset-run', ['by run ', h('code', {}, shown(r.runId)), ', made by a reset of this workflow']);
    if (c.earlier) fact('Earlier', 'earlier', `${plain(c.earlier.outcome) || 'resolved'}${decidedBy(c.earlier)}`);
    p.facts.replaceChildren(...facts);

    const pretty = prettyArguments(r.arguments);
    setShown(p.args, pretty.text, true);
    p.argsWarning.textContent = pretty.warning;
    p.argsWarning.hidden = pretty.warning === '';
  }

  // approvedByMe reports whether this user's approval of r is counted.
  approvedByMe(r) {
    return r.approvedBy.some((a) => a.clientId === this.opts.user);
  }

  // rejectedByMe reports whether this user's rejection of r is counted
  // (under rejectBy quorum, rejections are counted until enough).
  rejectedByMe(r) {
    return r.rejectBy === 'quorum' && r.rejectedBy.some((a) => a.clientId === this.opts.user);
  }

  // canDecide reports whether r waits for this user's decision: signed in,
  // with a role that reaches it, and no decision of theirs counted yet.
  canDecide(r) {
    return !this.ended && this.decisionCheck(r).ok && !this.approvedByMe(r) && !this.rejectedByMe(r);
  }

  // decisionCheck says whether this user may decide r at all, and why
  // not: a role that reaches it, and, when its policy keeps the requester
  // out, not its requester (the agent would not count it; the CLI does
  // not send it).
  decisionCheck(r) {
    if (r.distinctFromRequester && r.requester !== '' && r.requester === this.opts.user) {
      return { ok: false, reason: 'you requested this run, and its policy needs another approver' };
    }
    return approvalCheck(this.opts.roles, this.role, r.requiredRole);
  }

  // keepingFocus runs fn, which may draw card c's buttons, forms or facts
  // again, and keeps the keyboard focus in the card: on the button of the
  // same kind when there is one again, or on the digest's disclosure, else
  // on the card's title. Without it the focus fell to the page's body
  // whenever the agent re-announced a request (another approver's counted
  // approval, an escalation, new arguments) under a keyboard user's
  // Approve button or reason field.
  keepingFocus(c, fn) {
    const active = this.doc.activeElement;
    const had = Boolean(active) && active !== this.doc.body && c.el.contains(active);
    const kind = had && c.parts.actions.contains(active) ? active.classList[0] : '';
    const onDigest = had && Boolean(active.closest('.fact.digest'));
    fn();
    if (!had || !this.isShown(c) || c.el.contains(this.doc.activeElement)) return;
    let again = null;
    if (kind) again = c.parts.actions.querySelector(`button.${kind}`);
    else if (onDigest) again = c.parts.facts.querySelector('.fact.digest summary');
    (again || c.parts.title).focus();
  }

  // renderActions shows the buttons this user may use now, or why the
  // request is read-only.
  renderActions(c) {
    this.keepingFocus(c, () => this.drawActions(c));
  }

  drawActions(c) {
    const r = c.request;
    const p = c.parts;
    const check = this.ended ? { ok: false, reason: 'you are signed out (sign in again to decide)' } : this.decisionCheck(r);
    c.el.classList.toggle('read-only', !check.ok);
    if (!check.ok) {
      p.readonly.hidden = false;
      p.readonly.textContent = `Read-only: you cannot decide this request, because ${check.reason}.`;
      p.actions.replaceChildren();
      this.closeForms(c);
      return;
    }
    p.readonly.hidden = true;
    if (c.sent || c.busy) {
      p.actions.replaceChildren();
      return;
    }
    // A counted decision of this user's can still be changed: the agent
    // counts each approver's latest (rejectBy quorum), and one rejection
    // rejects at once otherwise.
    const approved = this.approvedByMe(r);
    const rejected = this.rejectedByMe(r);
    const warned = p.status.dataset.kind === 'error' || p.status.dataset.kind === 'warn'; // kept until the next decision
    if (approved && !warned) {
      const then = r.rejectBy === 'quorum' ? 'Rejecting it withdraws your approval.' : 'Rejecting it rejects it at once.';
      const edit = r.editable ? ' Approving it with edits restarts the count on the edited arguments.' : '';
      this.setStatus(c, `You approved this request; it waits for more approvals. ${then}${edit}`, 'ok');
    } else if (rejected && !warned) {
      this.setStatus(c, 'You rejected this request; it waits for more rejections. Approving it withdraws your rejection.', 'ok');
    }
    if (c.form) return; // a form is open: its own buttons stand in
    const approve = h('button', { type: 'button', class: 'approve' }, 'Approve');
    const reject = h('button', { type: 'button', class: 'reject secondary' }, 'Reject…');
    approve.addEventListener('click', () => this.decide(c, { decision: DECISION_APPROVED }));
    reject.addEventListener('click', () => this.openReject(c, reject));
    const buttons = [approve, reject];
    if (r.editable) {
      const edit = h('button', { type: 'button', class: 'edit secondary' }, 'Approve with edits…');
      edit.addEventListener('click', () => this.openEdit(c, edit));
      buttons.splice(1, 0, edit);
    }
    // Approved: the same approval again is refused, but an edit or a
    // rejection is a change. Rejected (quorum): the same for a rejection.
    p.actions.replaceChildren(...buttons.filter((b) => !(approved && b === approve) && !(rejected && b === reject)));
    this.nameButtons(c);
  }

  async decide(c, choice) {
    if (c.busy) return;
    c.busy = true;
    const hadFocus = c.el.contains(this.doc.activeElement);
    this.closeForms(c);
    this.setStatus(c, 'Sending…', '');
    this.renderActions(c);
    // The button (or form) that had the focus is gone: the focus stays in
    // the card, and moves on with it when it leaves the page (remove).
    if (hadFocus && !c.el.contains(this.doc.activeElement)) c.parts.title.focus();
    const seen = c.request; // what the user decided on
    // ably-js keeps a message it sent but Ably has not acknowledged, and
    // sends it again once a lost connection is back: say so when that takes
    // long, rather than "Sending…" for ever.
    const slow = setTimeout(() => {
      if (c.busy) this.setStatus(c, 'Still sending: the connection may be down. Your decision goes out when it is back, and counts only for the arguments you saw.', 'warn');
    }, SLOW_SEND_MS);
    try {
      c.sentId = await this.opts.onDecide(seen, choice);
      clearTimeout(slow);
      c.busy = false;
      if (this.changedSince(c, seen)) return;
      this.sent(c, choice);
    } catch (err) {
      clearTimeout(slow);
      if (!(err instanceof UnconfirmedError)) {
        this.failed(c, err);
      } else if (this.isShown(c)) {
        c.busy = false;
        if (this.changedSince(c, seen)) c.sentId = err.messageId;
        else this.unconfirmed(c, choice, err);
      }
    }
  }

  // changedSince says so on card c, and offers the buttons again, when the
  // request's arguments are no longer the ones seen, those the decision
  // sent from it named: whether Ably confirmed it or not, it does not count
  // for the new ones.
  changedSince(c, seen) {
    if (c.request.arguments === seen.arguments && c.request.argumentsDigest === seen.argumentsDigest) return false;
    this.setStatus(c, 'The arguments changed while your decision was being sent: it does not count for the new ones. Review them and decide again.', 'warn');
    this.renderActions(c);
    return true;
  }

  closeForms(c) {
    c.form = null;
    c.parts.forms.replaceChildren();
  }

  // openForm shows a small form under the card's buttons, its field
  // (field, whose text starts as it is now) first; Escape or Cancel closes
  // it and gives the focus back to opener. Escape on a field whose text
  // was changed asks first (fieldError): a stray Escape would throw an
  // edit away.
  openForm(c, opener, form, field) {
    this.closeForms(c);
    c.form = form;
    c.parts.actions.replaceChildren();
    c.parts.forms.append(form);
    this.nameButtons(c);
    const initial = field.value;
    let armed = false; // Escape was pressed once on changed text
    const close = () => {
      this.closeForms(c);
      this.renderActions(c);
      const again = c.parts.actions.querySelector(`.${opener.classList[0]}`);
      if (again) again.focus();
    };
    field.addEventListener('input', () => {
      armed = false;
    });
    form.addEventListener('keydown', (e) => {
      if (e.key !== 'Escape' || e.isComposing) return;
      e.preventDefault();
      if (field.value !== initial && !armed) {
        armed = true;
        fieldError(field, 'Press Escape again to throw away what you typed, or go on.', false);
        return;
      }
      close();
    });
    form.querySelector('.cancel').addEventListener('click', close);
    field.focus();
  }

  openReject(c, opener) {
    const id = `${c.id}-reason`;
    const reason = h('input', { id, class: 'reason-input', type: 'text', maxlength: String(this.opts.maxReason), autocomplete: 'off', placeholder: 'optional', 'aria-describedby': `${id}-error` });
    const form = h(
      'form',
      { class: 'reject-form' },
      h('label', { for: id }, 'Reason for rejecting (optional; it goes back to the model)'),
      reason,
      h('p', { id: `${id}-error`, class: 'error', role: 'alert' }),
      h('div', { class: 'form-buttons' }, h('button', { type: 'submit', class: 'send-reject danger' }, 'Send rejection'), h('button', { type: 'button', class: 'cancel secondary' }, 'Cancel')),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const text = reason.value.trim();
      if (new TextEncoder().encode(text).length > this.opts.maxReason) {
        fieldError(reason, `The reason is too long (at most ${this.opts.maxReason} bytes).`);
        return;
      }
      this.decide(c, { decision: DECISION_REJECTED, reason: text });
    });
    this.openForm(c, opener, form, reason);
  }

  openEdit(c, opener) {
    const id = `${c.id}-edit`;
    const pretty = prettyArguments(c.request.arguments);
    const area = h('textarea', { id, class: 'edit-args', rows: String(Math.min(16, pretty.text.split('\n').length + 1)), spellcheck: 'false', 'aria-describedby': `${id}-error` });
    // Characters that would not show as themselves (a bidi override
    // reorders the line, a zero-width space is invisible) are JSON \u
    // escapes in the box, as the CLI's editor gets them: the same values.
    // Only in JSON, where each is inside a string.
    area.value = pretty.json ? escapeHidden(pretty.text) : pretty.text;
    const initial = area.value;
    const error = h('p', { id: `${id}-error`, class: 'error', role: 'alert' });
    const form = h(
      'form',
      { class: 'edit-form' },
      h('label', { for: id }, 'Arguments to run the tool with (JSON object)'),
      area,
      error,
      h('div', { class: 'form-buttons' }, h('button', { type: 'submit', class: 'send-edit' }, 'Approve edited arguments'), h('button', { type: 'button', class: 'cancel secondary' }, 'Cancel')),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      let edited;
      try {
        edited = compact(area.value);
      } catch (err) {
        fieldError(area, `Not valid JSON: ${err.message}.`);
        return;
      }
      if (!edited.isObject) {
        fieldError(area, 'The arguments must be one JSON object.');
        return;
      }
      if (edited.duplicates.length) {
        fieldError(area, `Each key may appear once: ${edited.duplicates.map((d) => JSON.stringify(plain(d))).join(', ')} repeats.`);
        return;
      }
      // Saved as the box first had it (escapes and all) or as the agent
      // sent it: nothing changed.
      const unchanged = [initial, c.request.arguments].some((text) => {
        try {
          return compact(text).text === edited.text;
        } catch {
          return false; // not JSON: any valid edit differs
        }
      });
      if (unchanged) {
        fieldError(area, 'You changed nothing: use Approve instead.');
        return;
      }
      this.decide(c, { decision: DECISION_APPROVED, arguments: edited.text });
    });
    this.openForm(c, opener, form, area);
  }
}

// fieldError shows text on the error line of field (the element its
// aria-describedby names, an alert) and puts the focus back in it: a
// screen reader says the error now, and again with the field. A hint
// (invalid false) leaves the field's text unmarked.
function fieldError(field, text, invalid = true) {
  const line = field.ownerDocument.getElementById(field.getAttribute('aria-describedby'));
  line.textContent = text;
  if (invalid) field.setAttribute('aria-invalid', 'true');
  field.focus();
}

// approverList names approvers with their roles: "pat (publisher), ada (admin)".
function approverList(list) {
  return list.map((a) => plain(a.clientId) + (a.role ? ` (${plain(a.role)})` : '')).join(', ');
}

// decidedBy names who decided a resolution: every approver of a quorum,
// each with their role, or the one who decided.
function decidedBy(e) {
  if (quorum(e)) return ` by ${approverList(e.approvedBy)}`;
  return e.decidedBy ? ` by ${plain(e.decidedBy)}` : '';
}

// quorum reports whether more than one approver decided resolution e.
function quorum(e) {
  return (e.approvedBy || []).length > 1;
}

// argumentsSummary is the arguments on one line, cut at 80 characters:
// enough to tell resolutions of the same tool apart.
function argumentsSummary(args) {
  let text = args;
  try {
    text = compact(args).text;
  } catch {
    // not JSON: as sent
  }
  const chars = Array.from(text.replace(/\s+/g, ' '));
  return chars.length > 80 ? `${chars.slice(0, 80).join('')}…` : chars.join('');
}

function shortDigest(d) {
  const [alg, hex] = d.includes(':') ? d.split(':', 2) : ['', d];
  const short = hex.length > 16 ? `${hex.slice(0, 16)}…` : hex;
  return plain(alg ? `${alg}:${short}` : short);
}
