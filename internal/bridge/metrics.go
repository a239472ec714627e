package bridge

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/hitl/durable-approvals/internal/telemetry"
)

// The bridge's counters, as Prometheus shows them on its /metrics
// (OpenTelemetry adds _total):
//
//	hitl_bridge_decisions_forwarded_total          signalled to their workflow
//	hitl_bridge_decisions_dropped_total{reason}    not forwarded, for good (DropReason*)
//	hitl_bridge_decisions_parked_total{reason}     kept for a retry: temporary or rate_limited
//	hitl_bridge_decisions_signed_total             signed (HITL_DECISION_SIGNING_KEY) before the signal
//
// A decision that two bridges both see is forwarded by one or both (the
// workflow deduplicates) and may be dropped as not_pending by the other.
const (
	MetricForwarded = "hitl_bridge_decisions_forwarded"
	MetricDropped   = "hitl_bridge_decisions_dropped"
	MetricParked    = "hitl_bridge_decisions_parked"
	MetricSigned    = "hitl_bridge_decisions_signed"
)

// Reasons of MetricDropped.
const (
	DropReasonMalformed        = "malformed"          // not a valid approval-response (shape, ids, userClaim)
	DropReasonNoWorkflow       = "no_workflow"        // no single running workflow has the tool call
	DropReasonUnknown          = "unknown_state"      // the approvals query failed for good
	DropReasonNotPending       = "not_pending"        // late or unknown tool call, or announced resolved
	DropReasonDigestMismatch   = "digest_mismatch"    // the approver saw other arguments than the request's
	DropReasonLowRoleRepeat    = "low_role_repeat"    // this approver's insufficient role is already in the audit
	DropReasonRepeat           = "repeat"             // this approver's same decision on the same arguments was already forwarded
	DropReasonTooManyDecisions = "too_many_decisions" // this approver already sent maxDecisionsPerApprover different decisions for the call
	DropReasonSuperseded       = "superseded"         // an approval published before a later rejection by this approver on the call
	DropReasonSignalLimit      = "signal_limit"       // the run refuses every signal: Temporal's limit of signals per run
	DropReasonSignalFailed     = "signal_failed"      // the signal was refused for good
	DropReasonQueueFull        = "queue_full"         // the retry queue was full (the next catch-up replays it)
	DropReasonQueueShareFull   = "queue_share_full"   // the retry queue was half full and the publisher held its share (the next catch-up replays it)
	DropReasonBufferFull       = "buffer_full"        // the live buffer was full (replayed from history once the bridge caught up: replayGap)
	DropReasonBufferShareFull  = "buffer_share_full"  // the live buffer was half full and the publisher had its share waiting (the next catch-up replays it)
)

// Reasons of MetricParked.
const (
	ParkReasonTemporary   = "temporary"
	ParkReasonRateLimited = "rate_limited"
)

// counters are the bridge's counters; the zero value (no meter) counts
// nothing.
type counters struct {
	forwarded, dropped, parked, signed metric.Int64Counter
}

// newCounters makes the counters from m (nil: counts nothing).
func newCounters(m metric.Meter) counters {
	return counters{
		forwarded: telemetry.Counter(m, MetricForwarded, "approval-responses signalled to their workflow"),
		dropped:   telemetry.Counter(m, MetricDropped, "approval-responses not forwarded, by reason"),
		parked:    telemetry.Counter(m, MetricParked, "approval-responses kept for a later retry, by reason"),
		signed:    telemetry.Counter(m, MetricSigned, "decisions signed before forwarding"),
	}
}

func (c counters) countForwarded() { add(c.forwarded) }

func (c counters) countSigned() { add(c.signed) }
func (c counters) countDropped(reason string) {
	add(c.dropped, attribute.String("reason", reason))
}
func (c counters) countParked(reason string) {
	add(c.parked, attribute.String("reason", reason))
}

// parkReason is the MetricParked reason of a Handle error.
func parkReason(err error) string {
	if errors.Is(err, ErrRateLimited) {
		return ParkReasonRateLimited
	}
	return ParkReasonTemporary
}

func add(c metric.Int64Counter, attrs ...attribute.KeyValue) {
	if c == nil {
		return
	}
	c.Add(context.Background(), 1, metric.WithAttributes(attrs...))
}
