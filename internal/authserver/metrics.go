package authserver

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/hitl/durable-approvals/internal/telemetry"
)

// The auth server's counters, as Prometheus shows them on its /metrics
// (served on HITL_HEALTH_ADDR; OpenTelemetry adds _total):
//
//	hitl_auth_logins_total                   correct passwords (token endpoint and inbox login)
//	hitl_auth_failed_logins_total{reason}    bad_credentials (answered 401 or 429),
//	                                         throttled (refused 429 without a check: no turn
//	                                         for the user name soon, or no bcrypt check slot
//	                                         in time)
const (
	MetricLogins       = "hitl_auth_logins"
	MetricFailedLogins = "hitl_auth_failed_logins"
)

// Reasons of MetricFailedLogins.
const (
	FailReasonBadCredentials = "bad_credentials"
	FailReasonThrottled      = "throttled"
)

// loginCounters count logins; made from a nil meter they count nothing.
type loginCounters struct {
	logins, failed metric.Int64Counter
}

func newLoginCounters(m metric.Meter) loginCounters {
	return loginCounters{
		logins: telemetry.Counter(m, MetricLogins, "logins with a correct password"),
		failed: telemetry.Counter(m, MetricFailedLogins, "logins refused, by reason"),
	}
}

func (c loginCounters) countLogin() { c.logins.Add(context.Background(), 1) }

func (c loginCounters) countFailed(reason string) {
	c.failed.Add(context.Background(), 1, metric.WithAttributes(attribute.String("reason", reason)))
}
