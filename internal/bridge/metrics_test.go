package bridge

import (
	"context"
	"testing"

	"github.com/ably/ably-go/ably"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/hitl/durable-approvals/internal/testutil"
)

// TestHandlerCounts: each outcome of Handle adds one to its counter.
func TestHandlerCounts(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(f *fakeTemporal)
		m      *ably.Message
		metric string
		reason string
	}{
		{"forwarded", func(f *fakeTemporal) { f.addWorkflow("wf-1", publishView("publisher"), "call_abc123") }, msg(nil), MetricForwarded, ""},
		{"signed", func(f *fakeTemporal) { f.addWorkflow("wf-1", publishView("publisher"), "call_abc123") }, msg(nil), MetricSigned, ""},
		{"no workflow", func(f *fakeTemporal) {}, msg(nil), MetricDropped, DropReasonNoWorkflow},
		{"not pending", func(f *fakeTemporal) { f.addWorkflow("wf-1", publishView("publisher"), "call_abc123") },
			msg(func(m *ably.Message) {
				m.Extras["headers"] = map[string]any{"toolCallId": "call_zzz999", "workflowId": "wf-1"}
			}), MetricDropped, DropReasonNotPending},
		{"malformed", func(f *fakeTemporal) {}, msg(func(m *ably.Message) { m.Extras = nil }), MetricDropped, DropReasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			f := newFakeTemporal()
			tt.setup(f)
			log, _ := logBuffer(t)
			h := fastHandler(f, log)
			h.Meter = mp.Meter("test")
			if err := h.Handle(context.Background(), tt.m); err != nil {
				t.Fatal(err)
			}
			if got := counted(t, reader, tt.metric, tt.reason); got != 1 {
				t.Fatalf("%s{reason=%q} = %d, want 1", tt.metric, tt.reason, got)
			}
		})
	}
}

// counted is the sum of a counter's series with the given reason ("": all
// its series, for a counter without one).
func counted(t *testing.T, r *sdkmetric.ManualReader, name, reason string) int64 {
	t.Helper()
	if reason == "" {
		return testutil.CounterSum(t, r, name)
	}
	return testutil.CounterSum(t, r, name, attribute.String("reason", reason))
}

// meterOn makes h count into a reader the test reads.
func meterOn(h *Handler) *sdkmetric.ManualReader {
	r := sdkmetric.NewManualReader()
	h.Meter = sdkmetric.NewMeterProvider(sdkmetric.WithReader(r)).Meter("test")
	return r
}

// wantCounted checks a counter's series with the given reason.
func wantCounted(t *testing.T, r *sdkmetric.ManualReader, name, reason string, want int64) {
	t.Helper()
	if got := counted(t, r, name, reason); got != want {
		t.Errorf("%s{reason=%q} = %d, want %d", name, reason, got, want)
	}
}
