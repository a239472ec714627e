package ablyconn_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/ablylocal"
	"github.com/hitl/durable-approvals/internal/ablylocal/ablytest"
)

const checkCapability = `{"ai:approvals":["history","publish","subscribe"]}`

// TestCheckKey asks the local Ably server, under the real auth rules, and
// fakes that answer as proxies and Ably's limits do.
func TestCheckKey(t *testing.T) {
	srv := ablytest.Start(t, ablylocal.Config{Keys: []ablylocal.Key{
		{Name: ablytest.KeyName, Secret: ablytest.KeySecret},
		{Name: "app.listen", Secret: "listen-secret", Capability: `{"*":["subscribe"]}`},
	}})
	fake := func(status int, contentType, body string) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(status)
			fmt.Fprint(w, body)
		}))
		t.Cleanup(s.Close)
		return strings.TrimPrefix(s.URL, "http://")
	}
	ablyErr := func(status, code int) string {
		return fake(status, "application/json", fmt.Sprintf(`{"error":{"code":%d,"statusCode":%d,"message":"x"}}`, code, status))
	}
	for _, tt := range []struct {
		name, key, endpoint string
		refused             bool
		want                string // in the error
	}{
		{name: "the key", key: ablytest.APIKey, endpoint: srv.Conn.Endpoint},
		{name: "a wrong secret", key: ablytest.KeyName + ":Wr0ngS3cr3t", endpoint: srv.Conn.Endpoint, refused: true},
		{name: "no such key", key: "app.nokey:Wh4tev3rZq", endpoint: srv.Conn.Endpoint, refused: true},
		{name: "a key with fewer rights", key: "app.listen:listen-secret", endpoint: srv.Conn.Endpoint, refused: true,
			want: "lacks history on ai:approvals, publish on ai:approvals"},
		{name: "this machine's clock", key: ablytest.APIKey, endpoint: ablyErr(401, 40104)},
		{name: "an account limit", key: ablytest.APIKey, endpoint: ablyErr(403, 40115)},
		{name: "a proxy's own 404", key: ablytest.APIKey, endpoint: fake(404, "text/html", "<html>not found</html>")},
		{name: "a proxy's own 403", key: ablytest.APIKey, endpoint: fake(403, "text/html", "<html>forbidden</html>")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := ablyconn.Config{APIKey: tt.key, Endpoint: tt.endpoint}
			err := c.CheckKey(t.Context(), "checker", checkCapability)
			switch {
			case tt.endpoint == srv.Conn.Endpoint && !tt.refused && err != nil:
				t.Fatalf("CheckKey = %v, want nil", err)
			case tt.endpoint != srv.Conn.Endpoint && err == nil:
				t.Fatal("CheckKey = nil, want an error")
			case errors.Is(err, ablyconn.ErrKeyRefused) != tt.refused:
				t.Fatalf("CheckKey = %v, want refused %v", err, tt.refused)
			case err != nil && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("CheckKey = %v, want it to say %q", err, tt.want)
			case err != nil && strings.Contains(err.Error(), tt.key[strings.Index(tt.key, ":")+1:]):
				t.Fatalf("CheckKey = %v: shows the key's secret", err)
			}
		})
	}
}
