// Package e2e holds the end-to-end tests of the whole system. They run the
// real parts on loopback: a Temporal dev server (the pinned CLI built into
// .bin by scripts/install-tools.sh, path in TEMPORAL_CLI), the local Ably
// server, the auth server, the scripted model over the OpenAI Responses API,
// and the worker, bridge and approver CLI as separate processes built from
// this module. The package has no non-test code.
package e2e
