package approvercli

import (
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// TestSessionCatchesUpAfterAttachWithoutContinuity: when the channel is
// attached again without continuity (Ably could not resume it, as after a
// connection lost for longer than Ably keeps its state), what was
// published meanwhile is not delivered live; the session reads it from
// the history, as the bridge and the web inbox do. A soak that restarted
// the local Ably server found that the CLI had no such catch-up (the
// local server replays from the channel serial, which hid it there).
func TestSessionCatchesUpAfterAttachWithoutContinuity(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  ably.ChannelStateChange
		catchUp bool
	}{
		{"attached, not resumed", ably.ChannelStateChange{Event: ably.ChannelEventAttached, Current: ably.ChannelStateAttached}, true},
		{"update, not resumed", ably.ChannelStateChange{Event: ably.ChannelEventUpdate, Current: ably.ChannelStateAttached}, true},
		{"attached, resumed", ably.ChannelStateChange{Event: ably.ChannelEventAttached, Current: ably.ChannelStateAttached, Resumed: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startEnv(t)
			s, err := open(t.Context(), e.cliConfig(t, nil))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.close)
			// Stop the live delivery: the request below is one the
			// session missed, as in a gap Ably could not replay.
			s.unsub()
			s.unsub = nil
			publishRequest(t, e.rest(t, workflows.DefaultAgentClientID), "call_missed", "wf-gap", time.Now().Add(10*time.Minute))
			// Attached again (a new attach point, after the request);
			// the local server resumes, so what Ably says of a channel
			// it could not resume is handed to the listener here.
			if err := s.ch.Detach(t.Context()); err != nil {
				t.Fatal(err)
			}
			if err := s.ch.Attach(t.Context()); err != nil {
				t.Fatal(err)
			}
			s.channelChanged(tc.change)
			seen := func() bool {
				for {
					select {
					case m := <-s.events:
						if ev := s.apply(m); ev.Kind == EventRequest && ev.Request.ToolCallID == "call_missed" {
							return true
						}
					default:
						return false
					}
				}
			}
			if tc.catchUp {
				testutil.Eventually(t, 15*time.Second, "the missed request read from the history", seen)
			} else {
				testutil.Consistently(t, time.Second, "no history read after a resumed attach", func() bool { return !seen() })
			}
		})
	}
}
