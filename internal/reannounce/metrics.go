package reannounce

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/hitl/durable-approvals/internal/telemetry"
)

// The keeper's counters, as Prometheus shows them on the worker's /metrics
// (OpenTelemetry adds _total):
//
//	hitl_requests_reannounced_total       pending requests published again
//	hitl_reannounce_sweeps_total{result}  sweeps: ok, or failed (a read, a
//	                                      query, a describe or a publish
//	                                      failed; the worker's log says
//	                                      which)
//	hitl_closed_run_requests_resolved_total{status}
//	                                      requests of runs that ended
//	                                      without resolving them, resolved
//	                                      (outcome cancelled), by the run's
//	                                      status: terminated, timed_out,
//	                                      failed, completed, cancelled
const (
	MetricReannounced    = "hitl_requests_reannounced"
	MetricSweeps         = "hitl_reannounce_sweeps"
	MetricClosedResolved = "hitl_closed_run_requests_resolved"
)

// counters are a Keeper's counters.
type counters struct {
	reannounced, sweeps, closedResolved metric.Int64Counter
}

// newCounters makes the counters from m (nil: counts nothing).
func newCounters(m metric.Meter) counters {
	return counters{
		reannounced: telemetry.Counter(m, MetricReannounced, "pending approval requests published again because they left approvers' view"),
		sweeps:      telemetry.Counter(m, MetricSweeps, "sweeps of the keeper of pending requests, by result"),
		closedResolved: telemetry.Counter(m, MetricClosedResolved,
			"approval requests of runs that ended without resolving them, resolved as cancelled by the keeper, by the run's status"),
	}
}

// count records one sweep.
func (c counters) count(res SweepResult, err error) {
	c.published(res.Published)
	c.resolved(res.ResolvedBy)
	result := "ok"
	if err != nil {
		result = "failed"
	}
	c.sweeps.Add(context.Background(), 1, metric.WithAttributes(attribute.String("result", result)))
}

// published records n requests published again.
func (c counters) published(n int) {
	if n > 0 {
		c.reannounced.Add(context.Background(), int64(n))
	}
}

// resolved records the requests resolved for runs that ended, by status.
func (c counters) resolved(by map[string]int) {
	for status, n := range by {
		if n > 0 {
			c.closedResolved.Add(context.Background(), int64(n), metric.WithAttributes(attribute.String("status", status)))
		}
	}
}
