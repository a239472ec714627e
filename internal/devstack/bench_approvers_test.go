package devstack

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/approvercli"
)

// TestLoginPatiently: the bench's approvers, logged in at once, ask again
// after the auth server's Retry-After while it answers 429 (its password
// checks all busy on a loaded machine), instead of failing the bench; a
// refusal still fails at once, and a 429 that lasts ends with ctx.
func TestLoginPatiently(t *testing.T) {
	tok, _, err := ablyconn.SignToken("app.key", "s3cret", "pat", "", nil, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var calls, busyFor atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		u, _, _ := r.BasicAuth()
		switch {
		case u == "nobody":
			http.Error(w, "unauthorized", http.StatusUnauthorized)
		case n <= busyFor.Load():
			w.Header().Set("Retry-After", "1")
			http.Error(w, "busy", http.StatusTooManyRequests)
		default:
			w.Write([]byte(tok))
		}
	}))
	t.Cleanup(srv.Close)
	login := func(user string) *approvercli.Login {
		return &approvercli.Login{AuthURL: srv.URL, User: user, Password: "pw"}
	}

	busyFor.Store(1)
	start := time.Now()
	if err := loginPatiently(t.Context(), login("pat")); err != nil {
		t.Fatalf("after one 429: %v", err)
	}
	if calls.Load() != 2 || time.Since(start) < time.Second {
		t.Errorf("%d requests in %v, want 2, the second after Retry-After (1s)", calls.Load(), time.Since(start))
	}

	calls.Store(0)
	if err := loginPatiently(t.Context(), login("nobody")); !errors.Is(err, approvercli.ErrLoginRefused) || calls.Load() != 1 {
		t.Errorf("a refused login: %v after %d requests, want ErrLoginRefused after 1", err, calls.Load())
	}

	calls.Store(0)
	busyFor.Store(1000)
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	var throttled *approvercli.ThrottledError
	if err := loginPatiently(ctx, login("pat")); !errors.As(err, &throttled) {
		t.Errorf("a 429 that lasts past ctx: %v, want the *ThrottledError", err)
	}
}
