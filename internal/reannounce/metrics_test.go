package reannounce

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/hitl/durable-approvals/internal/testutil"
)

// TestRunCounts: Run counts its sweeps by result and the requests it
// published again.
func TestRunCounts(t *testing.T) {
	r := newKeeperRig(t)
	r.pending.pend("wf-1", "call_1")
	r.pending.pend("wf-2", "call_1")
	r.pending.failing = map[string]bool{"wf-2": true}
	reader := sdkmetric.NewManualReader()
	k := r.keeper(nil)
	k.Meter = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); k.Run(ctx, 20*time.Millisecond) }()
	// Each sweep publishes wf-1's request again (the copy of the same
	// minute is one message, which the next sweep finds in view) and fails
	// on wf-2's query.
	testutil.Eventually(t, 10*time.Second, "two sweeps counted", func() bool {
		return sum(t, reader, MetricSweeps, "failed") >= 2
	})
	cancel()
	<-done
	if got := sum(t, reader, MetricReannounced, ""); got != 1 {
		t.Errorf("%s = %d, want 1 (wf-1's request, once in view)", MetricReannounced, got)
	}
	if got := sum(t, reader, MetricSweeps, "ok"); got != 0 {
		t.Errorf("%s{result=ok} = %d, want 0", MetricSweeps, got)
	}
}

// sum reads a counter's series with the given result ("": all of them).
func sum(t *testing.T, r *sdkmetric.ManualReader, name, result string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				if v, ok := dp.Attributes.Value(attribute.Key("result")); result == "" || ok && v.AsString() == result {
					n += dp.Value
				}
			}
		}
	}
	return n
}
