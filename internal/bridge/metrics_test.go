package bridge

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/api/serviceerror"

	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
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

// TestDropReasonsCounted: each reason of MetricDropped that
// ARCHITECTURE.md lists for the handler counts the response it drops, and
// only under that reason. steps run before the counted response, last.
func TestDropReasonsCounted(t *testing.T) {
	digest := workflows.ArgumentsDigest(`{"title":"x"}`)
	approve := decision{who: "alice", decision: workflows.DecisionApproved}
	later := func(d decision, at time.Duration) decision { d.at = at; return d }
	tests := []struct {
		name     string
		required string
		setup    func(h *Handler, f *fakeTemporal)
		steps    []decision // the last one is dropped
		reason   string
	}{
		{name: "announced resolved", required: "publisher", setup: func(h *Handler, _ *fakeTemporal) {
			h.requests = newRequests(workflows.DefaultAgentClientID, 10)
			h.requests.apply(requestFrom(workflows.DefaultAgentClientID, "call_abc123", "wf-1", time.Now().Add(time.Hour)))
			h.requests.apply(resolvedFrom(workflows.DefaultAgentClientID, "call_abc123", "wf-1"))
		}, steps: []decision{approve}, reason: DropReasonNotPending},
		{name: "the approvals query refused", required: "publisher", setup: func(_ *Handler, f *fakeTemporal) {
			f.queryErr = serviceerror.NewQueryFailed("unknown queryType")
		}, steps: []decision{approve}, reason: DropReasonUnknown},
		{name: "another digest", required: "publisher",
			steps: []decision{{who: "alice", decision: workflows.DecisionApproved, digest: workflows.ArgumentsDigest(`{"title":"y"}`)}}, reason: DropReasonDigestMismatch},
		{name: "a low role again", required: "admin", steps: []decision{approve, approve}, reason: DropReasonLowRoleRepeat},
		{name: "the same decision again", required: "publisher", steps: []decision{approve, approve}, reason: DropReasonRepeat},
		{name: "an approval before a later rejection", required: "publisher",
			steps: []decision{later(decision{who: "alice", decision: workflows.DecisionRejected}, time.Minute), approve}, reason: DropReasonSuperseded},
		{name: "too many different decisions", required: "publisher",
			steps: differentApprovals(maxDecisionsPerApprover+1, digest), reason: DropReasonTooManyDecisions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeTemporal()
			f.addWorkflow("wf-1", publishView(tt.required), "call_abc123")
			f.workflows["wf-1"].view.Pending[0].ArgumentsDigest = digest
			log, logs := logBuffer(t)
			h := fastHandler(f, log)
			if tt.setup != nil {
				tt.setup(h, f)
			}
			reader := meterOn(h)
			for i, d := range tt.steps {
				if err := h.Handle(t.Context(), d.msg(i)); err != nil {
					t.Fatalf("decision %d: %v", i, err)
				}
			}
			if got := counted(t, reader, MetricDropped, ""); got != 1 {
				t.Fatalf("%d responses dropped, want 1:\n%s", got, logs())
			}
			wantCounted(t, reader, MetricDropped, tt.reason, 1)
		})
	}
}
