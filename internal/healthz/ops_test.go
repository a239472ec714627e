package healthz

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestOpsRoutes(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("metrics\n")) })
	h := Ops(Alive(), metrics)
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
