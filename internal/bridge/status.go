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
	mu     sync.Mutex
	client *ably.Realtime
	ch     *ably.RealtimeChannel
}

// set makes Check ask the live client and channel.
func (s *Status) set(client *ably.Realtime, ch *ably.RealtimeChannel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.client, s.ch = client, ch
}

// Check returns nil while the bridge is connected to Ably and attached to
// the approvals channel, and an error that says why not otherwise.
func (s *Status) Check(context.Context) error {
	s.mu.Lock()
	client, ch := s.client, s.ch
	s.mu.Unlock()
	if client == nil {
		return errors.New("bridge not started")
	}
	if st := client.Connection.State(); st != ably.ConnectionStateConnected {
		return notUp("ably connection", st, client.Connection.ErrorReason())
	}
	if st := ch.State(); st != ably.ChannelStateAttached {
		return notUp("ably channel "+ch.Name, st, ch.ErrorReason())
	}
	return nil
}

// notUp says that what is in state, and why when Ably gave a reason.
func notUp(what string, state fmt.Stringer, reason *ably.ErrorInfo) error {
	if reason == nil {
		return fmt.Errorf("%s %s", what, state)
	}
	return fmt.Errorf("%s %s: %s", what, state, errString(reason))
}
