package healthz

import "net/http"

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

// Alive answers 200 "ok" while the process serves: the health of a
// program that has no dependency worth probing on each request.
func Alive() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
}
