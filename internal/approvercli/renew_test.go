package approvercli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/testutil"
)

// renewToken tells a failure that may pass (the auth server unreachable:
// keepConnected connects again later) from a refusal that ends the
// session (the password no longer works, or an answer that is not a JWT:
// AUTH_URL points at something else), and says once that a renewal worked
// again.
func TestRenewToken(t *testing.T) {
	unreachable := errors.New("dial tcp 127.0.0.1:3001: connection refused")
	tests := []struct {
		name        string
		failedFirst bool // the renewal before this one failed
		err         error
		wantFatal   bool // passed on to authErr
		wantRetry   bool // renewFailed set for keepConnected
		wantLog     string
	}{
		{"renewed", false, nil, false, false, ""},
		{"renewed after a failure", true, nil, false, false, "auth server reachable again: token renewed"},
		{"auth server unreachable", false, unreachable, false, true, "cannot renew the Ably token"},
		{"password refused", false, fmt.Errorf("login: %w", ErrLoginRefused), true, false, ""},
		{"not a JWT", false, fmt.Errorf("login: %w: the auth server did not return a JWT", ErrNotAToken), true, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs testutil.SyncBuffer
			s := &session{cfg: Config{Log: slog.New(slog.NewTextHandler(&logs, nil))}, authErr: make(chan error, 1)}
			s.renewFailed.Store(tt.failedFirst)
			tok, err := s.renewToken(t.Context(), func(context.Context) (ably.Tokener, error) {
				if tt.err != nil {
					return nil, tt.err
				}
				return &ably.TokenDetails{Token: "t"}, nil
			})
			if !errors.Is(err, tt.err) || (tt.err == nil) != (tok != nil) {
				t.Fatalf("renewToken = %v, %v; want the token or %v", tok, err, tt.err)
			}
			var fatal error
			select {
			case fatal = <-s.authErr:
			default:
			}
			if (fatal != nil) != tt.wantFatal || (fatal != nil && !errors.Is(fatal, tt.err)) {
				t.Errorf("passed on to end the session: %v, want %v", fatal, tt.wantFatal)
			}
			if got := s.renewFailed.Load(); got != tt.wantRetry {
				t.Errorf("renewFailed = %v, want %v", got, tt.wantRetry)
			}
			if tt.wantLog == "" && logs.String() != "" || !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("log = %q, want %q", logs.String(), tt.wantLog)
			}
		})
	}
}
