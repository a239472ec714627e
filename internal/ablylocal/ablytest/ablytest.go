// Package ablytest starts the local Ably-protocol server for tests, the way
// net/http/httptest starts an HTTP server: on a spare loopback port, closed
// by t.Cleanup. Tests of every package that talks to Ably use it instead of
// their own copy.
package ablytest

import (
	"context"
	"log/slog"
	"testing"

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
