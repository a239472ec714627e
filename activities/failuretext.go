package activities

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
)

// ValidUTF8Failures is a worker interceptor that keeps the text of every
// activity's failure valid UTF-8. Temporal carries a failure's message in
// a protobuf string, which gRPC refuses to marshal unless it is valid
// UTF-8: an activity whose error quotes a reply in Latin-1, or cuts one in
// the middle of a character, could not report its failure at all. A
// regular activity then ran into its timeout and was tried again; a local
// one (the blog tools on the fast path) left its workflow task unable to
// complete, so the task timed out and ran the tool again every 10 seconds,
// for as long as the run lived. Such text gets U+FFFD for each bad byte;
// the error's type, retryability and causes stay as they were.
type ValidUTF8Failures struct {
	interceptor.WorkerInterceptorBase
}

// InterceptActivity implements interceptor.WorkerInterceptor.
func (*ValidUTF8Failures) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &validUTF8Activity{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}}
}

type validUTF8Activity struct {
	interceptor.ActivityInboundInterceptorBase
}

func (a *validUTF8Activity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	res, err := a.Next.ExecuteActivity(ctx, in)
	return res, validUTF8Failure(err)
}

// validUTF8Failure returns err as it is when its text is valid UTF-8, and
// otherwise the same failure with valid text: an ApplicationError keeps
// its type, retryability, next retry delay and category, and each cause is
// made valid in turn (an error joining several keeps their text, not
// their chain; ApplicationError details are not kept: no activity here
// sends any). A cancellation stays as it is: Temporal reports it without
// its text.
func validUTF8Failure(err error) error {
	if err == nil || utf8.ValidString(err.Error()) || errors.Is(err, context.Canceled) {
		return err
	}
	var cause error
	if next := errors.Unwrap(err); next != nil {
		cause = validUTF8Failure(next)
	}
	if app, ok := err.(*temporal.ApplicationError); ok {
		return temporal.NewApplicationErrorWithOptions(validText(app.Message()), app.Type(),
			temporal.ApplicationErrorOptions{NonRetryable: app.NonRetryable(), Cause: cause, NextRetryDelay: app.NextRetryDelay(), Category: app.Category()})
	}
	// Any other error: Temporal would report its text, its causes nested,
	// as a retryable failure; so is this one.
	return temporal.NewApplicationErrorWithOptions(validText(err.Error()), "", temporal.ApplicationErrorOptions{Cause: cause})
}

// validText is s with U+FFFD for each run of bytes that is not UTF-8.
func validText(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
