// fidelity.mjs checks, with the real npm `ably` v2 client, behaviour of the
// local Ably server that ably-js can see (issue 10). It prints JSON lines
// like interop.mjs (see lib.mjs) and runs one --mode:
//
// --mode resume: connect, print
//   {"event":"connected","connectionId":…,"connectionKey":…}
// then wait (the Go test drops every socket) until the connection is
// connected again with another connection key, and print
//   {"event":"resumed","connectionId":…,"connectionKey":…,"reason":…}
// (RTN15e: a resume keeps the id and renews the key).
//
// --mode duplicate-ids: publish two messages with the same id in one call,
// over Realtime and over REST, then two with distinct ids, and print
//   {"event":"duplicate-ids","results":{"realtime":…,"rest":…,"distinct":…}}
// (RSL1k3: 40031).
//
// --mode token-request: the token URL answers with a TokenRequest (JSON),
// which ably-js redeems at /keys/{keyName}/requestToken. Connect, print
//   {"event":"connected","clientId":…,"tokenKeyName":…,"tokenCapability":…}
// subscribe to --channel, publish one message over Realtime and one over
// REST (each with a forged extras.userClaim), wait for both, read history,
// and print {"event":"message",…} for each and {"event":"history",…}.
//
// Every mode ends with {"event":"done"}. Usage:
//   node fidelity.mjs --mode resume --port 8090 --token-url http://127.0.0.1:3001/token [common flags]
import Ably from 'ably';
import { clientOptions, closeClient, emit, errorOf, main, parseFlags, plain, waitConnected } from './lib.mjs';

function parseConfig(argv) {
  const { cfg, values } = parseFlags(argv, { mode: { type: 'string' } });
  if (!['resume', 'duplicate-ids', 'token-request'].includes(values.mode)) {
    throw new Error(`--mode: want resume, duplicate-ids or token-request, got ${JSON.stringify(values.mode)}`);
  }
  return { ...cfg, mode: values.mode };
}

// until polls cond every 20 ms; the run's --timeout-ms bounds it.
function until(cond) {
  return new Promise((resolve) => {
    const tick = () => (cond() ? resolve() : setTimeout(tick, 20));
    tick();
  });
}

function reasonOf(client) {
  const r = client.connection.errorReason;
  return r ? { code: r.code, statusCode: r.statusCode, message: r.message } : null;
}

async function resume(cfg, client, progress) {
  const id = client.connection.id;
  const key = client.connection.key;
  emit({ event: 'connected', connectionId: id, connectionKey: key });
  progress.stage = 'waiting for the socket to drop and the resume';
  await until(() => client.connection.state === 'connected' && client.connection.key !== key);
  emit({ event: 'resumed', connectionId: client.connection.id, connectionKey: client.connection.key, reason: reasonOf(client) });
}

async function duplicateIds(cfg, client, opts, progress) {
  emit({ event: 'connected', connectionId: client.connection.id, clientId: client.auth.clientId ?? null });
  const channel = client.channels.get(cfg.channel);
  const rest = new Ably.Rest(opts);
  const dup = (via) => [
    { id: `dup-${via}`, name: 'dup-a', data: 'a' },
    { id: `dup-${via}`, name: 'dup-b', data: 'b' },
  ];
  progress.stage = 'publishing duplicate ids';
  const results = {
    realtime: await errorOf(channel.publish(dup('realtime'))),
    rest: await errorOf(rest.channels.get(cfg.channel).publish(dup('rest'))),
    distinct: await errorOf(channel.publish([
      { id: 'distinct:0', name: 'distinct-0', data: 'a' },
      { id: 'distinct:1', name: 'distinct-1', data: 'b' },
    ])),
  };
  emit({ event: 'duplicate-ids', results, state: client.connection.state });
}

async function tokenRequest(cfg, client, opts, progress) {
  const details = client.auth.tokenDetails || {};
  emit({
    event: 'connected',
    connectionId: client.connection.id,
    clientId: client.auth.clientId ?? null,
    tokenKeyName: details.keyName ?? null,
    tokenCapability: details.capability ?? null,
    tokenClientId: details.clientId ?? null,
  });
  const channel = client.channels.get(cfg.channel);
  const names = new Set(['native-realtime', 'native-rest']);
  let resolveAll;
  const all = new Promise((r) => (resolveAll = r));
  progress.stage = 'attaching';
  await channel.subscribe((m) => {
    emit({ event: 'message', message: plain(m) });
    names.delete(m.name);
    if (names.size === 0) resolveAll();
  });
  progress.stage = 'publishing';
  const extras = { headers: { toolCallId: 'call_native' }, userClaim: 'admin' };
  await channel.publish({ name: 'native-realtime', data: { via: 'realtime' }, extras });
  const rest = new Ably.Rest(opts);
  await rest.channels.get(cfg.channel).publish({ name: 'native-rest', data: { via: 'rest' }, extras });
  progress.stage = 'waiting for both messages';
  progress.missing = () => [...names];
  await all;
  progress.stage = 'history';
  const page = await rest.channels.get(cfg.channel).history({ limit: 10 });
  emit({ event: 'history', messages: page.items.map(plain) });
}

async function run(cfg, abort, progress) {
  const opts = clientOptions(cfg, abort.signal);
  const client = new Ably.Realtime({ ...opts, autoConnect: true });
  abort.signal.addEventListener('abort', () => client.close(), { once: true });
  try {
    progress.stage = 'connecting';
    await waitConnected(client);
    if (cfg.mode === 'resume') await resume(cfg, client, progress);
    else if (cfg.mode === 'duplicate-ids') await duplicateIds(cfg, client, opts, progress);
    else await tokenRequest(cfg, client, opts, progress);
    emit({ event: 'done' });
  } finally {
    await closeClient(client);
  }
}

main(parseConfig, run);
