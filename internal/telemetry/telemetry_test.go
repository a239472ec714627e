package telemetry

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// newTestMetrics makes Metrics for a test, shut down when it ends.
func newTestMetrics(t *testing.T) *Metrics {
	t.Helper()
	m, err := NewMetrics("test", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown(context.Background()) })
	return m
}

// scrape returns what m's handler serves at MetricsPath.
func scrape(m *Metrics) string {
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", MetricsPath, nil))
	return rec.Body.String()
}

func TestMetricsHandlerServesProductAndSDKCounters(t *testing.T) {
	m := newTestMetrics(t)
	c, err := m.Meter("hitl-test").Int64Counter("hitl_things")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(context.Background(), 3)
	sdk := m.TemporalMetrics().WithTags(map[string]string{"tool": "x"})
	sdk.Counter("temporal_thing").Inc(2)
	sdk.Counter("temporal_thing").Inc(1)
	sdk.Timer("temporal_latency").Record(0)

	body := scrape(m)
	for _, want := range []string{
		"hitl_things_total 3",
		`temporal_thing_total{tool="x"} 3`,
		"# TYPE temporal_thing_total counter",
		`temporal_latency_seconds_count{tool="x"} 1`,
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "otel_scope") || strings.Contains(body, "target_info") {
		t.Error("/metrics carries OpenTelemetry scope or target info")
	}
}

// A counter made by Counter carries its description to /metrics, next to
// the Go runtime's and the process's own metrics.
func TestMetricsHelpAndCollectors(t *testing.T) {
	m := newTestMetrics(t)
	Counter(m.Meter("hitl-test"), "hitl_described", "a described counter").Add(context.Background(), 1)
	body := scrape(m)
	for _, want := range []string{"# HELP hitl_described_total a described counter", "hitl_described_total 1", "process_open_fds", "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestTracingOffByDefault(t *testing.T) {
	tr, err := NewTracing("test", "")
	if err != nil {
		t.Fatal(err)
	}
	ics, err := tr.ClientInterceptors()
	if err != nil {
		t.Fatal(err)
	}
	if tr.Enabled() || len(ics) != 0 || len(tr.WorkerInterceptors()) != 0 {
		t.Fatalf("tracing without a file: enabled %v, %d client and %d worker interceptors", tr.Enabled(), len(ics), len(tr.WorkerInterceptors()))
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestTracingWritesSpansToTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spans.jsonl")
	tr, err := NewTracing("test-service", path)
	if err != nil {
		t.Fatal(err)
	}
	ics, err := tr.ClientInterceptors()
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Enabled() || len(ics) != 1 || len(tr.WorkerInterceptors()) != 1 {
		t.Fatalf("tracing with a file: enabled %v, %d client and %d worker interceptors", tr.Enabled(), len(ics), len(tr.WorkerInterceptors()))
	}
	_, span := tr.Tracer().Start(context.Background(), "a-span")
	span.End()
	// Synchronous export: the span is in the file as soon as it ends.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if !strings.Contains(string(b), `"Name":"a-span"`) || !strings.Contains(string(b), "test-service") {
		t.Fatalf("trace file = %s, want the span of test-service", b)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
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

// brokenCollector's one metric fails to be gathered.
type brokenCollector struct{ desc *prometheus.Desc }

func (c brokenCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c brokenCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(c.desc, errors.New("broken on purpose"))
}

// A metric that cannot be gathered is an error in the program's log, which
// names the program (service), and /metrics says it failed.
func TestMetricsErrorsLoggedWithService(t *testing.T) {
	var logs strings.Builder
	m, err := NewMetrics("hitl-worker", slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown(context.Background()) })
	if err := m.registry.Register(brokenCollector{prometheus.NewDesc("hitl_broken", "a broken metric", nil, nil)}); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", MetricsPath, nil))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("/metrics status %d, want 500", rec.Code)
	}
	line := logs.String()
	for _, want := range []string{"level=ERROR", `msg="metrics endpoint"`, "service=hitl-worker", "broken on purpose"} {
		if !strings.Contains(line, want) {
			t.Errorf("log %q lacks %q", line, want)
		}
	}
}
