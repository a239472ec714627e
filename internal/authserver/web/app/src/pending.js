// pending.js is the set of approval requests still waiting for a decision,
// built from channel messages in publication order (history first, then
// live). Like the CLI's Pending (internal/approvercli), it trusts only
// messages whose clientId is the agent's: a request or resolution that
// anyone else publishes (an approver can publish on the channel) is never
// shown or acted on. Ably sets clientId from the publisher's token, so it
// cannot be forged.
//
// Fields beyond the guide's {tool, arguments} are optional: quorum
// (approvals, approvedBy, rejectBy, rejectedBy, distinctFromRequester),
// escalation and nextEscalation, editable and editedBy, and
// argumentsDigest are read when present and left out when absent. A request whose
// argumentsDigest is not the SHA-256 of its arguments is not shown (as in
// the CLI): a decision on it would name arguments nobody saw. An approval-request for a
// workflowId and toolCallId already pending replaces the earlier one (an
// escalation, or a quorum update).
//
// A Temporal reset makes a new run of a workflow, which asks again for the
// tool calls still open at its reset point, with the same ids. Its
// messages carry runId (workflows.ResetRunID; absent in every other run),
// so the call is known by run: the request of a reset run other than the
// one that resolved the call, or that asked it, is a new request; a
// message of an earlier run about a call a reset run asks is ignored. The
// Go readers (the bridge, the CLI) apply the same rule (AskedAgain,
// FromEarlierRun in workflows/reset.go).

import {
  EXTRAS_HEADERS,
  HEADER_TOOL_CALL_ID,
  HEADER_WORKFLOW_ID,
  MAX_RUN_ID_LEN,
  MAX_TOOL_CALL_ID_LEN,
  MAX_WORKFLOW_ID_LEN,
  MSG_IGNORED,
  MSG_REQUEST,
  MSG_RESOLVED,
} from './contract.js';
import { sha256Hex } from './sha256.js';

export const EV_IGNORED = 'ignored';
export const EV_REQUEST = 'request';
export const EV_UPDATED = 'updated';
export const EV_RESOLVED = 'resolved';
// EV_NOT_COUNTED: the agent did not count a decision on a pending request
// (approval-ignored), and says why.
export const EV_NOT_COUNTED = 'not-counted';

// MAX_RESOLVED is how many resolutions are remembered (the newest).
export const MAX_RESOLVED = 10000;

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const TOOL_CALL_ID = new RegExp(`^[A-Za-z0-9_.:@-]{1,${MAX_TOOL_CALL_ID_LEN}}$`);
const UNPRINTABLE = /[\p{C}\p{Zl}\p{Zp}]/u;
// RUN_ID is what workflows.ValidateRunID accepts, but '': 1 to
// MaxRunIDLen bytes of printable ASCII, no space.
const RUN_ID = new RegExp(`^[\\x21-\\x7e]{1,${MAX_RUN_ID_LEN}}$`);

// keyOf identifies a request: its workflow and its tool call.
export function keyOf(workflowId, toolCallId) {
  return `${workflowId}\u0000${toolCallId}`;
}

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function dataOf(m) {
  let d = m.data;
  if (typeof d === 'string') {
    try {
      d = JSON.parse(d);
    } catch {
      throw new Error('data is not JSON');
    }
  }
  if (!isObject(d)) throw new Error('data is not an object');
  return d;
}

function headersOf(m) {
  const h = isObject(m.extras) ? m.extras[EXTRAS_HEADERS] : undefined;
  return isObject(h) ? h : {};
}

// ids takes the tool-call and workflow ids from data, or from
// extras.headers when data lacks them; the two must agree.
function ids(d, headers) {
  const out = {};
  for (const name of [HEADER_TOOL_CALL_ID, HEADER_WORKFLOW_ID]) {
    const fromData = typeof d[name] === 'string' ? d[name] : '';
    const fromHeader = typeof headers[name] === 'string' ? headers[name] : '';
    if (fromData && fromHeader && fromData !== fromHeader) throw new Error(`data and extras.headers disagree on ${name}`);
    out[name] = fromData || fromHeader;
  }
  if (!TOOL_CALL_ID.test(out.toolCallId)) throw new Error('bad or missing toolCallId');
  const wf = out.workflowId;
  if (!wf || wf.length > MAX_WORKFLOW_ID_LEN || UNPRINTABLE.test(wf)) throw new Error('bad or missing workflowId');
  return out;
}

function time(v) {
  if (typeof v !== 'string' || v === '') return null;
  const t = Date.parse(v);
  // Go's zero time.Time marshals as 0001-01-01: no time.
  return Number.isFinite(t) && t > 0 ? t : null;
}

// runOf reads the run a message comes from: a reset run's id, or '' for
// a run that is not a reset (no runId; null as Go reads it). Any other
// runId makes the message bad: nothing could tell its run.
function runOf(d) {
  const v = d.runId;
  if (v === undefined || v === null || v === '') return '';
  if (typeof v !== 'string' || !RUN_ID.test(v)) throw new Error('bad runId');
  return v;
}

// askedAgain reports whether a request of run reqRun asks again for a call
// held (resolved or pending) by run knownRun: reqRun is a reset run other
// than knownRun. The original run ('') never is: no run comes before it.
function askedAgain(knownRun, reqRun) {
  return reqRun !== '' && reqRun !== knownRun;
}

// fromEarlierRun reports whether a message of run msgRun, about a call
// pending by run knownRun, comes from a run before it: the known run is a
// reset run and the message is of the original run (''), which comes
// before every reset. Between two reset runs the channel's order is the
// only order known: a message of another reset run that comes later is
// the newer run's.
function fromEarlierRun(knownRun, msgRun) {
  return knownRun !== '' && msgRun === '';
}

function str(v, max = 1024) {
  return typeof v === 'string' && v.length <= max ? v : '';
}

// decodeRequest reads an approval-request message.
export function decodeRequest(m) {
  const d = dataOf(m);
  const { toolCallId, workflowId } = ids(d, headersOf(m));
  const runId = runOf(d);
  const tool = str(d.tool, 256);
  if (!tool) throw new Error('no tool name');
  let args = d.arguments;
  if (args === undefined || args === null) args = '';
  if (typeof args !== 'string') args = JSON.stringify(args);
  // The digest is what a decision names (workflows.ArgumentsDigest): it
  // must be the digest of the arguments shown, or the request is not shown.
  const digest = d.argumentsDigest;
  if (digest !== undefined && digest !== '') {
    if (typeof digest !== 'string' || !DIGEST.test(digest)) throw new Error('bad argumentsDigest');
    if (`sha256:${sha256Hex(args)}` !== digest) throw new Error('the arguments do not match their digest');
  }
  const r = {
    key: keyOf(workflowId, toolCallId),
    toolCallId,
    workflowId,
    runId,
    tool,
    arguments: args,
    requiredRole: str(d.requiredRole, 64),
    requester: str(d.requester, 256),
    requestedAt: time(d.requestedAt),
    expiresAt: time(d.expiresAt),
    approvals: 1,
    escalation: null,
    editable: d.editable === true,
    argumentsDigest: typeof digest === 'string' ? digest : '',
    messageId: typeof m.id === 'string' ? m.id : '',
    // Revision counts the call's announcements (0 for the first); a copy
    // published again (the worker's keeper) has its own message id and
    // the revision it copies.
    revision: Number.isInteger(d.revision) && d.revision >= 0 ? d.revision : 0,
    publishedAt: Number.isFinite(m.timestamp) ? m.timestamp : null,
  };
  if (Number.isInteger(d.approvals) && d.approvals >= 1) r.approvals = d.approvals;
  r.approvedBy = approvers(d.approvedBy);
  r.rejectedBy = approvers(d.rejectedBy);
  r.rejectBy = str(d.rejectBy, 32);
  r.distinctFromRequester = d.distinctFromRequester === true;
  r.editedBy = isObject(d.editedBy) ? approvers([d.editedBy])[0] || null : null;
  r.nextEscalation = null;
  if (isObject(d.nextEscalation) && str(d.nextEscalation.minRole, 64) && time(d.nextEscalation.at) !== null) {
    r.nextEscalation = { minRole: d.nextEscalation.minRole, at: time(d.nextEscalation.at) };
  }
  if (isObject(d.escalation)) {
    const e = d.escalation;
    r.escalation = {
      level: Number.isInteger(e.level) ? e.level : null,
      previousRole: str(e.previousRole, 64),
      since: time(e.since),
    };
  }
  return r;
}

// approvers reads a list of workflows.Approver: {clientId, role, at}.
function approvers(v) {
  if (!Array.isArray(v)) return [];
  return v
    .filter((a) => isObject(a) && str(a.clientId, 128))
    .slice(0, 100)
    .map((a) => ({ clientId: a.clientId, role: str(a.role, 64), at: time(a.at) }));
}

// decodeResolved reads an approval-resolved message.
export function decodeResolved(m) {
  const d = dataOf(m);
  const { toolCallId, workflowId } = ids(d, headersOf(m));
  return {
    key: keyOf(workflowId, toolCallId),
    toolCallId,
    workflowId,
    runId: runOf(d),
    tool: str(d.tool, 256),
    outcome: str(d.outcome, 32),
    decidedBy: str(d.decidedBy, 128),
    role: str(d.role, 64),
    reason: str(d.reason, 2048),
    approvedBy: approvers(d.approvedBy),
    at: Number.isFinite(m.timestamp) ? m.timestamp : null,
  };
}

// decodeIgnored reads an approval-ignored: whose decision on which call
// the agent did not count, and why.
export function decodeIgnored(m) {
  const d = dataOf(m);
  const { toolCallId, workflowId } = ids(d, headersOf(m));
  const runId = runOf(d);
  const approver = str(d.approver, 128);
  if (!approver) throw new Error('no approver');
  return {
    key: keyOf(workflowId, toolCallId),
    toolCallId,
    workflowId,
    runId,
    tool: str(d.tool, 256),
    approver,
    decision: str(d.decision, 32),
    ablyMessageId: str(d.ablyMessageId, 128),
    reason: str(d.reason, 2048),
    at: Number.isFinite(m.timestamp) ? m.timestamp : null,
  };
}

export class Pending {
  // agentClientId is the only publisher trusted; now is the clock (ms).
  constructor(agentClientId, now = () => Date.now()) {
    this.agent = agentClientId;
    this.now = now;
    this.reqs = new Map();
    this.resolved = new Map(); // insertion order: oldest first
  }

  // apply feeds one message, in publication order, and says what it did:
  // {kind, request, previous, resolved, wasPending, reason}.
  apply(m) {
    if (!m || (m.name !== MSG_REQUEST && m.name !== MSG_RESOLVED && m.name !== MSG_IGNORED)) {
      return { kind: EV_IGNORED, reason: `not a request or resolution: ${m && m.name}` };
    }
    if (m.clientId !== this.agent) {
      return { kind: EV_IGNORED, reason: `${m.name} from ${JSON.stringify(m.clientId)}, not from the agent ${JSON.stringify(this.agent)}` };
    }
    if (m.name === MSG_RESOLVED) return this.applyResolved(m);
    if (m.name === MSG_IGNORED) return this.applyIgnored(m);
    let r;
    try {
      r = decodeRequest(m);
    } catch (err) {
      return { kind: EV_IGNORED, reason: `bad approval-request: ${err.message}` };
    }
    const done = this.resolved.get(r.key);
    if (done && !askedAgain(done.runId, r.runId)) return { kind: EV_IGNORED, reason: 'already resolved' };
    const previous = this.reqs.get(r.key);
    // Asked again by a reset run: what another run asked or decided is no
    // version of this request, and revisions count within a run only.
    const again = done !== undefined || (previous !== undefined && askedAgain(previous.runId, r.runId));
    if (previous && !again) {
      const stale = this.staleRevision(previous, r);
      if (stale) return { kind: EV_IGNORED, reason: stale };
    }
    if (this.expired(r)) {
      if (previous) this.reqs.delete(r.key);
      return { kind: EV_IGNORED, reason: 'expired', previous };
    }
    if (done) this.resolved.delete(r.key);
    this.reqs.set(r.key, r);
    if (again) return { kind: EV_REQUEST, request: r };
    return { kind: previous ? EV_UPDATED : EV_REQUEST, request: r, previous };
  }

  // staleRevision says why request r, of the call that previous asks, is
  // not news ('' when it is): of an earlier run, a copy, or older.
  staleRevision(previous, r) {
    if (previous.runId !== r.runId) return 'from an earlier run';
    if (r.revision === previous.revision || (r.messageId && previous.messageId === r.messageId)) return 'duplicate';
    if (r.revision < previous.revision) return `revision ${r.revision} is older than the one shown (${previous.revision})`;
    return '';
  }

  // applyIgnored reports a decision the agent did not count, of a request
  // still pending (for one resolved since, the resolution says enough), by
  // the run that asks it.
  applyIgnored(m) {
    let n;
    try {
      n = decodeIgnored(m);
    } catch (err) {
      return { kind: EV_IGNORED, reason: `bad approval-ignored: ${err.message}` };
    }
    const request = this.reqs.get(n.key);
    // A notice of the run that holds the call, or of a reset run that asks
    // it anew (its request may not have come yet), is about the request shown.
    if (!request || (request.runId !== n.runId && !askedAgain(request.runId, n.runId))) return { kind: EV_IGNORED, reason: 'not pending' };
    return { kind: EV_NOT_COUNTED, notice: n, request };
  }

  applyResolved(m) {
    let d;
    try {
      d = decodeResolved(m);
    } catch (err) {
      return { kind: EV_IGNORED, reason: `bad approval-resolved: ${err.message}` };
    }
    const request = this.reqs.get(d.key);
    // The run a reset made asks for the call again: the run it reset does
    // not close it.
    if (request && fromEarlierRun(request.runId, d.runId)) return { kind: EV_IGNORED, reason: 'from an earlier run' };
    // A resolution of another run replaces the one remembered.
    if (request === undefined && this.resolved.get(d.key)?.runId === d.runId) return { kind: EV_IGNORED, reason: 'already resolved' };
    this.resolved.delete(d.key);
    this.resolved.set(d.key, d);
    while (this.resolved.size > MAX_RESOLVED) this.resolved.delete(this.resolved.keys().next().value);
    this.reqs.delete(d.key);
    return { kind: EV_RESOLVED, resolved: d, request, wasPending: request !== undefined };
  }

  expired(r) {
    return r.expiresAt !== null && this.now() >= r.expiresAt;
  }

  // expire removes and returns the requests whose time ran out.
  expire() {
    const out = [];
    for (const [k, r] of this.reqs) {
      if (this.expired(r)) {
        out.push(r);
        this.reqs.delete(k);
      }
    }
    return sortRequests(out);
  }

  // list returns the pending, unexpired requests, oldest first.
  list() {
    return sortRequests([...this.reqs.values()].filter((r) => !this.expired(r)));
  }

  // get returns the pending request with key, if it has not expired.
  get(key) {
    const r = this.reqs.get(key);
    return r && !this.expired(r) ? r : undefined;
  }
}

function sortRequests(rs) {
  return rs.sort((a, b) => (a.requestedAt ?? 0) - (b.requestedAt ?? 0) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
