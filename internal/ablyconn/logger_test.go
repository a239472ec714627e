package ablyconn

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/ably/ably-go/ably"
)

func TestLoggerRoutesToSlog(t *testing.T) {
	var buf strings.Builder
	l := Logger{Log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	l.Printf(ably.LogError, "boom %d", 7)
	l.Printf(ably.LogWarning, "careful")
	l.Printf(ably.LogVerbose, "chatty")
	Logger{}.Printf(ably.LogError, "no logger: dropped")
	out := buf.String()
	for _, want := range []string{`level=ERROR msg="boom 7" component=ably-go`, "level=WARN msg=careful", "level=DEBUG msg=chatty"} {
		if !strings.Contains(out, want) {
			t.Errorf("log output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "dropped") {
		t.Errorf("the zero Logger logged:\n%s", out)
	}
}
