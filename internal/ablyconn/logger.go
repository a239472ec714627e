package ablyconn

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"

	"github.com/ably/ably-go/ably"
)

// Logger sends ably-go's log lines to slog, tagged component=ably-go, with
// credentials blanked (Redact). The zero Logger drops them. Use it with
// ably.WithLogHandler.
type Logger struct {
	Log *slog.Logger
	// Ctx is passed to slog; ably.Logger carries no context of its own.
	Ctx context.Context
}

// Printf implements ably.Logger.
func (l Logger) Printf(level ably.LogLevel, format string, v ...any) {
	if l.Log == nil {
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
	ctx := l.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	l.Log.Log(ctx, lv, Redact(fmt.Sprintf(format, v...)), "component", "ably-go")
}

// credential matches what ably-go may print of a credential: the
// access_token and key query parameters of the URLs it dials (a user's
// JWT, an API key's secret) and a protocol message's accessToken.
var credential = regexp.MustCompile(`(?i)(\b(?:access_token|key)=)[^&\s"'<>]+|("accessToken"\s*:\s*")[^"]*`)

// Redact blanks the credentials in s: ably-go logs the URL it failed to
// dial, query and all, and a log line must not hand out a token that
// publishes as its user.
func Redact(s string) string {
	return credential.ReplaceAllString(s, "${1}${2}REDACTED")
}
