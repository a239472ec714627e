import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ablyEndpointOptions, readConfig } from './config.js';

test('readConfig reads the data attributes', () => {
  const cfg = readConfig({
    channel: 'ai:big-bad-any',
    agentClientId: 'hitl:agent',
    roles: '["editor","publisher","admin"]',
    user: 'pat',
    role: 'publisher',
    csrf: 'T',
    tokenPath: '/api/auth/token',
    ablyHost: '127.0.0.1',
    ablyPort: '8090',
    ablyTls: 'false',
    maxReason: '512',
  });
  assert.deepEqual(cfg, {
    channel: 'ai:big-bad-any',
    agentClientId: 'hitl:agent',
    roles: ['editor', 'publisher', 'admin'],
    user: 'pat',
    role: 'publisher',
    csrf: 'T',
    tokenPath: '/api/auth/token',
    ablyHost: '127.0.0.1',
    ablyPort: 8090,
    ablyTLS: false,
    maxReason: 512,
  });
  assert.deepEqual(readConfig({ roles: 'not json' }).roles, []);
});

test('ablyEndpointOptions: the local server, or Ably itself', () => {
  assert.deepEqual(ablyEndpointOptions({ ablyHost: '127.0.0.1', ablyPort: 8090, ablyTLS: false }), {
    endpoint: '127.0.0.1',
    tls: false,
    port: 8090,
    disableConnectivityCheck: true,
    fallbackHosts: [],
  });
  assert.deepEqual(ablyEndpointOptions({ ablyHost: 'ably.internal', ablyPort: 8443, ablyTLS: true }), {
    endpoint: 'ably.internal',
    tls: true,
    tlsPort: 8443,
    disableConnectivityCheck: true,
    fallbackHosts: [],
  });
  assert.deepEqual(ablyEndpointOptions({ ablyHost: '', ablyPort: 0, ablyTLS: true }), {});
});
