package reannounce

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/hitl/durable-approvals/internal/testutil"
)

// TestRunCounts: Run counts its sweeps by result and the requests it
// published again.
func TestRunCounts(t *testing.T) {
	r := newKeeperRig(t)
	r.pending.pend("wf-1", "call_1")
	r.pending.pend("wf-2", "call_1")
	r.pending.failing = map[string]bool{"wf-2": true}
	reader, stop := runMetered(t, r)
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
	reader, stop := runMetered(t, r)
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

// runMetered runs r's keeper, sweeping every 20 ms, with its metrics read
// by the returned reader; stop ends it and waits for it.
func runMetered(t *testing.T, r *keeperRig) (*sdkmetric.ManualReader, func()) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	k := r.keeper(nil)
	k.Meter = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); k.Run(ctx, 20*time.Millisecond) }()
	stop := func() {
		cancel()
		<-done
	}
	t.Cleanup(stop)
	return reader, stop
}
