// Package deploy owns the production-like deployment: docker-compose.yml,
// the Dockerfile and .env.example at the repository root, the Temporal
// setup scripts and server config template in deploy/temporal (run by
// compose's jobs and by `devstack prod` alike), and the health probe of the
// distroless images (deploy/healthcheck).
//
// Its test here checks the setup scripts against the workflow's contract.
// The tests that load the compose file with compose-go (wiring, pins,
// health checks, no secret in the file) and check that the Dockerfile
// builds what compose runs live in deploy/composetest, a module of its own
// so that compose-go stays out of the product's module graph; `make test`
// runs both.
//
// The package has no non-test code; nothing imports it.
package deploy
