package bridge

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
	commonpb "go.temporal.io/api/common/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hitl/durable-approvals/internal/ablymsg"
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
	agentMsg := func(name, clientID string) *ably.Message {
		m := named(name, clientID)
		m.Data = map[string]any{"workflowId": "wf-1", "toolCallId": "call_9", "tool": "publish_blog_post", "arguments": `{"title":"x"}`}
		return m
	}
	tests := []struct {
		name string
		msg  *ably.Message
		want bool
	}{
		{"the agent's request", agentMsg(workflows.MsgApprovalRequest, agent), true},
		{"the agent's resolution", agentMsg(workflows.MsgApprovalResolved, agent), true},
		{"an agent's request that does not decode", named(workflows.MsgApprovalRequest, agent), false},
		{"a request by someone else", agentMsg(workflows.MsgApprovalRequest, "mallory"), false},
		{"a resolution by someone else", agentMsg(workflows.MsgApprovalResolved, "mallory"), false},
		{"a response that decodes", msgFrom("alice", 1), true},
		{"a response that does not decode", named(workflows.MsgApprovalResponse, "alice"), false},
		{"another name", named("chat", "alice"), false},
		{"the agent's resolution with a run id requests.apply refuses", withData(agentMsg(workflows.MsgApprovalResolved, agent), "runId", "bad run"), false},
		{"the agent's request with a tool call id requests.apply refuses", withData(agentMsg(workflows.MsgApprovalRequest, agent), "toolCallId", "call 9"), false},
		{"the agent's resolution with no workflow id", withData(agentMsg(workflows.MsgApprovalResolved, agent), "workflowId", ""), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newCatchUpFilter(agent, 10, true)
			if got := f.keep(tt.msg); got != tt.want {
				t.Errorf("keep = %v, want %v", got, tt.want)
			}
			if len(f.capped()) != 0 {
				t.Errorf("capped = %q, want none", f.capped())
			}
		})
	}

	t.Run("at most maxPer responses per approver", func(t *testing.T) {
		f := newCatchUpFilter(agent, 3, true)
		var kept []int
		for i := range 5 {
			if f.keep(msgFrom("mallory", i)) {
				kept = append(kept, i)
			}
		}
		if !f.keep(msgFrom("alice", 9)) {
			t.Error("alice's response was dropped for mallory's")
		}
		if !f.keep(agentMsg(workflows.MsgApprovalRequest, agent)) {
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

// withData sets m's data field key to v.
func withData(m *ably.Message, key string, v any) *ably.Message {
	m.Data.(map[string]any)[key] = v
	return m
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

// Read newest first, a call's approval-resolved comes before its request
// and the responses it resolved: those are dropped as they are read (the
// catch-up would pass over them), so a catch-up holds the calls still
// open, not the history; the resolution itself is kept, cut down to the
// call's ids. A guide-shaped response names no run and is kept.
func TestCatchUpFilterDropsWhatIsResolved(t *testing.T) {
	agent := workflows.DefaultAgentClientID
	agentMsg := func(name, wf, call string, data map[string]any) *ably.Message {
		d := map[string]any{"workflowId": wf, "toolCallId": call, "tool": "publish_blog_post"}
		for k, v := range data {
			d[k] = v
		}
		return &ably.Message{ID: "m-" + name + call, Name: name, ClientID: agent, Data: d, Extras: map[string]any{"headers": map[string]any{"x": "y"}}}
	}
	response := func(wf, call string) *ably.Message {
		m := msgFrom("alice", 1)
		h := map[string]any{"toolCallId": call}
		if wf != "" {
			h["workflowId"] = wf
		}
		m.Extras["headers"] = h
		return m
	}
	f := newCatchUpFilter(agent, 100, true)
	resolved := agentMsg(workflows.MsgApprovalResolved, "wf-1", "call_done", map[string]any{"outcome": "approved", "reason": strings.Repeat("r", 1000)})
	for _, tt := range []struct {
		name string
		msg  *ably.Message
		want bool
	}{
		// newest first
		{"the resolution", resolved, true},
		{"a response of the resolved call", response("wf-1", "call_done"), false},
		{"a guide-shaped response of it", response("", "call_done"), true},
		{"its request", agentMsg(workflows.MsgApprovalRequest, "wf-1", "call_done", map[string]any{"arguments": strings.Repeat("a", 10000)}), false},
		{"the same call id in another run", agentMsg(workflows.MsgApprovalRequest, "wf-2", "call_done", nil), true},
		{"a response of an open call", response("wf-1", "call_open"), true},
		{"the open call's request", agentMsg(workflows.MsgApprovalRequest, "wf-1", "call_open", nil), true},
	} {
		if got := f.keep(tt.msg); got != tt.want {
			t.Errorf("%s: keep = %v, want %v", tt.name, got, tt.want)
		}
	}
	var d workflows.ApprovalResolvedData
	if err := ablymsg.DecodeData(resolved.Data, resolved.Encoding, &d); err != nil || d.WorkflowID != "wf-1" || d.ToolCallID != "call_done" || d.Reason != "" || resolved.Extras != nil {
		t.Errorf("the kept resolution = %+v, extras %v (%v); want only the call's ids", d, resolved.Extras, err)
	}
}

// TestCatchUpResetRun: a catch-up over a call resolved in the original run
// and asked again by a run made by a reset keeps what shows it open again,
// and the resolution it cuts down keeps its run.
func TestCatchUpResetRun(t *testing.T) {
	agent := workflows.DefaultAgentClientID
	now := time.Now()
	req := func(run string) *ably.Message {
		m := requestFrom(agent, "call_1", "wf-1", now.Add(time.Hour))
		if run != "" {
			m.Data.(map[string]any)["runId"] = run
		}
		return m
	}
	res := func(run string) *ably.Message {
		m := resolvedFrom(agent, "call_1", "wf-1")
		if run != "" {
			m.Data.(map[string]any)["runId"] = run
		}
		return m
	}
	for _, tt := range []struct {
		name     string
		live     []*ably.Message // seen live before the catch-up
		history  []*ably.Message // what the catch-up reads, oldest first
		open     bool
		resolved bool
	}{
		{"asked again by a reset run", nil, []*ably.Message{req(""), res(""), req("run-b")}, true, false},
		{"asked again, then resolved by the reset run", nil, []*ably.Message{req(""), res(""), req("run-b"), res("run-b")}, false, true},
		{"the reset run's request seen live, its resolution caught up", []*ably.Message{req(""), res(""), req("run-b")}, []*ably.Message{res("run-b")}, false, true},
		// The replaced run's resolution, published late (its publish was
		// in flight at the reset), after the reset run's request: as live.
		{"a late resolution of the replaced run", nil, []*ably.Message{req(""), req("run-b"), res("")}, true, false},
		{"a late resolution of the replaced run, then the reset run's", nil, []*ably.Message{req(""), req("run-b"), res(""), res("run-b")}, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := newRequests(agent, 10)
			for _, m := range tt.live {
				q.apply(m)
			}
			f := newCatchUpFilter(agent, 100, true)
			var kept []*ably.Message
			for i := len(tt.history) - 1; i >= 0; i-- {
				if f.keep(tt.history[i]) {
					kept = append(kept, tt.history[i])
				}
			}
			for i := len(kept) - 1; i >= 0; i-- {
				q.apply(kept[i])
			}
			if _, open, resolved := q.lookup("wf-1", "call_1", now); open != tt.open || resolved != tt.resolved {
				t.Errorf("after the catch-up: open=%v resolved=%v, want open=%v resolved=%v", open, resolved, tt.open, tt.resolved)
			}
		})
	}
}

// TestCatchUpFilterNewestResolutionCounts: read newest first, a call's
// newest resolution is the one the filter weighs requests by; an older
// one read after it does not replace it, so a reset run's request that
// its own, newer, resolution closed is dropped as it is read.
func TestCatchUpFilterNewestResolutionCounts(t *testing.T) {
	agent := workflows.DefaultAgentClientID
	withRun := func(m *ably.Message, run string) *ably.Message {
		if run != "" {
			m.Data.(map[string]any)["runId"] = run
		}
		return m
	}
	f := newCatchUpFilter(agent, 10, true)
	for _, tt := range []struct {
		name string
		m    *ably.Message
		want bool
	}{ // newest first
		{"the reset run's resolution", withRun(resolvedFrom(agent, "call_1", "wf-1"), "run-b"), true},
		{"the original run's resolution", resolvedFrom(agent, "call_1", "wf-1"), true},
		{"the reset run's request, resolved since", withRun(requestFrom(agent, "call_1", "wf-1", time.Now().Add(time.Hour)), "run-b"), false},
		{"the original run's request", requestFrom(agent, "call_1", "wf-1", time.Now().Add(time.Hour)), false},
	} {
		if got := f.keep(tt.m); got != tt.want {
			t.Errorf("%s: keep = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// pagedRuns answers the waiting-runs query a page at a time (one run a
// page), as Temporal's visibility does.
type pagedRuns struct {
	fakeTemporal
	starts []time.Time
}

func (p *pagedRuns) ListWorkflow(_ context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	i := 0
	if tok := req.GetNextPageToken(); len(tok) > 0 {
		i = int(tok[0])
	}
	resp := &workflowservice.ListWorkflowExecutionsResponse{Executions: []*workflowpb.WorkflowExecutionInfo{{
		Execution: &commonpb.WorkflowExecution{WorkflowId: fmt.Sprint("wf-", i)}, StartTime: timestamppb.New(p.starts[i]),
	}}}
	if i+1 < len(p.starts) {
		resp.NextPageToken = []byte{byte(i + 1)}
	}
	return resp, nil
}

// TestOldestPendingStart: the catch-up reads back to the start of the
// oldest run that waits for a human, over every page of them.
func TestOldestPendingStart(t *testing.T) {
	base := time.Unix(1_700_000_000, 0).UTC()
	f := newFakeTemporal()
	for i, ago := range []int{3, 9, 1, 7, 2, 5} { // hours
		id := fmt.Sprint("wf-", i)
		f.addWorkflow(id, publishView("publisher"), "call_abc123")
		f.setStarted(id, base.Add(-time.Duration(ago)*time.Hour))
	}
	f.addWorkflow("wf-done", workflows.ApprovalsView{}) // waits for nobody
	f.setStarted("wf-done", base.Add(-24*time.Hour))
	paged := &pagedRuns{starts: []time.Time{base.Add(-time.Hour), base.Add(-2 * time.Hour), base.Add(-6 * time.Hour), base.Add(-3 * time.Hour)}}
	for _, tt := range []struct {
		name string
		tc   Temporal
		want time.Time
	}{
		{"one page", f, base.Add(-9 * time.Hour)},
		{"several pages", paged, base.Add(-6 * time.Hour)},
		{"none waiting", newFakeTemporal(), time.Time{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, waiting, err := oldestPendingStart(t.Context(), tt.tc)
			if err != nil || waiting != !tt.want.IsZero() || !got.Equal(tt.want) {
				t.Fatalf("oldestPendingStart = %v, %v, %v; want %v", got, waiting, err, tt.want)
			}
		})
	}
}
