// token.js fetches the user's Ably JWT from the auth server with the
// session cookie (same origin) and the session's CSRF token, for ably-js's
// authCallback.

// SessionEndedError means the auth server no longer knows the session
// (logged out, expired, user removed, password changed, or a CSRF token
// of an earlier session): the user must sign in again.
export class SessionEndedError extends Error {
  constructor(status) {
    super(`the auth server ended the session (HTTP ${status})`);
    this.name = 'SessionEndedError';
  }
}

// fetchToken asks for a token; it throws SessionEndedError on 401 or 403.
export async function fetchToken(cfg, fetchFn = fetch) {
  const resp = await fetchFn(cfg.tokenPath, {
    method: 'POST',
    headers: { 'X-CSRF-Token': cfg.csrf },
    credentials: 'same-origin',
    cache: 'no-store',
  });
  if (resp.status === 401 || resp.status === 403) throw new SessionEndedError(resp.status);
  if (!resp.ok) throw new Error(`token request failed: HTTP ${resp.status}`);
  return (await resp.text()).trim();
}

// roleOf reads, for display only, the role a JWT claims on the channel
// (its ably.channel.<channel> claim). The token is not verified here and
// nothing is decided from it: Ably and the workflow do that.
export function roleOf(token, channel) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = new TextDecoder().decode(Uint8Array.from(atob(part.padEnd(Math.ceil(part.length / 4) * 4, '=')), (ch) => ch.charCodeAt(0)));
    const role = JSON.parse(json)[`ably.channel.${channel}`];
    return typeof role === 'string' ? role : '';
  } catch {
    return '';
  }
}
