package ablylocal

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// A web page (the approval inbox) reads history with ably-js from another
// origin, in credentials mode "include": the preflight passes without
// credentials, the answer allows that origin with credentials and exposes
// Link (pagination), and the request itself still needs a key or token.
func TestCORS(t *testing.T) {
	fx := startServer(t, nil)
	base := "http://127.0.0.1:" + strconv.Itoa(fx.port)
	basicKey := "Basic " + base64.StdEncoding.EncodeToString([]byte(testKey))
	tests := []struct {
		name       string
		method     string
		path       string
		headers    map[string]string
		wantStatus int
		wantHeader map[string]string
	}{
		{"preflight of a history read", http.MethodOptions, "/channels/web/messages", map[string]string{
			"Origin": "http://127.0.0.1:3001", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization,x-ably-version,ably-agent",
		}, http.StatusNoContent, map[string]string{
			"Access-Control-Allow-Origin":      "http://127.0.0.1:3001",
			"Access-Control-Allow-Credentials": "true",
			"Access-Control-Allow-Methods":     "GET, POST, PUT, PATCH, DELETE, OPTIONS",
			"Access-Control-Allow-Headers":     "authorization, x-ably-version, ably-agent",
		}},
		{"history from a page", http.MethodGet, "/channels/web/messages", map[string]string{"Origin": "http://127.0.0.1:3001", "Authorization": basicKey},
			http.StatusOK, map[string]string{"Access-Control-Allow-Origin": "http://127.0.0.1:3001", "Access-Control-Allow-Credentials": "true", "Access-Control-Expose-Headers": "Link, X-Ably-Errorcode, X-Ably-Errormessage, X-Ably-Serverid"}},
		{"still authenticated", http.MethodGet, "/channels/web/messages", map[string]string{"Origin": "http://127.0.0.1:3001"},
			http.StatusUnauthorized, map[string]string{"Access-Control-Allow-Origin": "http://127.0.0.1:3001"}},
		{"no Origin, no CORS headers", http.MethodGet, "/channels/web/messages", map[string]string{"Authorization": basicKey},
			http.StatusOK, map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Credentials": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(testCtx(t), tt.method, base+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			for k, want := range tt.wantHeader {
				if got := resp.Header.Get(k); !strings.EqualFold(got, want) {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}
