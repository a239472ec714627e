package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/internal/testutil"
)

// TestApplyProcessLimits: the worker sets the SDK's sticky cache to
// HITL_WORKFLOW_CACHE, and the runtime's soft memory limit to its 256 MiB
// unless GOMEMLIMIT set one (MemoryLimit 0), which it leaves alone.
func TestApplyProcessLimits(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		wantLimit int64 // -1: not set
	}{
		{"the worker's limit", Config{WorkflowCache: 1000, MemoryLimit: DefaultMemoryLimit}, DefaultMemoryLimit},
		{"GOMEMLIMIT's", Config{WorkflowCache: 7, MemoryLimit: 0}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cache, limit := -1, int64(-1)
			applyProcessLimits(tt.cfg, func(n int) { cache = n }, func(n int64) int64 { limit = n; return 0 })
			if cache != tt.cfg.WorkflowCache {
				t.Errorf("sticky cache set to %d, want %d", cache, tt.cfg.WorkflowCache)
			}
			if limit != tt.wantLimit {
				t.Errorf("memory limit set to %d, want %d (-1: left alone)", limit, tt.wantLimit)
			}
		})
	}
}

// TestWorkerStopTimeout: a stopping worker waits for the tasks under way,
// stopTimeout for each of the SDK's three parts in turn, which must end
// before the supervisor's SIGKILL (compose's stop_grace_period).
func TestWorkerStopTimeout(t *testing.T) {
	compose, err := os.ReadFile(filepath.Join(testutil.ModuleRoot(t), "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^    stop_grace_period: (\S+)$`).FindSubmatch(compose)
	if m == nil {
		t.Fatal("docker-compose.yml: no stop_grace_period")
	}
	grace, err := time.ParseDuration(string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		ok   func(d time.Duration) bool
	}{
		{"waits for the tasks under way", func(d time.Duration) bool { return d > 0 }},
		{"all three parts within " + grace.String(), func(d time.Duration) bool { return 3*d < grace }},
	} {
		if d := workerOptions(nil).WorkerStopTimeout; !tt.ok(d) {
			t.Errorf("WorkerStopTimeout %s: %s does not hold", d, tt.name)
		}
	}
}
