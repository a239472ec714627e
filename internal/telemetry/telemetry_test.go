package telemetry

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMetricsHandlerServesProductAndSDKCounters(t *testing.T) {
	m, err := NewMetrics("test", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown(context.Background()) })
	c, err := m.Meter("hitl-test").Int64Counter("hitl_things")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(context.Background(), 3)
	sdk := m.TemporalMetrics().WithTags(map[string]string{"tool": "x"})
	sdk.Counter("temporal_thing").Inc(2)
	sdk.Counter("temporal_thing").Inc(1)
	sdk.Timer("temporal_latency").Record(0)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", MetricsPath, nil))
	body := rec.Body.String()
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
