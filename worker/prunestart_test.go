package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/internal/testutil"
)

// TestStartPruner: HITL_LEDGER_KEEP=0 keeps tool results for ever, so no
// pruner runs, not even one that would find every result old; a keep
// starts one, which removes a result of a run Temporal does not know, and
// its stop waits for it.
func TestStartPruner(t *testing.T) {
	tests := []struct {
		name        string
		keep        time.Duration
		wantRemoved bool
	}{
		{"keep for ever", 0, false},
		// Below what Validate allows, so that the result written just
		// before is old.
		{"keep a nanosecond", time.Nanosecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			blog, _, publish := blogWithPublish(t, dir)
			publish("wf-gone")
			ledgerDir := filepath.Join(dir, ".ledger")
			entries := func() int {
				es, err := os.ReadDir(ledgerDir)
				if err != nil {
					t.Fatal(err)
				}
				return len(es)
			}
			if n := entries(); n != 1 {
				t.Fatalf("ledger: %d entries, want 1", n)
			}
			var asked atomic.Int64
			unknown := func(context.Context, string) (bool, error) { asked.Add(1); return false, nil }
			stop := startPruner(t.Context(), Config{LedgerKeep: tt.keep}, blog, unknown, time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
			t.Cleanup(stop)
			if tt.wantRemoved {
				testutil.Eventually(t, 10*time.Second, "the old result of an unknown run removed", func() bool { return entries() == 0 })
			} else {
				testutil.Consistently(t, 300*time.Millisecond, "no pruner asking Temporal, the result kept", func() bool { return asked.Load() == 0 && entries() == 1 })
			}
			stop()
			n := asked.Load()
			// Stopped and waited for: it asks nothing more.
			testutil.Consistently(t, 50*time.Millisecond, "a stopped pruner asking nothing", func() bool { return asked.Load() == n })
		})
	}
}
