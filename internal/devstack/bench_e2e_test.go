package devstack

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/internal/temporaltest"
	"github.com/hitl/durable-approvals/internal/testutil"
)

// TestBenchEndToEnd runs the benchmark small, on its own stack, as `devstack
// bench -n 5` and `-n 3 -guide-shaped -kill-worker` do, and checks what it
// counted, never how fast: speed is the benchmark's to report, not a test's
// to assert.
func TestBenchEndToEnd(t *testing.T) {
	cli := temporaltest.CLI(t)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		bc       BenchConfig
		external bool // on a server the bench did not start (-temporal-address)
	}{
		{"workflowId headers, floor", BenchConfig{N: 5, Approvers: 2}, false},
		{"guide-shaped, worker killed while all wait", BenchConfig{N: 3, GuideShaped: true, KillWorker: true}, false},
		{"on a running server", BenchConfig{N: 3}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bc := tt.bc
			bc.Root, bc.TemporalCLI, bc.Timeout = root, cli, 5*time.Minute
			if tt.external {
				bc.TemporalServer, bc.Namespace = temporaltest.StartDevServer(t).FrontendHostPort(), "default"
			}
			var progress testutil.SyncBuffer
			res, err := Bench(t.Context(), bc, &progress)
			if err != nil {
				t.Fatalf("Bench: %v\nprogress:\n%s", err, progress.String())
			}
			if s := res.Server; s.External != tt.external || s.Address == "" || s.Namespace == "" || s.Persistence == "" {
				t.Errorf("server = %+v, want external %v, with its address, namespace and persistence", s, tt.external)
			}
			if tt.external {
				// The worker of the run that just ended polled the agent's
				// task queue seconds ago: a second bench in the same
				// namespace is refused before it starts anything.
				_, err := Bench(t.Context(), bc, io.Discard)
				if err == nil || !strings.Contains(err.Error(), "give the bench a namespace nothing else uses") {
					t.Errorf("second bench in the same namespace: err = %v, want it refused", err)
				}
				bc.Namespace = "no-such-namespace"
				_, err = Bench(t.Context(), bc, io.Discard)
				if err == nil || !strings.Contains(err.Error(), "temporal operator namespace create") {
					t.Errorf("bench in a namespace that does not exist: err = %v, want it refused with the command to create one", err)
				}
			}
			p := res.Product
			if p.Runs != bc.N || p.DecisionToTool.Count != bc.N || p.DecisionToSignal.Count != bc.N {
				t.Errorf("runs %d, decision → tool %d, decision → signal %d; want %d each", p.Runs, p.DecisionToTool.Count, p.DecisionToSignal.Count, bc.N)
			}
			if p.PostsExactlyOnce != bc.N || len(p.PostProblems) > 0 {
				t.Errorf("posts exactly once: %d of %d, problems %q", p.PostsExactlyOnce, bc.N, p.PostProblems)
			}
			if p.EventsMedian == 0 || p.EventsMax < p.EventsMedian || p.WorkerPeakRSS <= 0 || p.BridgePeakRSS <= 0 {
				t.Errorf("events %d / %d, worker RSS %d, bridge RSS %d", p.EventsMedian, p.EventsMax, p.WorkerPeakRSS, p.BridgePeakRSS)
			}
			var toTool bool
			for _, s := range p.Steps {
				toTool = toTool || strings.HasSuffix(s.Step, "ExecuteTool")
			}
			if !toTool {
				t.Errorf("no step ends at ExecuteTool: %+v", p.Steps)
			}
			if bc.KillWorker {
				if res.Floor != nil || p.WorkerPeakRSSBeforeKill <= 0 || p.WorkerRestart <= 0 {
					t.Errorf("kill-worker: floor %v, RSS before the kill %d, restart %s", res.Floor, p.WorkerPeakRSSBeforeKill, p.WorkerRestart)
				}
			} else if res.Floor == nil || res.Floor.SignalToActivity.Count != bc.N || res.Floor.EventsMedian == 0 {
				t.Errorf("floor = %+v, want %d runs", res.Floor, bc.N)
			}
			var md bytes.Buffer
			res.Markdown(&md)
			if !strings.Contains(md.String(), "| decision → tool scheduled, p50 |") {
				t.Errorf("markdown:\n%s", md.String())
			}
			t.Logf("\n%s", md.String())
		})
	}
}
