// Package temporaltest runs the project's pinned Temporal CLI dev server
// for tests: it finds the CLI that scripts/install-tools.sh builds into
// .bin/ (or TEMPORAL_CLI), and starts a dev server on spare loopback ports
// with the workflow's search attributes registered. A missing CLI fails
// the test; it is never skipped.
package temporaltest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// EnvCLI names a Temporal CLI binary to use instead of .bin/temporal.
const EnvCLI = "TEMPORAL_CLI"

// CLI returns the absolute path of the Temporal CLI: $TEMPORAL_CLI, or
// .bin/temporal at the module root. It fails the test when it is missing.
func CLI(t testing.TB) string {
	t.Helper()
	path := os.Getenv(EnvCLI)
	if path == "" {
		path = filepath.Join(testutil.ModuleRoot(t), ".bin", "temporal")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("the Temporal CLI is missing (%v): run `make tools` (scripts/install-tools.sh) or set %s", err, EnvCLI)
	}
	return abs
}

// SearchAttributeArgs are the dev server flags that register the
// workflow's search attributes (workflows.SearchAttributeSpecs).
func SearchAttributeArgs() []string {
	var args []string
	for _, spec := range workflows.SearchAttributeSpecs() {
		args = append(args, "--search-attribute", spec)
	}
	return args
}

// StartDevServer starts a dev server with the workflow's search attributes
// (plus extraArgs), in memory, on spare loopback ports. It is stopped when
// the test ends; its output is logged if the test failed.
func StartDevServer(t testing.TB, extraArgs ...string) *testsuite.DevServer {
	t.Helper()
	return startDevServer(t, append(SearchAttributeArgs(), extraArgs...))
}

// StartBareDevServer starts a dev server as `temporal server start-dev`
// makes one: its namespace has none of the workflow's search attributes.
func StartBareDevServer(t testing.TB) *testsuite.DevServer {
	t.Helper()
	return startDevServer(t, nil)
}

func startDevServer(t testing.TB, args []string) *testsuite.DevServer {
	t.Helper()
	logs := &testutil.SyncBuffer{}
	quiet := tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath:  CLI(t),
		ClientOptions: &client.Options{Logger: quiet},
		LogLevel:      "error",
		ExtraArgs:     args,
		Stdout:        logs,
		Stderr:        logs,
	})
	if err != nil {
		t.Fatalf("dev server: %v\n%s", err, logs.String())
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Logf("dev server stop: %v", err)
		}
		if t.Failed() {
			t.Logf("dev server output:\n%s", logs.String())
		}
	})
	return srv
}
