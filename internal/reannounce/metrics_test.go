package reannounce

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// TestRunCounts: Run counts its sweeps by result and the requests it
// published again.
func TestRunCounts(t *testing.T) {
	r := newKeeperRig(t)
	r.pending.pend("wf-1", "call_1")
	r.pending.pend("wf-2", "call_1")
	r.pending.failing = map[string]bool{"wf-2": true}
	// The interval also bounds each sweep (see TestRunCountsSweepCutShort):
	// at 20 ms a sweep on a loaded machine could run out of it after Ably
	// took wf-1's copy but before the publish returned; uncounted, and
	// in view for every later sweep, it was never counted.
	reader, stop := runMetered(t, r, 500*time.Millisecond, nil)
	// Each sweep publishes wf-1's request again (the copy of the same
	// minute is one message, which the next sweep finds in view) and fails
	// on wf-2's query.
	testutil.Eventually(t, 10*time.Second, "two sweeps counted", func() bool {
		return testutil.CounterSum(t, reader, MetricSweeps, attribute.String("result", "failed")) >= 2
	})
	stop()
	if got := testutil.CounterSum(t, reader, MetricReannounced); got != 1 {
		t.Errorf("%s = %d, want 1 (wf-1's request, once in view)", MetricReannounced, got)
	}
	if got := testutil.CounterSum(t, reader, MetricSweeps, attribute.String("result", "ok")); got != 0 {
		t.Errorf("%s{result=ok} = %d, want 0", MetricSweeps, got)
	}
}

// TestRunCountsSweepCutShort: a sweep cut short by shutdown is not counted
// as a sweep, but the requests it published before are.
func TestRunCountsSweepCutShort(t *testing.T) {
	r := newKeeperRig(t)
	r.pending.pend("wf-1", "call_1")
	r.pending.pend("wf-2", "call_1")
	reader := sdkmetric.NewManualReader()
	k := r.keeper(nil)
	k.Meter = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test")
	ctx, cancel := context.WithCancel(t.Context())
	// The first sweep publishes wf-1's request, then waits on wf-2's query
	// until the shutdown.
	r.pending.blocking, r.pending.blocked, r.pending.release = "wf-2", make(chan struct{}), ctx.Done()
	done := make(chan struct{})
	// The interval also bounds each sweep: at 10 ms a loaded machine (CI,
	// -race) ran out of it before wf-2's query, and that sweep counted as
	// failed before the next one blocked.
	go func() { defer close(done); k.Run(ctx, 500*time.Millisecond) }()
	select {
	case <-r.pending.blocked:
	case <-time.After(10 * time.Second):
		t.Fatal("the sweep never queried wf-2")
	}
	cancel()
	<-done
	if got := testutil.CounterSum(t, reader, MetricReannounced); got != 1 {
		t.Errorf("%s = %d, want 1 (wf-1's request, published before the shutdown)", MetricReannounced, got)
	}
	for _, result := range []string{"ok", "failed"} {
		if got := testutil.CounterSum(t, reader, MetricSweeps, attribute.String("result", result)); got != 0 {
			t.Errorf("%s{result=%s} = %d, want 0: the sweep was cut short", MetricSweeps, result, got)
		}
	}
}

// TestRunCountsClosedResolved: Run counts the requests it resolved for
// runs that ended, by the run's status, once.
func TestRunCountsClosedResolved(t *testing.T) {
	r := newKeeperRig(t)
	r.announce(t, requestData("wf-1", "call_1", 0))
	r.pending.states = map[string]RunState{"wf-1": {RunID: "run-1", Status: statusTerminated}}
	// The interval bounds each sweep: at 20 ms a loaded machine could cut
	// the first one short after Ably took its resolution but before the
	// publish returned; uncounted, and resolved for the next sweeps.
	reader, stop := runMetered(t, r, 500*time.Millisecond, nil)
	testutil.Eventually(t, 10*time.Second, "three sweeps counted", func() bool {
		return testutil.CounterSum(t, reader, MetricSweeps, attribute.String("result", "ok")) >= 3
	})
	stop()
	if got := testutil.CounterSum(t, reader, MetricClosedResolved, attribute.String("status", "terminated")); got != 1 {
		t.Errorf("%s{status=terminated} = %d, want 1 (the first sweep's; the next ones find it resolved)", MetricClosedResolved, got)
	}
	if got := testutil.CounterSum(t, reader, MetricClosedResolved); got != 1 {
		t.Errorf("%s = %d, want 1", MetricClosedResolved, got)
	}
}

// runMetered runs r's keeper, sweeping every interval, with its metrics
// read by the returned reader, and pending instead of the rig's when not
// nil; stop ends it and waits for it.
func runMetered(t *testing.T, r *keeperRig, every time.Duration, pending Pending) (*sdkmetric.ManualReader, func()) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	k := r.keeper(nil)
	if pending != nil {
		k.Pending = pending
	}
	k.Meter = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); k.Run(ctx, every) }()
	stop := func() {
		cancel()
		<-done
	}
	t.Cleanup(stop)
	return reader, stop
}

// stuckPending is fakePending whose describe of one workflow id, or query
// of every run, waits until its context is done (closing blocked when it
// starts waiting).
type stuckPending struct {
	*fakePending
	describe string // the workflow id whose describe waits; "": none
	query    bool   // every query waits
	blocked  chan struct{}
	once     sync.Once
}

func (p *stuckPending) wait(ctx context.Context) error {
	p.once.Do(func() { close(p.blocked) })
	<-ctx.Done()
	return ctx.Err()
}

func (p *stuckPending) CurrentRun(ctx context.Context, workflowID string) (RunState, error) {
	if workflowID == p.describe {
		return RunState{}, p.wait(ctx)
	}
	return p.fakePending.CurrentRun(ctx, workflowID)
}

func (p *stuckPending) Requests(ctx context.Context, run PendingRun) ([]workflows.ApprovalRequestData, error) {
	if p.query {
		return nil, p.wait(ctx)
	}
	return p.fakePending.Requests(ctx, run)
}

// TestRunCountsResolvedBeforeShutdown: a sweep cut short by shutdown
// counts the requests it resolved before, by the run's status.
func TestRunCountsResolvedBeforeShutdown(t *testing.T) {
	r := newKeeperRig(t)
	r.announce(t, requestData("wf-2", "call_1", 0))
	r.announce(t, requestData("wf-1", "call_1", 0)) // read first: resolved first
	r.pending.states = map[string]RunState{"wf-1": {RunID: "run-1", Status: statusTerminated}}
	stuck := &stuckPending{fakePending: r.pending, describe: "wf-2", blocked: make(chan struct{})}
	reader, stop := runMetered(t, r, time.Second, stuck)
	testutil.Eventually(t, 10*time.Second, "wf-2's describe waiting", func() bool {
		select {
		case <-stuck.blocked:
			return true
		default:
			return false
		}
	})
	stop()
	if got := testutil.CounterSum(t, reader, MetricClosedResolved, attribute.String("status", "terminated")); got != 1 {
		t.Errorf("%s{status=terminated} = %d, want 1 (wf-1's, resolved before the shutdown)", MetricClosedResolved, got)
	}
}

// TestRunBoundsEachSweep: a sweep whose query hangs ends when the interval
// has passed, counted as failed, and the keeper goes on sweeping.
func TestRunBoundsEachSweep(t *testing.T) {
	r := newKeeperRig(t)
	r.pending.pend("wf-1", "call_1")
	stuck := &stuckPending{fakePending: r.pending, query: true, blocked: make(chan struct{})}
	reader, _ := runMetered(t, r, 200*time.Millisecond, stuck)
	testutil.Eventually(t, 10*time.Second, "two sweeps counted failed", func() bool {
		return testutil.CounterSum(t, reader, MetricSweeps, attribute.String("result", "failed")) >= 2
	})
}
