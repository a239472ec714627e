package telemetry

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A counter made by Counter carries its description to /metrics, next to
// the Go runtime's and the process's own metrics.
func TestMetricsHelpAndCollectors(t *testing.T) {
	m, err := NewMetrics("test", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown(context.Background()) })
	Counter(m.Meter("hitl-test"), "hitl_described", "a described counter").Add(context.Background(), 1)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", MetricsPath, nil))
	body := rec.Body.String()
	for _, want := range []string{"# HELP hitl_described_total a described counter", "hitl_described_total 1", "process_open_fds", "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// The trace file is appended to (a restart keeps the spans before it),
// private to its owner, and closed by Shutdown; one that cannot be opened
// is an error naming the variable.
func TestTraceFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "spans.jsonl")
	if err := os.WriteFile(path, []byte("earlier\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tr, err := NewTracing("svc", path)
	if err != nil {
		t.Fatal(err)
	}
	_, span := tr.Tracer().Start(context.Background(), "later")
	span.End()
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.file.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("after Shutdown the trace file takes writes: %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "earlier\n") || !strings.Contains(string(b), `"Name":"later"`) {
		t.Errorf("trace file = %s, want the earlier line kept and the new span after it", b)
	}

	fresh := filepath.Join(dir, "fresh.jsonl")
	tr2, err := NewTracing("svc", fresh)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr2.Shutdown(context.Background()) })
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("new trace file: %v, %v; want mode 0600", fi.Mode(), err)
	}

	if _, err := NewTracing("svc", filepath.Join(dir, "no", "such", "dir", "x.jsonl")); err == nil || !strings.Contains(err.Error(), EnvTraceFile) {
		t.Errorf("unopenable trace file: err = %v, want one naming %s", err, EnvTraceFile)
	}
}
