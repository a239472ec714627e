// Package ablyjs owns the interoperability test between the real npm
// "ably" v2 JavaScript client (pinned in package.json / package-lock.json)
// and the project's local Ably-protocol server, internal/ablylocal, with the
// real ably-go client on the other side of the channel.
//
// The Go test starts ablylocal and a JWT-issuing HTTP helper on 127.0.0.1,
// runs interop.mjs under Node (which prints JSON lines of what ably-js
// received) and checks both directions of the approval message flow in JSON
// and msgpack: JWT auth through authCallback, extras.headers surviving,
// extras.userClaim stamped from the JWT and never from the client, object
// data decoding, echo=false, capability errors, history({untilAttach:
// true}) with paging, rejection of bad JWTs, connection recovery
// (recover.mjs), and (fidelity.mjs) a new connection key on resume, 40031
// for duplicate ids in one publish, and native tokens from TokenRequests.
//
// It needs Node >= 20 and `npm ci --prefix interop/ablyjs`; without them the
// test fails (it never skips). The package has no non-test code.
package ablyjs
