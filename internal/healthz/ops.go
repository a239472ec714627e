package healthz

import (
	"context"
	"log/slog"
	"net/http"
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
// otherwise: the health of a program without a Temporal client.
func Alive(logger *slog.Logger, checks ...Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		for _, check := range checks {
			if err := check(ctx); err != nil {
				logger.Warn("health check failed", "err", err)
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
}
