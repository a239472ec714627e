package bridge

import (
	"slices"
	"testing"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/workflows"
)

// The catch-up keeps the agent's requests and resolutions and the
// responses that decode, at most maxPer per approver (the newest, as
// history comes newest first); the rest is dropped as it is read.
func TestCatchUpFilter(t *testing.T) {
	agent := workflows.DefaultAgentClientID
	named := func(name, clientID string) *ably.Message {
		return &ably.Message{ID: "m-" + name, Name: name, ClientID: clientID, Data: "x"}
	}
	tests := []struct {
		name string
		msg  *ably.Message
		want bool
	}{
		{"the agent's request", named(workflows.MsgApprovalRequest, agent), true},
		{"the agent's resolution", named(workflows.MsgApprovalResolved, agent), true},
		{"a request by someone else", named(workflows.MsgApprovalRequest, "mallory"), false},
		{"a resolution by someone else", named(workflows.MsgApprovalResolved, "mallory"), false},
		{"a response that decodes", msgFrom("alice", 1), true},
		{"a response that does not decode", named(workflows.MsgApprovalResponse, "alice"), false},
		{"another name", named("chat", "alice"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newCatchUpFilter(agent, 10)
			if got := f.keep(tt.msg); got != tt.want {
				t.Errorf("keep = %v, want %v", got, tt.want)
			}
			if len(f.capped()) != 0 {
				t.Errorf("capped = %q, want none", f.capped())
			}
		})
	}

	t.Run("at most maxPer responses per approver", func(t *testing.T) {
		f := newCatchUpFilter(agent, 3)
		var kept []int
		for i := range 5 {
			if f.keep(msgFrom("mallory", i)) {
				kept = append(kept, i)
			}
		}
		if !f.keep(msgFrom("alice", 9)) {
			t.Error("alice's response was dropped for mallory's")
		}
		if !f.keep(named(workflows.MsgApprovalRequest, agent)) {
			t.Error("the agent's request was dropped for mallory's responses")
		}
		if !slices.Equal(kept, []int{0, 1, 2}) {
			t.Errorf("kept %v of mallory's, want the first three read (the newest)", kept)
		}
		if got := f.capped(); !slices.Equal(got, []string{"mallory"}) {
			t.Errorf("capped = %q, want [mallory]", got)
		}
	})
}
