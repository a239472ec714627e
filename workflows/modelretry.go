package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
)

// ModelRetry is how long a run keeps trying a model call whose failure may
// pass (OpenAI answering 429 or 5xx, unreachable, timing out) before the
// run fails. A run may call the model right after a human approved a call
// and its tool ran, days after its start: an outage of the model's
// provider must not end it then, so the call is tried again over a window
// long enough to ride one out. Failures the activity marks non-retryable
// (a refused key, a bad request, a used-up quota) end the run at once.
//
// The worker decides it (WorkerPolicy.ModelRetry), and a run records it at
// its start, so a deploy that changes it affects new runs only. Runs
// recorded without it keep the retry of before: 5 attempts, about 15 s.
type ModelRetry struct {
	// For bounds a model call's attempts and the waits between them
	// together (the activity's ScheduleToCloseTimeout). The waits start at
	// a second and double up to a minute, or the model server's
	// Retry-After (at most MaxModelRetryAfter).
	For time.Duration `json:"for"`
}

// Bounds and defaults of ModelRetry. The window holds at least one whole
// attempt: Temporal cuts an attempt's timeout to the window, and a window
// that ends is not retried, so a narrower one would fail the run on a
// model that is up but slow to answer.
const (
	DefaultModelRetryFor = time.Hour
	MinModelRetryFor     = modelAttemptTimeout
	MaxModelRetryFor     = 24 * time.Hour

	// MaxModelRetryAfter bounds the wait a model server may ask for
	// before the next attempt (a 429's Retry-After), instead of the
	// retry's own.
	MaxModelRetryAfter = time.Minute

	// modelAttemptTimeout bounds one attempt of a model call (its
	// StartToCloseTimeout).
	modelAttemptTimeout = 2 * time.Minute

	modelRetryFirstInterval = time.Second
	modelRetryMaxInterval   = time.Minute
	legacyModelAttempts     = 5
)

// DefaultModelRetry is the worker's ModelRetry unless it is configured.
func DefaultModelRetry() ModelRetry {
	return ModelRetry{For: DefaultModelRetryFor}
}

// Validate reports a ModelRetry out of its bounds.
func (m ModelRetry) Validate() error {
	if m.For < MinModelRetryFor || m.For > MaxModelRetryFor {
		return fmt.Errorf("model retry window %s: want %s to %s", m.For, MinModelRetryFor, MaxModelRetryFor)
	}
	return nil
}

// modelRetryOptions are the retry policy and the ScheduleToCloseTimeout
// of a model call under m: attempts within m.For, as many as its waits
// leave room for (modelAttemptsWithin); or, for a run that recorded none
// (or, never from a worker of ours, which validates it at start, one out
// of bounds), the 5 attempts of before and no bound.
func modelRetryOptions(m *ModelRetry) (*temporal.RetryPolicy, time.Duration) {
	p := &temporal.RetryPolicy{
		InitialInterval:    modelRetryFirstInterval,
		BackoffCoefficient: 2,
		MaximumInterval:    modelRetryMaxInterval,
		MaximumAttempts:    legacyModelAttempts,
	}
	if m == nil || m.Validate() != nil {
		return p, 0
	}
	p.MaximumAttempts = modelAttemptsWithin(m.For)
	return p, m.For
}

// modelAttemptsWithin is how many attempts the retry's waits leave room
// for within window, were every attempt to fail at once: the window binds
// first (an attempt takes time, a model server may ask for a longer wait),
// and the count is explicit rather than Temporal's unlimited 0.
func modelAttemptsWithin(window time.Duration) int32 {
	n, elapsed, wait := int32(1), time.Duration(0), modelRetryFirstInterval
	for elapsed+wait <= window {
		elapsed += wait
		n++
		wait = min(2*wait, modelRetryMaxInterval)
	}
	return n
}
