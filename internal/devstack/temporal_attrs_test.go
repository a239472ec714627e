package devstack

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/testutil"
)

// TestEnsureSearchAttributesOnAServer: on a namespace that has the
// attributes ensureSearchAttributes adds nothing (so Up does not restart
// the dev server), and one with an attribute of another type is an error
// that names it and says how to start afresh.
func TestEnsureSearchAttributesOnAServer(t *testing.T) {
	otherType := func(c Config) []string {
		args := temporalArgs(c)
		i := slices.Index(args, "PendingApprovals=Int")
		if i < 0 {
			t.Fatalf("no PendingApprovals=Int in %q", args)
		}
		args[i] = "PendingApprovals=Keyword"
		return args
	}
	for _, tt := range []struct {
		name    string
		args    func(Config) []string
		wantErr string // "": none, and nothing added
	}{
		{"all there", temporalArgs, ""},
		{"one of another type", otherType, "search attribute PendingApprovals is "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, config.Env{})
			cfg.Ports.Temporal, cfg.Ports.UI = testutil.FreePort(t), testutil.FreePort(t)
			if err := os.MkdirAll(cfg.LogDir(), 0o700); err != nil {
				t.Fatal(err)
			}
			_, stop := startDevServer(t, &cfg, tt.args)
			defer stop()
			tc, err := dialTemporal(t.Context(), cfg, nil, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			defer tc.Close()
			added, err := ensureSearchAttributes(t.Context(), tc, cfg.Namespace, "start afresh")
			if tt.wantErr == "" {
				if err != nil || added {
					t.Errorf("ensureSearchAttributes = added %v, %v; want nothing added", added, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasSuffix(err.Error(), " (start afresh)") {
				t.Errorf("ensureSearchAttributes = %v, want %q, saying how to start afresh", err, tt.wantErr)
			}
		})
	}
}
