// Package ablylocal owns the project's local Ably-protocol server: a single
// in-memory process that speaks enough of Ably's realtime (WebSocket, JSON
// and msgpack) and REST protocols for the real ably-go and ably-js clients
// to work offline, under Ably's auth rules: HS256 JWTs signed with an API
// key, Basic key auth, capabilities, clientId enforcement and the
// server-stamped extras.userClaim that approvals rely on.
//
// It owns connection state (resume within the connection-state TTL),
// per-channel message retention (history, rewind; a re-attach's replay
// only within Ably's resume window) and the
// `devstack ably` command (RunCommand). It does not own the approval
// contract: callers use ablyconn and workflows for that.
package ablylocal
