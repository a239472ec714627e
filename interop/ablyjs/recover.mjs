// recover.mjs checks connection recovery with the real npm `ably` v2
// client: what a restarted approver web page does with the recovery key it
// saved. It prints JSON lines like interop.mjs (see lib.mjs) and runs in one
// of two phases.
//
// --save: connect, subscribe to --channel, wait for --save-after live
// messages (so the channel has a channelSerial), print
//   {"event":"recovery-key","key":…,"connectionId":…}
// and exit at once without closing: the socket just drops.
//
// --recover KEY: connect with {recover: KEY}. ably-js sends recover=<the
// connectionKey>, restores the channel's channelSerial from the key, and
// attaches with it (ably-js never sends ATTACH_RESUME). Print
//   {"event":"connected","connectionId":…,"reason":…}
//   {"event":"attached","resumed":…}
// and every message until one named --until arrives, then {"event":"done"}.
//
// Usage:
//   node recover.mjs --port 8090 --token-url http://127.0.0.1:3001/token --save [--save-after 1]
//   node recover.mjs --port 8090 --token-url http://127.0.0.1:3001/token --recover KEY --until interop-end
// plus the common flags of interop.mjs (--binary, --channel, --client-id,
// --connectivity-url, --ws-connectivity-url, --timeout-ms).
import Ably from 'ably';
import { clientOptions, closeClient, emit, main, parseFlags, plain, waitConnected } from './lib.mjs';

function parseConfig(argv) {
  const { cfg, values } = parseFlags(argv, {
    save: { type: 'boolean', default: false },
    'save-after': { type: 'string', default: '1' },
    recover: { type: 'string' },
    until: { type: 'string', default: 'interop-end' },
  });
  if (values.save === Boolean(values.recover)) {
    throw new Error('want exactly one of --save and --recover KEY');
  }
  const saveAfter = Number(values['save-after']);
  if (!Number.isInteger(saveAfter) || saveAfter < 0) {
    throw new Error(`--save-after: want a count, got ${JSON.stringify(values['save-after'])}`);
  }
  return { ...cfg, save: values.save, saveAfter, recover: values.recover, until: values.until };
}

async function save(cfg, abort, progress) {
  const client = new Ably.Realtime({ ...clientOptions(cfg, abort.signal), autoConnect: true });
  progress.stage = 'connecting';
  await waitConnected(client);
  const channel = client.channels.get(cfg.channel);
  let seen = 0;
  let resolveSeen;
  const enough = new Promise((r) => (resolveSeen = r));
  if (cfg.saveAfter === 0) resolveSeen();
  progress.stage = 'attaching';
  await channel.subscribe((m) => {
    emit({ event: 'message', message: plain(m) });
    if (++seen === cfg.saveAfter) resolveSeen();
  });
  emit({ event: 'attached', connectionId: client.connection.id });
  progress.stage = `waiting for ${cfg.saveAfter} messages`;
  await enough;
  const key = client.connection.createRecoveryKey();
  if (!key) throw new Error('createRecoveryKey returned nothing');
  emit({ event: 'recovery-key', key, connectionId: client.connection.id });
  // Leave without CLOSE, like a page that was shut.
}

async function recover(cfg, abort, progress) {
  const client = new Ably.Realtime({ ...clientOptions(cfg, abort.signal), autoConnect: true, recover: cfg.recover });
  try {
    progress.stage = 'connecting';
    await waitConnected(client);
    const r = client.connection.errorReason;
    emit({
      event: 'connected',
      connectionId: client.connection.id,
      reason: r ? { code: r.code, statusCode: r.statusCode, message: r.message } : null,
    });
    const channel = client.channels.get(cfg.channel);
    let resolveEnd;
    const end = new Promise((res) => (resolveEnd = res));
    progress.stage = 'attaching';
    const change = await channel.subscribe((m) => {
      emit({ event: 'message', message: plain(m) });
      if (m.name === cfg.until) resolveEnd();
    });
    emit({ event: 'attached', resumed: change ? Boolean(change.resumed) : null });
    progress.stage = `waiting for ${cfg.until}`;
    await end;
    emit({ event: 'done' });
  } finally {
    await closeClient(client);
  }
}

main(parseConfig, (cfg, abort, progress) => (cfg.save ? save(cfg, abort, progress) : recover(cfg, abort, progress)));
