package telemetry

import (
	"context"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/hitl/durable-approvals/internal/testutil"
)

func TestCounter(t *testing.T) {
	Counter(nil, "hitl_test", "counts nothing").Add(context.Background(), 1) // no meter: no panic
	r := sdkmetric.NewManualReader()
	Counter(sdkmetric.NewMeterProvider(sdkmetric.WithReader(r)).Meter("test"), "hitl_test", "a test counter").Add(context.Background(), 3)
	if got := testutil.CounterSum(t, r, "hitl_test"); got != 3 {
		t.Errorf("counted %d, want 3", got)
	}
}
