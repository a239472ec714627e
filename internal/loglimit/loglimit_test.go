package loglimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/internal/testutil"
)

// collect is an slog.Handler that keeps every record as one line:
// "LEVEL message k=v ...", with the attributes of WithAttrs first.
type collect struct {
	mu    *sync.Mutex
	lines *[]string
	attrs []slog.Attr
}

func newCollect() collect { return collect{mu: &sync.Mutex{}, lines: &[]string{}} }

func (c collect) Enabled(context.Context, slog.Level) bool { return true }
func (c collect) WithAttrs(as []slog.Attr) slog.Handler {
	return collect{mu: c.mu, lines: c.lines, attrs: append(slices.Clip(c.attrs), as...)}
}
func (c collect) WithGroup(string) slog.Handler { return c }
func (c collect) Handle(_ context.Context, r slog.Record) error {
	parts := []string{r.Level.String(), r.Message}
	for _, a := range c.attrs {
		parts = append(parts, a.String())
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Value.Kind() != slog.KindTime {
			parts = append(parts, a.String())
		}
		return true
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	*c.lines = append(*c.lines, strings.Join(parts, " "))
	return nil
}
func (c collect) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(*c.lines)
}

// count returns how many lines start with prefix.
func count(lines []string, prefix string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

var t0 = time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)

// logAt logs one record of level and msg at time at through h.
func logAt(t *testing.T, h slog.Handler, at time.Time, level slog.Level, msg string, attrs ...slog.Attr) {
	t.Helper()
	r := slog.NewRecord(at, level, msg, 0)
	r.AddAttrs(attrs...)
	if err := h.Handle(t.Context(), r); err != nil {
		t.Fatal(err)
	}
}

func TestHandler(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		run  func(t *testing.T, h *Handler)
		want map[string]int // line prefix -> count
	}{
		{
			name: "a flood of one warning: 30 pass, then one notice",
			run: func(t *testing.T, h *Handler) {
				for i := range 1000 {
					logAt(t, h, t0.Add(time.Duration(i)*time.Millisecond), slog.LevelWarn, "dropping approval-response")
				}
			},
			want: map[string]int{
				"WARN dropping approval-response":                                          30,
				"WARN log lines held back message=dropping approval-response perWindow=30": 1,
				"WARN log lines held back: count":                                          0,
			},
		},
		{
			name: "lines below the level all pass",
			run: func(t *testing.T, h *Handler) {
				for i := range 100 {
					logAt(t, h, t0.Add(time.Duration(i)*time.Millisecond), slog.LevelInfo, "decision forwarded")
				}
			},
			want: map[string]int{"INFO decision forwarded": 100, "INFO log lines held back": 0},
		},
		{
			name: "each message and each level has its own limit",
			run: func(t *testing.T, h *Handler) {
				for i := range 50 {
					at := t0.Add(time.Duration(i) * time.Millisecond)
					logAt(t, h, at, slog.LevelWarn, "a")
					logAt(t, h, at, slog.LevelWarn, "b")
					logAt(t, h, at, slog.LevelError, "a")
				}
			},
			want: map[string]int{"WARN a": 30, "WARN b": 30, "ERROR a": 30, "WARN log lines held back message=a": 1,
				"WARN log lines held back message=b": 1, "ERROR log lines held back message=a": 1},
		},
		{
			name: "the next window: the count, then lines pass again",
			run: func(t *testing.T, h *Handler) {
				for i := range 40 {
					logAt(t, h, t0.Add(time.Duration(i)*time.Millisecond), slog.LevelWarn, "x")
				}
				for i := range 5 {
					logAt(t, h, t0.Add(time.Minute+time.Duration(i)*time.Millisecond), slog.LevelWarn, "x")
				}
			},
			want: map[string]int{"WARN x": 35, "WARN log lines held back message=x": 1,
				"WARN log lines held back: count message=x count=10": 1},
		},
		{
			name: "a flood that stopped is counted with the next line of another message",
			run: func(t *testing.T, h *Handler) {
				for i := range 40 {
					logAt(t, h, t0.Add(time.Duration(i)*time.Millisecond), slog.LevelWarn, "x")
				}
				logAt(t, h, t0.Add(2*time.Minute), slog.LevelInfo, "y")
			},
			want: map[string]int{"WARN x": 30, "WARN log lines held back: count message=x count=10": 1, "INFO y": 1},
		},
		{
			name: "smaller limits",
			opts: Options{Level: slog.LevelError, PerWindow: 2, Window: time.Second},
			run: func(t *testing.T, h *Handler) {
				for i := range 10 {
					at := t0.Add(time.Duration(i) * 100 * time.Millisecond) // 1 s in all: one window
					logAt(t, h, at, slog.LevelError, "e")
					logAt(t, h, at, slog.LevelWarn, "w")
				}
				logAt(t, h, t0.Add(time.Second), slog.LevelError, "e")
			},
			want: map[string]int{"ERROR e": 3, "WARN w": 10, "ERROR log lines held back message=e perWindow=2": 1,
				"ERROR log lines held back: count message=e count=8": 1},
		},
		{
			name: "keys beyond MaxKeys pass unlimited",
			opts: Options{MaxKeys: 1},
			run: func(t *testing.T, h *Handler) {
				for i := range 40 {
					at := t0.Add(time.Duration(i) * time.Millisecond)
					logAt(t, h, at, slog.LevelWarn, "first")
					logAt(t, h, at, slog.LevelWarn, "second")
				}
			},
			want: map[string]int{"WARN first": 30, "WARN second": 40},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCollect()
			tt.run(t, New(c, tt.opts))
			lines := c.all()
			for prefix, want := range tt.want {
				if got := count(lines, prefix); got != want {
					t.Errorf("%d lines %q, want %d; all:\n%s", got, prefix, want, strings.Join(lines, "\n"))
				}
			}
		})
	}
}

// TestWithAttrsShareTheLimit: the bridge derives a logger per message
// (log.With("ablyMessageId", ...)); the limit is the process's, and the
// notices do not carry the attributes of the message that set them off.
func TestWithAttrsShareTheLimit(t *testing.T) {
	c := newCollect()
	h := New(c, Options{})
	log := slog.New(h).With("component", "bridge")
	for i := range 40 {
		log.With("ablyMessageId", fmt.Sprint("m", i)).Warn("dropping approval-response")
	}
	lines := c.all()
	if got := count(lines, "WARN dropping approval-response component=bridge ablyMessageId=m"); got != 30 {
		t.Errorf("%d lines passed, want 30:\n%s", got, strings.Join(lines, "\n"))
	}
	if got := count(lines, "WARN log lines held back message=dropping approval-response perWindow=30"); got != 1 {
		t.Errorf("%d notices without the message's attributes, want 1:\n%s", got, strings.Join(lines, "\n"))
	}
	if !New(c, Options{}).WithGroup("g").Enabled(t.Context(), slog.LevelDebug) {
		t.Error("Enabled is not the wrapped handler's")
	}
}

// TestWindowEdges: a window ends exactly Window after it began, both when
// its own message comes again (between sweeps, which run at most once a
// second) and in the sweep; a window that held nothing back ends without
// a count; after a window ended the next one counts from its own start.
func TestWindowEdges(t *testing.T) {
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	tests := []struct {
		name string
		opts Options
		logs []struct {
			at  int // ms after t0
			msg string
		}
		want []string // every line, in order
	}{
		{
			name: "its own message, between sweeps",
			opts: Options{PerWindow: 1, Window: 500 * time.Millisecond},
			logs: []struct {
				at  int
				msg string
			}{{0, "other"}, {100, "x"}, {200, "x"}, {600, "x"}, {650, "x"}},
			want: []string{"WARN other", "WARN x", "WARN log lines held back message=x perWindow=1",
				"WARN log lines held back: count message=x count=1", "WARN x",
				"WARN log lines held back message=x perWindow=1"},
		},
		{
			name: "in the sweep",
			opts: Options{PerWindow: 1, Window: time.Second},
			logs: []struct {
				at  int
				msg string
			}{{0, "x"}, {0, "quiet"}, {100, "x"}, {1000, "y"}},
			want: []string{"WARN x", "WARN quiet", "WARN log lines held back message=x perWindow=1",
				"WARN log lines held back: count message=x count=1", "WARN y"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCollect()
			h := New(c, tt.opts)
			for _, l := range tt.logs {
				logAt(t, h, ms(l.at), slog.LevelWarn, l.msg)
			}
			if got := c.all(); !slices.Equal(got, tt.want) {
				t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestZeroTimeRecords: a record without a time is limited at the time it
// is handled: its windows end as the clock goes on.
func TestZeroTimeRecords(t *testing.T) {
	c := newCollect()
	h := New(c, Options{PerWindow: 1, Window: time.Millisecond})
	logAt(t, h, time.Time{}, slog.LevelWarn, "x")
	testutil.Eventually(t, 5*time.Second, "a record without a time passed in a later window", func() bool {
		logAt(t, h, time.Time{}, slog.LevelWarn, "x")
		return count(c.all(), "WARN x") >= 2
	})
}

// TestWithGroupSharesTheLimit, and the wrapped handler's errors come back.
func TestWithGroupSharesTheLimit(t *testing.T) {
	c := newCollect()
	h := New(c, Options{PerWindow: 2})
	logAt(t, h, t0, slog.LevelWarn, "x")
	logAt(t, h.WithGroup("g"), t0, slog.LevelWarn, "x")
	logAt(t, h.WithGroup("g").WithAttrs([]slog.Attr{slog.Int("a", 1)}), t0, slog.LevelWarn, "x")
	if got := count(c.all(), "WARN x"); got != 2 {
		t.Errorf("%d lines passed through h and its groups, want 2", got)
	}
	failing := New(failHandler{}, Options{})
	if err := failing.Handle(t.Context(), slog.NewRecord(t0, slog.LevelWarn, "x", 0)); err == nil {
		t.Error("the wrapped handler's error was not returned")
	}
}

type failHandler struct{ collect }

func (failHandler) Handle(context.Context, slog.Record) error { return errors.New("disk full") }
