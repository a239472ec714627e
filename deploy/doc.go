// Package deploy owns the production-like deployment: docker-compose.yml,
// the Dockerfile and .env.example at the repository root, the Temporal
// setup scripts in deploy/temporal, and the health probe of the distroless
// images (deploy/healthcheck). Its tests load the compose file with
// compose-go and check the wiring, the pins and the health checks, check
// that the Dockerfile builds what compose runs, and build every main.
//
// The package has no non-test code; nothing imports it.
package deploy
