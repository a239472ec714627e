import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newMessageId, publishFailure, responseMessage, UnconfirmedError } from './decision.js';

const base = { toolCallId: 'call_1', workflowId: 'wf-1' };

test('responseMessage: the guide shape plus what the request had', () => {
  const cases = [
    {
      name: 'approve, no digest',
      r: base,
      choice: { decision: 'approved' },
      data: { decision: 'approved' },
    },
    {
      name: 'reject with a reason and a digest',
      r: { ...base, argumentsDigest: 'sha256:ab' },
      choice: { decision: 'rejected', reason: 'not now' },
      data: { decision: 'rejected', reason: 'not now', argumentsDigest: 'sha256:ab' },
    },
    {
      name: 'reject without a reason',
      r: base,
      choice: { decision: 'rejected', reason: '' },
      data: { decision: 'rejected' },
    },
    {
      name: 'approve with edits',
      r: { ...base, argumentsDigest: 'sha256:cd', editable: true },
      choice: { decision: 'approved', arguments: '{"title":"Edited"}' },
      data: { decision: 'approved', argumentsDigest: 'sha256:cd', arguments: '{"title":"Edited"}' },
    },
  ];
  for (const c of cases) {
    const m = responseMessage(c.r, c.choice);
    assert.equal(m.name, 'approval-response', c.name);
    assert.deepEqual(m.data, c.data, c.name);
    assert.deepEqual(m.extras, { headers: { toolCallId: 'call_1', workflowId: 'wf-1' } }, c.name);
    assert.equal('userClaim' in m.extras, false, `${c.name}: the role is Ably's to add`);
  }
});

test('responseMessage carries the page message id; newMessageId is fresh each time', () => {
  const id = newMessageId();
  assert.match(id, /^web-[0-9a-f]{32}:0$/);
  assert.notEqual(newMessageId(), id);
  assert.equal(responseMessage(base, { decision: 'approved' }, id).id, id);
  assert.equal('id' in responseMessage(base, { decision: 'approved' }), false);
});

// Every byte is two hex digits: a byte below 16 keeps its leading zero.
test('newMessageId writes each random byte as two hex digits', (t) => {
  t.mock.method(globalThis.crypto, 'getRandomValues', (a) => {
    a.set(Array.from({ length: a.length }, (_, i) => i));
    return a;
  });
  assert.equal(newMessageId(), 'web-000102030405060708090a0b0c0d0e0f:0');
});

// A publish that ably-js fails because the connection went down (suspended
// or closed while it waited for Ably's acknowledgement) may have reached
// Ably: it is unconfirmed, not failed, whatever the code of the reason the
// connection went (a 4xxxx when Ably ended it). Ably's refusals, which come
// while the connection stays up, and what ably-js never sent stay failures.
test('publishFailure: a connection lost under the publish leaves it unconfirmed', () => {
  const cases = [
    { name: 'suspended', err: { code: 80002, message: 'Connection to server unavailable' }, unconfirmed: true },
    { name: 'disconnected', err: { code: 80003, message: 'Websocket closed' }, unconfirmed: true },
    { name: 'closed', err: { code: 80017, message: 'Connection closed' }, unconfirmed: true },
    { name: 'refused by Ably', err: { code: 40160, message: 'operation not permitted' }, unconfirmed: false },
    { name: 'refused by Ably, connection still up', state: 'connected', err: { code: 40160, message: 'operation not permitted' }, unconfirmed: false },
    // Ably ended the connection with a connection-level ERROR: ably-js
    // fails the held publish with Ably's code.
    { name: 'connection failed by Ably', state: 'failed', err: { code: 50000, message: 'Internal error' }, unconfirmed: true },
    { name: 'connection failed by Ably, 4xxxx', state: 'failed', err: { code: 40003, message: 'Account disabled' }, unconfirmed: true },
    { name: 'connection suspended after a 4xxxx', state: 'suspended', err: { code: 40170, message: 'Error from authCallback' }, unconfirmed: true },
    { name: 'connection closed, no code', state: 'closed', err: new Error('closed'), unconfirmed: true },
    { name: 'channel failed, never sent', err: { code: 90001, message: 'channel failed' }, unconfirmed: false },
    { name: 'no code', err: new Error('boom'), unconfirmed: false },
    // The range's ends: 80000 to 80099 are the connection's, either side not.
    { name: 'connection code 80000', err: { code: 80000, message: 'Connection failed' }, unconfirmed: true },
    { name: 'connection code 80099', err: { code: 80099, message: 'last connection code' }, unconfirmed: true },
    { name: 'code 79999, connection up', err: { code: 79999, message: 'below the range' }, unconfirmed: false },
    { name: 'code 80100, connection up', err: { code: 80100, message: 'above the range' }, unconfirmed: false },
  ];
  for (const c of cases) {
    const got = publishFailure(c.err, 'web-1:0', c.state);
    if (c.unconfirmed) {
      assert.ok(got instanceof UnconfirmedError, c.name);
      assert.equal(got.messageId, 'web-1:0', c.name);
      assert.match(got.message, /may still count/, c.name);
      assert.ok(got.message.includes(c.err.message), c.name);
    } else {
      assert.equal(got, c.err, c.name);
    }
  }
});
