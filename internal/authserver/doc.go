// Package authserver owns approver authentication: the users file (names,
// roles and bcrypt password hashes, never plain-text passwords), the HTTP
// endpoint GET/POST /api/auth/token that checks HTTP Basic credentials and
// issues a short-lived Ably JWT whose ably.channel.<channel> claim carries
// the approver's role (Ably copies it into extras.userClaim of everything
// the approver publishes), and the failure rate limiting in front of it.
//
// Tokens live at most MaxTokenTTL (1h). Removing a user from the users file
// or demoting them takes effect at their next token request (ably-go asks
// before the current token expires), so within the token TTL; a token
// already issued stays valid until it expires.
//
// Failed logins are limited per client address and per (user name, client
// address); both refuse with 429. Per user name, from all addresses
// together, password checks are capped (nameGate): after 5 failures in a
// minute, the name's checks run one after another, 1 s, 2 s, … and then 5 s
// apart, so at most 19 a minute whatever the number of addresses or
// parallel requests; a login that cannot get a turn within 5 s gets 429 and
// Retry-After. The addresses that logged in as the name in the last 7 days
// (up to 8, kept in memory) have a queue of their own, so a flood of
// guesses from elsewhere delays the approver at home by at most 5 s; from a
// new address, an approver whose name is being guessed right now may get
// 429 until the guessing stops. The client address is the TCP
// peer, or, behind a configured trusted proxy, the right-most untrusted
// X-Forwarded-For entry. Unknown users cost one bcrypt comparison against
// a dummy hash of the users file's highest cost. A users file that group or
// others can write is refused (fail closed). ListenAndServe serves TLS, or
// plain HTTP only on loopback unless explicitly allowed; off loopback,
// allowed plain HTTP also needs a trusted proxy (CheckTransport), since
// behind an unlisted proxy every login would share the proxy's address.
//
// New passwords (AddUser, so `authserver useradd`) need at least
// MinPasswordLen (12) characters, at most MaxPasswordLen (72) bytes, and
// must not be one of the 308 common passwords embedded from
// commonpasswords.txt, compared without case. Users already in the file
// keep their passwords: only hashes are stored, so old rules cannot be
// re-checked.
//
// No user may be named like a trusted program's Ably clientId: the
// defaults workflows.DefaultAgentClientID and DefaultBridgeClientID always,
// plus the configured ones (Config.Reserved, from HITL_AGENT_CLIENT_ID and
// HITL_BRIDGE_CLIENT_ID). AddUser refuses such a name; a users file that
// holds one is refused at start and on reload, with the userdel that
// removes it named in the error (DeleteUser can remove it). User names are
// [a-z0-9._-], so a trusted clientId with a ':' can never be a user's.
//
// The JWT is least privilege: the approvals channel only, with history,
// publish and subscribe, and the approver's own name as clientId. Tokens are
// signed with ablyconn.SignToken, the same signer the trusted programs use.
//
// One file per idea: config.go (Config, its defaults and validation),
// server.go (the HTTP server and the token handler), userstore.go (the users
// file as the running server sees it: reload on change, fail closed, the
// dummy hash), users.go (the users file format, its rules, AddUser and
// DeleteUser), ratelimit.go (failure limits and the client address) and
// basic.go (HTTP Basic parsing).
//
// The package must not import workflows internals beyond its exported
// contract, nor any Temporal or OpenAI client: it runs in the approver-facing
// auth server and in-process in the dev stack and end-to-end tests.
package authserver
