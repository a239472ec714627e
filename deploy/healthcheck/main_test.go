package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/internal/testutil"
)

func TestRun(t *testing.T) {
	var status atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/healthz", http.StatusFound)
			return
		}
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(int(status.Load()))
	}))
	t.Cleanup(srv.Close)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)

	tests := []struct {
		name    string
		args    []string
		status  int
		wantErr string
	}{
		{"healthy", []string{srv.URL + "/healthz"}, http.StatusOK, ""},
		{"unhealthy", []string{srv.URL + "/healthz"}, http.StatusServiceUnavailable, "503"},
		{"wrong path", []string{srv.URL + "/nope"}, http.StatusOK, "404"},
		{"timeout", []string{"-timeout", "100ms", slow.URL}, http.StatusOK, "deadline"},
		{"no url", nil, http.StatusOK, "usage"},
		{"not loopback", []string{"http://example.com/healthz"}, http.StatusOK, "loopback"},
		{"not loopback IP", []string{"http://10.0.0.1:8081/healthz"}, http.StatusOK, "loopback"},
		{"IPv6 not loopback", []string{"http://[2001:db8::1]:8081/healthz"}, http.StatusOK, "loopback"},
		{"IPv6 loopback", []string{strings.Replace(srv.URL, "127.0.0.1", "[::1]", 1) + "/healthz"}, http.StatusOK, "GET http://[::1]"},
		{"localhost", []string{strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/healthz"}, http.StatusOK, ""},
		{"https", []string{strings.Replace(srv.URL, "http:", "https:", 1) + "/healthz"}, http.StatusOK, "want http"},
		{"no host", []string{"http:///healthz"}, http.StatusOK, "want http"},
		{"two URLs", []string{srv.URL + "/healthz", srv.URL + "/healthz"}, http.StatusOK, "usage"},
		{"3xx is not healthy", []string{srv.URL + "/healthz"}, http.StatusNotModified, "304"},
		{"redirect not followed", []string{srv.URL + "/moved"}, http.StatusOK, "302"},
		{"not http", []string{"file:///etc/passwd"}, http.StatusOK, "want http"},
		// Not a probe that fails at once with "context deadline exceeded".
		{"zero timeout", []string{"-timeout", "0s", srv.URL + "/healthz"}, http.StatusOK, "-timeout 0s: want a positive duration"},
		{"negative timeout", []string{"-timeout", "-1s", srv.URL + "/healthz"}, http.StatusOK, "-timeout -1s: want a positive duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status.Store(int32(tt.status))
			err := run(t.Context(), tt.args, io.Discard)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("run: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("run error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// A flag's parse error is printed once, by main; run prints only the
// usage line.
func TestFlagErrorNotPrinted(t *testing.T) {
	var stderr strings.Builder
	err := run(t.Context(), []string{"-bogus", "http://127.0.0.1:1/healthz"}, &stderr)
	testutil.UsageOnly(t, stderr.String(), err, "usage: healthcheck")
}
