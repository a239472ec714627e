// Package healthz owns the operations endpoint of the long-running
// programs (worker, approver bridge, auth server), served on
// HITL_HEALTH_ADDR: GET /healthz, 200 while every check of the program
// passes (worker and bridge, Handler: Temporal answers a health check, and
// for the bridge its Ably channel is attached; the auth server, Alive:
// its users file is usable, no Temporal), 503 with the reason otherwise,
// which container health checks probe; and GET /metrics, the program's
// metrics (Ops, with the handler of internal/telemetry).
package healthz

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

// Path is the health endpoint's path.
const Path = "/healthz"

// Checker is the part of the Temporal client the health endpoint
// uses.
type Checker interface {
	CheckHealth(ctx context.Context, request *client.CheckHealthRequest) (*client.CheckHealthResponse, error)
}

// Check is one more condition of a program's health: nil while it holds,
// an error that says why not otherwise.
type Check func(context.Context) error

// Handler answers 200 when Temporal answers a health check within
// two seconds and each of more passes, 503 otherwise.
func Handler(tc Checker, logger *slog.Logger, more ...Check) http.Handler {
	temporal := func(ctx context.Context) error {
		if _, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
			return fmt.Errorf("temporal unreachable: %w", err)
		}
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+Path, Alive(logger, append([]Check{temporal}, more...)...))
	return mux
}

// CheckAddr checks addr, an operations endpoint address, without
// listening: host:port with a port number from 0 to 65535. The programs
// listen on it only once Temporal answers, so a port that cannot be
// listened on would otherwise stop them only then.
func CheckAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want host:port")
	}
	// A service name ("http") is looked up as net.Listen would, in the
	// local services database.
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("port %q: want host:port with a port number from 0 to 65535 (or a service name)", port)
	}
	return nil
}

// Serve serves h on addr. It returns the bound address once the
// listener is bound; stop shuts the server down and waits for it.
func Serve(ctx context.Context, addr string, h http.Handler, logger *slog.Logger) (bound string, stop func(), err error) {
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
	logger.Info("health endpoint listening", "addr", ln.Addr().String(), "path", Path)
	return ln.Addr().String(), func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
	}, nil
}
