package approvercli

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// TestDecideWaitsForTheOutcome: once the decision is sent, `approve` waits
// for the agent's word on it (--wait-outcome). The inbox probe found that
// an edit the workflow refused printed "Decision sent" and exited 0, and
// nothing more came until the call expired; the agent now publishes
// approval-ignored, naming the response and why, and the command prints it
// and fails. Another approver's notice, or one naming another message of
// the same approver, is not this decision's.
func TestDecideWaitsForTheOutcome(t *testing.T) {
	tests := []struct {
		name    string
		before  func(t *testing.T, agent *ably.RESTChannel)                     // the agent's, before alice decides
		answer  func(t *testing.T, agent *ably.RESTChannel, resp *ably.Message) // the agent's, after alice's response
		wantOut string
		wantErr error
	}{
		{
			name: "resolved by a quorum: every approver named",
			answer: func(t *testing.T, agent *ably.RESTChannel, _ *ably.Message) {
				publishResolved(t, agent, workflows.ApprovalResolvedData{ToolCallID: "call_1", WorkflowID: "wf-1", Tool: "publish_blog_post", Outcome: "approved", DecidedBy: "alice", Role: "publisher",
					ApprovedBy: []workflows.Approver{{ClientID: "pat", Role: "publisher"}, {ClientID: "alice", Role: "publisher"}}})
			},
			wantOut: "Resolved: publish_blog_post (call_1) approved by pat (publisher), alice (publisher)",
		},
		{
			name: "no word after the agent's last notice for this approver and call",
			before: func(t *testing.T, agent *ably.RESTChannel) {
				for i := range workflows.MaxIgnoredNotices {
					publishIgnored(t, agent, "alice", fmt.Sprintf("earlier-%d:0", i), "edited arguments refused")
				}
			},
			answer:  func(*testing.T, *ably.RESTChannel, *ably.Message) {},
			wantOut: "it said so 3 times on this one: it may not have counted this one either",
		},
		{
			name: "not counted",
			answer: func(t *testing.T, agent *ably.RESTChannel, resp *ably.Message) {
				publishIgnored(t, agent, "bob", resp.ID, "not bob's")
				publishIgnored(t, agent, "alice", "other:0", "another message of alice's")
				publishIgnored(t, agent, "alice", resp.ID, "edited arguments refused: title: want string, got number")
			},
			wantOut: "Not counted: publish_blog_post (call_1): the agent did not count your decision: edited arguments refused: title: want string, got number",
			wantErr: ErrNotCounted,
		},
		{
			name: "resolved",
			answer: func(t *testing.T, agent *ably.RESTChannel, _ *ably.Message) {
				publishResolved(t, agent, workflows.ApprovalResolvedData{ToolCallID: "call_1", WorkflowID: "wf-1", Tool: "publish_blog_post", Outcome: "approved", DecidedBy: "alice", Role: "publisher"})
			},
			wantOut: "Resolved: publish_blog_post (call_1) approved by alice (publisher)",
		},
		{
			// The same tool call id in another workflow is another call.
			name: "resolved, after another workflow's call of the same id",
			answer: func(t *testing.T, agent *ably.RESTChannel, _ *ably.Message) {
				publishResolved(t, agent, workflows.ApprovalResolvedData{ToolCallID: "call_1", WorkflowID: "wf-other", Tool: "publish_blog_post", Outcome: "rejected", DecidedBy: "carol", Role: "admin"})
				publishResolved(t, agent, workflows.ApprovalResolvedData{ToolCallID: "call_1", WorkflowID: "wf-1", Tool: "publish_blog_post", Outcome: "approved", DecidedBy: "alice", Role: "publisher"})
			},
			wantOut: "Resolved: publish_blog_post (call_1) approved by alice (publisher)",
		},
		{
			name: "counted toward a quorum",
			answer: func(t *testing.T, agent *ably.RESTChannel, _ *ably.Message) {
				d := workflows.ApprovalRequestData{
					Tool: "publish_blog_post", Arguments: `{"title":"Introducing our new API"}`, ToolCallID: "call_1", WorkflowID: "wf-1",
					RequiredRole: "publisher", Requester: "bob", RequestedAt: time.Now().UTC(), ExpiresAt: time.Now().Add(10 * time.Minute).UTC(),
				}
				d.Approvals, d.Revision = 2, 1
				d.ApprovedBy = []workflows.Approver{{ClientID: "alice", Role: "publisher"}}
				m := &ably.Message{ID: "wf-1:call_1:request-1", Name: workflows.MsgApprovalRequest, Data: d,
					Extras: map[string]any{"headers": map[string]any{"toolCallId": "call_1", "workflowId": "wf-1"}}}
				if err := agent.PublishMultiple(t.Context(), []*ably.Message{m}); err != nil {
					t.Fatal(err)
				}
			},
			wantOut: "Counted: 1 of 2 approvals",
		},
		{
			// rejectBy quorum: alice's approval withdraws her counted
			// rejection (changeOneVote), and the CLI says so.
			name: "counted, withdrawing a rejection",
			before: func(t *testing.T, agent *ably.RESTChannel) {
				publishRevision(t, agent, 1, nil, []workflows.Approver{{ClientID: "alice", Role: "publisher"}})
			},
			answer: func(t *testing.T, agent *ably.RESTChannel, _ *ably.Message) {
				publishRevision(t, agent, 2, []workflows.Approver{{ClientID: "alice", Role: "publisher"}}, nil)
			},
			wantOut: "Counted: 1 of 2 approvals; your rejection no longer counts",
		},
		{
			name:    "no word",
			answer:  func(*testing.T, *ably.RESTChannel, *ably.Message) {},
			wantOut: "The agent has not answered within 2s",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startEnv(t)
			agent := e.rest(t, workflows.DefaultAgentClientID)
			publishRequest(t, agent, "call_1", "wf-1", time.Now().Add(10*time.Minute))
			if tt.before != nil {
				tt.before(t, agent)
			}
			var out testutil.SyncBuffer
			done := make(chan error, 1)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			go func() {
				done <- Decide(ctx, e.cliConfig(t, nil), DecideArgs{ToolCallID: "call_1", Decision: workflows.DecisionApproved, Outcome: 2 * time.Second}, &out)
			}()
			var resp *ably.Message
			testutil.Eventually(t, 15*time.Second, "alice's response on the channel", func() bool {
				rs := responses(t, agent)
				if len(rs) == 0 {
					return false
				}
				resp = rs[0]
				return true
			})
			if !strings.HasPrefix(resp.ID, "cli-") {
				t.Errorf("response id %q, want one the CLI chose", resp.ID)
			}
			tt.answer(t, agent, resp)
			var err error
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("Decide did not return")
			}
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Decide = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("output lacks %q:\n%s", tt.wantOut, out.String())
			}
		})
	}
}

// TestDecideInterruptedWhileWaitingForTheOutcome: Ctrl-C (or SIGTERM)
// while approve waits for the agent's word ends the wait, not the
// decision, which was sent: it says so and returns nil, as when the wait
// runs out. It returned "context canceled" (exit status 1, which the
// README gives a decision that could not be sent; a lifecycle probe).
func TestDecideInterruptedWhileWaitingForTheOutcome(t *testing.T) {
	e := startEnv(t)
	agent := e.rest(t, workflows.DefaultAgentClientID)
	publishRequest(t, agent, "call_1", "wf-1", time.Now().Add(10*time.Minute))
	var out testutil.SyncBuffer
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		done <- Decide(ctx, e.cliConfig(t, nil), DecideArgs{ToolCallID: "call_1", Decision: workflows.DecisionApproved, Outcome: time.Minute}, &out)
	}()
	testutil.Eventually(t, 15*time.Second, "alice's response on the channel", func() bool { return len(responses(t, agent)) > 0 })
	testutil.Eventually(t, 15*time.Second, "Decision sent", func() bool { return strings.Contains(out.String(), "Decision sent") })
	err := cancelDecide(t, cancel, done)
	if err != nil {
		t.Errorf("Decide = %v, want nil: the decision was sent", err)
	}
	if want := "Stopped waiting for the agent's word: the decision was sent"; !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, out.String())
	}
}

// TestDecideInterruptedBeforeSending: Ctrl-C while approve waits for a
// request not published yet (--wait) says that nothing was sent; it said
// only "context canceled" (a lifecycle probe).
func TestDecideInterruptedBeforeSending(t *testing.T) {
	e := startEnv(t)
	agent := e.rest(t, workflows.DefaultAgentClientID)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var logs testutil.SyncBuffer
	cfg := e.cliConfig(t, nil)
	cfg.Log = slog.New(slog.NewTextHandler(&logs, nil))
	done := make(chan error, 1)
	go func() {
		done <- Decide(ctx, cfg, DecideArgs{ToolCallID: "call_1", Decision: workflows.DecisionApproved, Wait: time.Minute}, io.Discard)
	}()
	testutil.Eventually(t, 15*time.Second, "approve waiting for the request", func() bool { return strings.Contains(logs.String(), "waiting for it") })
	err := cancelDecide(t, cancel, done)
	if err == nil || !strings.Contains(err.Error(), "nothing was sent") {
		t.Errorf("Decide = %v, want it to say that nothing was sent", err)
	}
	if rs := responses(t, agent); len(rs) != 0 {
		t.Errorf("%d responses on the channel, want none", len(rs))
	}
}

// cancelDecide cancels a Decide running in a goroutine (as Ctrl-C does)
// and returns what it returned on done.
func cancelDecide(t *testing.T, cancel context.CancelFunc, done <-chan error) error {
	t.Helper()
	cancel()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("Decide did not return")
		return nil
	}
}

// publishRevision publishes revision rev of call_1's request under a
// policy of two approvals and rejectBy quorum, with those counted.
func publishRevision(t *testing.T, agent *ably.RESTChannel, rev int, approvedBy, rejectedBy []workflows.Approver) {
	t.Helper()
	publishRevisionOf(t, agent, 2, rev, approvedBy, rejectedBy)
}

// publishRevisionOf publishes revision rev of call_1 of wf-1, which needs
// approvals approvals, or as many rejections (rejectBy quorum), with
// those counted.
func publishRevisionOf(t *testing.T, agent *ably.RESTChannel, approvals, rev int, approvedBy, rejectedBy []workflows.Approver) {
	t.Helper()
	d := workflows.ApprovalRequestData{
		Tool: "publish_blog_post", Arguments: `{"title":"Introducing our new API"}`, ToolCallID: "call_1", WorkflowID: "wf-1",
		RequiredRole: "publisher", Requester: "bob", RequestedAt: time.Now().UTC(), ExpiresAt: time.Now().Add(10 * time.Minute).UTC(),
	}
	d.Approvals, d.Revision, d.RejectBy = approvals, rev, workflows.RejectByQuorum
	d.ApprovedBy, d.RejectedBy = approvedBy, rejectedBy
	m := &ably.Message{ID: fmt.Sprintf("wf-1:call_1:request-%d", rev), Name: workflows.MsgApprovalRequest, Data: d,
		Extras: map[string]any{"headers": map[string]any{"toolCallId": "call_1", "workflowId": "wf-1"}}}
	if err := agent.PublishMultiple(t.Context(), []*ably.Message{m}); err != nil {
		t.Fatal(err)
	}
}

// publishIgnored publishes the agent's approval-ignored of approver's
// response id on call_1 of wf-1.
func publishIgnored(t *testing.T, agent *ably.RESTChannel, approver, id, reason string) {
	t.Helper()
	d := workflows.ApprovalIgnoredData{ToolCallID: "call_1", WorkflowID: "wf-1", Tool: "publish_blog_post", Approver: approver,
		Decision: workflows.DecisionApproved, AblyMessageID: id, Reason: reason}
	m := &ably.Message{ID: fmt.Sprintf("ignored:%s:%s:%x", approver, id, sha256.Sum256([]byte(reason))), Name: workflows.MsgApprovalIgnored, Data: d,
		Extras: map[string]any{"headers": map[string]any{"toolCallId": "call_1", "workflowId": "wf-1"}}}
	if err := agent.PublishMultiple(t.Context(), []*ably.Message{m}); err != nil {
		t.Fatal(err)
	}
}

// TestWatchNotCounted: in watch, the agent's word that it did not count
// this approver's decision is printed with the reason, and the request is
// asked about again; another approver's is not shown.
func TestWatchNotCounted(t *testing.T) {
	e := startEnv(t)
	agent := e.rest(t, workflows.DefaultAgentClientID)
	publishRequest(t, agent, "call_1", "wf-1", time.Now().Add(10*time.Minute))
	inW, out, cancel, done := startWatch(t, e.cliConfig(t, nil))
	defer cancel()
	waitOutput(t, out, PromptDecision, 1)
	if _, err := inW.Write([]byte("y\n")); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, out, "Decision sent: approved", 1)
	resp := wantResponses(t, agent, 1)[0]
	publishIgnored(t, agent, "bob", "bob:0", "not alice's")
	publishIgnored(t, e.rest(t, "mallory"), "alice", resp.ID, "forged by mallory")
	publishIgnored(t, agent, "alice", "older:0", "about an older decision of alice's")
	publishIgnored(t, agent, "alice", resp.ID, "the approver saw other arguments")
	waitOutput(t, out, "Not counted: publish_blog_post (call_1): the agent did not count your decision: the approver saw other arguments", 1)
	waitOutput(t, out, PromptDecision, 2)
	if strings.Contains(out.String(), "not alice's") || strings.Contains(out.String(), "forged") || strings.Contains(out.String(), "older decision") {
		t.Errorf("another approver's notice, or one not from the agent, shown:\n%s", out.String())
	}
	cancel()
	waitReturn(t, done, 10*time.Second, "Watch", "after cancel")
}

// TestDecideForcedOnAResolvedCallDoesNotWait: --force on a call the CLI
// knows resolved sends the decision and returns: nothing will come back
// (the probe saw it wait 10 s and then blame the agent). An hour's wait
// would outlast the test's context.
func TestDecideForcedOnAResolvedCallDoesNotWait(t *testing.T) {
	e := startEnv(t)
	agent := e.rest(t, workflows.DefaultAgentClientID)
	publishRequest(t, agent, "call_1", "wf-1", time.Now().Add(10*time.Minute))
	publishResolved(t, agent, workflows.ApprovalResolvedData{ToolCallID: "call_1", WorkflowID: "wf-1", Tool: "publish_blog_post", Outcome: "rejected", DecidedBy: "ada", Role: "admin"})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out testutil.SyncBuffer
	err := Decide(ctx, e.cliConfig(t, nil), DecideArgs{ToolCallID: "call_1", Decision: workflows.DecisionApproved, Force: true, Outcome: time.Hour}, &out)
	if err != nil {
		t.Fatalf("Decide = %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "the agent will ignore it") || strings.Contains(out.String(), "has not answered") {
		t.Errorf("output:\n%s", out.String())
	}
}
