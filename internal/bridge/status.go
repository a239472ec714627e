package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ably/ably-go/ably"
)

// Status reports whether a running bridge can receive decisions: its Ably
// connection is up and the approvals channel attached. The health endpoint
// asks it (Check), so that a bridge Ably refuses (a wrong key, a revoked
// capability) is unhealthy instead of looking fine while no decision
// reaches a run. The zero Status reports "not started".
type Status struct {
	mu    sync.Mutex
	check func() error
}

// set makes Check ask the live client and channel.
func (s *Status) set(client *ably.Realtime, ch *ably.RealtimeChannel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.check = func() error {
		if st := client.Connection.State(); st != ably.ConnectionStateConnected {
			msg := fmt.Sprintf("ably connection %s", st)
			if reason := client.Connection.ErrorReason(); reason != nil {
				msg += ": " + errString(reason)
			}
			return errors.New(msg)
		}
		if st := ch.State(); st != ably.ChannelStateAttached {
			msg := fmt.Sprintf("ably channel %s %s", ch.Name, st)
			if reason := ch.ErrorReason(); reason != nil {
				msg += ": " + errString(reason)
			}
			return errors.New(msg)
		}
		return nil
	}
}

// Check returns nil while the bridge is connected to Ably and attached to
// the approvals channel, and an error that says why not otherwise.
func (s *Status) Check(context.Context) error {
	s.mu.Lock()
	check := s.check
	s.mu.Unlock()
	if check == nil {
		return errors.New("bridge not started")
	}
	return check()
}
