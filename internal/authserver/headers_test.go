package authserver

import (
	"net/http"
	"testing"
)

// Every response a browser may render or run carries the headers that keep
// it from being sniffed, framed, cached or reached from another window:
// the login page, the inbox, a file of the page and a token.
func TestSecurityHeaders(t *testing.T) {
	page := map[string]string{
		"X-Content-Type-Options":       "nosniff",
		"X-Frame-Options":              "DENY",
		"Referrer-Policy":              "same-origin",
		"Cross-Origin-Opener-Policy":   "same-origin",
		"Cross-Origin-Resource-Policy": "same-origin",
	}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range page {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	s, _, _ := newTestServer(t, nil)
	b := newBrowser(t, s.Handler(), "192.0.2.31:1")
	login := b.do(http.MethodGet, InboxPath, nil, nil)
	csrf := b.login("alice", "alice-password")
	tests := []struct {
		name string
		rec  func() *http.Response
		want map[string]string
	}{
		{"login page", func() *http.Response { return login.Result() }, with(map[string]string{"Cache-Control": "no-store"})},
		{"inbox", func() *http.Response { return b.do(http.MethodGet, InboxPath, nil, nil).Result() }, with(map[string]string{"Cache-Control": "no-store"})},
		{"file", func() *http.Response { return b.do(http.MethodGet, AssetsPath+"app.js", nil, nil).Result() }, with(map[string]string{"Cache-Control": "no-cache"})},
		{"token", func() *http.Response { return b.token(csrf).Result() }, map[string]string{
			"Content-Type": "application/jwt", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := tt.rec()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d", res.StatusCode)
			}
			for k, v := range tt.want {
				if got := res.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}
