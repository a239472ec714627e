// Package loglimit bounds how many log lines of one message a process
// writes per minute, so that a flood of bad input (an approver publishing
// junk on the approvals channel, which the bridge drops and logs one line
// each) cannot fill the disk with the same line. What it holds back it
// counts and reports: a line says when it starts holding a message back,
// and another how many lines it held back, with the first line logged
// after the window is over.
package loglimit

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultPerWindow = 30
	DefaultWindow    = time.Minute
	DefaultMaxKeys   = 1000
)

// Options configure a Handler; the zero value takes the defaults.
type Options struct {
	// Level is the lowest level that is limited (default slog.LevelWarn):
	// lines below it all pass.
	Level slog.Leveler
	// PerWindow lines of one level and message pass per Window.
	PerWindow int
	Window    time.Duration
	// MaxKeys bounds the (level, message) pairs tracked; lines of pairs
	// beyond it pass unlimited (messages are constants, so this is a
	// safety bound, not a working limit).
	MaxKeys int
}

// Handler is an slog.Handler that passes at most PerWindow records of one
// level and message per Window to the handler it wraps. Records are told
// apart by level and message only, not by their attributes.
type Handler struct {
	next slog.Handler // with the attributes and groups of this handler
	st   *state
}

// state is shared by a Handler and the handlers WithAttrs and WithGroup
// derive from it.
type state struct {
	root      slog.Handler // the wrapped handler as given: the notices go there
	level     slog.Leveler
	perWindow int
	window    time.Duration
	maxKeys   int

	mu        sync.Mutex
	keys      map[key]*window
	lastSweep time.Time
}

type key struct {
	level slog.Level
	msg   string
}

// window counts one key's records in the window that began at start.
type window struct {
	start      time.Time
	n          int // records seen in the window
	suppressed int // of which held back
}

// New returns a Handler that limits next.
func New(next slog.Handler, opts Options) *Handler {
	st := &state{root: next, level: opts.Level, perWindow: opts.PerWindow, window: opts.Window, maxKeys: opts.MaxKeys, keys: map[key]*window{}}
	if st.level == nil {
		st.level = slog.LevelWarn
	}
	if st.perWindow <= 0 {
		st.perWindow = DefaultPerWindow
	}
	if st.window <= 0 {
		st.window = DefaultWindow
	}
	if st.maxKeys <= 0 {
		st.maxKeys = DefaultMaxKeys
	}
	return &Handler{next: next, st: st}
}

// Enabled reports whether the wrapped handler handles level.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// WithAttrs returns a Handler whose records carry attrs, limited together
// with h's.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{next: h.next.WithAttrs(attrs), st: h.st}
}

// WithGroup returns a Handler whose attributes go in group name, limited
// together with h's.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), st: h.st}
}

// Handle passes r on unless PerWindow records of its level and message
// passed in the current window. The first record held back in a window
// is announced, and the count of those held back is reported with the
// first record of any message after the window ended.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	st := h.st
	now := r.Time
	if now.IsZero() {
		now = time.Now()
	}
	st.mu.Lock()
	notices := st.sweepLocked(now)
	k := key{r.Level, r.Message}
	w := st.keys[k]
	if r.Level < st.level.Level() {
		w = nil // not limited
	} else if w == nil && len(st.keys) < st.maxKeys {
		w = &window{start: now}
		st.keys[k] = w
	}
	pass := true
	if w != nil {
		if now.Sub(w.start) >= st.window {
			if w.suppressed > 0 {
				notices = append(notices, st.summary(k, w, now))
			}
			*w = window{start: now}
		}
		w.n++
		switch {
		case w.n <= st.perWindow:
		case w.n == st.perWindow+1:
			w.suppressed++
			pass = false
			n := slog.NewRecord(now, r.Level, "log lines held back", 0)
			n.AddAttrs(slog.String("message", r.Message), slog.Int("perWindow", st.perWindow),
				slog.Time("until", w.start.Add(st.window)))
			notices = append(notices, n)
		default:
			w.suppressed++
			pass = false
		}
	}
	st.mu.Unlock()
	var errs []error
	for _, n := range notices {
		errs = append(errs, st.root.Handle(ctx, n))
	}
	if pass {
		errs = append(errs, h.next.Handle(ctx, r))
	}
	return errors.Join(errs...)
}

// sweepLocked ends, at most once a second, the windows that are over and
// returns the summaries of those that held lines back, so that a flood
// that stopped is reported with the next line of any message.
func (st *state) sweepLocked(now time.Time) []slog.Record {
	if now.Sub(st.lastSweep) < time.Second {
		return nil
	}
	st.lastSweep = now
	var out []slog.Record
	for k, w := range st.keys {
		if now.Sub(w.start) < st.window {
			continue
		}
		if w.suppressed > 0 {
			out = append(out, st.summary(k, w, now))
		}
		delete(st.keys, k)
	}
	return out
}

// summary reports how many records of k window w held back.
func (st *state) summary(k key, w *window, now time.Time) slog.Record {
	r := slog.NewRecord(now, k.level, "log lines held back: count", 0)
	r.AddAttrs(slog.String("message", k.msg), slog.Int("count", w.suppressed), slog.Time("since", w.start))
	return r
}
