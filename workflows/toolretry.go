package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
)

// ToolRetry is how often a run tries a tool before the tool's failure
// goes to the model. A call's approval is spent when its tool
// fails for good (a human must approve the model's next call), so a
// failure that may pass (a full disk, a CMS restarting, a 503) is tried
// again over a window long enough to ride it out. Failures the tool marks
// non-retryable (ErrTypeToolInput, a refusal) are not tried again.
//
// The worker decides it (WorkerPolicy.ToolRetry), and a run records it at
// its start, so a deploy that changes it affects new runs only. Runs
// recorded without it keep the retry of before: 3 attempts.
type ToolRetry struct {
	// MaxAttempts is how many times the tool is tried, the first included.
	MaxAttempts int32 `json:"maxAttempts"`
	// MaxInterval bounds the wait between two attempts, which starts at
	// toolRetryFirstInterval and doubles.
	MaxInterval time.Duration `json:"maxInterval"`
}

// Bounds and defaults of ToolRetry. DefaultToolAttempts at most
// DefaultToolMaxInterval apart wait 1, 2, 4, 8 and 16 s and then 30 s:
// about 2.5 minutes from the first attempt to the last.
const (
	DefaultToolAttempts    = 10
	DefaultToolMaxInterval = 30 * time.Second
	MaxToolAttempts        = 20
	minToolMaxInterval     = time.Second
	maxToolMaxInterval     = 5 * time.Minute

	toolRetryFirstInterval = time.Second
	legacyToolAttempts     = 3

	// MaxToolRetryAfter bounds the wait a tool may ask for before its next
	// attempt, instead of the retry's own (a CMS's Retry-After: the
	// ApplicationError's NextRetryDelay); toolLocalWindow leaves room for
	// it after every attempt.
	MaxToolRetryAfter = time.Minute
)

// DefaultToolRetry is the worker's ToolRetry unless it is configured.
func DefaultToolRetry() ToolRetry {
	return ToolRetry{MaxAttempts: DefaultToolAttempts, MaxInterval: DefaultToolMaxInterval}
}

// Validate reports a ToolRetry out of its bounds.
func (t ToolRetry) Validate() error {
	if t.MaxAttempts < 1 || t.MaxAttempts > MaxToolAttempts {
		return fmt.Errorf("tool attempts %d: want 1 to %d", t.MaxAttempts, MaxToolAttempts)
	}
	if t.MaxInterval < minToolMaxInterval || t.MaxInterval > maxToolMaxInterval {
		return fmt.Errorf("tool retry interval %s: want %s to %s", t.MaxInterval, minToolMaxInterval, maxToolMaxInterval)
	}
	return nil
}

// toolRetryPolicy is the retry policy of a tool's activity under t: the
// retry of before for a run that recorded none, or (never from a worker
// of ours, which validates it at start) one out of bounds.
func toolRetryPolicy(t *ToolRetry) *temporal.RetryPolicy {
	p := &temporal.RetryPolicy{
		InitialInterval:        toolRetryFirstInterval,
		BackoffCoefficient:     2,
		MaximumInterval:        DefaultToolMaxInterval,
		MaximumAttempts:        legacyToolAttempts,
		NonRetryableErrorTypes: []string{ErrTypeToolInput},
	}
	if t != nil && t.Validate() == nil {
		p.MaximumAttempts = t.MaxAttempts
		p.MaximumInterval = t.MaxInterval
	}
	return p
}

// toolLocalWindow bounds a local tool activity's attempts and waits
// together (its ScheduleToCloseTimeout, which the SDK otherwise sets to
// one attempt's timeout, leaving no time for a retry after a minute):
// every attempt its whole timeout, and every wait between them, each at
// least MaxToolRetryAfter, which the tool may ask for instead (the SDK
// gives up on a tool whose next attempt would start past the bound). 0
// for a run that recorded no ToolRetry, which keeps the bound of before.
func toolLocalWindow(t *ToolRetry, attemptTimeout time.Duration) time.Duration {
	if t == nil || t.Validate() != nil {
		return 0
	}
	window, wait := time.Duration(t.MaxAttempts)*attemptTimeout, toolRetryFirstInterval
	for range t.MaxAttempts - 1 {
		window += max(min(wait, t.MaxInterval), MaxToolRetryAfter)
		wait *= 2
	}
	return window
}
