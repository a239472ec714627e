package approvercli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/testutil"
)

// The password goes to the auth server with HTTP Basic and the approver's
// JWT to Ably: neither in clear text off this machine, unless the approver
// says so explicitly.
func TestConfigValidate(t *testing.T) {
	local := ablyconn.Config{Endpoint: "127.0.0.1:8090"}
	tests := []struct {
		name          string
		mutate        func(c *Config)
		wantErr       string // substring; "" means valid
		plaintext     bool   // the error is ErrPlaintext
		ablyPlaintext bool   // the error is ablyconn.ErrPlaintext
	}{
		{name: "the dev stack", mutate: func(c *Config) {}},
		{name: "http on localhost", mutate: func(c *Config) { c.AuthURL = "http://localhost:3001" }},
		{name: "http on ::1", mutate: func(c *Config) { c.AuthURL = "http://[::1]:3001/" }},
		{name: "https anywhere", mutate: func(c *Config) { c.AuthURL = "https://auth.example" }},
		{name: "http off loopback", mutate: func(c *Config) { c.AuthURL = "http://auth.example:3001" },
			wantErr: "use https://, or set APPROVER_INSECURE_ALLOW_PLAINTEXT=true", plaintext: true},
		{name: "http to an address off loopback", mutate: func(c *Config) { c.AuthURL = "http://192.0.2.2:3001" }, plaintext: true,
			wantErr: `AUTH_URL (-auth-url) "http://192.0.2.2:3001"`},
		{name: "http off loopback, credentials in the URL redacted", mutate: func(c *Config) { c.AuthURL = "http://alice:pw@auth.example" },
			wantErr: "http://xxxxx@auth.example", plaintext: true},
		{name: "http off loopback, allowed", mutate: func(c *Config) { c.AuthURL, c.AllowPlaintext = "http://auth.example:3001", true }},
		{name: "not http", mutate: func(c *Config) { c.AuthURL = "ftp://127.0.0.1" }, wantErr: `AUTH_URL (-auth-url) "ftp://127.0.0.1": want http(s)://host[:port]`},
		{name: "no host", mutate: func(c *Config) { c.AuthURL = "http://:3001" }, wantErr: "want http(s)://host[:port]"},
		{name: "no auth url", mutate: func(c *Config) { c.AuthURL = "" }, wantErr: "AUTH_URL (-auth-url) is required"},
		{name: "plain Ably off loopback", mutate: func(c *Config) { c.Ably = ablyconn.Config{Endpoint: "192.0.2.9:8080"} },
			wantErr: "ABLY_TLS=true", ablyPlaintext: true},
		{name: "plain Ably off loopback, allowed", mutate: func(c *Config) {
			c.Ably = ablyconn.Config{Endpoint: "192.0.2.9:8080", AllowPlaintext: true}
		}},
		{name: "Ably itself", mutate: func(c *Config) { c.Ably = ablyconn.Config{TLS: true} }},
		{name: "no user", mutate: func(c *Config) { c.User = "" }, wantErr: "APPROVER_USER (-user) is required"},
		{name: "history pages negative", mutate: func(c *Config) { c.HistoryPages = -1 }, wantErr: "-history-pages -1: want 1 to 1000"},
		{name: "history pages too many", mutate: func(c *Config) { c.HistoryPages = 1001 }, wantErr: "-history-pages 1001: want 1 to 1000"},
		{name: "history pages at the bound", mutate: func(c *Config) { c.HistoryPages = 1000 }},
		// A channel Ably would refuse, or none (an empty -channel), is
		// bad input, as the bridge's, not a login followed by a failed
		// attach or a watch of the default channel.
		{name: "channel with a wildcard", mutate: func(c *Config) { c.Channel = "ai:*" }, wantErr: `ABLY_CHANNEL (-channel): channel "ai:*": wildcards are not allowed`},
		{name: "channel with a qualifier", mutate: func(c *Config) { c.Channel = "[?rewind=1]ai" }, wantErr: "qualifiers are not allowed"},
		{name: "no channel", mutate: func(c *Config) { c.Channel = "" }, wantErr: "ABLY_CHANNEL (-channel)"},
		{name: "no agent client id", mutate: func(c *Config) { c.AgentClientID = "" }, wantErr: "HITL_AGENT_CLIENT_ID (-agent-client-id) is empty"},
		{name: "agent client id a wildcard", mutate: func(c *Config) { c.AgentClientID = "*" }, wantErr: `HITL_AGENT_CLIENT_ID (-agent-client-id) "*" is Ably's wildcard`},
		{name: "agent client id unprintable", mutate: func(c *Config) { c.AgentClientID = "\t" }, wantErr: "unprintable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Ably: local, AuthURL: "http://127.0.0.1:3001", User: "alice", Password: "pw", Channel: "ai:big-bad-any", AgentClientID: "hitl:agent"}
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Validate() = %v, want %q", err, tt.wantErr)
			}
			if got := errors.Is(err, ErrPlaintext); got != tt.plaintext {
				t.Errorf("errors.Is(%v, ErrPlaintext) = %v, want %v", err, got, tt.plaintext)
			}
			if got := errors.Is(err, ablyconn.ErrPlaintext); got != tt.ablyPlaintext {
				t.Errorf("errors.Is(%v, ablyconn.ErrPlaintext) = %v, want %v", err, got, tt.ablyPlaintext)
			}
		})
	}
}

// With the Ably endpoint down, the error says so (the attach's own error
// is only a deadline), and neither it nor the log shows the user's token.
func TestOpenSaysWhyNotConnected(t *testing.T) {
	e := startEnv(t)
	cfg := e.cliConfig(t, nil)
	cfg.Ably.Endpoint = fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)) // nothing listens
	cfg.Timeout = 3 * time.Second
	logs := &testutil.SyncBuffer{}
	cfg.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.AblyOptions = nil // ably-go logs at its default level through cfg.Log
	err := List(t.Context(), cfg, io.Discard)
	if err == nil {
		t.Fatal("List with no Ably server: no error")
	}
	msg := err.Error()
	if !strings.Contains(msg, "no connection to the Ably endpoint "+cfg.Ably.Endpoint+" (ABLY_ENDPOINT)") {
		t.Errorf("error %q does not say the endpoint is unreachable", msg)
	}
	for what, text := range map[string]string{"error": msg, "log": logs.String()} {
		if strings.Contains(text, "access_token=ey") || strings.Contains(text, "accessToken\":\"ey") {
			t.Errorf("the %s shows the user's token:\n%s", what, text)
		}
	}
	t.Logf("error: %v", err)
}

// At ably-go's verbose level the token is printed as it is renewed (the
// token itself, and the AUTH message that carries it); the log shows
// neither.
func TestVerboseAblyLogHidesToken(t *testing.T) {
	e := startEnv(t)
	cfg := e.cliConfig(t, nil)
	logs := &testutil.SyncBuffer{}
	cfg.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.AblyOptions = []ably.ClientOption{ably.WithLogLevel(ably.LogVerbose)}
	s, err := open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	tok, err := s.client.Auth.Authorize(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the AUTH message to be logged", func() bool {
		return strings.Contains(logs.String(), `action=\"auth\"`)
	})
	if !strings.Contains(logs.String(), "reauthorization") {
		t.Fatalf("no reauthorization logged: the test shows nothing\n%s", logs.String())
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, tok.Token) {
			t.Errorf("token in the log: %.200s", line)
		}
	}
}

// The role comes from the latest token: once the auth server issues
// another (a promotion in the users file), a renewal brings it.
func TestSessionRoleFollowsRenewedToken(t *testing.T) {
	e := startEnv(t)
	s, err := open(t.Context(), e.cliConfig(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if got := s.role(); got != "publisher" {
		t.Fatalf("role %q, want publisher", got)
	}
	admin := "admin"
	e.role.Store(&admin)
	if _, err := s.client.Auth.Authorize(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if got := s.role(); got != "admin" {
		t.Fatalf("role after a renewal %q, want admin", got)
	}
}
