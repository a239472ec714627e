package ablylocal

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/testutil"
)

// Checklist item 2: HEARTBEATs keep an idle ably-go connection up past its
// read deadline (10 s + maxIdleInterval); without them ably-go drops it.
// maxIdleInterval is 1 s here, so both cases settle in about 11 s.
func TestHeartbeatsKeepAblyGoConnected(t *testing.T) {
	for _, tt := range []struct {
		name      string
		heartbeat time.Duration
		wantDrop  bool
	}{
		{"heartbeats every 500ms", 500 * time.Millisecond, false},
		{"no heartbeats", time.Hour, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fx := startServer(t, func(c *Config) {
				c.MaxIdleInterval = time.Second
				c.HeartbeatInterval = tt.heartbeat
			})
			c := fx.realtimeKey(t, true, testKey)
			var drops atomic.Int32
			off := c.Connection.On(ably.ConnectionEventDisconnected, func(ably.ConnectionStateChange) { drops.Add(1) })
			t.Cleanup(off)
			window := 10*time.Second + time.Second + 2*time.Second
			if tt.wantDrop {
				testutil.Eventually(t, window, "the idle connection to be dropped", func() bool { return drops.Load() > 0 })
			} else {
				testutil.Consistently(t, window, "no drop of the idle connection", func() bool { return drops.Load() == 0 })
			}
		})
	}
}

// Checklist item 6: ably-go refuses Basic auth over ws:// on its own side
// (RSA1, 40103) unless told otherwise; a JWT over ws:// is fine.
func TestBasicAuthWithoutTLSRefusedByAblyGo(t *testing.T) {
	fx := startServer(t, nil)
	_, err := ably.NewRealtime(append(fx.endpoint(true), ably.WithKey(testKey), ably.WithAutoConnect(false))...)
	var ei *ably.ErrorInfo
	if !errors.As(err, &ei) || ei.Code != 40103 {
		t.Fatalf("NewRealtime with a key over ws:// = %v, want 40103", err)
	}
	c := fx.realtimeJWT(t, true, tokenSpec{clientID: "u"})
	if s := c.Connection.State(); s != ably.ConnectionStateConnected {
		t.Fatalf("JWT over ws://: state %v", s)
	}
}
