// Package ablytest starts the local Ably-protocol server for tests, the way
// net/http/httptest starts an HTTP server: on a spare loopback port, closed
// by t.Cleanup. Tests of every package that talks to Ably use it instead of
// their own copy.
package ablytest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/ablylocal"
)

// The key a server started without keys accepts.
const (
	KeyName   = "app.key"
	KeySecret = "s3cret"
	// APIKey is KeyName:KeySecret, as ABLY_API_KEY holds it.
	APIKey = KeyName + ":" + KeySecret
)

// Server is a running local Ably server.
type Server struct {
	*ablylocal.Server
	// Conn is the connection config of a trusted program holding the
	// server's first key: its endpoint, no TLS.
	Conn ablyconn.Config
}

// Start runs a local Ably server on 127.0.0.1 with cfg (Keys default to
// KeyName:KeySecret; the logger to a discarding one). The server stops when
// the test ends; a failure to close it fails the test.
func Start(t testing.TB, cfg ablylocal.Config) *Server {
	t.Helper()
	if len(cfg.Keys) == 0 {
		cfg.Keys = []ablylocal.Key{{Name: KeyName, Secret: KeySecret}}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := ablylocal.Listen(ctx, "127.0.0.1:0", cfg)
	if err != nil {
		cancel()
		t.Fatalf("ablylocal: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := srv.Close(); err != nil {
			t.Errorf("ablylocal close: %v", err)
		}
	})
	k := cfg.Keys[0]
	return &Server{Server: srv, Conn: ablyconn.Config{APIKey: k.Name + ":" + k.Secret, Endpoint: srv.Addr(), TLS: false}}
}

// ApproverCapability is the capability the auth server grants an approver
// on channel.
func ApproverCapability(channel string) string {
	return `{"` + channel + `":["history","publish","subscribe"]}`
}

// ApproverToken signs, with KeyName:KeySecret, the JWT the auth server
// issues an approver: clientId user, ApproverCapability(channel), and role
// as the channel's ably.channel user claim, valid for ttl from now.
func ApproverToken(user, channel, role string, now time.Time, ttl time.Duration) (token string, expires time.Time, err error) {
	return ablyconn.SignToken(KeyName, KeySecret, user, ApproverCapability(channel),
		map[string]any{"ably.channel." + channel: role}, now, ttl)
}

// ApproverOptions are ably-go client options that reach the server of c
// and authenticate, through an auth callback, as an approver with
// ApproverToken (one hour); ably-go's own logging is off.
func ApproverOptions(c ablyconn.Config, user, channel, role string) []ably.ClientOption {
	cb := func(context.Context, ably.TokenParams) (ably.Tokener, error) {
		tok, exp, err := ApproverToken(user, channel, role, time.Now(), time.Hour)
		if err != nil {
			return nil, err
		}
		return &ably.TokenDetails{Token: tok, Expires: exp.UnixMilli(), ClientID: user}, nil
	}
	return append(c.EndpointOptions(), ably.WithAuthCallback(cb), ably.WithLogLevel(ably.LogNone))
}
