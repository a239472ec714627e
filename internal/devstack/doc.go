// Package devstack runs the whole system on one machine with no cloud
// accounts, for `go run ./devstack`: the pinned Temporal CLI dev server (on
// a SQLite file, so pending approvals survive a restart), the local Ably
// server, the auth server and the scripted model in process, and the
// worker and the bridge as child processes built from this module. It
// waits for each part to be healthy, re-announces the approval requests
// still pending in Temporal (the local Ably server keeps no history across
// restarts), prints how to reach each part, and stops everything in order.
//
// Run is the entry point of the up, demo and env commands; Up starts a
// Stack that tests can drive directly.
//
// The prod command (RunProd; ProdUp starts a ProdStack that e2e/prod
// drives) runs the production topology without Docker, from the files
// prod*.go: PostgreSQL in a temporary data directory as an unprivileged
// user, the pinned Temporal server, SQL tool and UI server built from the
// Go module proxy, the schemas and namespace set up by the scripts compose
// runs (deploy/temporal), the server configured by the template compose
// mounts, the auth server, and several workers and bridges, each with the
// variables compose gives the service (ProdServices). It can stop, kill and
// restart each part.
//
// The command's own main (devstack/) only dispatches.
package devstack
