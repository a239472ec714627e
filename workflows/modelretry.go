package workflows

import (
	"errors"
	"fmt"
	"strings"
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
// The window is counted in attempts (modelAttemptsWithin), not bounded by
// a Temporal timeout: a ScheduleToClose bound would count the time the
// call waits for a worker too (Temporal sets ScheduleToStart to it), so
// every worker down for longer than the window while a model call waits
// would fail the run once one is back. The call waits for a worker however
// long, as before ModelRetry.
//
// The worker decides it (WorkerPolicy.ModelRetry), and a run records it at
// its start, so a deploy that changes it affects new runs only. Runs
// recorded without it keep the retry of before: 5 attempts (about 15 s of
// waits, longer when the model server asks for longer ones).
type ModelRetry struct {
	// For is how long the waits between a model call's attempts add up
	// to: the call is tried as many times as waits of a second, doubling
	// up to a minute, fit in it (65 times in an hour). Attempts that take
	// time (each at most AttemptTimeout) and longer waits a model
	// server asks for (Retry-After, at most MaxModelRetryAfter) stretch
	// it.
	For time.Duration `json:"for"`
	// AttemptTimeout bounds one attempt (the activity's
	// StartToCloseTimeout); 0, as runs recorded before it have, is
	// DefaultModelAttemptTimeout. A reasoning model may think for longer
	// than the default on a hard prompt: an attempt cut short is billed
	// and tried again, and would be cut short again.
	AttemptTimeout time.Duration `json:"attemptTimeout,omitempty"`
}

// Bounds and defaults of ModelRetry.
const (
	DefaultModelRetryFor = time.Hour
	MinModelRetryFor     = time.Minute
	MaxModelRetryFor     = 24 * time.Hour

	DefaultModelAttemptTimeout = 2 * time.Minute
	MinModelAttemptTimeout     = 30 * time.Second
	MaxModelAttemptTimeout     = 30 * time.Minute

	// MaxModelRetryAfter bounds the wait a model server may ask for
	// before the next attempt (a 429's Retry-After), instead of the
	// retry's own.
	MaxModelRetryAfter = time.Minute

	modelRetryFirstInterval = time.Second
	modelRetryMaxInterval   = time.Minute
	legacyModelAttempts     = 5
)

// DefaultModelRetry is the worker's ModelRetry unless it is configured.
func DefaultModelRetry() ModelRetry {
	return ModelRetry{For: DefaultModelRetryFor, AttemptTimeout: DefaultModelAttemptTimeout}
}

// Validate reports a ModelRetry out of its bounds.
func (m ModelRetry) Validate() error {
	if m.For < MinModelRetryFor || m.For > MaxModelRetryFor {
		return fmt.Errorf("model retry window %s: want %s to %s", m.For, MinModelRetryFor, MaxModelRetryFor)
	}
	if m.AttemptTimeout != 0 && (m.AttemptTimeout < MinModelAttemptTimeout || m.AttemptTimeout > MaxModelAttemptTimeout) {
		return fmt.Errorf("model attempt timeout %s: want %s to %s", m.AttemptTimeout, MinModelAttemptTimeout, MaxModelAttemptTimeout)
	}
	return nil
}

// modelAttemptTimeout is one attempt's bound under m: its AttemptTimeout,
// or DefaultModelAttemptTimeout for a run that recorded none (or, never
// from a worker of ours, one out of bounds).
func modelAttemptTimeout(m *ModelRetry) time.Duration {
	if m == nil || m.AttemptTimeout == 0 || m.Validate() != nil {
		return DefaultModelAttemptTimeout
	}
	return m.AttemptTimeout
}

// modelRetryPolicy is the retry policy of a model call under m: as many
// attempts as its waits leave room for in m.For (modelAttemptsWithin); or,
// for a run that recorded none (or, never from a worker of ours, which
// validates it at start, one out of bounds), the 5 attempts of before.
func modelRetryPolicy(m *ModelRetry) *temporal.RetryPolicy {
	p := &temporal.RetryPolicy{
		InitialInterval:    modelRetryFirstInterval,
		BackoffCoefficient: 2,
		MaximumInterval:    modelRetryMaxInterval,
		MaximumAttempts:    legacyModelAttempts,
	}
	if m != nil && m.Validate() == nil {
		p.MaximumAttempts = modelAttemptsWithin(m.For)
	}
	return p
}

// modelAttemptsWithin is how many attempts the retry's waits leave room
// for within window: were every attempt to fail at once, the last would
// start window after the first, less what the next wait would pass it by.
func modelAttemptsWithin(window time.Duration) int32 {
	n, elapsed, wait := int32(1), time.Duration(0), modelRetryFirstInterval
	for elapsed+wait <= window {
		elapsed += wait
		n++
		wait = min(2*wait, modelRetryMaxInterval)
	}
	return n
}

// modelCallFailed is the run's failure when its model call of turn failed
// for good, under the run's recorded retry: the model's last error, as the
// activity gave it but for its "(retryable)" (no attempt follows), and,
// when it was an error that may pass (Temporal gave up on it), after how
// many attempts. The failure keeps err as its cause; its message says it
// once, where a wrapped err said it twice ("… (type: wrapError): …").
// A cancelled run's error is wrapped as before.
func modelCallFailed(turn int, retry *ModelRetry, err error) error {
	if temporal.IsCanceledError(err) {
		return fmt.Errorf("model call, turn %d: %w", turn, err)
	}
	msg := strings.Replace(errorMessage(err), " (retryable)", "", 1)
	typ := ErrTypeModel
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.NonRetryable() {
		if appErr.Type() != "" {
			typ = appErr.Type() // the model activity's own (a refusal for good)
		}
	} else if policy := modelRetryPolicy(retry); retry != nil && retry.Validate() == nil {
		msg += fmt.Sprintf("; gave up after %d attempts (HITL_MODEL_RETRY_FOR %s when the run started)", policy.MaximumAttempts, retry.For)
	} else {
		msg += fmt.Sprintf("; gave up after %d attempts", policy.MaximumAttempts)
	}
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf("model call, turn %d: %s", turn, msg), typ, err)
}
