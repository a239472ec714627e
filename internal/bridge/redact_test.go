package bridge

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/ablylocal"
	"github.com/hitl/durable-approvals/internal/ablylocal/ablytest"
	"github.com/hitl/durable-approvals/internal/testutil"
)

// A token Ably refuses makes ably-go ask for another and dial once with
// it; when that dial fails (Ably restarting, the network gone), the
// connection is FAILED with the dial's error, whose URL holds the fresh
// token, as its reason, and the bridge's subscribe fails with it. The
// bridge's log must not hand that token out: it publishes as the bridge.
func TestBridgeLogHidesTheTokenOfAFailedConnection(t *testing.T) {
	srv := ablytest.Start(t, ablylocal.Config{})
	var calls atomic.Int32
	var mu sync.Mutex
	var sigs []string
	cb := func(context.Context, ably.TokenParams) (ably.Tokener, error) {
		secret := ablytest.KeySecret
		switch calls.Add(1) {
		case 1: // one Ably refuses (40144)
			secret = "not-" + secret
		case 2: // the one ably-go asks for again: Ably is gone meanwhile
			// (Close waits for the refused connection, which ably-go
			// keeps until it has this token: its listener closes first.)
			addr := srv.Addr()
			go srv.Close()
			testutil.WaitClosed(addr, 5*time.Second)
		}
		now := time.Now()
		tok, exp, err := ablyconn.SignToken(ablytest.KeyName, secret, "hitl:bridge", "", nil, now, time.Hour)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		sigs = append(sigs, tok[strings.LastIndex(tok, ".")+1:])
		mu.Unlock()
		return &ably.TokenDetails{Token: tok, Expires: exp.UnixMilli(), Issued: now.UnixMilli(), ClientID: "hitl:bridge"}, nil
	}
	logs := startBridge(t, srv.Conn, newFakeTemporal(), func(c *Config) {
		// The bridge's own ably-go logger stays: only the token source
		// is the test's.
		c.AblyOptions = []ably.ClientOption{ably.WithAuthCallback(cb)}
	})
	testutil.Eventually(t, 20*time.Second, "the subscribe to fail", func() bool { return strings.Contains(logs(), "subscribe failed") })
	if calls.Load() < 2 {
		t.Fatalf("%d tokens asked for, want 2 (the scenario did not happen):\n%s", calls.Load(), logs())
	}
	out := logs()
	mu.Lock()
	defer mu.Unlock()
	for _, sig := range sigs {
		if strings.Contains(out, sig) {
			t.Fatalf("the bridge's log holds a token:\n%s", out)
		}
	}
}
