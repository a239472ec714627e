package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"
)

// HealthPath is the health endpoint's path.
const HealthPath = "/healthz"

// healthChecker is the part of the Temporal client the health endpoint
// uses.
type healthChecker interface {
	CheckHealth(ctx context.Context, request *client.CheckHealthRequest) (*client.CheckHealthResponse, error)
}

// healthHandler answers 200 when Temporal answers a health check within
// two seconds, 503 otherwise.
func healthHandler(tc healthChecker, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+HealthPath, func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if _, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
			logger.Warn("health check: Temporal unreachable", "err", err)
			http.Error(w, "temporal unreachable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// serveHealth serves h on addr. It returns the bound address once the
// listener is bound; stop shuts the server down and waits for it.
func serveHealth(ctx context.Context, addr string, h http.Handler, logger *slog.Logger) (bound string, stop func(), err error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("health endpoint: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("health endpoint stopped", "err", err)
		}
	}()
	logger.Info("health endpoint listening", "addr", ln.Addr().String(), "path", HealthPath)
	return ln.Addr().String(), func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
	}, nil
}
