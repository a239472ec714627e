package authserver

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/hitl/durable-approvals/internal/testutil"
)

// TestLoginCounts: the counters README's "What to monitor" names for the
// auth server move as ARCHITECTURE.md says: a correct password counts a
// login; a wrong one counts bad_credentials, answered 401 and, over the
// failure limit, 429 (it was checked); a login refused without a check
// (no turn for the user name) counts throttled.
func TestLoginCounts(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	s, clock, _ := newTestServer(t, func(c *Config) {
		c.Meter = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test")
	})
	s.sleep = func(context.Context, time.Duration) error { return nil }
	h := s.Handler()
	counts := func() (logins, bad, throttled int64) {
		return testutil.CounterSum(t, reader, MetricLogins),
			testutil.CounterSum(t, reader, MetricFailedLogins, attribute.String("reason", FailReasonBadCredentials)),
			testutil.CounterSum(t, reader, MetricFailedLogins, attribute.String("reason", FailReasonThrottled))
	}
	want := func(step string, logins, bad, throttled int64) {
		t.Helper()
		l, b, th := counts()
		if l != logins || b != bad || th != throttled {
			t.Fatalf("%s: logins %d, bad_credentials %d, throttled %d; want %d, %d, %d", step, l, b, th, logins, bad, throttled)
		}
	}

	if code := doToken(t, h, http.MethodGet, "192.0.2.60:1", basic("alice", "alice-password")).Code; code != http.StatusOK {
		t.Fatalf("alice: %d", code)
	}
	want("a correct password", 1, 0, 0)
	for range DefaultMaxFailures {
		if code := doToken(t, h, http.MethodGet, "192.0.2.61:1", basic("bob", "wrong")).Code; code != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d, want 401", code)
		}
	}
	if code := doToken(t, h, http.MethodGet, "192.0.2.61:1", basic("bob", "wrong")).Code; code != http.StatusTooManyRequests {
		t.Fatalf("wrong password over the limit: %d, want 429", code)
	}
	want("wrong passwords, the last one over the limit", 1, DefaultMaxFailures+1, 0)

	// Guesses at alice from everywhere take her name's turns; alice from
	// a new address is then refused without a check.
	checks := &atomic.Int64{}
	compare := s.compare
	s.compare = func(hash, pw []byte) error {
		checks.Add(1)
		return compare(hash, pw)
	}
	flood(t, s, clock, checks, "alice", 1, 20)
	guessBurst(t, h, "alice", "eeee", 20)
	logins, bad, throttled := counts()
	if rec := doToken(t, h, http.MethodGet, "203.0.113.98:1", basic("alice", "alice-password")); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("alice from a new address during the flood: %d, want 429", rec.Code)
	}
	want("a login with no turn for its name", logins, bad, throttled+1)
}
