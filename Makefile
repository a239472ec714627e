# Durable human approval for AI agent tool calls.
# `make help` lists the targets.
SHELL := /bin/bash
GO    ?= go
BIN   := $(CURDIR)/.bin
FUZZTIME ?= 10s
export TEMPORAL_CLI := $(BIN)/temporal

.PHONY: help demo up prodstack test tools lint unit fuzz bench record-replay web web-check screenshot

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

# DEVSTACK_FLAGS passes flags to devstack demo and up, such as other ports:
# make demo DEVSTACK_FLAGS="-temporal-port 17233 -ui-port 18233".
demo: ## run the guide's scenario locally, no cloud keys: you approve in this terminal (DEVSTACK_FLAGS="...")
	./scripts/install-tools.sh temporal
	$(GO) run ./devstack demo $(DEVSTACK_FLAGS)

up: ## run the whole stack locally (Temporal, Ably, auth server, worker, bridge) (DEVSTACK_FLAGS="...")
	./scripts/install-tools.sh temporal
	$(GO) run ./devstack up $(DEVSTACK_FLAGS)

# PRODSTACK_FLAGS passes flags to devstack prod (go run ./devstack prod -h):
# make prodstack PRODSTACK_FLAGS="-work /tmp/prod -temporal-port 17233".
prodstack: ## the production topology without Docker: PostgreSQL 15, Temporal server and UI, 2 workers, 2 bridges, auth server (PRODSTACK_FLAGS="...")
	./scripts/install-tools.sh temporal temporal-server temporal-ui
	$(GO) run ./devstack prod $(PRODSTACK_FLAGS)

# COMPOSETEST is a module of its own (compose-go stays out of the product's graph).
COMPOSETEST := deploy/composetest

tools: ## build the pinned Temporal CLI, server, SQL tool, UI server, staticcheck and workflowcheck into .bin, npm ci the ably-js test and the web inbox
	./scripts/install-tools.sh

lint: tools web-check ## gofmt, go vet, staticcheck, workflowcheck (determinism of workflows/), the inbox page's checks
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.bin/*')); \
		if [[ -n "$$out" ]]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(BIN)/staticcheck ./...
	$(BIN)/workflowcheck -config workflows/workflowcheck.config.yaml ./...
	cd $(COMPOSETEST) && $(GO) vet ./... && $(BIN)/staticcheck ./...

unit: tools ## go test -race over every package (end-to-end tests included, e2e/prod needs PostgreSQL 15)
	$(GO) test -race -count=1 -timeout 20m ./...
	cd $(COMPOSETEST) && $(GO) test -race -count=1 -timeout 10m ./...

fuzz: ## run every fuzz target for FUZZTIME (default 10s)
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

test: lint unit fuzz ## every check CI runs: lint, all tests with -race, bounded fuzzing

bench: ## benchmarks of the local Ably server (publish-to-deliver latency, fan-out)
	$(GO) test -run '^$$' -bench . -benchtime 3s ./internal/ablylocal/

.PHONY: bench-approvals
bench-approvals: ## the approval path end to end against the bare Temporal floor (devstack bench; BENCH_FLAGS="-n 1000 -kill-worker")
	./scripts/install-tools.sh temporal
	$(GO) run ./devstack bench $(BENCH_FLAGS)

record-replay: ## record replay histories from real runs on a dev server (RECORD_ARGS="-prefix vN-", the next after the newest; never over existing ones)
	./scripts/install-tools.sh temporal
	$(GO) run ./workflows/internal/recordhistory $(RECORD_ARGS)

# The web inbox's page: an npm project of its own (WEBAPP), built into
# internal/authserver/web/dist, which is committed so that go build needs no
# npm; web-check fails when dist/ is not what the sources build.
WEBAPP := internal/authserver/web/app

web: ## rebuild the web inbox's page (internal/authserver/web/dist) from its sources
	./scripts/install-tools.sh web
	cd $(WEBAPP) && node build.mjs

web-check: ## the inbox page: eslint, node --check, node --test, dist/ up to date
	./scripts/install-tools.sh web
	cd $(WEBAPP) && npx --no-install eslint --max-warnings 0 .
	cd $(WEBAPP) && for f in src/*.js browsertest/*.mjs *.mjs *.js; do node --check "$$f" || exit 1; done
	cd $(WEBAPP) && node --test src/
	cd $(WEBAPP) && node build.mjs --check

screenshot: ## refresh docs/inbox.png (the README's) from the browser test against the real stack
	./scripts/install-tools.sh temporal web
	HITL_INBOX_SCREENSHOT=docs/inbox.png $(GO) test -count=1 -run 'TestInbox$$' ./e2e/
