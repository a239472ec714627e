package prod

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/hitl/durable-approvals/internal/bridge"
	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// TestProduction starts the production topology once and runs the issue's
// scenarios against it, in order: the guide's scenario (with the metrics
// and traces it leaves), two bridges at once, a worker SIGKILLed, the
// Temporal server restarted, PostgreSQL restarted, a bridge stopped. Each
// failure happens with approvals pending, and each approval must then
// complete once: one post, one ledger entry, one ExecuteTool, one
// approval-resolved, one approved audit entry.
func TestProduction(t *testing.T) {
	h := startStack(t)
	step := func(name string, f func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			h.t = t
			f(t)
		})
		h.t = t
	}

	step("the guide's scenario, and the metrics and traces it leaves", func(t *testing.T) {
		// A fresh stack: every product counter starts at zero.
		id := h.startRun(devstackDemoPrompt)
		p := h.waitPending(id)
		checkUI(t, h, id)
		h.guideResponse("publisher", p.ToolCallID, workflows.DecisionApproved)
		c := call{wfID: id, toolCallID: p.ToolCallID, title: "Introducing our new API"}
		h.checkOnce(c)
		if res := h.result(id); !strings.Contains(res.Answer, "[scripted model]") {
			t.Errorf("answer = %q, want the scripted model's", res.Answer)
		}
		checkMetrics(t, h)
		checkTrace(t, h, c)
	})

	step("two bridges at once apply every decision once", func(t *testing.T) {
		bridges := h.st.Bridges()
		before := bridgeCounts(h, bridges)
		calls := h.pendingRuns("Two bridges A", "Two bridges B", "Two bridges C")
		for _, c := range calls {
			h.approve("publisher", c.toolCallID)
		}
		for _, c := range calls {
			h.checkOnce(c)
		}
		// Both bridges saw every decision: each forwarded it or found it
		// no longer pending because the other had.
		after := bridgeCountsOnce(h, bridges, "each bridge to handle every decision", func(b string, c bridgeCount) bool {
			return c.forwarded+c.notPending-before[b].forwarded-before[b].notPending >= float64(len(calls))
		})
		forwarded := 0.0
		for _, b := range bridges {
			seen := after[b].forwarded + after[b].notPending - before[b].forwarded - before[b].notPending
			if seen != float64(len(calls)) {
				t.Errorf("%s handled %v of the %d decisions, want each once (forwarded %v, not pending %v)",
					b, seen, len(calls), after[b].forwarded-before[b].forwarded, after[b].notPending-before[b].notPending)
			}
			forwarded += after[b].forwarded - before[b].forwarded
		}
		if forwarded < float64(len(calls)) {
			t.Errorf("the bridges forwarded %v decisions, want at least %d", forwarded, len(calls))
		}
	})

	step("a worker is SIGKILLed with approvals pending and the other carries on", func(t *testing.T) {
		calls := h.pendingRuns("Killed worker A", "Killed worker B")
		// The victim is the worker that ran the first run's last workflow
		// task: the run sits in its sticky cache.
		i, victim := h.lastWorker(calls[0].wfID)
		pid := h.st.Pid(victim)
		err := h.st.KillWorker(i)
		if status, ok := exitSignal(err); !ok || status != syscall.SIGKILL {
			t.Fatalf("%s (pid %d) ended with %v, want killed by SIGKILL", victim, pid, err)
		}
		t.Logf("%s (pid %d) killed: %v", victim, pid, err)
		for _, c := range calls {
			h.approve("publisher", c.toolCallID)
		}
		for _, c := range calls {
			h.checkOnce(c)
		}
		if h.st.Pid(victim) != 0 {
			t.Fatalf("%s is running again before the runs finished", victim)
		}
		for _, c := range calls {
			if _, w := h.lastWorker(c.wfID); w == victim {
				t.Errorf("%s's last workflow task ran on the killed %s", c.wfID, victim)
			}
		}
		restart(t, func(ctx context.Context) error { return h.st.StartWorker(ctx, i) })
	})

	step("the Temporal server restarts with approvals pending", func(t *testing.T) {
		calls := h.pendingRuns("Server restart A", "Server restart B")
		old := h.st.TemporalPid()
		if err := h.st.StopTemporal(); err != nil {
			t.Fatalf("stop the Temporal server: %v", err)
		}
		down(t, h, "Temporal server", h.st.TemporalAddress())
		// One decision while the server is down: the bridges cannot reach
		// it, park the decision, and forward it once the server is back.
		parked, t0 := h.parkedSoFar(), time.Now()
		h.approve("publisher", calls[0].toolCallID)
		h.waitParked(parked)
		t.Logf("a bridge parked the decision %s after it was sent", time.Since(t0).Round(time.Millisecond))
		restart(t, h.st.StartTemporal)
		if now := h.st.TemporalPid(); now == 0 || now == old {
			t.Fatalf("Temporal server pid %d after the restart, was %d", now, old)
		}
		t.Logf("Temporal server restarted: pid %d -> %d", old, h.st.TemporalPid())
		h.approve("publisher", calls[1].toolCallID)
		t1 := time.Now()
		for _, c := range calls {
			h.checkOnce(c)
		}
		t.Logf("both runs finished %s after the server was back", time.Since(t1).Round(time.Millisecond))
	})

	step("PostgreSQL restarts (fast shutdown, then start) with approvals pending", func(t *testing.T) {
		calls := h.pendingRuns("Database restart A", "Database restart B")
		old, server := h.st.PostgresPid(), h.st.TemporalPid()
		if err := h.st.StopPostgres(); err != nil {
			t.Fatalf("fast shutdown of PostgreSQL: %v", err)
		}
		if !strings.Contains(readLog(t, h, "postgres"), "received fast shutdown request") {
			t.Fatal("PostgreSQL's log does not show a fast shutdown")
		}
		// A decision while the database is down: Temporal cannot record
		// the signal, the bridges park it and forward it later.
		parked, t0 := h.parkedSoFar(), time.Now()
		h.approve("publisher", calls[0].toolCallID)
		h.waitParked(parked)
		t.Logf("a bridge parked the decision %s after it was sent", time.Since(t0).Round(time.Millisecond))
		restart(t, h.st.StartPostgres)
		t.Logf("PostgreSQL restarted: pid %d -> %d", old, h.st.PostgresPid())
		if now := h.st.TemporalPid(); now != server {
			t.Errorf("the Temporal server did not ride out the database restart: pid %d -> %d", server, now)
		}
		h.approve("publisher", calls[1].toolCallID)
		t1 := time.Now()
		for _, c := range calls {
			h.checkOnce(c)
		}
		t.Logf("both runs finished %s after PostgreSQL was back", time.Since(t1).Round(time.Millisecond))
	})

	step("one bridge stops and the other carries on", func(t *testing.T) {
		bridges := h.st.Bridges()
		calls := h.pendingRuns("Bridge stopped A", "Bridge stopped B")
		if err := h.st.StopBridge(0); err != nil {
			t.Fatalf("stop %s: %v", bridges[0], err)
		}
		if h.st.Pid(bridges[0]) != 0 {
			t.Fatalf("%s still runs", bridges[0])
		}
		before := bridgeCounts(h, bridges[1:])
		for _, c := range calls {
			h.approve("publisher", c.toolCallID)
		}
		for _, c := range calls {
			h.checkOnce(c)
		}
		after := bridgeCountsOnce(h, bridges[1:], bridges[1]+" to count the decisions it forwarded", func(b string, c bridgeCount) bool {
			return c.forwarded-before[b].forwarded >= float64(len(calls))
		})
		if got := after[bridges[1]].forwarded - before[bridges[1]].forwarded; got != float64(len(calls)) {
			t.Errorf("%s forwarded %v decisions, want %d", bridges[1], got, len(calls))
		}
		// Back up, the stopped bridge catches up on the channel's history:
		// the decisions it missed change nothing.
		restart(t, func(ctx context.Context) error { return h.st.StartBridge(ctx, 0) })
		testutil.WaitFor(t, stepTimeout, bridges[0]+"'s catch-up", func() (bool, error) {
			return strings.Contains(readLog(t, h, bridges[0]), "catch-up done"), nil
		})
		for _, c := range calls {
			h.checkOnce(c)
		}
	})
}

// devstackDemoPrompt is the guide's prompt.
const devstackDemoPrompt = "Publish the blog post called 'Introducing our new API'"

// restart runs start with the step's bound.
func restart(t *testing.T, start func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	if err := start(ctx); err != nil {
		t.Fatalf("restart: %v", err)
	}
}

// down checks that nothing listens on addr any more.
func down(t *testing.T, h *harness, what, addr string) {
	t.Helper()
	testutil.Eventually(t, 30*time.Second, what+" to stop listening", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr, nil)
		_, err := http.DefaultClient.Do(req)
		return err != nil && strings.Contains(err.Error(), "connection refused")
	})
}

// exitSignal returns the signal that ended a process, from its Wait error.
func exitSignal(err error) (syscall.Signal, bool) {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return 0, false
	}
	status, ok := ee.Sys().(syscall.WaitStatus)
	if !ok || !status.Signaled() {
		return 0, false
	}
	return status.Signal(), true
}

// readLog is the log of a part (worker-1, postgres, ...).
func readLog(t *testing.T, h *harness, part string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(h.st.LogDir(), part+".log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// parkedSoFar is how many decisions the running bridges parked for a
// temporary failure.
func (h *harness) parkedSoFar() float64 {
	h.t.Helper()
	total := 0.0
	for _, b := range h.st.Bridges() {
		if h.st.Pid(b) != 0 {
			total += sum(h.metrics(b), bridge.MetricParked+"_total", "reason="+bridge.ParkReasonTemporary)
		}
	}
	return total
}

// waitParked waits until a bridge parked a decision since before: proof
// that the failure reached the decision path.
func (h *harness) waitParked(before float64) {
	h.t.Helper()
	testutil.Eventually(h.t, stepTimeout, "a bridge to park the decision", func() bool {
		return h.parkedSoFar() > before
	})
}

// lastWorker names the worker that ran the run's last workflow task
// (identity "<pid>@host@" in the history).
func (h *harness) lastWorker(wfID string) (int, string) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it := h.st.Temporal.GetWorkflowHistory(ctx, wfID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	identity := ""
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			h.t.Fatalf("history of %s: %v", wfID, err)
		}
		if a := ev.GetWorkflowTaskStartedEventAttributes(); a != nil {
			identity = a.GetIdentity()
		}
	}
	pid, _, _ := strings.Cut(identity, "@")
	for i, w := range h.st.Workers() {
		if strconv.Itoa(h.st.Pid(w)) == pid {
			return i, w
		}
	}
	h.t.Fatalf("the last workflow task of %s ran on %q, no running worker of the stack", wfID, identity)
	return 0, ""
}

// counts of one bridge.
type bridgeCount struct{ forwarded, notPending, signed float64 }

// bridgeCountsOnce is bridgeCounts once done holds for every bridge's
// counts. A run finishes on the decision one bridge forwarded: the other
// bridge's handling of its copy of the message (and even the counting of
// the forwarding bridge, just after its signal returned) is not ordered
// before anything the test saw of the run. done should hold once each
// bridge has handled what it must, so that the exact counts are checked
// after it.
func bridgeCountsOnce(h *harness, bridges []string, what string, done func(b string, c bridgeCount) bool) map[string]bridgeCount {
	h.t.Helper()
	var out map[string]bridgeCount
	testutil.WaitFor(h.t, 30*time.Second, what, func() (bool, error) {
		out = bridgeCounts(h, bridges)
		for _, b := range bridges {
			if !done(b, out[b]) {
				return false, fmt.Errorf("%s: %+v", b, out[b])
			}
		}
		return true, nil
	})
	return out
}

func bridgeCounts(h *harness, bridges []string) map[string]bridgeCount {
	h.t.Helper()
	out := map[string]bridgeCount{}
	for _, b := range bridges {
		m := h.metrics(b)
		out[b] = bridgeCount{
			forwarded:  sum(m, bridge.MetricForwarded+"_total"),
			notPending: sum(m, bridge.MetricDropped+"_total", "reason="+bridge.DropReasonNotPending),
			signed:     sum(m, bridge.MetricSigned+"_total"),
		}
	}
	return out
}
