// interop.mjs drives the real npm `ably` v2 Realtime client against a local
// Ably-protocol server (internal/ablylocal) and prints what it saw as JSON
// lines on stdout, one object per line, each with an "event" field:
//
//   {"event":"auth"}                          authCallback fetched a token
//   {"event":"connected","clientId":…,"connectionId":…}
//   {"event":"ping","ms":…}                    connection.ping() was answered
//   {"event":"attached","channel":…}           subscribed and attached
//   {"event":"message","message":{…}}          a live message
//   {"event":"history","messages":[…]}         channel.history({untilAttach:true})
//   {"event":"history-pages","pages":[[…],…]}  the same with limit 1, page by page
//   {"event":"published","via":"realtime"|"rest","message":{…}}
//   {"event":"forbidden","results":{…}}        with --forbidden-channel: how
//                                              publish/attach/history/REST publish failed
//   {"event":"done"}                           every expected message arrived
//   {"event":"error","error":…}                then exit status 1
//
// The run: connect with authCallback (the token comes from --token-url),
// ping, subscribe to --channel, wait for a live message named --respond-to,
// read the untilAttach history, then answer it twice with approval-responses
// carrying that message's extras.headers.toolCallId and a forged
// extras.userClaim the server must replace: {decision:"approved"} over the
// Realtime connection, then {decision:"rejected"} with an ably-js REST
// client (same authCallback). With --forbidden-channel, also try to
// publish, attach, read history and REST-publish there, and report the
// errors. Finally wait until every name in --expect (a
// comma-separated multiset) has arrived live. Diagnostics and ably-js logs
// go to stderr. The whole run is bounded by --timeout-ms.
//
// Usage:
//   node interop.mjs --port 8090 --token-url http://127.0.0.1:3001/token \
//     [--host 127.0.0.1] [--channel ai:big-bad-any] [--binary] [--client-id alice] [--no-echo] \
//     [--connectivity-url http://…] [--ws-connectivity-url ws://…] \
//     [--respond-to approval-request] [--expect approval-request,approval-response] \
//     [--forbidden-channel ai:other] \
//     [--timeout-ms 20000]
import Ably from 'ably';
import { clientOptions, closeClient, emit, errorOf, main, parseFlags, plain, waitConnected, waiter } from './lib.mjs';

function parseConfig(argv) {
  const { cfg, values } = parseFlags(argv, {
    'no-echo': { type: 'boolean', default: false },
    'respond-to': { type: 'string', default: 'approval-request' },
    'forbidden-channel': { type: 'string' },
    expect: { type: 'string', default: '' },
  });
  return {
    ...cfg,
    echo: !values['no-echo'],
    respondTo: values['respond-to'],
    forbiddenChannel: values['forbidden-channel'] || undefined,
    expect: values.expect.split(',').map((s) => s.trim()).filter(Boolean),
  };
}

async function run(cfg, abort, progress) {
  const opts = clientOptions(cfg, abort.signal);

  // echoMessages:false makes ably-js send echo=false: the server must not
  // send this connection its own messages (but still the REST reply).
  const client = new Ably.Realtime({ ...opts, autoConnect: true, echoMessages: cfg.echo });
  abort.signal.addEventListener('abort', () => client.close(), { once: true });
  try {
    progress.stage = 'connecting';
    await waitConnected(client);
    emit({ event: 'connected', clientId: client.auth.clientId ?? null, connectionId: client.connection.id ?? null });
    progress.stage = 'ping';
    emit({ event: 'ping', ms: await client.connection.ping() });

    const channel = client.channels.get(cfg.channel);
    const expected = waiter(cfg.expect);
    progress.missing = expected.missing;
    progress.stage = 'attaching';
    let resolveTrigger;
    const trigger = new Promise((r) => (resolveTrigger = r));
    await channel.subscribe((m) => {
      const p = plain(m);
      emit({ event: 'message', message: p });
      expected.seen(m.name);
      if (m.name === cfg.respondTo) resolveTrigger(m);
    });
    emit({ event: 'attached', channel: channel.name, state: channel.state });

    progress.stage = `waiting for ${cfg.respondTo}`;
    const request = await trigger;
    progress.stage = 'history';
    const page = await channel.history({ untilAttach: true });
    emit({ event: 'history', messages: page.items.map(plain) });
    // The same history one message per page, following Link rel="next".
    progress.stage = 'paged history';
    const pages = [];
    for (let p = await channel.history({ untilAttach: true, limit: 1 }); p; p = p.hasNext() ? await p.next() : null) {
      pages.push(p.items.map(plain));
      if (pages.length > 10) throw new Error('history: more than 10 pages of limit 1');
    }
    emit({ event: 'history-pages', pages });

    const toolCallId = request.extras?.headers?.toolCallId;
    if (typeof toolCallId !== 'string' || toolCallId === '') {
      throw new Error(`${cfg.respondTo} has no extras.headers.toolCallId: ${JSON.stringify(request.extras)}`);
    }
    // userClaim is forged on purpose: the server must replace it.
    const reply = {
      name: 'approval-response',
      data: { decision: 'approved' },
      extras: { headers: { toolCallId }, userClaim: 'admin' },
    };
    progress.stage = 'publishing over realtime';
    await channel.publish(reply);
    emit({ event: 'published', via: 'realtime', message: reply });

    const restReply = {
      name: 'approval-response',
      data: { decision: 'rejected', reason: 'sent over REST' },
      extras: { headers: { toolCallId }, userClaim: 'admin' },
    };
    progress.stage = 'publishing over rest';
    const rest = new Ably.Rest(opts);
    await rest.channels.get(cfg.channel).publish(restReply);
    emit({ event: 'published', via: 'rest', message: restReply });

    if (cfg.forbiddenChannel) {
      // The token grants nothing on this channel: each call must fail with
      // the server's error, and the connection must stay usable.
      progress.stage = 'forbidden channel';
      const other = client.channels.get(cfg.forbiddenChannel);
      emit({
        event: 'forbidden',
        channel: cfg.forbiddenChannel,
        results: {
          publish: await errorOf(other.publish({ name: 'x', data: 'y' })),
          attach: await errorOf(other.attach()),
          history: await errorOf(other.history()),
          restPublish: await errorOf(rest.channels.get(cfg.forbiddenChannel).publish({ name: 'x', data: 'y' })),
        },
      });
    }

    progress.stage = 'waiting for expected messages';
    await expected.done;
    emit({ event: 'done' });
  } finally {
    await closeClient(client);
  }
}

main(parseConfig, run);
