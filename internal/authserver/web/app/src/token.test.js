import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fetchToken, roleOf, SessionEndedError } from './token.js';

function jwt(claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}.sig`;
}

test('roleOf reads the channel claim, for display', () => {
  assert.equal(roleOf(jwt({ 'ably.channel.ai:big-bad-any': 'publisher', 'x-ably-clientId': 'pat' }), 'ai:big-bad-any'), 'publisher');
  assert.equal(roleOf(jwt({ 'ably.channel.other': 'admin' }), 'ai:big-bad-any'), '');
  assert.equal(roleOf('garbage', 'ai:big-bad-any'), '');
  // A claim whose JSON needs padding and holds non-ASCII.
  assert.equal(roleOf(jwt({ 'ably.channel.c': 'rédacteur' }), 'c'), 'rédacteur');
  // base64url's own characters ('-' and '_' for '+' and '/').
  const urlSafe = jwt({ 'ably.channel.c': '>>>???' });
  assert.match(urlSafe.split('.')[1], /-.*_/);
  assert.equal(roleOf(urlSafe, 'c'), '>>>???');
  // A claim that is no string is no role.
  for (const claim of [5, true, ['admin'], { role: 'admin' }]) assert.equal(roleOf(jwt({ 'ably.channel.c': claim }), 'c'), '', JSON.stringify(claim));
});

test('fetchToken sends the CSRF header and ends the session on 401 and 403', async () => {
  const calls = [];
  const fake = (status, body) => async (url, init) => {
    calls.push({ url, init });
    return { status, ok: status >= 200 && status < 300, text: async () => body };
  };
  const cfg = { tokenPath: '/api/auth/token', csrf: 'CSRF1' };
  assert.equal(await fetchToken(cfg, fake(200, 'a.b.c\n')), 'a.b.c');
  assert.equal(calls[0].url, '/api/auth/token');
  assert.equal(calls[0].init.method, 'POST');
  assert.equal(calls[0].init.headers['X-CSRF-Token'], 'CSRF1');
  assert.equal(calls[0].init.credentials, 'same-origin');
  assert.equal(calls[0].init.cache, 'no-store', 'a token is never taken from a cache');
  await assert.rejects(fetchToken(cfg, fake(401, '')), SessionEndedError);
  await assert.rejects(fetchToken(cfg, fake(403, '')), SessionEndedError);
  await assert.rejects(fetchToken(cfg, fake(503, '')), (err) => !(err instanceof SessionEndedError) && /503/.test(err.message));
});
