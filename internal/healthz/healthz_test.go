package healthz

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

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

func TestServeHealth(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	addr, stop, err := Serve(t.Context(), "127.0.0.1:0", Handler(fakeHealth{}, logger), logger)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + Path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s", Path, resp.Status)
	}
	stop()
	if _, err := http.Get("http://" + addr + Path); err == nil {
		t.Error("health endpoint still serving after stop")
	}
	if _, _, err := Serve(t.Context(), "256.0.0.1:1", http.NotFoundHandler(), logger); err == nil {
		t.Error("bad address: no error")
	}
}
