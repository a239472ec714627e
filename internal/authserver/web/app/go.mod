// This directory is the inbox page's npm project (sources, build, lint,
// tests, browser-test driver). This go.mod makes it a module of its own,
// holding no Go code, so that the main module's ./... (go build, go vet,
// staticcheck) never walks into node_modules/, where npm packages may
// ship Go files of their own. The page is built into ../dist, which the
// web package embeds.
module github.com/hitl/durable-approvals/internal/authserver/web/app

go 1.26
