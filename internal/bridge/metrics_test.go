package bridge

import (
	"context"
	"errors"
	"testing"

	"github.com/ably/ably-go/ably"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/api/serviceerror"

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

// TestSignedCountsEachHandling: a decision is signed each time the bridge
// tries to forward it, so a decision whose signal failed for a while and
// was forwarded on a retry counts once in forwarded and more than once in
// signed: signed is at least forwarded, equal only while nothing is
// retried (a bridge that forwarded unsigned decisions would show fewer
// signed).
func TestSignedCountsEachHandling(t *testing.T) {
	f := newFakeTemporal()
	f.addWorkflow("wf-1", publishView("publisher"), "call_abc123")
	down := serviceerror.NewUnavailable("down")
	f.signalErrs = []error{down, down, down} // the handler's three attempts
	h := fastHandler(f, nil)
	reader := meterOn(h)
	if err := h.Handle(t.Context(), msg(nil)); !errors.Is(err, ErrTemporary) {
		t.Fatalf("Handle with Temporal down = %v, want ErrTemporary", err)
	}
	if err := h.Handle(t.Context(), msg(nil)); err != nil { // the retry of the parked message
		t.Fatalf("Handle once Temporal is back = %v", err)
	}
	wantCounted(t, reader, MetricForwarded, "", 1)
	wantCounted(t, reader, MetricSigned, "", 2)
}
