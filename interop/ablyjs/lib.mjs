// lib.mjs holds what interop.mjs and recover.mjs share: JSON-line output,
// the common flags, ably-js client options pointed at a local endpoint with
// an authCallback, and small promise helpers around ably-js events.
import { parseArgs } from 'node:util';

export function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

let failed = false;

export function fail(err) {
  if (failed) return;
  failed = true;
  const text = err instanceof Error ? err.message : typeof err === 'string' ? err : JSON.stringify(err);
  const ev = { event: 'error', error: text };
  // Ably ErrorInfo codes, when the failure came from the server.
  if (err && typeof err === 'object' && Number.isInteger(err.code)) ev.code = err.code;
  if (err && typeof err === 'object' && Number.isInteger(err.statusCode)) ev.statusCode = err.statusCode;
  emit(ev);
  process.exitCode = 1;
  // Let stdout drain, then leave even if sockets are still open.
  setImmediate(() => process.exit(1));
}

// commonFlags are the parseArgs options every script accepts.
export const commonFlags = {
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string' },
  'token-url': { type: 'string' },
  channel: { type: 'string', default: 'ai:big-bad-any' },
  binary: { type: 'boolean', default: false },
  'client-id': { type: 'string' },
  'connectivity-url': { type: 'string' },
  'ws-connectivity-url': { type: 'string' },
  'timeout-ms': { type: 'string', default: '20000' },
};

// parseFlags parses argv with commonFlags plus extra, and returns the
// checked common settings and the raw values.
export function parseFlags(argv, extra) {
  const { values } = parseArgs({ args: argv, strict: true, options: { ...commonFlags, ...extra } });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`--port: want 1..65535, got ${JSON.stringify(values.port)}`);
  }
  if (!values['token-url']) {
    throw new Error('--token-url is required');
  }
  const timeoutMs = Number(values['timeout-ms']);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw new Error(`--timeout-ms: want a positive integer, got ${JSON.stringify(values['timeout-ms'])}`);
  }
  const cfg = {
    host: values.host,
    port,
    tokenUrl: values['token-url'],
    channel: values.channel,
    binary: values.binary,
    clientId: values['client-id'] || undefined,
    connectivityUrl: values['connectivity-url'] || undefined,
    wsConnectivityUrl: values['ws-connectivity-url'] || undefined,
    timeoutMs,
  };
  return { cfg, values };
}

// clientOptions are the ably-js options (Realtime and Rest) for cfg: the
// local endpoint without TLS, JSON or msgpack, and an authCallback that
// fetches the JWT from cfg.tokenUrl and reports {"event":"auth"}.
export function clientOptions(cfg, signal) {
  const opts = {
    endpoint: cfg.host,
    port: cfg.port,
    tls: false,
    useBinaryProtocol: cfg.binary,
    logLevel: 1,
    logHandler: (msg) => process.stderr.write(`ably-js: ${msg}\n`),
    authCallback: (_tokenParams, callback) => {
      fetchToken(cfg.tokenUrl, signal).then(
        (token) => {
          emit({ event: 'auth' });
          callback(null, token);
        },
        (err) => callback(err instanceof Error ? err.message : String(err), null),
      );
    },
  };
  if (cfg.clientId) opts.clientId = cfg.clientId;
  // ably-js probes internet-up.ably-realtime.com when CONNECTED is slow;
  // point the probes at the test's own helper, or switch them off.
  if (cfg.connectivityUrl) opts.connectivityCheckUrl = cfg.connectivityUrl;
  if (cfg.wsConnectivityUrl) opts.wsConnectivityCheckUrl = cfg.wsConnectivityUrl;
  if (!cfg.connectivityUrl) opts.disableConnectivityCheck = true;
  return opts;
}

// plain turns an ably-js Message into JSON-safe data. Buffers become base64
// with dataType "binary" so the Go side can tell them from strings.
export function plain(m) {
  let data = m.data;
  let dataType = data === null || data === undefined ? 'none' : Array.isArray(data) ? 'array' : typeof data;
  if (Buffer.isBuffer(data) || data instanceof ArrayBuffer || ArrayBuffer.isView(data)) {
    data = Buffer.from(data).toString('base64');
    dataType = 'binary';
  }
  return {
    id: m.id,
    name: m.name,
    clientId: m.clientId,
    connectionId: m.connectionId,
    timestamp: m.timestamp,
    serial: m.serial,
    encoding: m.encoding ?? null,
    dataType,
    data: data ?? null,
    extras: m.extras ?? null,
  };
}

// waiter resolves once the named messages (a multiset) have all arrived.
export function waiter(names) {
  const missing = new Map();
  for (const n of names) missing.set(n, (missing.get(n) || 0) + 1);
  let resolve;
  const done = new Promise((r) => (resolve = r));
  const check = () => {
    if (missing.size === 0) resolve();
  };
  check();
  return {
    done,
    missing: () => [...missing.entries()].flatMap(([n, k]) => Array(k).fill(n)),
    seen(name) {
      const k = missing.get(name);
      if (k === undefined) return;
      if (k <= 1) missing.delete(name);
      else missing.set(name, k - 1);
      check();
    },
  };
}

// fetchToken GETs the raw JWT, or a TokenRequest as JSON, from tokenUrl.
// Credentials in the URL (http://user:password@host/api/auth/token, as the
// auth server wants) are sent as HTTP Basic auth, since fetch refuses URLs
// that carry them.
export async function fetchToken(tokenUrl, signal) {
  const url = new URL(tokenUrl);
  const headers = {};
  if (url.username || url.password) {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    headers.Authorization = 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
    url.username = '';
    url.password = '';
  }
  const res = await fetch(url, { signal, headers });
  const body = (await res.text()).trim();
  if (!res.ok) throw new Error(`token url: HTTP ${res.status}: ${body}`);
  // A JSON answer is a TokenRequest (or TokenDetails) object, which
  // ably-js redeems itself; anything else is the token string.
  if ((res.headers.get('content-type') || '').startsWith('application/json')) return JSON.parse(body);
  return body;
}

export function connectionError(state, reason) {
  const err = new Error(`connection ${state}: ${reason ? `${reason.code} ${reason.statusCode} ${reason.message}` : 'no reason'}`);
  if (reason) {
    err.code = reason.code;
    err.statusCode = reason.statusCode;
  }
  return err;
}

// waitConnected resolves on CONNECTED. It rejects when the connection
// fails, and when a token error (401) persists after ably-js has fetched a
// new token once (RTN14b): ably-js itself would only retry every 15 s.
export function waitConnected(client) {
  return new Promise((resolve, reject) => {
    let tokenErrors = 0;
    const onChange = (change) => {
      const r = change.reason;
      if (change.current === 'connected') {
        client.connection.off(onChange);
        resolve();
      } else if (['failed', 'suspended', 'closed'].includes(change.current)) {
        client.connection.off(onChange);
        reject(connectionError(change.current, r));
      } else if (change.current === 'disconnected' && r && r.statusCode === 401 && ++tokenErrors >= 2) {
        client.connection.off(onChange);
        reject(connectionError(change.current, r));
      }
    };
    if (client.connection.state === 'connected') resolve();
    else client.connection.on(onChange);
  });
}

// errorOf settles p and describes how: {ok:true} or the Ably error.
export async function errorOf(p) {
  try {
    await p;
    return { ok: true };
  } catch (err) {
    return { ok: false, code: err?.code ?? null, statusCode: err?.statusCode ?? null, message: err?.message ?? String(err) };
  }
}

export function closeClient(client) {
  return new Promise((resolve) => {
    const state = client.connection.state;
    if (state === 'closed' || state === 'failed') return resolve();
    const t = setTimeout(resolve, 2000);
    client.connection.once('closed', () => {
      clearTimeout(t);
      resolve();
    });
    client.connection.once('failed', () => {
      clearTimeout(t);
      resolve();
    });
    client.close();
  });
}

// main parses argv with parse, then runs run(cfg, abort, progress) under
// cfg.timeoutMs, and exits 0 on success or 1 after an error event.
export async function main(parse, run) {
  let cfg;
  try {
    cfg = parse(process.argv.slice(2));
  } catch (err) {
    fail(err);
    return;
  }
  const abort = new AbortController();
  const progress = { stage: 'starting', missing: () => [] };
  const timer = setTimeout(() => {
    abort.abort();
    fail(`timeout after ${cfg.timeoutMs} ms while ${progress.stage}; missing: ${JSON.stringify(progress.missing())}`);
  }, cfg.timeoutMs);
  try {
    await run(cfg, abort, progress);
    clearTimeout(timer);
    process.exit(0);
  } catch (err) {
    clearTimeout(timer);
    fail(err);
  }
}
