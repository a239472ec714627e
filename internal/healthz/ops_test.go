package healthz

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestOpsRoutes(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("metrics\n")) })
	h := Ops(Alive(slog.New(slog.DiscardHandler)), metrics)
	tests := []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", Path, http.StatusOK, "ok\n"},
		{"GET", MetricsPath, http.StatusOK, "metrics\n"},
		{"POST", MetricsPath, http.StatusMethodNotAllowed, ""},
		{"GET", "/other", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.code || (tt.body != "" && rec.Body.String() != tt.body) {
				t.Fatalf("%s %s = %d %q, want %d %q", tt.method, tt.path, rec.Code, rec.Body.String(), tt.code, tt.body)
			}
		})
	}
}

// TestAliveChecks: a failing check makes the health 503 with its reason.
func TestAliveChecks(t *testing.T) {
	var failing error
	h := Alive(slog.New(slog.DiscardHandler), func(context.Context) error { return nil }, func(context.Context) error { return failing })
	for _, tt := range []struct {
		err  error
		code int
		body string
	}{
		{nil, http.StatusOK, "ok\n"},
		{errors.New("logins refused: users file: gone"), http.StatusServiceUnavailable, "logins refused: users file: gone\n"},
	} {
		failing = tt.err
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", Path, nil))
		if rec.Code != tt.code || rec.Body.String() != tt.body {
			t.Errorf("with %v: %d %q, want %d %q", tt.err, rec.Code, rec.Body.String(), tt.code, tt.body)
		}
	}
}

// During an outage a probe every few seconds logs one warning, not one
// each; the recovery is logged once.
func TestAliveLogsTransitions(t *testing.T) {
	var buf bytes.Buffer
	var failing error
	h := Alive(slog.New(slog.NewTextHandler(&buf, nil)), func(context.Context) error { return failing })
	probe := func() {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", Path, nil))
	}
	probe()
	failing = errors.New("temporal unreachable: connection refused")
	for range 5 {
		probe()
	}
	failing = errors.New("temporal unreachable: deadline exceeded")
	probe()
	failing = nil
	probe()
	probe()
	var got []string
	for line := range strings.Lines(buf.String()) {
		_, msg, _ := strings.Cut(line, "msg=")
		got = append(got, strings.TrimSpace(msg))
	}
	want := []string{
		`"health check failed" err="temporal unreachable: connection refused"`,
		`"health check failed" err="temporal unreachable: deadline exceeded"`,
		`"health checks pass again" after="temporal unreachable: deadline exceeded"`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("log lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
