// Package authserver owns approver authentication: the users file (names,
// roles and bcrypt password hashes, never plain-text passwords), the HTTP
// endpoint GET/POST /api/auth/token that checks HTTP Basic credentials and
// issues a short-lived Ably JWT whose ably.channel.<channel> claim carries
// the approver's role (Ably copies it into extras.userClaim of everything
// the approver publishes), and the limits on guessing in front of it.
//
// Tokens live at most MaxTokenTTL (1h). Removing a user from the users file
// or demoting them takes effect at their next token request (ably-go asks
// before the current token expires), so within the token TTL; a token
// already issued stays valid until it expires. The JWT is least privilege:
// the approvals channel only, with history, publish and subscribe, and the
// approver's own name as clientId. Tokens are signed with
// ablyconn.SignToken, the same signer the trusted programs use.
//
// # The web approval inbox
//
// The same server serves the approvers' web inbox under / (InboxPath):
// the login form, and for a logged-in browser the page whose script (the
// web package: ably-js bundled at build time) connects to Ably with the
// user's own JWT through authCallback, so every decision it publishes
// carries that user's clientId and userClaim. The page is told the
// channel, the agent's clientId (Config.AgentClientID) and the role
// hierarchy through data attributes; the role it shows is for display:
// nothing the page or this server says about a role is trusted, the
// workflow checks userClaim against its policy.
//
//   - POST /login checks the form under exactly the limits of HTTP Basic
//     below (checkLogin: one code path, shared counters); a form with an
//     empty name or password is refused unchecked and uncounted, as a
//     request without credentials is (no stored password is empty, and
//     the page's fields require both), where HTTP Basic's "name:" is a
//     failed login, checked and counted (TestEmptyPasswordCount). It then
//     starts a
//     session: a random id in a cookie that is HttpOnly, SameSite=Strict,
//     Secure (then also __Host- prefixed) unless the server serves plain
//     HTTP on loopback with no trusted proxy (Config.TrustedProxies: a
//     proxy in front, which terminates TLS), path /, and ends with the browser session or
//     Config.SessionTTL (default 12 h). Sessions live in memory (a restart
//     logs everyone out), at most 16 per user and 10,000 in all.
//   - The token endpoint accepts that cookie instead of Basic credentials,
//     with the session's CSRF token in the X-CSRF-Token header. Each token
//     reads the user from the users file again: a removed user gets 401,
//     and so does a user whose entry got a new password hash (any useradd,
//     even to change only the role) since the login; a role edited in the
//     file alone applies to the next token.
//   - POST /logout, with the session's CSRF token, ends the session.
//   - Cross-site requests are refused twice over (csrf.go): net/http's
//     CrossOriginProtection in front of every route, and a CSRF token on
//     every state-changing request (the login form's is a double-submit
//     cookie).
//   - Every page and file carries a strict Content-Security-Policy
//     (csp.go): scripts, styles and images from this origin only, nothing
//     inline, Trusted Types required, and connect-src limited to this
//     origin and the configured Ably endpoint (Config.AblyEndpoint, or
//     Ably's own hosts).
//
// # Rules and limits
//
// With the defaults (Config documents each knob):
//
//   - Per client address, only failed logins count: 20 a minute for all
//     names together, 5 a minute per (user name, address) pair. Beyond
//     either, a failed login is answered 429 with Retry-After instead of
//     401. A correct password is always checked and never refused for
//     them: behind a shared address (a NAT, or a proxy that is not a
//     trusted proxy) the failures may be someone else's. A request without
//     credentials is a challenge (401), never counted.
//   - Per user name, from all addresses together, password checks are
//     capped (nameGate): after 5 failures in a minute the name's checks run
//     one after another, 1 s, 2 s, 3 s, 4 s and then 5 s apart, so at most
//     19 a minute (about 27,000 a day) whatever the number of addresses or
//     parallel requests. A login that cannot get a turn within 5 s gets 429
//     with Retry-After, without a check. The addresses that logged in as
//     the name in the last 7 days (up to 8 per name, in memory) have a queue
//     of their own with the same cap, so a flood of guesses from elsewhere
//     delays the approver at such an address by at most 5 s. From a new
//     address, an approver whose name is being guessed right now may get
//     429 until the guessing pauses: that is the price of a hard cap.
//     Invalid names (not [a-z0-9._-]) are not tracked per name; they always
//     fail and count per address.
//   - The client address is the TCP peer, or, when the peer is a trusted
//     proxy (Config.TrustedProxies), the right-most X-Forwarded-For entry
//     that is not one. IPv6 addresses count per /64.
//   - Every password check, whatever the name, compares one bcrypt hash
//     at each cost the users file holds, in ascending order of cost: for
//     an existing user the hash at its cost is its own, every other one
//     (all of them for an unknown name) is a dummy hash of a random
//     password (passwordCheck). The bcrypt work, nearly all of a check's
//     time, is the same for every name, so timing does not tell whether a
//     user exists, whatever costs the file mixes. A file of one cost (what
//     useradd writes) needs one comparison a check; a file that mixes
//     costs needs one per cost, in all less than twice one at its highest
//     cost, and loading it logs a warning with how many hashes are below
//     the highest cost. At most 2×GOMAXPROCS checks run at once, at most
//     half of them from one client address: its other checks wait their
//     turn even while slots are free, so a flood from one address leaves
//     slots to everyone else, and logins from one shared address take
//     turns (hashSlots). A check that gets no turn within 3 s, or beyond
//     64 waiting from its address, is answered 429 with Retry-After
//     without a check: a correct password is refused for load, never for
//     the address's failures.
//   - Logs name a login's user name only when it is a user's; an unknown
//     one appears as a keyed hash (a password typed into the name field
//     stays out of the log), an invalid one as "(invalid)".
//   - ListenAndServe serves TLS, or plain HTTP on loopback. Off loopback,
//     plain HTTP needs Config.AllowPlaintext (a TLS-terminating proxy is in
//     front) and Config.TrustedProxies naming it: behind an unlisted proxy
//     every login would share the proxy's address (CheckTransport).
//   - New passwords (AddUser, so `authserver useradd`) need at least
//     MinPasswordLen (12) characters, 8 of them besides the user name, 5
//     different ones, not only white space, at most MaxPasswordLen (72)
//     bytes, and must not be one of the 308 common passwords of
//     commonpasswords.txt, compared without case. Users already in the
//     file keep their passwords: only hashes are stored.
//   - No user may be named like a trusted program's Ably clientId: the
//     defaults workflows.DefaultAgentClientID and DefaultBridgeClientID
//     always, plus the configured ones (Config.Reserved, from
//     HITL_AGENT_CLIENT_ID and HITL_BRIDGE_CLIENT_ID). AddUser refuses such
//     a name; a users file that holds one is refused at start and on
//     reload, and the error names the userdel that removes it. User names
//     are [a-z0-9._-], so a trusted clientId with a ':' is never a user's.
//   - A users file that group or others can write is refused (fail
//     closed), as is one that does not parse; it is re-read when it changes.
//
// # Files
//
// One file per idea: config.go (Config, its defaults and validation),
// server.go (the HTTP server and the token handler), credentials.go (the
// one password check behind every login, with its limits), userstore.go
// (the users file as the running server sees it: reload on change, fail
// closed, the dummy hashes), users.go (the users file format, its rules,
// AddUser and DeleteUser), commonpasswords.go (the embedded list),
// ratelimit.go (failure counts per address and the client address),
// hashslots.go (the bcrypt slots, per address and in all),
// namegate.go (the cap per user name), basic.go (HTTP Basic parsing),
// inbox.go (the inbox's routes: pages, login, logout, token by session,
// files), session.go (the session store), csrf.go (cookies and the CSRF
// layers) and csp.go (the Content-Security-Policy and security headers).
// The page itself (templates, script, style sheet) is package web.
//
// The package must not import workflows internals beyond its exported
// contract, nor any Temporal or OpenAI client: it runs in the approver-facing
// auth server and in-process in the dev stack and end-to-end tests.
package authserver
