package healthz

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// MetricsPath is where Ops serves the metrics.
const MetricsPath = "/metrics"

// Ops is the operations endpoint of a long-running program: GET Path
// answered by health, GET MetricsPath by metrics (the Prometheus text
// format); anything else is 404.
func Ops(health, metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+Path, health)
	mux.Handle("GET "+MetricsPath, metrics)
	return mux
}

// Alive answers 200 "ok" while the process serves and each of checks
// passes (within two seconds), 503 with the first failure's text
// otherwise: the health of a program without a Temporal client. It logs a
// failure as a warning when it starts or its text changes, and once at
// info level when the checks pass again; a probe every few seconds during
// an outage adds no line of its own.
func Alive(logger *slog.Logger, checks ...Check) http.Handler {
	var (
		mu   sync.Mutex
		last string // the failure logged last, "" while healthy
	)
	report := func(failure string) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case failure == last:
			if failure != "" {
				logger.Debug("health check failed", "err", failure)
			}
		case failure == "":
			logger.Info("health checks pass again", "after", last)
		default:
			logger.Warn("health check failed", "err", failure)
		}
		last = failure
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		for _, check := range checks {
			if err := check(ctx); err != nil {
				report(err.Error())
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		report("")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
}
