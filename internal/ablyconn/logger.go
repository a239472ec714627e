package ablyconn

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ably/ably-go/ably"
)

// Logger sends ably-go's log lines to slog, tagged component=ably-go.
// The zero Logger drops them. Use it with ably.WithLogHandler.
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
	l.Log.Log(ctx, lv, fmt.Sprintf(format, v...), "component", "ably-go")
}
