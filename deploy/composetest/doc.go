// Package composetest checks docker-compose.yml and the Dockerfile. It
// loads the compose file with compose-go, the library Docker Compose itself
// uses, and checks the wiring, the pins, the health checks and that no
// secret is in the file; it checks that the Dockerfile builds what compose
// runs, and builds every main. It is a module of its own so that compose-go
// and its YAML and TOML libraries stay out of the product's module graph;
// `make test` runs it.
package composetest
