package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/ably/ably-go/ably"
	"go.temporal.io/sdk/temporal"

	"github.com/hitl/durable-approvals/internal/ablyconn"
)

// Publisher publishes one message on an Ably channel. A message with the
// same ID published twice is delivered once (Ably idempotent publishing).
type Publisher interface {
	Publish(ctx context.Context, channel string, msg *ably.Message) error
}

// AblyPublisher is a Publisher over ably-go's REST client.
type AblyPublisher struct {
	rest *ably.REST
}

// NewAblyPublisher builds a REST client that authenticates as clientID with
// a JWT it signs itself with cfg's API key (ablyconn.TrustedOptions), so the
// key never crosses the wire. ably-go's own logging is off unless extra
// turns it on, e.g. ably.WithLogHandler(AblyLogger{L: logger}) with
// ably.WithLogLevel(ably.LogWarning); errors are returned either way.
func NewAblyPublisher(cfg ablyconn.Config, clientID string, extra ...ably.ClientOption) (*AblyPublisher, error) {
	opts, err := cfg.TrustedOptions(clientID, "")
	if err != nil {
		return nil, fmt.Errorf("ably publisher: %w", err)
	}
	opts = append(append([]ably.ClientOption{ably.WithLogLevel(ably.LogNone)}, opts...), extra...)
	rest, err := ably.NewREST(opts...)
	if err != nil {
		return nil, fmt.Errorf("ably publisher: %w", err)
	}
	return &AblyPublisher{rest: rest}, nil
}

// AblyLogger sends ably-go's log lines to slog.
type AblyLogger struct{ L *slog.Logger }

// Printf implements ably.Logger.
func (l AblyLogger) Printf(level ably.LogLevel, format string, v ...any) {
	if l.L == nil {
		return
	}
	lv := slog.LevelDebug
	switch level {
	case ably.LogError:
		lv = slog.LevelError
	case ably.LogWarning:
		lv = slog.LevelWarn
	case ably.LogInfo:
		lv = slog.LevelInfo
	}
	// ably.Logger carries no context.
	l.L.Log(context.Background(), lv, fmt.Sprintf(format, v...), "component", "ably-go")
}

// Publish publishes msg on channel. Ably client errors (4xx other than
// token expiry and rate limits) are non-retryable; the rest are retryable.
func (p *AblyPublisher) Publish(ctx context.Context, channel string, msg *ably.Message) error {
	err := p.rest.Channels.Get(channel).PublishMultiple(ctx, []*ably.Message{msg})
	if err == nil {
		return nil
	}
	var info *ably.ErrorInfo
	if errors.As(err, &info) {
		sc := info.StatusCode
		tokenExpired := sc == http.StatusUnauthorized && info.Code >= 40140 && info.Code < 40150
		if sc >= 400 && sc < 500 && sc != http.StatusTooManyRequests && sc != http.StatusRequestTimeout && !tokenExpired {
			return temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("ably: publish %q on %s: %v", msg.Name, channel, err), ErrTypeAbly, nil)
		}
	}
	return fmt.Errorf("ably: publish %q on %s: %w", msg.Name, channel, err)
}
