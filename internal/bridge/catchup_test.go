package bridge

import (
	"slices"
	"strings"
	"testing"
	"time"

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

// TestReplayAppliesResolutionsFirst: a bridge restarted while one run waits
// reads back to that run's start. Calls decided since, whose resolution
// comes after their response in the history, are not signalled again (the
// ops probe saw 100 signal_failed drops for completed runs, counted as
// "refused for good", at every restart); a response published before its
// request reached the bridge is still routed by it.
func TestReplayAppliesResolutionsFirst(t *testing.T) {
	f := newFakeTemporal()
	addManyCalls(f, "wf-waiting", 3) // call_0 .. call_2 pending in the fake
	h := fastHandler(f, nil)
	b, logs := testRunner(t, h, 10)
	reqs := newRequests(workflows.DefaultAgentClientID, 100)
	h.requests, b.requests = reqs, reqs
	agent := workflows.DefaultAgentClientID
	exp := time.Now().Add(time.Hour)
	msgs := []*ably.Message{
		// call_0: requested, approved, resolved (its run went on).
		requestFrom(agent, "call_0", "wf-waiting", exp), msgFrom("alice", 0), resolvedFrom(agent, "call_0", "wf-waiting"),
		// call_1: the response came first, then the request; still open.
		msgFrom("alice", 1), requestFrom(agent, "call_1", "wf-waiting", exp),
	}
	if n := b.replayMessages(t.Context(), msgs); n != 2 {
		t.Fatalf("handled %d responses, want 2", n)
	}
	sent := f.sent()
	if len(sent) != 1 || sent[0].Decision.ToolCallID != "call_1" {
		t.Fatalf("signalled %+v, want only call_1's decision", sent)
	}
	if !strings.Contains(logs(), "announced the tool call resolved") {
		t.Errorf("call_0's response was not dropped as resolved:\n%s", logs())
	}
}
