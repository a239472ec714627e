// config.js reads the settings the auth server renders into the page's
// data attributes: nothing about the channel, the agent or Ably is written
// into the script.

// readConfig returns the settings from the inbox element's dataset.
export function readConfig(ds) {
  let roles = [];
  try {
    const parsed = JSON.parse(ds.roles || '[]');
    if (Array.isArray(parsed)) roles = parsed.filter((r) => typeof r === 'string');
  } catch {
    roles = [];
  }
  const port = Number(ds.ablyPort);
  return {
    channel: ds.channel || '',
    agentClientId: ds.agentClientId || '',
    roles,
    user: ds.user || '',
    role: ds.role || '',
    csrf: ds.csrf || '',
    tokenPath: ds.tokenPath || '/api/auth/token',
    ablyHost: ds.ablyHost || '',
    ablyPort: Number.isInteger(port) && port > 0 ? port : 0,
    ablyTLS: ds.ablyTls !== 'false',
    maxReason: Number(ds.maxReason) > 0 ? Number(ds.maxReason) : 512,
  };
}

// ablyEndpointOptions are the ably-js options that select the endpoint:
// the local Ably-protocol server when the auth server names one (no
// fallback hosts, no connectivity probes to ably-realtime.com), else Ably
// itself with ably-js's defaults.
export function ablyEndpointOptions(cfg) {
  if (!cfg.ablyHost) return {};
  const opts = { endpoint: cfg.ablyHost, tls: cfg.ablyTLS, disableConnectivityCheck: true, fallbackHosts: [] };
  if (cfg.ablyPort) {
    if (cfg.ablyTLS) opts.tlsPort = cfg.ablyPort;
    else opts.port = cfg.ablyPort;
  }
  return opts;
}
