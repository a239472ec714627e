package devstack

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/operatorservice/v1"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/temporaltest"
	"github.com/hitl/durable-approvals/internal/testutil"
)

// startDevServer runs the dev server with args, as Up does, and returns a
// healthy client; both are stopped at cleanup.
func startDevServer(t *testing.T, cfg Config, args []string) (*proc, func()) {
	t.Helper()
	p, err := startProc("temporal", temporaltest.CLI(t), args, os.Environ(), cfg.Root, filepath.Join(cfg.LogDir(), "temporal.log"), true)
	if err != nil {
		t.Fatal(err)
	}
	stop := func() {
		if err := p.Stop(20 * time.Second); err != nil {
			t.Errorf("stop dev server: %v", err)
		}
	}
	return p, stop
}

// customAttributes lists the namespace's custom search attributes, after
// ensureSearchAttributes when ensure is set.
func customAttributes(t *testing.T, ctx context.Context, cfg Config, ensure bool) map[string]string {
	t.Helper()
	tc, err := dialTemporal(ctx, cfg, nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if ensure {
		if err := ensureSearchAttributes(ctx, tc, cfg.Namespace, "delete "+cfg.DBFile()+" to start afresh"); err != nil {
			t.Fatalf("ensureSearchAttributes: %v", err)
		}
	}
	list, err := tc.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: cfg.Namespace})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for name, typ := range list.GetCustomAttributes() {
		out[name] = typ.String()
	}
	return out
}

// TestDevServerRestartKeepsSearchAttributes runs the pinned dev server the
// way Up does: on a new SQLite file, again on the same file (the flags must
// not break a restart), and on a file created without the search
// attributes (ensureSearchAttributes adds them).
func TestDevServerRestartKeepsSearchAttributes(t *testing.T) {
	ctx := t.Context()
	cfg := testConfig(t, config.Env{})
	cfg.Ports.Temporal, cfg.Ports.UI = testutil.FreePort(t), testutil.FreePort(t)
	if err := os.MkdirAll(cfg.LogDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"ApprovalToolCallIDs": "KeywordList", "PendingApprovals": "Int"}
	check := func(step string, got map[string]string) {
		t.Helper()
		for name, typ := range want {
			if !strings.Contains(got[name], typ) {
				t.Errorf("%s: search attribute %s = %q, want %s (all: %v)", step, name, got[name], typ, got)
			}
		}
	}

	_, stop := startDevServer(t, cfg, temporalArgs(cfg))
	check("new database, flags only", customAttributes(t, ctx, cfg, false))
	stop()
	if _, err := os.Stat(cfg.DBFile()); err != nil {
		t.Fatalf("no SQLite file after the first run: %v", err)
	}

	p, stop := startDevServer(t, cfg, temporalArgs(cfg))
	check("restart on the same database", customAttributes(t, ctx, cfg, true))
	select {
	case <-p.Exited():
		t.Fatalf("dev server exited on restart: %v", p.Err())
	default:
	}
	stop()

	bare := testConfig(t, config.Env{})
	bare.Ports = cfg.Ports
	if err := os.MkdirAll(bare.LogDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	args := temporalArgs(bare)
	for i := slices.Index(args, "--search-attribute"); i >= 0; i = slices.Index(args, "--search-attribute") {
		args = slices.Delete(args, i, i+2)
	}
	_, stop = startDevServer(t, bare, args)
	if got := customAttributes(t, ctx, bare, false); got["ApprovalToolCallIDs"] != "" {
		t.Fatalf("a database made without the flags has the attributes: %v", got)
	}
	check("database made without the attributes", customAttributes(t, ctx, bare, true))
	stop()
}

func TestDialTemporalGivesUp(t *testing.T) {
	cfg := testConfig(t, config.Env{})
	cfg.Ports.Temporal = testutil.FreePort(t)
	start := time.Now()
	_, err := dialTemporal(t.Context(), cfg, nil, 500*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "not healthy after") {
		t.Fatalf("dialTemporal = %v, want a timeout", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("gave up after %s", d)
	}
}
