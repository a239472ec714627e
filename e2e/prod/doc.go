// Package prod holds the end-to-end tests of the production topology, run
// for real without Docker by internal/devstack (ProdUp): PostgreSQL 15 in a
// temporary directory, the pinned Temporal server on it (schemas and
// namespace set up by compose's own scripts in deploy/temporal), the Web UI
// server, the auth server, two workers and two bridges as separate
// processes, with the local Ably server and the scripted model in place of
// the cloud services. The tests break each part (SIGKILL a worker, restart
// the Temporal server, fast-shutdown and restart PostgreSQL, stop a bridge)
// while approvals are pending and count that every tool ran once and every
// decision was applied once; they scrape /metrics and read the trace files.
//
// Every prerequisite (PostgreSQL, the pinned builds of scripts/install-tools.sh)
// missing fails the tests; nothing is skipped. Tests talk to loopback only.
// The package has no non-test code.
package prod
