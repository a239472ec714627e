import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { EV_IGNORED, EV_NOT_COUNTED, EV_REQUEST, EV_RESOLVED, EV_UPDATED, keyOf, MAX_RESOLVED, Pending } from './pending.js';

const AGENT = 'hitl:agent';
const digestOf = (args) => 'sha256:' + createHash('sha256').update(args, 'utf8').digest('hex');
const T0 = Date.parse('2026-11-25T12:00:00Z');

let seq = 0;
function request(fields = {}, msg = {}) {
  const data = {
    tool: 'publish_blog_post',
    arguments: '{"title":"Hello"}',
    toolCallId: 'call_1',
    workflowId: 'wf-1',
    requiredRole: 'publisher',
    requester: 'sam',
    requestedAt: '2026-11-25T12:00:00Z',
    expiresAt: '2026-11-25T12:10:00Z',
    ...fields,
  };
  return {
    id: `m${++seq}`,
    name: 'approval-request',
    clientId: AGENT,
    timestamp: T0,
    data,
    extras: { headers: { toolCallId: data.toolCallId, workflowId: data.workflowId } },
    ...msg,
  };
}

function resolved(fields = {}, msg = {}) {
  return {
    id: `m${++seq}`,
    name: 'approval-resolved',
    clientId: AGENT,
    timestamp: T0 + 5000,
    data: { toolCallId: 'call_1', workflowId: 'wf-1', tool: 'publish_blog_post', outcome: 'approved', decidedBy: 'pat', role: 'publisher', ...fields },
    ...msg,
  };
}

test('only the agent is trusted', () => {
  const p = new Pending(AGENT, () => T0);
  const cases = [
    [request({}, { clientId: 'erin' }), EV_IGNORED],
    [request({}, { clientId: undefined }), EV_IGNORED],
    [request({}, { clientId: 'hitl-agent ' }), EV_IGNORED],
    [resolved({}, { clientId: 'mallory' }), EV_IGNORED],
    [{ ...request(), name: 'approval-response' }, EV_IGNORED],
    [request(), EV_REQUEST],
  ];
  for (const [m, want] of cases) assert.equal(p.apply(m).kind, want, JSON.stringify(m.clientId));
  assert.equal(p.list().length, 1);
  // A resolution by someone else does not remove it.
  assert.equal(p.apply(resolved({}, { clientId: 'erin' })).kind, EV_IGNORED);
  assert.equal(p.list().length, 1);
});

test('a configured agent clientId replaces the default', () => {
  const p = new Pending('my-agent', () => T0);
  assert.equal(p.apply(request()).kind, EV_IGNORED);
  assert.equal(p.apply(request({}, { clientId: 'my-agent' })).kind, EV_REQUEST);
});

test('decoding: ids from data or headers, optional fields only when present', () => {
  const p = new Pending(AGENT, () => T0);
  const cases = [
    { name: 'data as a JSON string', m: request({}, { data: JSON.stringify(request().data) }), kind: EV_REQUEST },
    { name: 'ids only in headers', m: { ...request(), data: { tool: 'x', arguments: '{}' }, extras: { headers: { toolCallId: 'call_h', workflowId: 'wf-h' } } }, kind: EV_REQUEST },
    { name: 'data and headers disagree', m: request({ toolCallId: 'call_2' }, { extras: { headers: { toolCallId: 'call_3', workflowId: 'wf-1' } } }), kind: EV_IGNORED },
    { name: 'bad tool call id', m: request({ toolCallId: 'call 4' }, { extras: {} }), kind: EV_IGNORED },
    { name: 'no workflow id', m: request({ toolCallId: 'call_5', workflowId: '' }, { extras: {} }), kind: EV_IGNORED },
    { name: 'no tool', m: request({ toolCallId: 'call_6', tool: '' }), kind: EV_IGNORED },
    { name: 'data not an object', m: request({}, { data: '[1]' }), kind: EV_IGNORED },
    { name: 'digest of the arguments', m: request({ toolCallId: 'call_d1', argumentsDigest: digestOf('{"title":"Hello"}') }), kind: EV_REQUEST },
    { name: 'digest of other arguments', m: request({ toolCallId: 'call_d2', argumentsDigest: digestOf('{"title":"Bye"}') }), kind: EV_IGNORED },
    { name: 'digest upper-case', m: request({ toolCallId: 'call_d3', argumentsDigest: digestOf('{"title":"Hello"}').toUpperCase() }), kind: EV_IGNORED },
    { name: 'digest not sha256', m: request({ toolCallId: 'call_d4', argumentsDigest: 'md5:abc' }), kind: EV_IGNORED },
    { name: 'digest not a string', m: request({ toolCallId: 'call_d5', argumentsDigest: 42 }), kind: EV_IGNORED },
  ];
  for (const c of cases) assert.equal(p.apply(c.m).kind, c.kind, c.name);

  const plain = p.apply(request({ toolCallId: 'call_7' })).request;
  assert.equal(plain.approvals, 1);
  assert.deepEqual(plain.approvedBy, []);
  assert.equal(plain.escalation, null);
  assert.equal(plain.editable, false);
  assert.equal(plain.editedBy, null);
  assert.equal(plain.nextEscalation, null);
  assert.equal(plain.distinctFromRequester, false);
  assert.deepEqual(plain.rejectedBy, []);
  assert.equal(plain.argumentsDigest, '');
  assert.equal(plain.expiresAt, Date.parse('2026-11-25T12:10:00Z'));

  const full = p.apply(
    request({
      toolCallId: 'call_8',
      argumentsDigest: digestOf('{"title":"Hello"}'),
      approvals: 2,
      approvedBy: [{ clientId: 'pat', role: 'publisher', at: '2026-11-25T12:01:00Z' }, { role: 'no client id' }],
      escalation: { level: 1, previousRole: 'publisher', since: '2026-11-25T12:05:00Z' },
      editable: true,
      editedBy: { clientId: 'ada', role: 'admin', at: '2026-11-25T12:02:00Z' },
      nextEscalation: { at: '2026-11-25T12:08:00Z', minRole: 'admin' },
      distinctFromRequester: true,
      rejectBy: 'quorum',
      rejectedBy: [{ clientId: 'erin', role: 'publisher', at: '2026-11-25T12:03:00Z' }, 'not an approver'],
    }),
  ).request;
  assert.deepEqual(full.editedBy, { clientId: 'ada', role: 'admin', at: Date.parse('2026-11-25T12:02:00Z') });
  assert.deepEqual(full.nextEscalation, { minRole: 'admin', at: Date.parse('2026-11-25T12:08:00Z') });
  assert.equal(full.distinctFromRequester, true);
  assert.equal(full.rejectBy, 'quorum');
  assert.deepEqual(full.rejectedBy, [{ clientId: 'erin', role: 'publisher', at: Date.parse('2026-11-25T12:03:00Z') }]);
  const odd = p.apply(request({ toolCallId: 'call_9', editedBy: 'ada', nextEscalation: { minRole: 'admin' } })).request;
  assert.equal(odd.editedBy, null, 'an editedBy that is not an approver');
  assert.equal(odd.nextEscalation, null, 'a nextEscalation without a time');
  assert.equal(full.approvals, 2);
  assert.deepEqual(full.approvedBy, [{ clientId: 'pat', role: 'publisher', at: Date.parse('2026-11-25T12:01:00Z') }]);
  assert.deepEqual(full.escalation, { level: 1, previousRole: 'publisher', since: Date.parse('2026-11-25T12:05:00Z') });
  assert.equal(full.editable, true);
  assert.equal(full.argumentsDigest, digestOf('{"title":"Hello"}'));
});

test('an update replaces the request; a repeat of the same message does not', () => {
  const p = new Pending(AGENT, () => T0);
  const first = request();
  assert.equal(p.apply(first).kind, EV_REQUEST);
  assert.equal(p.apply(first).kind, EV_IGNORED, 'the same message again (history read twice)');
  const ev = p.apply(request({ revision: 1, requiredRole: 'admin', expiresAt: '2026-11-25T12:20:00Z', escalation: { level: 1, previousRole: 'publisher' } }));
  assert.equal(ev.kind, EV_UPDATED);
  assert.equal(ev.previous.requiredRole, 'publisher');
  assert.equal(p.list()[0].requiredRole, 'admin');
  assert.equal(p.list().length, 1);
});

test('a copy of a revision (another message id) changes nothing, nor does a late older revision', () => {
  const p = new Pending(AGENT, () => T0);
  assert.equal(p.apply(request()).kind, EV_REQUEST);
  const rev1 = request({ revision: 1, requiredRole: 'admin' });
  assert.equal(p.apply(rev1).kind, EV_UPDATED);
  // The worker's keeper publishes revision 0 again after revision 1 (it
  // queried the run just before the escalation), and revision 1 again.
  const late = p.apply(request());
  assert.equal(late.kind, EV_IGNORED);
  assert.match(late.reason, /revision 0 is older than the one shown \(1\)/);
  assert.equal(p.apply(request({ revision: 1, requiredRole: 'admin' })).kind, EV_IGNORED, 'a copy of revision 1');
  assert.equal(p.list()[0].requiredRole, 'admin');
  assert.equal(p.list()[0].messageId, rev1.id);
});

test('resolution removes the request, once, and a late request stays resolved', () => {
  const p = new Pending(AGENT, () => T0);
  p.apply(request());
  const ev = p.apply(resolved());
  assert.equal(ev.kind, EV_RESOLVED);
  assert.equal(ev.wasPending, true);
  assert.equal(ev.resolved.decidedBy, 'pat');
  assert.deepEqual(ev.resolved.approvedBy, []);
  assert.equal(ev.resolved.at, T0 + 5000);
  assert.equal(p.list().length, 0);
  assert.equal(p.apply(resolved()).kind, EV_IGNORED, 'a repeated resolution');
  assert.equal(p.apply(request()).kind, EV_IGNORED, 'a request after its resolution');
  // A resolution of a request never seen is still news.
  const other = p.apply(resolved({ toolCallId: 'call_9', outcome: 'expired', decidedBy: '' }));
  assert.equal(other.kind, EV_RESOLVED);
  assert.equal(other.wasPending, false);
  assert.equal(p.resolved.has(keyOf('wf-1', 'call_9')), true);
});

test('expiry', () => {
  let now = T0;
  const p = new Pending(AGENT, () => now);
  assert.equal(p.apply(request({ expiresAt: '2026-11-25T11:59:59Z' })).kind, EV_IGNORED, 'expired on arrival');
  assert.equal(p.apply(request({ toolCallId: 'call_2' })).kind, EV_REQUEST);
  assert.equal(p.apply(request({ toolCallId: 'call_3', expiresAt: '' })).kind, EV_REQUEST, 'no expiry');
  now = Date.parse('2026-11-25T12:10:00Z');
  assert.deepEqual(p.expire().map((r) => r.toolCallId), ['call_2']);
  assert.deepEqual(p.list().map((r) => r.toolCallId), ['call_3']);
});

test('list is oldest first', () => {
  const p = new Pending(AGENT, () => T0);
  p.apply(request({ toolCallId: 'call_b', requestedAt: '2026-11-25T12:00:02Z' }));
  p.apply(request({ toolCallId: 'call_a', requestedAt: '2026-11-25T12:00:01Z' }));
  p.apply(request({ toolCallId: 'call_c', requestedAt: '2026-11-25T12:00:02Z', workflowId: 'wf-0' }));
  assert.deepEqual(p.list().map((r) => r.toolCallId), ['call_a', 'call_c', 'call_b']);
});

test('resolutions remembered are bounded', () => {
  const p = new Pending(AGENT, () => T0);
  for (let i = 0; i < MAX_RESOLVED + 5; i++) p.apply(resolved({ toolCallId: `call_${i}` }));
  assert.equal(p.resolved.size, MAX_RESOLVED);
  assert.equal(p.resolved.has(keyOf('wf-1', 'call_0')), false);
});

test('approval-ignored of a pending request, from the agent only', () => {
  const p = new Pending(AGENT, () => T0);
  const ignored = (clientId, data) => ({ name: 'approval-ignored', clientId, data, extras: { headers: { toolCallId: data.toolCallId, workflowId: data.workflowId } } });
  const notice = { toolCallId: 'call_1', workflowId: 'wf-1', tool: 'publish_blog_post', approver: 'pat', decision: 'approved', reason: 'edited arguments refused: title: want string' };
  assert.equal(p.apply(ignored(AGENT, notice)).kind, EV_IGNORED, 'no request pending yet');
  p.apply(request());
  assert.equal(p.apply(ignored('mallory', notice)).kind, EV_IGNORED, 'not from the agent');
  assert.equal(p.apply(ignored(AGENT, { ...notice, approver: '' })).kind, EV_IGNORED, 'no approver');
  const ev = p.apply(ignored(AGENT, notice));
  assert.equal(ev.kind, EV_NOT_COUNTED);
  assert.equal(ev.notice.approver, 'pat');
  assert.equal(ev.notice.reason, notice.reason);
  assert.equal(ev.request.toolCallId, 'call_1');
});

// Runs of a workflow: '' is the original run (its messages have no runId);
// RUN_B and RUN_C are runs made by Temporal resets (workflows.ResetRunID).
const RUN_B = '5d0e2c1a-8f4b-4f7e-9a51-3c2b7d9e0b11';
const RUN_C = 'a9c4f3e2-1b7d-4c6a-8e05-f2d1b3c4a5e6';
const ofRun = (run, fields = {}) => (run ? { runId: run, ...fields } : fields);
const reqOf = (run, fields) => request(ofRun(run, fields));
const resOf = (run, fields) => resolved(ofRun(run, fields));
function ignOf(run) {
  const data = ofRun(run, { toolCallId: 'call_1', workflowId: 'wf-1', tool: 'publish_blog_post', approver: 'pat', decision: 'approved', ablyMessageId: 'resp-1', reason: 'stale' });
  return { id: `m${++seq}`, name: 'approval-ignored', clientId: AGENT, data };
}

// After the messages of steps, msg does kind (for the reason given); then
// the call is pending by run pending (null: not pending) and resolved by
// run resolvedBy (null: not resolved).
test('a call asked again by a run made by a reset', async (t) => {
  const cases = [
    // approval-request of run X for a call resolved by run Y.
    { name: 'resolved in the original run, asked by a reset run', steps: [reqOf(''), resOf('')], msg: reqOf(RUN_B), kind: EV_REQUEST, pending: RUN_B, resolvedBy: null },
    { name: 'resolved, never seen pending, asked by a reset run', steps: [resOf('')], msg: reqOf(RUN_B), kind: EV_REQUEST, pending: RUN_B, resolvedBy: null },
    { name: 'resolved by a reset run, asked by another reset run', steps: [reqOf(RUN_B), resOf(RUN_B)], msg: reqOf(RUN_C), kind: EV_REQUEST, pending: RUN_C, resolvedBy: null },
    { name: 'resolved by a reset run, asked by it again', steps: [reqOf(RUN_B), resOf(RUN_B)], msg: reqOf(RUN_B, { revision: 1 }), kind: EV_IGNORED, reason: /^already resolved$/, pending: null, resolvedBy: RUN_B },
    { name: 'resolved by a reset run, asked by the original run', steps: [reqOf(RUN_B), resOf(RUN_B)], msg: reqOf(''), kind: EV_IGNORED, reason: /^already resolved$/, pending: null, resolvedBy: RUN_B },
    { name: 'resolved in the original run, asked by it again', steps: [reqOf(''), resOf('')], msg: reqOf(''), kind: EV_IGNORED, reason: /^already resolved$/, pending: null, resolvedBy: '' },
    // approval-request of run X for a call pending by run Y.
    { name: 'asked again by a reset run, then the original run asks', steps: [reqOf(''), resOf(''), reqOf(RUN_B)], msg: reqOf(''), kind: EV_IGNORED, reason: /^from an earlier run$/, pending: RUN_B, resolvedBy: null },
    { name: 'pending in a reset run, a newer revision of the original', steps: [reqOf(RUN_B)], msg: reqOf('', { revision: 3 }), kind: EV_IGNORED, reason: /^from an earlier run$/, pending: RUN_B, resolvedBy: null },
    { name: 'pending in the original run, asked by a reset run', steps: [reqOf('')], msg: reqOf(RUN_B), kind: EV_REQUEST, pending: RUN_B, resolvedBy: null },
    { name: 'pending at revision 2 of a reset run, revision 0 of another', steps: [reqOf(RUN_B), reqOf(RUN_B, { revision: 2 })], msg: reqOf(RUN_C), kind: EV_REQUEST, pending: RUN_C, resolvedBy: null },
    { name: 'pending in a reset run, its next revision', steps: [reqOf(RUN_B)], msg: reqOf(RUN_B, { revision: 1 }), kind: EV_UPDATED, pending: RUN_B, resolvedBy: null },
    { name: 'pending in a reset run, a copy of its revision', steps: [reqOf(RUN_B, { revision: 1 })], msg: reqOf(RUN_B, { revision: 1 }), kind: EV_IGNORED, reason: /^duplicate$/, pending: RUN_B, resolvedBy: null },
    { name: 'pending in a reset run, an older revision of it', steps: [reqOf(RUN_B, { revision: 1 })], msg: reqOf(RUN_B), kind: EV_IGNORED, reason: /^revision 0 is older/, pending: RUN_B, resolvedBy: null },
    // approval-resolved of run X for a call pending by run Y, or not pending.
    { name: 'pending in a reset run, resolved by the original run', steps: [reqOf(''), resOf(''), reqOf(RUN_B)], msg: resOf(''), kind: EV_IGNORED, reason: /^from an earlier run$/, pending: RUN_B, resolvedBy: null },
    // Between two reset runs the channel's order tells: the later message is the newer run's.
    { name: 'pending in a reset run, resolved by another reset run', steps: [reqOf(RUN_B)], msg: resOf(RUN_C), kind: EV_RESOLVED, pending: null, resolvedBy: RUN_C },
    { name: 'pending in a reset run, resolved by it', steps: [reqOf(''), resOf(''), reqOf(RUN_B)], msg: resOf(RUN_B), kind: EV_RESOLVED, pending: null, resolvedBy: RUN_B },
    { name: 'pending in the original run, resolved by a reset run', steps: [reqOf('')], msg: resOf(RUN_B), kind: EV_RESOLVED, pending: null, resolvedBy: RUN_B },
    { name: 'not pending, resolved again by the same reset run', steps: [resOf(RUN_B)], msg: resOf(RUN_B), kind: EV_IGNORED, reason: /^already resolved$/, pending: null, resolvedBy: RUN_B },
    { name: 'not pending, resolved by another run than before', steps: [resOf('')], msg: resOf(RUN_B), kind: EV_RESOLVED, pending: null, resolvedBy: RUN_B },
    // approval-ignored of run X for a call pending by run Y.
    { name: 'pending in a reset run, not counted by the original run', steps: [reqOf(RUN_B)], msg: ignOf(''), kind: EV_IGNORED, reason: /^not pending$/, pending: RUN_B, resolvedBy: null },
    // The reset run's own request may not have come yet (the worker's keeper publishes it within minutes).
    { name: 'pending in the original run, not counted by a reset run', steps: [reqOf('')], msg: ignOf(RUN_B), kind: EV_NOT_COUNTED, pending: '', resolvedBy: null },
    { name: 'pending in a reset run, not counted by it', steps: [reqOf(RUN_B)], msg: ignOf(RUN_B), kind: EV_NOT_COUNTED, pending: RUN_B, resolvedBy: null },
    // A reset run's request that expired on arrival forgets nothing.
    { name: 'resolved, asked by a reset run too late', steps: [resOf('')], msg: reqOf(RUN_B, { expiresAt: '2026-11-25T11:59:00Z' }), kind: EV_IGNORED, reason: /^expired$/, pending: null, resolvedBy: '' },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      const p = new Pending(AGENT, () => T0);
      for (const m of c.steps) assert.notEqual(p.apply(m).kind, EV_IGNORED, `step ${m.name} of run ${JSON.stringify(m.data.runId ?? '')}`);
      const ev = p.apply(c.msg);
      assert.equal(ev.kind, c.kind, ev.reason);
      if (c.reason) assert.match(ev.reason, c.reason);
      // A request asked again is new: nothing of another run is a version of it.
      if (ev.kind === EV_REQUEST) assert.equal(ev.previous, undefined);
      const key = keyOf('wf-1', 'call_1');
      assert.equal(p.get(key)?.runId ?? null, c.pending, 'pending by run');
      assert.equal(p.resolved.get(key)?.runId ?? null, c.resolvedBy, 'resolved by run');
    });
  }
});

test('a reset run asks again: the original run cannot take the call back', () => {
  const p = new Pending(AGENT, () => T0);
  const key = keyOf('wf-1', 'call_1');
  assert.equal(p.apply(reqOf('')).kind, EV_REQUEST);
  assert.equal(p.apply(resOf('')).kind, EV_RESOLVED);
  const again = p.apply(reqOf(RUN_B, { requiredRole: 'admin' }));
  assert.equal(again.kind, EV_REQUEST);
  assert.equal(again.request.runId, RUN_B);
  assert.equal(p.list().length, 1);
  // The original run's messages, read again (a second history read).
  assert.equal(p.apply(reqOf('')).reason, 'from an earlier run');
  assert.equal(p.apply(resOf('')).reason, 'from an earlier run');
  assert.equal(p.get(key).requiredRole, 'admin');
  const done = p.apply(resOf(RUN_B, { outcome: 'rejected' }));
  assert.equal(done.kind, EV_RESOLVED);
  assert.equal(done.wasPending, true);
  assert.equal(done.request.runId, RUN_B);
  assert.equal(p.list().length, 0);
});

test('a runId that is not a run id makes the message bad', async (t) => {
  const cases = [
    { name: 'a number', runId: 42 },
    { name: 'true', runId: true },
    { name: 'an object', runId: { id: RUN_B } },
    { name: 'too long', runId: 'r'.repeat(129) },
    { name: 'a newline', runId: `${RUN_B}\n` },
    { name: 'a control character', runId: `${RUN_B}\u0007` },
    { name: 'a NUL', runId: `run\u0000b` },
    { name: 'a space', runId: 'run b' },
    { name: 'not ASCII', runId: 'rün' },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      const p = new Pending(AGENT, () => T0);
      const bad = p.apply(request({ runId: c.runId }));
      assert.equal(bad.kind, EV_IGNORED);
      assert.equal(bad.reason, 'bad approval-request: bad runId');
      assert.equal(p.list().length, 0);
      assert.equal(p.apply(request()).kind, EV_REQUEST);
      assert.equal(p.apply(ignOf('')).kind, EV_NOT_COUNTED);
      const ign = ignOf('');
      ign.data.runId = c.runId;
      assert.equal(p.apply(ign).reason, 'bad approval-ignored: bad runId');
      assert.equal(p.apply(resolved({ runId: c.runId })).reason, 'bad approval-resolved: bad runId');
      assert.equal(p.list().length, 1, 'a bad resolution does not close the request');
    });
  }
});

test('runId: absent, empty or null is the original run; 128 bytes is a run', () => {
  const p = new Pending(AGENT, () => T0);
  for (const [i, runId] of [undefined, '', null].entries()) {
    const ev = p.apply(request({ toolCallId: `call_${i}`, runId }));
    assert.equal(ev.kind, EV_REQUEST, String(runId));
    assert.equal(ev.request.runId, '');
  }
  const long = '~'.repeat(128);
  const ev = p.apply(request({ toolCallId: 'call_long', runId: long }));
  assert.equal(ev.kind, EV_REQUEST);
  assert.equal(ev.request.runId, long);
});

// The worker's keeper resolves the request of a run that ended without
// announcing it (internal/reannounce: outcome cancelled, no decider, the
// request's runId); the card goes, and a later copy does not bring it back.
test("a keeper's resolution of a run that ended drops its card, by run", () => {
  const p = new Pending(AGENT, () => T0);
  const keeper = (fields) => resolved({ outcome: 'cancelled', decidedBy: undefined, role: undefined, reason: 'the run ended (terminated) before it announced the call\'s outcome; it can no longer be decided', ...fields });
  assert.equal(p.apply(request()).kind, EV_REQUEST);
  const ev = p.apply(keeper());
  assert.equal(ev.kind, EV_RESOLVED);
  assert.equal(ev.wasPending, true);
  assert.equal(ev.resolved.outcome, 'cancelled');
  assert.match(ev.resolved.reason, /terminated/);
  assert.equal(p.list().length, 0);
  assert.equal(p.apply(request()).kind, EV_IGNORED, 'a late copy');
  // A reset run's request of the same call: the original run's resolution
  // does not close it; one with its runId does.
  assert.equal(p.apply(request({ runId: 'run-b', toolCallId: 'call_2' })).kind, EV_REQUEST);
  assert.equal(p.apply(keeper({ toolCallId: 'call_2' })).kind, EV_IGNORED);
  assert.equal(p.list().length, 1);
  assert.equal(p.apply(keeper({ toolCallId: 'call_2', runId: 'run-b' })).kind, EV_RESOLVED);
  assert.equal(p.list().length, 0);
});

// What decoding makes of each field at its edges: want is the field decoded,
// or null when the request is refused (not shown).
test('decoding: each field at its edges', async (t) => {
  const w = (n) => 'w'.repeat(n);
  const approversIn = (n) => Array.from({ length: n }, (_, i) => ({ clientId: `user${i}` }));
  const approversOut = (n) => Array.from({ length: n }, (_, i) => ({ clientId: `user${i}`, role: '', at: null }));
  const cases = [
    // An empty digest is no digest, as Go's omitempty leaves it out.
    { name: 'an empty digest', fields: { argumentsDigest: '' }, field: 'argumentsDigest', want: '' },
    { name: 'no arguments', fields: { arguments: undefined }, field: 'arguments', want: '' },
    { name: 'null arguments', fields: { arguments: null }, field: 'arguments', want: '' },
    { name: 'no arguments, with the digest of empty text', fields: { arguments: undefined, argumentsDigest: digestOf('') }, field: 'arguments', want: '' },
    { name: 'arguments as an object: their JSON text, digest checked on it', fields: { arguments: { title: 'Hello' }, argumentsDigest: digestOf('{"title":"Hello"}') }, field: 'arguments', want: '{"title":"Hello"}' },
    { name: 'a workflow id of 1000 characters', fields: { workflowId: w(1000) }, field: 'workflowId', want: w(1000) },
    { name: 'a workflow id of 1001 characters', fields: { workflowId: w(1001) }, want: null },
    { name: 'a workflow id with a newline', fields: { workflowId: 'wf\n1' }, want: null },
    { name: 'a workflow id with a bidi override', fields: { workflowId: 'wf\u202e1' }, want: null },
    { name: 'a tool name of 256 characters', fields: { tool: w(256) }, field: 'tool', want: w(256) },
    { name: 'a tool name of 257 characters', fields: { tool: w(257) }, want: null },
    { name: 'a required role of 64 characters', fields: { requiredRole: w(64) }, field: 'requiredRole', want: w(64) },
    { name: 'a required role of 65 characters', fields: { requiredRole: w(65) }, field: 'requiredRole', want: '' },
    { name: 'editable "true" (a string)', fields: { editable: 'true' }, field: 'editable', want: false },
    { name: 'editable 1', fields: { editable: 1 }, field: 'editable', want: false },
    { name: 'a negative revision', fields: { revision: -1 }, field: 'revision', want: 0 },
    { name: 'approvals 0', fields: { approvals: 0 }, field: 'approvals', want: 1 },
    // Go's zero time.Time: no time, not an expiry long past.
    { name: "Go's zero time as expiry", fields: { expiresAt: '0001-01-01T00:00:00Z' }, field: 'expiresAt', want: null },
    { name: "Go's zero time as request time", fields: { requestedAt: '0001-01-01T00:00:00Z' }, field: 'requestedAt', want: null },
    { name: 'a next escalation to no role', fields: { nextEscalation: { at: '2026-11-25T12:08:00Z' } }, field: 'nextEscalation', want: null },
    { name: 'an escalation level that is no integer', fields: { escalation: { level: '2', previousRole: 'publisher' } }, field: 'escalation', want: { level: null, previousRole: 'publisher', since: null } },
    { name: 'an escalation that is an array', fields: { escalation: [] }, field: 'escalation', want: null },
    { name: 'two approvers', fields: { approvals: 2, approvedBy: approversIn(2) }, field: 'approvedBy', want: approversOut(2) },
    { name: 'approvers past 100', fields: { approvedBy: approversIn(101) }, field: 'approvedBy', want: approversOut(100) },
    { name: "the message's timestamp", msg: { timestamp: T0 + 7 }, field: 'publishedAt', want: T0 + 7 },
    { name: 'no timestamp', msg: { timestamp: undefined }, field: 'publishedAt', want: null },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      const p = new Pending(AGENT, () => T0);
      const ev = p.apply(request(c.fields, c.msg));
      if (c.want === null && !c.field) {
        assert.equal(ev.kind, EV_IGNORED);
        assert.equal(p.list().length, 0);
        return;
      }
      assert.equal(ev.kind, EV_REQUEST, ev.reason);
      assert.deepEqual(ev.request[c.field], c.want);
      assert.equal(p.list().length, 1);
    });
  }
});

// The page asks get() before it sends a decision (main.js): an expired
// request is not pending, even before expire() takes it away.
test('get and list leave out a request whose time ran out before expire() runs', () => {
  let now = T0;
  const p = new Pending(AGENT, () => now);
  const r = p.apply(request()).request;
  assert.equal(p.get(r.key), r);
  now = r.expiresAt;
  assert.equal(p.get(r.key), undefined);
  assert.deepEqual(p.list(), []);
  assert.deepEqual(p.expire(), [r]);
  assert.deepEqual(p.expire(), []);
});

// A revision that comes when its time has run out takes the earlier
// revision away (the page removes its card by ev.previous): expire() does
// not report it a second time.
test('a revision that arrives expired takes the earlier one away, once', () => {
  let now = T0;
  const p = new Pending(AGENT, () => now);
  assert.equal(p.apply(request({ expiresAt: '2026-11-25T12:20:00Z' })).kind, EV_REQUEST);
  now = Date.parse('2026-11-25T12:10:00Z');
  const ev = p.apply(request({ revision: 1, expiresAt: '2026-11-25T12:10:00Z' }));
  assert.equal(ev.kind, EV_IGNORED);
  assert.equal(ev.reason, 'expired');
  assert.equal(ev.previous.revision, 0);
  assert.deepEqual(p.list(), []);
  now = Date.parse('2026-11-25T12:30:00Z');
  assert.deepEqual(p.expire(), []);
});

test('expire returns the requests oldest first', () => {
  let now = T0;
  const p = new Pending(AGENT, () => now);
  p.apply(request({ toolCallId: 'call_b', requestedAt: '2026-11-25T12:00:02Z' }));
  p.apply(request({ toolCallId: 'call_a', requestedAt: '2026-11-25T12:00:01Z' }));
  now = Date.parse('2026-11-25T12:10:00Z');
  assert.deepEqual(p.expire().map((r) => r.toolCallId), ['call_a', 'call_b']);
});
