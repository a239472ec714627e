package activities

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/hitl/durable-approvals/workflows"
)

// maxRetryAfter bounds the wait a CMS's Retry-After can ask of a tool's
// next attempt: the run's attempts stay few (workflows.ToolRetry), and a
// header asking for an hour must not hold an approved post that long. A
// local tool's bound leaves room for it after every attempt.
const maxRetryAfter = workflows.MaxToolRetryAfter

// retryAfter is the wait the Retry-After header of a 429 or 503 asks for
// (delta-seconds or an HTTP date, RFC 9110 §10.2.3), at most limit
// (maxRetryAfter for a tool, workflows.MaxModelRetryAfter for the model);
// 0 when there is none, it cannot be read, or it asks for no wait. A
// delta-seconds too large to parse asks for a long wait: limit.
func retryAfter(h http.Header, now time.Time, limit time.Duration) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	var d time.Duration
	if strings.Trim(v, "0123456789") == "" {
		secs, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return limit // all digits, so out of range
		}
		d = time.Duration(secs) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = at.Sub(now)
	} else {
		return 0
	}
	return min(max(d, 0), limit)
}

// retryableAfter is a retryable failure of the activity of ctx whose next
// attempt comes after wait, when that is longer than the retry policy's
// own wait after this attempt (backoffAfter); otherwise after the policy's
// wait. Retry-After is the least wait a server asks for: a short one (a
// load balancer's "1") must not spend the run's attempts within seconds,
// instead of over the window workflows.ToolRetry gives them.
//
// An activity bound to one attempt's time (ScheduleToClose no longer than
// StartToClose: the local tool of a run recorded before ToolRetry, whose
// bound the SDK sets to the attempt's minute) has no room for a wait the
// backoff does not give: a wait past its bound would make the SDK give up
// on the tool at once, spending the approval after one request, where the
// run had 3 attempts. Such an activity keeps the backoff.
func retryableAfter(ctx context.Context, msg string, wait time.Duration) error {
	if wait <= backoffAfter(ctx) || noRoomToWait(ctx) {
		wait = 0 // the policy's backoff
	}
	return temporal.NewApplicationErrorWithOptions(msg, "", temporal.ApplicationErrorOptions{NextRetryDelay: wait})
}

// backoffAfter is the wait the retry policy of the activity of ctx puts
// after its current attempt, as the SDK and the server compute it (initial
// interval times the coefficient to the attempt's power less one, at most
// the maximum interval); 0 when it is not known.
func backoffAfter(ctx context.Context) time.Duration {
	if !activity.IsActivity(ctx) {
		return 0
	}
	info := activity.GetInfo(ctx)
	p := info.RetryPolicy
	if p == nil || p.InitialInterval <= 0 {
		return 0
	}
	coef := p.BackoffCoefficient
	if coef < 1 {
		coef = 2 // the server's default
	}
	d := float64(p.InitialInterval) * math.Pow(coef, float64(max(info.Attempt, 1)-1))
	if p.MaximumInterval > 0 && d > float64(p.MaximumInterval) {
		return p.MaximumInterval
	}
	if d > float64(math.MaxInt64) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(d)
}

// noRoomToWait says that the activity of ctx must end within one
// attempt's time (see retryableAfter).
func noRoomToWait(ctx context.Context) bool {
	if !activity.IsActivity(ctx) {
		return false
	}
	info := activity.GetInfo(ctx)
	return info.ScheduleToCloseTimeout > 0 && info.ScheduleToCloseTimeout <= info.StartToCloseTimeout
}
