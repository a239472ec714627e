package ablyconn_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/ablylocal"
	"github.com/hitl/durable-approvals/internal/ablylocal/ablytest"
	"github.com/hitl/durable-approvals/internal/testutil"
)

// TestValidateChannel: the channel a token's capability names is one plain
// channel: a wildcard anywhere, a qualifier or a control character would
// give its holder more than the approvals channel.
func TestValidateChannel(t *testing.T) {
	for channel, ok := range map[string]bool{
		"ai:big-bad-any":          true,
		"approvals":               true,
		strings.Repeat("c", 256):  true,
		strings.Repeat("c", 257):  false,
		"":                        false,
		"*":                       false,
		"ai:*":                    false,
		"[meta]approvals":         false,
		"[?rewind=1]approvals":    false,
		":approvals":              false,
		"\x00approvals":           false,
		"appro\nvals":             false,
		"approvals\u0085":         false,
		"ai:approvals[meta]-like": true,
	} {
		if err := ablyconn.ValidateChannel(channel); (err == nil) != ok {
			t.Errorf("ValidateChannel(%q) = %v, want ok %v", channel, err, ok)
		}
	}
}

// TestEndpointPorts: 1 to 65535.
func TestEndpointPorts(t *testing.T) {
	for endpoint, ok := range map[string]bool{"127.0.0.1:1": true, "127.0.0.1:65535": true, "127.0.0.1:65536": false, "127.0.0.1:0": false} {
		if err := (ablyconn.Config{Endpoint: endpoint}).Validate(); (err == nil) != ok {
			t.Errorf("Validate(%s) = %v, want ok %v", endpoint, err, ok)
		}
	}
}

// TestTrustedOptions: a trusted program's tokens are for its clientId and
// last TokenTTL, an hour when none is set; no clientId is refused.
func TestTrustedOptions(t *testing.T) {
	srv := ablytest.Start(t, ablylocal.Config{})
	if _, err := srv.Conn.TrustedOptions("", ""); err == nil {
		t.Error("TrustedOptions without a clientId: no error")
	}
	for _, tt := range []struct {
		ttl, want time.Duration
	}{{0, time.Hour}, {-time.Minute, time.Hour}, {5 * time.Minute, 5 * time.Minute}} {
		c := srv.Conn
		c.TokenTTL = tt.ttl
		opts, err := c.TrustedOptions("hitl:agent", "")
		if err != nil {
			t.Fatal(err)
		}
		rest, err := ably.NewREST(opts...)
		if err != nil {
			t.Fatal(err)
		}
		td, err := rest.Auth.Authorize(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := time.Duration(td.Expires-td.Issued) * time.Millisecond; got < tt.want-time.Second || got > tt.want+time.Second || td.ClientID != "hitl:agent" {
			t.Errorf("TokenTTL %v: a token of %v for %q, want %v for hitl:agent", tt.ttl, got, td.ClientID, tt.want)
		}
	}
}

// TestNewRealtimeConnects: the client NewRealtime builds without
// connecting in its constructor does connect.
func TestNewRealtimeConnects(t *testing.T) {
	srv := ablytest.Start(t, ablylocal.Config{})
	opts, err := srv.Conn.TrustedOptions("hitl:agent", "")
	if err != nil {
		t.Fatal(err)
	}
	rt, err := ablyconn.NewRealtime(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	testutil.Eventually(t, 10*time.Second, "the client connected", func() bool {
		return rt.Connection.State() == ably.ConnectionStateConnected
	})
}

// TestRequireKey: a refused key stops the program; Ably out of reach is
// a warning, and a start-up cut short (its context ended) not even that.
func TestRequireKey(t *testing.T) {
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"code":40101,"statusCode":401,"message":"x"}}`)
	}))
	t.Cleanup(refusing.Close)
	unreachable := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	ended, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tt := range []struct {
		name, endpoint string
		ctx            context.Context
		refused, warns bool
	}{
		{name: "refused", endpoint: strings.TrimPrefix(refusing.URL, "http://"), ctx: t.Context(), refused: true},
		{name: "out of reach", endpoint: unreachable, ctx: t.Context(), warns: true},
		{name: "start-up cut short", endpoint: unreachable, ctx: ended},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, nil))
			err := ablyconn.Config{APIKey: ablytest.APIKey, Endpoint: tt.endpoint}.RequireKey(tt.ctx, log, "checker", checkCapability)
			if errors.Is(err, ablyconn.ErrKeyRefused) != tt.refused || (err != nil) != tt.refused {
				t.Errorf("RequireKey = %v, want refused %v", err, tt.refused)
			}
			if got := strings.Contains(buf.String(), "could not check the Ably key"); got != tt.warns {
				t.Errorf("warned %v, want %v; log:\n%s", got, tt.warns, buf.String())
			}
		})
	}
}

// TestCheckKeyGrants: a capability Ably grants with "*" for the
// operations holds every one; code 40160 (an action the key does not
// permit) refuses the key.
func TestCheckKeyGrants(t *testing.T) {
	answer := func(status int, body string) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprint(w, body)
		}))
		t.Cleanup(s.Close)
		return strings.TrimPrefix(s.URL, "http://")
	}
	now := time.Now().UnixMilli()
	token := func(capability string) string {
		return fmt.Sprintf(`{"token":"t","issued":%d,"expires":%d,"clientId":"checker","capability":%q}`, now, now+3600_000, capability)
	}
	for _, tt := range []struct {
		name, endpoint string
		refused        bool
	}{
		{name: "every operation", endpoint: answer(200, token(`{"ai:approvals":["*"]}`))},
		{name: "the operations asked", endpoint: answer(200, token(checkCapability))},
		{name: "one operation short", endpoint: answer(200, token(`{"ai:approvals":["history","publish"]}`)), refused: true},
		{name: "not permitted", endpoint: answer(401, `{"error":{"code":40160,"statusCode":401,"message":"x"}}`), refused: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := ablyconn.Config{APIKey: ablytest.APIKey, Endpoint: tt.endpoint}.CheckKey(t.Context(), "checker", checkCapability)
			if errors.Is(err, ablyconn.ErrKeyRefused) != tt.refused || (err != nil) != tt.refused {
				t.Errorf("CheckKey = %v, want refused %v", err, tt.refused)
			}
		})
	}
}
