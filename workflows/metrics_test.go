package workflows

import (
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
)

// approvalMetrics is a metrics handler that keeps MetricApprovals by event
// (the workflow's counters; the SDK's own are ignored).
type approvalMetrics struct {
	mu    sync.Mutex
	tags  map[string]string
	n     map[string]int64 // event -> count
	owner *approvalMetrics
}

func newApprovalMetrics() *approvalMetrics { return &approvalMetrics{n: map[string]int64{}} }

func (m *approvalMetrics) root() *approvalMetrics {
	if m.owner != nil {
		return m.owner
	}
	return m
}

func (m *approvalMetrics) WithTags(tags map[string]string) client.MetricsHandler {
	merged := map[string]string{}
	for k, v := range m.tags {
		merged[k] = v
	}
	for k, v := range tags {
		merged[k] = v
	}
	return &approvalMetrics{tags: merged, owner: m.root()}
}

func (m *approvalMetrics) Counter(name string) client.MetricsCounter {
	if name != MetricApprovals {
		return nopCounter{}
	}
	event := m.tags["event"]
	return counterFunc(func(d int64) {
		r := m.root()
		r.mu.Lock()
		defer r.mu.Unlock()
		r.n[event] += d
	})
}

func (m *approvalMetrics) Gauge(string) client.MetricsGauge { return nopGauge{} }
func (m *approvalMetrics) Timer(string) client.MetricsTimer { return nopTimer{} }

func (m *approvalMetrics) get(event string) int64 {
	r := m.root()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[event]
}

type counterFunc func(int64)

func (f counterFunc) Inc(d int64) { f(d) }

type nopCounter struct{}

func (nopCounter) Inc(int64) {}

type nopGauge struct{}

func (nopGauge) Update(float64) {}

type nopTimer struct{}

func (nopTimer) Record(time.Duration) {}

// checkApprovalMetrics: every event of MetricApprovals that has an audit
// kind of the same name counts exactly what the run's audit records
// (ARCHITECTURE.md, "Observability"), whatever the run did. The harness
// checks it after every run that completes.
func checkApprovalMetrics(t *testing.T, m *approvalMetrics, audit []AuditEntry) {
	t.Helper()
	for _, event := range []string{ApprovalEventRequested, AuditApproved, AuditRejected, AuditExpired, AuditCancelled,
		ApprovalEventEscalated, ApprovalEventCounted, ApprovalEventEdited} {
		var want int64
		for _, e := range audit {
			if e.Kind == event {
				want++
			}
		}
		if got := m.get(event); got != want {
			t.Errorf("%s{event=%q} = %d, want %d, as many as the audit has", MetricApprovals, event, got, want)
		}
	}
}
