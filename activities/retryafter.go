package activities

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
)

// maxRetryAfter bounds the wait a CMS's Retry-After can ask of a tool's
// next attempt: the run's attempts stay few (workflows.ToolRetry), and a
// header asking for an hour must not hold an approved post that long.
const maxRetryAfter = time.Minute

// retryAfter is the wait the Retry-After header of a 429 or 503 asks for
// (delta-seconds or an HTTP date, RFC 9110 §10.2.3), at most maxRetryAfter;
// 0 when there is none, it cannot be read, or it asks for no wait.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseUint(v, 10, 32); err == nil {
		d = time.Duration(secs) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = at.Sub(now)
	} else {
		return 0
	}
	return min(max(d, 0), maxRetryAfter)
}

// retryableAfter is a retryable failure whose next attempt comes after
// wait instead of the retry policy's backoff (0: the backoff).
func retryableAfter(msg string, wait time.Duration) error {
	return temporal.NewApplicationErrorWithOptions(msg, "", temporal.ApplicationErrorOptions{NextRetryDelay: wait})
}
