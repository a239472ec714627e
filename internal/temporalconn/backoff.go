package temporalconn

import "time"

// Backoff is a capped exponential backoff for calls to Temporal: Dial's
// waits for a server, and the bridge's retries of one call.
type Backoff struct {
	Initial  time.Duration // first delay (default 200ms)
	Max      time.Duration // cap (default 10s)
	Attempts int           // tries in total, for callers that stop (default 6)
}

// WithDefaults returns b with its zero fields set to the defaults.
func (b Backoff) WithDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = 200 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 10 * time.Second
	}
	if b.Attempts <= 0 {
		b.Attempts = 6
	}
	return b
}

// Delay returns the wait before retry number n (0-based).
func (b Backoff) Delay(n int) time.Duration {
	b = b.WithDefaults()
	d := b.Initial
	for i := 0; i < n && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}
