// Package composetest checks docker-compose.yml and the Dockerfile. It
// loads the compose file with compose-go, the library Docker Compose itself
// uses, and checks the wiring, the pins, the health checks and that no
// secret is in the file; it checks that the Dockerfile builds what compose
// runs, and builds every main. It keeps compose true to the production
// stack that `devstack prod` runs and e2e/prod tests: each service has
// exactly the variables internal/devstack.ProdServices lists, the one-shot
// jobs run the same deploy/temporal scripts, the server renders the same
// config template, and the images carry the versions tools.env pins (and
// the PostgreSQL major the stack runs). It is a module of its own so that
// compose-go and its YAML and TOML libraries stay out of the product's
// module graph; `make test` runs it. It imports the product module (a
// replace of ../..) for that description; the product never imports it.
package composetest
