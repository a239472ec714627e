package healthz

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
)

type fakeHealth struct{ err error }

func (f fakeHealth) CheckHealth(context.Context, *client.CheckHealthRequest) (*client.CheckHealthResponse, error) {
	return &client.CheckHealthResponse{}, f.err
}

func TestHealthHandler(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name   string
		method string
		err    error
		want   int
	}{
		{"healthy", http.MethodGet, nil, http.StatusOK},
		{"temporal down", http.MethodGet, errors.New("unavailable"), http.StatusServiceUnavailable},
		{"wrong method", http.MethodPost, nil, http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Handler(fakeHealth{tt.err}, logger).ServeHTTP(rec, httptest.NewRequest(tt.method, Path, nil))
			if rec.Code != tt.want {
				t.Errorf("status = %d, want %d", rec.Code, tt.want)
			}
		})
	}
}

// A program's own checks (the bridge's Ably channel) decide too: one that
// fails makes the endpoint 503, saying why.
func TestHealthHandlerChecks(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	pass := func(context.Context) error { return nil }
	fail := func(context.Context) error { return errors.New("ably channel ai:x detached") }
	for _, tt := range []struct {
		name   string
		checks []Check
		want   int
		body   string
	}{
		{"all pass", []Check{pass, pass}, http.StatusOK, "ok"},
		{"one fails", []Check{pass, fail}, http.StatusServiceUnavailable, "ably channel ai:x detached"},
	} {
		rec := httptest.NewRecorder()
		Handler(fakeHealth{}, logger, tt.checks...).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Path, nil))
		if rec.Code != tt.want || !strings.Contains(rec.Body.String(), tt.body) {
			t.Errorf("%s: %d %q, want %d with %q", tt.name, rec.Code, rec.Body.String(), tt.want, tt.body)
		}
	}
}

func TestServeHealth(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	addr, stop, err := Serve(t.Context(), "127.0.0.1:0", Handler(fakeHealth{}, logger), logger)
	if err != nil {
		t.Fatal(err)
	}
	get := func() (*http.Response, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+Path, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return resp, err
	}
	resp, err := get()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s", Path, resp.Status)
	}
	stop()
	if _, err := get(); err == nil {
		t.Error("health endpoint still serving after stop")
	}
	if _, _, err := Serve(t.Context(), "256.0.0.1:1", http.NotFoundHandler(), logger); err == nil {
		t.Error("bad address: no error")
	}
}

// An address Serve could never listen on is refused at once, so that a
// program reports it with its configuration errors, not only once
// Temporal answers.
func TestCheckAddr(t *testing.T) {
	for _, tt := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8081", true}, {":8081", true}, {"[::1]:0", true}, {"localhost:65535", true}, {":http", true},
		{"nonsense", false}, {"127.0.0.1", false}, {"127.0.0.1:99999", false}, {"127.0.0.1:-1", false}, {"127.0.0.1:abc", false},
	} {
		if err := CheckAddr(tt.addr); (err == nil) != tt.ok {
			t.Errorf("CheckAddr(%q) = %v, want ok=%v", tt.addr, err, tt.ok)
		}
	}
}
