package workflows

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/temporal"
)

func TestApproveRunsToolOnceAndModelSeesOutput(t *testing.T) {
	h := newHarness(t)
	h.model = script(calls(publishCall("call_1")), answer("Published."))
	var before ApprovalsView
	var details string
	h.queryAt(time.Minute, &before)
	h.detailsAt(time.Minute, &details)
	h.decide(5*time.Minute, approve("call_1", "alice", "publisher", "m1"))

	res := h.run(AgentInput{Policy: testPolicy(t), Requester: "bob"})

	if res.Answer != "Published." || res.Turns != 2 {
		t.Errorf("result = %q after %d turns, want %q after 2", res.Answer, res.Turns, "Published.")
	}
	tools := h.tools()
	if len(tools) != 1 {
		t.Fatalf("tool ran %d times, want 1", len(tools))
	}
	if got := tools[0]; got.CallID != "call_1" || got.Name != "publish_blog_post" || got.ApprovedBy != "alice" || got.WorkflowID == "" || got.Arguments != publishCall("").Arguments {
		t.Errorf("tool request = %+v", got)
	}
	h.wantApprovals(tools[0], "alice")
	h.wantOutput(2, "call_1", "ok:publish_blog_post:call_1")

	reqs, resolved := h.published()
	if len(reqs) != 1 {
		t.Fatalf("approval requests = %d, want 1", len(reqs))
	}
	rd := reqs[0].Data
	if rd.ToolCallID != "call_1" || rd.Tool != "publish_blog_post" || rd.RequiredRole != "publisher" || rd.Requester != "bob" || rd.WorkflowID != tools[0].WorkflowID {
		t.Errorf("approval request = %+v", rd)
	}
	if got := rd.ExpiresAt.Sub(rd.RequestedAt); got != 10*time.Minute {
		t.Errorf("request expires after %s, want 10m", got)
	}
	want := ApprovalResolvedData{ToolCallID: "call_1", WorkflowID: rd.WorkflowID, Tool: "publish_blog_post", Outcome: OutcomeApproved, DecidedBy: "alice", Role: "publisher"}
	if len(resolved) != 1 || !reflect.DeepEqual(resolved[0].Data, want) {
		t.Errorf("approval-resolved = %+v, want [%+v]", resolved, want)
	}
	wantKinds(t, res.Audit, "requested:call_1", "approved:call_1", "executed:call_1")
	if e, _ := findAudit(res.Audit, AuditApproved, "call_1"); e.Actor != "alice" || e.Role != "publisher" || e.AblyMessageID != "m1" {
		t.Errorf("approved entry = %+v", e)
	}

	if len(before.Pending) != 1 || before.Pending[0].ToolCallID != "call_1" || before.Pending[0].RequiredRole != "publisher" {
		t.Errorf("pending at 1m = %+v", before.Pending)
	}
	if !slices.Equal(before.Roles, []string{"editor", "publisher", "admin"}) {
		t.Errorf("roles = %v", before.Roles)
	}
	for _, s := range []string{"Waiting for 1 approval", "publish_blog_post", "call_1", "publisher", "Introducing our new API"} {
		if !strings.Contains(details, s) {
			t.Errorf("current details at 1m lack %q:\n%s", s, details)
		}
	}
}

func TestRejectSendsReasonToModel(t *testing.T) {
	h := newHarness(t)
	h.model = script(calls(publishCall("call_1")), answer("Not published."))
	h.decide(3*time.Minute, reject("call_1", "carol", "admin", "m1", "the title is wrong"))

	res := h.run(AgentInput{Policy: testPolicy(t)})

	if n := len(h.tools()); n != 0 {
		t.Errorf("tool ran %d times, want 0", n)
	}
	h.wantOutput(2, "call_1", "rejected by carol (admin): the title is wrong")
	_, resolved := h.published()
	if len(resolved) != 1 || resolved[0].Data.Outcome != OutcomeRejected || resolved[0].Data.Reason != "the title is wrong" || resolved[0].Data.DecidedBy != "carol" {
		t.Errorf("approval-resolved = %+v", resolved)
	}
	wantKinds(t, res.Audit, "requested:call_1", "rejected:call_1")
	if res.Answer != "Not published." {
		t.Errorf("answer = %q", res.Answer)
	}
}

func TestInsufficientRoleKeepsWaiting(t *testing.T) {
	h := newHarness(t)
	h.model = script(calls(publishCall("call_1")), answer("done"))
	var mid ApprovalsView
	h.decide(2*time.Minute, approve("call_1", "eve", "editor", "m1"))
	h.queryAt(3*time.Minute, &mid)
	h.decide(5*time.Minute, approve("call_1", "alice", "publisher", "m2"))

	res := h.run(AgentInput{Policy: testPolicy(t)})

	if len(mid.Pending) != 1 || mid.Pending[0].ToolCallID != "call_1" {
		t.Errorf("pending after the editor's decision = %+v, want call_1", mid.Pending)
	}
	if e, ok := findAudit(mid.Audit, AuditIgnored, "call_1"); !ok || e.Reason != "insufficient role: editor < publisher" || e.Actor != "eve" || e.Role != "editor" {
		t.Errorf("ignored entry at 3m = %+v (found %v)", e, ok)
	}
	tools := h.tools()
	if len(tools) != 1 || tools[0].ApprovedBy != "alice" {
		t.Errorf("tools = %+v, want one run approved by alice", tools)
	}
	wantKinds(t, res.Audit, "requested:call_1", "ignored:call_1:insufficient role: editor < publisher", "approved:call_1", "executed:call_1")
}

// Decisions that may not resolve an approval: the approval expires and the
// tool never runs.
func TestInvalidDecisionsAreIgnored(t *testing.T) {
	tests := []struct {
		name   string
		d      Decision
		reason string
	}{
		{"unknown role", approve("call_1", "mallory", "superuser", "m1"), `unknown role "superuser"`},
		{"empty role", approve("call_1", "mallory", "", "m1"), "no role"},
		{"role none", approve("call_1", "mallory", ApprovalNone, "m1"), `unknown role "none"`},
		{"bad decision value", Decision{ToolCallID: "call_1", Decision: "yes", ApproverClientID: "alice", ApproverRole: "admin", AblyMessageID: "m1"}, `invalid decision "yes"`},
		{"no message id", approve("call_1", "alice", "admin", ""), "no ably message id"},
		{"no client id", approve("call_1", "", "admin", "m1"), "no approver client id"},
		{"unknown tool call", approve("call_9", "alice", "admin", "m1"), "unknown tool call"},
		{"published after expiry", Decision{ToolCallID: "call_1", Decision: DecisionApproved, ApproverClientID: "alice", ApproverRole: "admin", AblyMessageID: "m1", PublishedAt: testStart.Add(11 * time.Minute)}, "published after the approval expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.model = script(calls(publishCall("call_1")), answer("gave up"))
			h.decide(time.Minute, tt.d)

			res := h.run(AgentInput{Policy: testPolicy(t)})

			if n := len(h.tools()); n != 0 {
				t.Errorf("tool ran %d times, want 0", n)
			}
			h.wantOutput(2, "call_1", "approval expired after 10m0s: the tool did not run")
			wantKinds(t, res.Audit, "requested:call_1", "ignored:"+tt.d.ToolCallID+":"+tt.reason, "expired:call_1")
		})
	}
}

func TestDeniedTools(t *testing.T) {
	noDelete := testPolicy(t)
	delete(noDelete.Tools, "delete_post")
	tests := []struct {
		name   string
		policy Policy
		call   ToolCall
		reason string
	}{
		{"unknown tool", testPolicy(t), ToolCall{CallID: "call_1", Name: "drop_database", Arguments: `{}`}, `tool "drop_database" has no policy`},
		{"tool without policy", noDelete, ToolCall{CallID: "call_1", Name: "delete_post", Arguments: `{"slug":"x"}`}, `tool "delete_post" has no policy`},
		{"no call id", testPolicy(t), ToolCall{Name: "search_posts", Arguments: `{}`}, "tool call has no call id"},
		{"no name", testPolicy(t), ToolCall{CallID: "call_1", Arguments: `{}`}, `tool "" has no policy`},
		{"call id too long", testPolicy(t), ToolCall{CallID: strings.Repeat("x", MaxToolCallIDLen+1), Name: "search_posts", Arguments: `{}`}, "invalid tool call id"},
		{"call id with a quote", testPolicy(t), ToolCall{CallID: `call_"1`, Name: "publish_blog_post", Arguments: `{}`}, "invalid tool call id"},
		{"call id with a space", testPolicy(t), ToolCall{CallID: "call 1", Name: "search_posts", Arguments: `{}`}, "invalid tool call id"},
		{"arguments too long", testPolicy(t), ToolCall{CallID: "call_1", Name: "publish_blog_post", Arguments: `{"body":"` + strings.Repeat("a", maxModelItemLen) + `"}`}, "arguments longer than 16384 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.model = script(calls(tt.call), answer("sorry"))

			res := h.run(AgentInput{Policy: tt.policy})

			if n := len(h.tools()); n != 0 {
				t.Errorf("tool ran %d times, want 0", n)
			}
			if reqs, _ := h.published(); len(reqs) != 0 {
				t.Errorf("approval requested for a denied call: %+v", reqs)
			}
			if tt.call.CallID == "" || tt.call.Name == "" {
				// The Responses API takes no call without both: the call
				// and its output are left out of the conversation, and the
				// model answers the rest of it.
				if got := h.models()[1].Input; len(got) != 1 {
					t.Errorf("second model input = %+v, want the prompt alone", got)
				}
				if res.Answer != "sorry" {
					t.Errorf("answer = %q, want the model's", res.Answer)
				}
			} else {
				h.wantOutput(2, tt.call.CallID, "denied: "+tt.reason)
			}
			wantKinds(t, res.Audit, "denied:"+tt.call.CallID+":"+tt.reason)
			if got := h.models()[0].Tools; !slices.IsSorted(got) || len(got) != len(tt.policy.Tools) {
				t.Errorf("tools offered = %v, want the sorted policy tools", got)
			}
		})
	}
}

func TestTimeoutExpiresOnVirtualClock(t *testing.T) {
	h := newHarness(t)
	h.model = script(calls(ToolCall{CallID: "call_1", Name: "delete_post", Arguments: `{"slug":"old"}`}), answer("not deleted"))
	var at4, at6 ApprovalsView
	h.queryAt(4*time.Minute+59*time.Second, &at4)
	h.queryAt(6*time.Minute, &at6)
	// A decision at the deadline itself is too late.
	h.decide(5*time.Minute, approve("call_1", "carol", "admin", "m1"))
	start := h.env.Now()

	res := h.run(AgentInput{Policy: testPolicy(t)})

	if len(at4.Pending) != 1 {
		t.Errorf("pending just before the 5m timeout = %+v, want call_1", at4.Pending)
	}
	if len(at6.Pending) != 0 {
		t.Errorf("pending after the timeout = %+v, want none", at6.Pending)
	}
	h.wantOutput(2, "call_1", "approval expired after 5m0s: the tool did not run")
	if n := len(h.tools()); n != 0 {
		t.Errorf("tool ran %d times, want 0", n)
	}
	e, ok := findAudit(res.Audit, AuditExpired, "call_1")
	if !ok {
		t.Fatalf("no expired entry in %q", kinds(res.Audit))
	}
	if !start.Equal(testStart) {
		t.Errorf("start = %s, want %s", start, testStart)
	}
	if got := e.Time.Sub(start); got != 5*time.Minute {
		t.Errorf("expired %s after start, want 5m", got)
	}
	if e, ok := findAudit(res.Audit, AuditIgnored, "call_1"); !ok || e.Reason != "already resolved (expired)" {
		t.Errorf("decision at the deadline: %+v (found %v), want ignored as expired", e, ok)
	}
	_, resolved := h.published()
	if len(resolved) != 1 || resolved[0].Data.Outcome != OutcomeExpired || resolved[0].Data.DecidedBy != "" {
		t.Errorf("approval-resolved = %+v", resolved)
	}
}

// A duplicate (same Ably message id) and late decisions (after approval,
// after expiry) change nothing but are recorded.
func TestDuplicateAndLateDecisionsChangeNothing(t *testing.T) {
	h := newHarness(t)
	h.model = script(
		calls(publishCall("call_1")),
		calls(ToolCall{CallID: "call_2", Name: "delete_post", Arguments: `{"slug":"a"}`}),
		calls(publishCall("call_3")),
		answer("done"),
	)
	// call_1 is approved at 1m; call_2 then waits until it expires at 6m;
	// call_3 is approved at 8m.
	h.decide(1*time.Minute, approve("call_1", "alice", "publisher", "m1"))
	h.decide(2*time.Minute, reject("call_1", "carol", "admin", "m2", "too late"))
	// The same message (client and message id) delivered again.
	h.decide(3*time.Minute, reject("call_2", "alice", "admin", "m1", "reused id"))
	h.decide(7*time.Minute, approve("call_2", "carol", "admin", "m3"))
	h.decide(8*time.Minute, approve("call_3", "alice", "publisher", "m4"))

	res := h.run(AgentInput{Policy: testPolicy(t)})

	tools := h.tools()
	if len(tools) != 2 || tools[0].CallID != "call_1" || tools[1].CallID != "call_3" {
		t.Errorf("tools = %+v, want call_1 then call_3", tools)
	}
	h.wantOutput(2, "call_1", "ok:publish_blog_post:call_1")
	h.wantOutput(3, "call_2", "approval expired after 5m0s: the tool did not run")
	wantKinds(t, res.Audit,
		"requested:call_1", "approved:call_1", "executed:call_1",
		"requested:call_2",
		"ignored:call_1:already resolved (approved)",
		"ignored:call_2:duplicate",
		"expired:call_2",
		"requested:call_3",
		"ignored:call_2:already resolved (expired)",
		"approved:call_3", "executed:call_3",
	)
	_, resolved := h.published()
	if len(resolved) != 3 {
		t.Errorf("approval-resolved published %d times, want 3", len(resolved))
	}
	if res.Turns != 4 || res.Answer != "done" {
		t.Errorf("result = %q after %d turns", res.Answer, res.Turns)
	}
}

// Two copies of one message arrive together: the first decides, the copy
// is recorded as a duplicate.
func TestDuplicateInSameTask(t *testing.T) {
	h := newHarness(t)
	h.model = script(calls(publishCall("call_1")), answer("done"))
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(DecisionSignal, h.sign(approve("call_1", "alice", "publisher", "m1")))
		h.env.SignalWorkflow(DecisionSignal, h.sign(approve("call_1", "alice", "publisher", "m1")))
	}, time.Minute)

	res := h.run(AgentInput{Policy: testPolicy(t)})

	if n := len(h.tools()); n != 1 {
		t.Errorf("tool ran %d times, want 1", n)
	}
	wantKinds(t, res.Audit, "requested:call_1", "approved:call_1", "ignored:call_1:duplicate", "executed:call_1")
}

func TestParallelApprovalsDecidedInOppositeOrder(t *testing.T) {
	h := newHarness(t)
	callA := publishCall("call_a")
	callB := ToolCall{CallID: "call_b", Name: "delete_post", Arguments: `{"slug":"old"}`}
	h.model = script(calls(callA, callB), answer("one published, one not"))
	var both, one ApprovalsView
	h.captureUpserts()
	h.queryAt(time.Minute, &both)
	h.decide(2*time.Minute, approve("call_b", "carol", "admin", "m1"))
	h.queryAt(3*time.Minute, &one)
	h.decide(4*time.Minute, reject("call_a", "alice", "publisher", "m2", "not yet"))

	res := h.run(AgentInput{Policy: testPolicy(t)})

	if got := pendingIDs(both); !slices.Equal(got, []string{"call_a", "call_b"}) {
		t.Errorf("pending at 1m = %v, want both calls waiting at once", got)
	}
	if got := pendingIDs(one); !slices.Equal(got, []string{"call_a"}) {
		t.Errorf("pending at 3m = %v, want [call_a]", got)
	}
	var outs []string
	for _, it := range h.models()[1].Input {
		if it.Type == ItemFunctionCallOutput {
			outs = append(outs, it.CallID+"="+it.Output)
		}
	}
	want := []string{"call_a=rejected by alice (publisher): not yet", "call_b=ok:delete_post:call_b"}
	if !slices.Equal(outs, want) {
		t.Errorf("outputs to the model = %q, want %q (the model's order)", outs, want)
	}
	if tools := h.tools(); len(tools) != 1 || tools[0].CallID != "call_b" || tools[0].ApprovedBy != "carol" {
		t.Errorf("tools = %+v, want only call_b", tools)
	}
	_, resolved := h.published()
	if len(resolved) != 2 || resolved[0].Data.ToolCallID != "call_b" || resolved[1].Data.ToolCallID != "call_a" {
		t.Errorf("approval-resolved = %+v, want call_b then call_a", resolved)
	}
	if len(res.Audit) != 5 {
		t.Errorf("audit = %q", kinds(res.Audit))
	}
	// Search attributes: each id is listed before its request is
	// published (so the bridge can route a fast answer), both ids stay
	// listed, and the pending count ends at 0.
	h.mu.Lock()
	upserts := slices.Clone(h.upserts)
	routable := h.routable
	h.mu.Unlock()
	if !routable["call_a"] || !routable["call_b"] {
		t.Errorf("ids listed in %s before their request was published: %v, want both", SAToolCallIDs.GetName(), routable)
	}
	if len(upserts) == 0 {
		t.Fatal("no search attribute upserts")
	}
	last := upserts[len(upserts)-1]
	ids, _ := last.GetKeywordList(SAToolCallIDs)
	pending, _ := last.GetInt64(SAPendingApprovals)
	if !slices.Equal(ids, []string{"call_a", "call_b"}) || pending != 0 {
		t.Errorf("last upsert: ids %v pending %d, want [call_a call_b] 0", ids, pending)
	}
	var maxPending int64
	for _, u := range upserts {
		p, _ := u.GetInt64(SAPendingApprovals)
		maxPending = max(maxPending, p)
	}
	if maxPending != 2 {
		t.Errorf("max pending upserted = %d, want 2", maxPending)
	}
}

func pendingIDs(v ApprovalsView) []string {
	var ids []string
	for _, p := range v.Pending {
		ids = append(ids, p.ToolCallID)
	}
	return ids
}

func TestAutoApprovedToolRunsWithoutApproval(t *testing.T) {
	h := newHarness(t)
	h.model = script(calls(ToolCall{CallID: "call_s", Name: "search_posts", Arguments: `{"query":"api"}`}), answer("found it"))

	res := h.run(AgentInput{Policy: testPolicy(t)})

	tools := h.tools()
	if len(tools) != 1 || tools[0].ApprovedBy != "" || tools[0].CallID != "call_s" {
		t.Errorf("tools = %+v", tools)
	}
	if reqs, resolved := h.published(); len(reqs)+len(resolved) != 0 {
		t.Errorf("approval messages published for an auto-approved tool: %+v %+v", reqs, resolved)
	}
	h.wantOutput(2, "call_s", "ok:search_posts:call_s")
	wantKinds(t, res.Audit, "auto-approved:call_s", "executed:call_s")
}

func TestMultiTurnConversation(t *testing.T) {
	h := newHarness(t)
	h.model = script(
		calls(ToolCall{CallID: "c1", Name: "search_posts", Arguments: `{"query":"a"}`}),
		calls(ToolCall{CallID: "c2", Name: "search_posts", Arguments: `{"query":"b"}`}),
		answer("final answer"),
	)

	res := h.run(AgentInput{Policy: testPolicy(t), Prompt: "search twice"})

	if res.Answer != "final answer" || res.Turns != 3 {
		t.Errorf("result = %q after %d turns", res.Answer, res.Turns)
	}
	reqs := h.models()
	var got []string
	for _, it := range reqs[2].Input {
		got = append(got, it.Type+":"+it.CallID)
	}
	want := []string{"message:", "function_call:c1", "function_call_output:c1", "function_call:c2", "function_call_output:c2"}
	if !slices.Equal(got, want) {
		t.Errorf("third model input = %q, want %q", got, want)
	}
	if first := reqs[0].Input[0]; first.Role != "user" || first.Text != "search twice" {
		t.Errorf("first item = %+v, want the user's prompt", first)
	}
	for i, r := range reqs {
		if r.Turn != i+1 || r.WorkflowID == "" {
			t.Errorf("model request %d: turn %d workflow %q", i, r.Turn, r.WorkflowID)
		}
		if !slices.Equal(r.Tools, []string{"delete_post", "publish_blog_post", "search_posts"}) {
			t.Errorf("tools = %v", r.Tools)
		}
	}
}

// A model response without output items still yields a valid conversation.
func TestResponseWithoutOutputItems(t *testing.T) {
	h := newHarness(t)
	h.model = script(
		ModelResponse{Text: "let me look", ToolCalls: []ToolCall{{CallID: "c1", Name: "search_posts", Arguments: `{}`}}},
		ModelResponse{Text: "done"},
	)
	h.run(AgentInput{Policy: testPolicy(t)})
	var got []string
	for _, it := range h.models()[1].Input {
		got = append(got, it.Type+":"+it.Role+":"+it.CallID)
	}
	want := []string{"message:user:", "message:assistant:", "function_call::c1", "function_call_output::c1"}
	if !slices.Equal(got, want) {
		t.Errorf("second model input = %q, want %q", got, want)
	}
}

func TestMaxTurns(t *testing.T) {
	tests := []struct {
		name      string
		maxTurns  int
		wantTurns int
	}{
		{"explicit", 3, 3},
		{"default", 0, DefaultMaxTurns},
		{"capped", MaxTurnsLimit + 100, MaxTurnsLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.model = func(req ModelRequest) (ModelResponse, error) {
				return calls(ToolCall{CallID: fmt.Sprintf("c%d", req.Turn), Name: "search_posts", Arguments: `{}`}), nil
			}

			res := h.run(AgentInput{Policy: testPolicy(t), MaxTurns: tt.maxTurns})

			if res.Turns != tt.wantTurns || len(h.models()) != tt.wantTurns {
				t.Errorf("turns = %d, model calls = %d, want %d", res.Turns, len(h.models()), tt.wantTurns)
			}
			if !strings.Contains(res.Answer, "turn limit") {
				t.Errorf("answer = %q, want a turn-limit note", res.Answer)
			}
			// The last turn's call is not run: its result could not reach the model.
			if n := len(h.tools()); n != tt.wantTurns-1 {
				t.Errorf("tools ran %d times, want %d", n, tt.wantTurns-1)
			}
			last := res.Audit[len(res.Audit)-1]
			if last.Kind != AuditDenied || last.Reason != "turn limit reached" || last.ToolCallID != fmt.Sprintf("c%d", tt.wantTurns) {
				t.Errorf("last audit entry = %+v", last)
			}
		})
	}
}

func TestToolCallBounds(t *testing.T) {
	h := newHarness(t)
	var many []ToolCall
	for i := range MaxToolCallsPerTurn + 2 {
		many = append(many, ToolCall{CallID: fmt.Sprintf("c%02d", i), Name: "search_posts", Arguments: `{}`})
	}
	many = append(many, ToolCall{CallID: "c00", Name: "search_posts", Arguments: `{}`})
	h.model = script(calls(many...), calls(ToolCall{CallID: "c01", Name: "search_posts"}), answer("ok"))

	res := h.run(AgentInput{Policy: testPolicy(t)})

	if n := len(h.tools()); n != MaxToolCallsPerTurn {
		t.Errorf("tools ran %d times, want %d", n, MaxToolCallsPerTurn)
	}
	too := fmt.Sprintf("denied: too many tool calls in one response (at most %d)", MaxToolCallsPerTurn)
	h.wantOutput(2, fmt.Sprintf("c%02d", MaxToolCallsPerTurn), too)
	h.wantOutput(3, "c01", `denied: tool call id "c01" was already used`)
	denied := 0
	for _, e := range res.Audit {
		if e.Kind == AuditDenied {
			denied++
		}
	}
	if denied != 4 { // two over the limit, one (over the limit) reused id, one reused id in turn 2
		t.Errorf("denied entries = %d, want 4: %q", denied, kinds(res.Audit))
	}
}

func TestToolFailures(t *testing.T) {
	def := DefaultToolRetry()
	six := ToolRetry{MaxAttempts: 6, MaxInterval: 2 * time.Second}
	tests := []struct {
		name  string
		retry *ToolRetry // the worker's, recorded at the run's start
		// local runs the tool as a local activity. The test environment
		// fails a local activity's retries once they wait on a timer (it
		// sets deadlines on its own clock, far from the wall clock's), so
		// the local retries are checked on a dev server
		// (TestLocalToolRetry).
		local    bool
		err      error
		attempts int
		output   string
	}{
		{"input error not retried", &def, false, temporal.NewApplicationError("title is required", ErrTypeToolInput), 1, "tool failed: title is required"},
		{"non-retryable", &def, false, temporal.NewNonRetryableApplicationError("forbidden", "Forbidden", nil), 1, "tool failed: forbidden"},
		{"input error not retried, local", &def, true, temporal.NewApplicationError("title is required", ErrTypeToolInput), 1, "tool failed: title is required"},
		{"retryable gives up after the worker's attempts", &def, false, errors.New("disk full"), DefaultToolAttempts, "tool failed: disk full"},
		{"retryable gives up after the attempts configured", &six, false, errors.New("disk full"), 6, "tool failed: disk full"},
		// Runs recorded before the worker decided it keep their 3 attempts.
		{"retryable gives up, run recorded without a retry", nil, false, errors.New("disk full"), 3, "tool failed: disk full"},
		// Out of bounds (never from a worker of ours): the retry of before.
		{"retryable gives up, retry out of bounds", &ToolRetry{MaxAttempts: MaxToolAttempts + 1, MaxInterval: time.Second}, false, errors.New("disk full"), 3, "tool failed: disk full"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.toolRetry = tt.retry
			if tt.local {
				h.localTools = []string{"search_posts"}
			}
			h.model = script(calls(ToolCall{CallID: "c1", Name: "search_posts", Arguments: `{}`}), answer("failed"))
			h.tool = func(ToolRequest) (ToolResult, error) { return ToolResult{}, tt.err }

			res := h.run(AgentInput{Policy: testPolicy(t)})

			if n := len(h.tools()); n != tt.attempts {
				t.Errorf("tool attempts = %d, want %d", n, tt.attempts)
			}
			h.wantOutput(2, "c1", tt.output)
			if e, ok := findAudit(res.Audit, AuditFailed, "c1"); !ok || "tool failed: "+e.Reason != tt.output {
				t.Errorf("failed entry = %+v (found %v)", e, ok)
			}
		})
	}
}

// An approved tool whose storage is down for a minute runs once it is back:
// the worker's retry rides the trouble out, and the approval is not spent
// on it. (A local tool's retries: TestLocalToolRetry.)
func TestApprovedToolRidesOutTrouble(t *testing.T) {
	h := newHarness(t)
	def := DefaultToolRetry()
	h.toolRetry = &def
	h.model = script(calls(publishCall("call_1")), answer("published"))
	h.decide(time.Minute, approve("call_1", "alice", "publisher", "m1"))
	var first time.Time
	h.tool = func(req ToolRequest) (ToolResult, error) {
		now := h.env.Now()
		if first.IsZero() {
			first = now
		}
		if now.Sub(first) < time.Minute {
			return ToolResult{}, errors.New("disk full")
		}
		return ToolResult{Output: "published " + req.CallID}, nil
	}

	res := h.run(AgentInput{Policy: testPolicy(t)})

	if n := len(h.tools()); n < 2 || n > DefaultToolAttempts {
		t.Errorf("tool attempts = %d, want 2 to %d", n, DefaultToolAttempts)
	}
	h.wantOutput(2, "call_1", "published call_1")
	if _, ok := findAudit(res.Audit, AuditExecuted, "call_1"); !ok {
		t.Errorf("no executed entry: %q", kinds(res.Audit))
	}
}

func TestUnpublishedRequestIsDenied(t *testing.T) {
	h := newHarness(t)
	h.model = script(calls(publishCall("call_1")), answer("could not ask"))
	h.publishErr = temporal.NewNonRetryableApplicationError("ably down", "Ably", nil)

	res := h.run(AgentInput{Policy: testPolicy(t)})

	if n := len(h.tools()); n != 0 {
		t.Errorf("tool ran %d times", n)
	}
	h.wantOutput(2, "call_1", "denied: approval request could not be published: ably down")
	wantKinds(t, res.Audit, "denied:call_1:approval request could not be published: ably down")
	// Ably may have accepted the request: approver screens are told to drop it.
	_, resolved := h.published()
	want := ApprovalResolvedData{ToolCallID: "call_1", WorkflowID: h.models()[0].WorkflowID, Tool: "publish_blog_post", Outcome: OutcomeCancelled, Reason: "approval request could not be published"}
	if len(resolved) != 1 || !reflect.DeepEqual(resolved[0].Data, want) {
		t.Errorf("approval-resolved = %+v, want [%+v]", resolved, want)
	}
}

func TestModelFailureFailsRun(t *testing.T) {
	h := newHarness(t)
	h.model = func(ModelRequest) (ModelResponse, error) {
		return ModelResponse{}, temporal.NewNonRetryableApplicationError("401 unauthorized", "OpenAI", nil)
	}
	_, err := h.runErr(AgentInput{Policy: testPolicy(t)})
	if err == nil || !strings.Contains(err.Error(), "401 unauthorized") {
		t.Errorf("error = %v, want the model's error", err)
	}
	if n := len(h.models()); n != 1 {
		t.Errorf("model called %d times, want 1 (non-retryable)", n)
	}
}

func TestInvalidInput(t *testing.T) {
	tests := []struct {
		name string
		in   AgentInput
		want string
	}{
		{"empty prompt", AgentInput{Prompt: "  ", Policy: testPolicy(t)}, "prompt is empty"},
		{"negative max turns", AgentInput{Prompt: "x", MaxTurns: -1, Policy: testPolicy(t)}, "maxTurns -1 is negative"},
		{"zero policy", AgentInput{Prompt: "x"}, "policy: roles: empty role hierarchy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.model = script()
			h.env.ExecuteWorkflow(WorkflowName, tt.in)
			err := h.env.GetWorkflowError()
			if !isApplicationError(err, ErrTypeInvalidInput) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want non-retryable %s containing %q", err, ErrTypeInvalidInput, tt.want)
			}
			if n := len(h.models()); n != 0 {
				t.Errorf("model called %d times", n)
			}
		})
	}
}

func TestCurrentDetails(t *testing.T) {
	h := newHarness(t)
	h.model = script(calls(publishCall("call_1")), answer("done"))
	var waiting string
	h.detailsAt(time.Minute, &waiting)
	h.decide(2*time.Minute, approve("call_1", "alice", "publisher", "m1"))

	h.run(AgentInput{Policy: testPolicy(t)})

	want := "**Waiting for 1 approval(s)** (turn 1 of 10)\n\n" +
		"- `publish_blog_post` (call `call_1`) with `{\"title\":\"Introducing our new API\"}`: needs **publisher** until "
	if !strings.HasPrefix(waiting, want) {
		t.Errorf("details while waiting =\n%s\nwant prefix\n%s", waiting, want)
	}
	v, err := h.env.QueryWorkflow("__temporal_workflow_metadata")
	if err != nil {
		t.Fatalf("metadata query after the run: %v", err)
	}
	var md sdkpb.WorkflowMetadata
	if err := v.Get(&md); err != nil {
		t.Fatal(err)
	}
	got := md.GetCurrentDetails()
	for _, want := range []string{"**Done** after 2 model call(s).\n\n**Policy** (the worker's; roles, lowest first: editor < publisher < admin):",
		"\n- `delete_post`: admin or higher, within 5m0s", "\n- `search_posts`: no approval", "Tools not listed are denied."} {
		if !strings.Contains(got, want) {
			t.Errorf("details after the run = %q, want %q in it", got, want)
		}
	}
	found := false
	for _, q := range md.GetDefinition().GetQueryDefinitions() {
		found = found || q.GetName() == ApprovalsQuery && q.GetDescription() != ""
	}
	if !found {
		t.Errorf("query %q not listed with a description", ApprovalsQuery)
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdefghij", 6, "abc…"},
		{"ééééé", 7, "éé…"},
	}
	for _, tt := range tests {
		got := truncate(tt.in, tt.n)
		if got != tt.want || len(got) > tt.n {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
	if got := mdCode("a`b\nc", 10); got != "a'b c" {
		t.Errorf("mdCode = %q", got)
	}
}

func TestToolOutputIsBounded(t *testing.T) {
	h := newHarness(t)
	h.model = script(calls(ToolCall{CallID: "c1", Name: "search_posts", Arguments: `{}`}), answer("ok"))
	h.tool = func(ToolRequest) (ToolResult, error) { return ToolResult{Output: strings.Repeat("a", 100<<10)}, nil }
	h.run(AgentInput{Policy: testPolicy(t)})
	got, _ := h.outputOf(2, "c1")
	if len(got) > maxToolOutputLen || !strings.HasSuffix(got, "…") {
		t.Errorf("output to the model has %d bytes, want at most %d and a cut mark", len(got), maxToolOutputLen)
	}
}

func TestSearchableCallIDsStayWithinBudget(t *testing.T) {
	r := &run{approvals: map[string]*approval{}}
	const n = 100
	for i := range n {
		id := fmt.Sprintf("call_%0*d", MaxToolCallIDLen-5, i)
		a := &approval{state: stateApproved}
		if i >= n-MaxToolCallsPerTurn {
			a.state = statePending // the last turn's calls still wait
		}
		r.approvals[id] = a
		r.order = append(r.order, id)
	}
	ids := r.searchableCallIDs()
	if size := jsonLen(ids); size > saCallIDsBudget {
		t.Errorf("ids take %d bytes, budget %d", size, saCallIDsBudget)
	}
	if !slices.Equal(ids[len(ids)-MaxToolCallsPerTurn:], r.order[n-MaxToolCallsPerTurn:]) {
		t.Error("a pending id was dropped")
	}
	if !slices.IsSorted(ids) || len(ids) < MaxToolCallsPerTurn+1 {
		t.Errorf("ids = %v, want the newest resolved ids kept in order", ids)
	}
	small := &run{approvals: map[string]*approval{"a": {state: stateExpired}, "b": {}}, order: []string{"a", "b"}}
	if got := small.searchableCallIDs(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("small list = %v, want every id", got)
	}
}

// The workflow clock decides lateness even when the timer has not been
// processed yet (the test environment always fires it first), unless the
// decision was published before the expiry: then it is whyPublishedInTime,
// which counts as in time since changeInTimeDecisions (inTime).
func TestWhyIgnoreAtDeadline(t *testing.T) {
	deadline := testStart.Add(10 * time.Minute)
	tests := []struct {
		name      string
		now       time.Time
		published time.Time // zero: no Ably timestamp
		inTime    bool
		escalate  time.Duration // set: the call's rules escalate to admin then
		want      string
	}{
		{name: "before", now: deadline.Add(-time.Nanosecond), want: ""},
		{name: "at", now: deadline, want: "already resolved (expired)"},
		{name: "after", now: deadline.Add(time.Second), want: "already resolved (expired)"},
		{name: "after, published before", now: deadline.Add(time.Hour), published: deadline.Add(-time.Minute), want: whyPublishedInTime},
		{name: "after, published before, in time", now: deadline.Add(time.Hour), published: deadline.Add(-time.Minute), inTime: true, want: ""},
		{name: "after, published at the expiry", now: deadline.Add(time.Second), published: deadline, inTime: true, want: "already resolved (expired)"},
		{name: "after, published after", now: deadline.Add(time.Second), published: deadline.Add(time.Millisecond), inTime: true, want: "already resolved (expired)"},
		{name: "before, published after", now: deadline.Add(-time.Second), published: deadline.Add(time.Millisecond), want: "published after the approval expired"},
		{name: "before, published at the expiry", now: deadline.Add(-time.Second), published: deadline, want: ""},
		// The call escalates to admin 2 minutes after it was asked: a late
		// decision published once that was due, while the run had not
		// escalated it, is refused; one published before counts.
		{name: "after, published in time before a due escalation", now: deadline.Add(time.Hour), published: testStart.Add(time.Minute),
			inTime: true, escalate: 2 * time.Minute, want: ""},
		{name: "after, published in time after a due escalation", now: deadline.Add(time.Hour), published: testStart.Add(3 * time.Minute),
			inTime: true, escalate: 2 * time.Minute, want: "published after the call was due to escalate to admin (03:06:05 UTC), applied after the expiry: too late"},
		{name: "after, published in time as an escalation fell due", now: deadline.Add(time.Hour), published: testStart.Add(2 * time.Minute),
			inTime: true, escalate: 2 * time.Minute, want: "published after the call was due to escalate to admin (03:06:05 UTC), applied after the expiry: too late"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &approval{call: publishCall("call_1"), pending: PendingApproval{ToolCallID: "call_1", RequiredRole: "publisher", RequestedAt: testStart, ExpiresAt: deadline}}
			if tt.escalate > 0 {
				a.rules = &rules{need: 1, tp: ToolPolicy{MinRole: "publisher", Escalate: []EscalationStage{{After: Duration(tt.escalate), MinRole: "admin"}}}}
			}
			r := &run{policy: testPolicy(t), approvals: map[string]*approval{"call_1": a}, seenMsgs: map[string]bool{}}
			d := approve("call_1", "alice", "publisher", "m1")
			d.PublishedAt = tt.published
			if got := r.whyIgnore(tt.now, d, a, tt.inTime); got != tt.want {
				t.Errorf("whyIgnore = %q, want %q", got, tt.want)
			}
		})
	}
}

// The approval is registered before its request is published: a decision
// that arrives while the publish activity runs counts, and the deadline
// runs from RequestedAt, not from the end of the publish.
func TestSlowApprovalRequestPublish(t *testing.T) {
	tests := []struct {
		name      string
		decide    bool
		wantTools int
		wantAt    time.Duration // time of the approved or expired entry
	}{
		{"decided while publishing", true, 1, time.Minute},
		{"expires from RequestedAt", false, 0, 10 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.model = script(calls(publishCall("call_1")), answer("done"))
			h.env.OnActivity(ActivityPublishApprovalRequest, mock.Anything, mock.Anything).After(2 * time.Minute).Return(nil).Once()
			if tt.decide {
				h.decide(time.Minute, approve("call_1", "alice", "publisher", "m1"))
			}

			res := h.run(AgentInput{Policy: testPolicy(t)})

			if n := len(h.tools()); n != tt.wantTools {
				t.Errorf("tool ran %d times, want %d", n, tt.wantTools)
			}
			kind := AuditExpired
			if tt.decide {
				kind = AuditApproved
			}
			e, ok := findAudit(res.Audit, kind, "call_1")
			if !ok {
				t.Fatalf("no %s entry in %q", kind, kinds(res.Audit))
			}
			if got := e.Time.Sub(testStart); got != tt.wantAt {
				t.Errorf("%s at %s, want %s", kind, got, tt.wantAt)
			}
			if _, ok := findAudit(res.Audit, AuditRequested, "call_1"); !ok {
				t.Errorf("no requested entry in %q", kinds(res.Audit))
			}
		})
	}
}

// Cancelling the run while approvals wait: nothing runs, and approver
// screens are told that every pending approval is cancelled.
func TestCancelWhileWaiting(t *testing.T) {
	h := newHarness(t)
	h.model = script(calls(publishCall("call_1"), ToolCall{CallID: "call_2", Name: "delete_post", Arguments: `{"slug":"x"}`}), answer("done"))
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, time.Minute)
	h.decide(2*time.Minute, approve("call_1", "alice", "publisher", "m1"))

	_, err := h.runErr(AgentInput{Policy: testPolicy(t)})

	if !temporal.IsCanceledError(err) {
		t.Errorf("error = %v, want canceled", err)
	}
	if n := len(h.tools()); n != 0 {
		t.Errorf("tool ran %d times after cancel", n)
	}
	if n := len(h.models()); n != 1 {
		t.Errorf("model called %d times, want 1", n)
	}
	_, resolved := h.published()
	got := map[string]string{}
	for _, r := range resolved {
		got[r.Data.ToolCallID] = r.Data.Outcome + ": " + r.Data.Reason
	}
	want := map[string]string{"call_1": "cancelled: the run was cancelled", "call_2": "cancelled: the run was cancelled"}
	if len(resolved) != 2 || !maps.Equal(got, want) {
		t.Errorf("approval-resolved = %+v, want %v", resolved, want)
	}
	v, err := h.env.QueryWorkflow(ApprovalsQuery)
	if err != nil {
		t.Fatalf("query after cancel: %v", err)
	}
	var view ApprovalsView
	if err := v.Get(&view); err != nil {
		t.Fatal(err)
	}
	if len(view.Pending) != 0 {
		t.Errorf("pending after cancel = %+v, want none", view.Pending)
	}
	// The two requests complete in either order.
	got2 := kinds(view.Audit)
	slices.Sort(got2)
	if want := []string{"cancelled:call_1", "cancelled:call_2", "requested:call_1", "requested:call_2"}; !slices.Equal(got2, want) {
		t.Errorf("audit after cancel = %q, want %q in any order", got2, want)
	}
}

// FuzzWhyIgnore: whatever a decision carries, it resolves an approval only
// if it is well formed, new, in time and from a role the policy accepts.
func FuzzWhyIgnore(f *testing.F) {
	f.Add("call_1", DecisionApproved, "alice", "publisher", "m1", int64(0))
	f.Add("call_1", DecisionRejected, "bob", "editor", "m2", int64(60))
	f.Add("call_2", "maybe", "", "admin", "", int64(-1))
	f.Add("call_1", DecisionApproved, "eve", "none", "m1", int64(601))
	f.Fuzz(func(t *testing.T, callID, decision, who, role, msgID string, publishedAfter int64) {
		p, err := ParsePolicy([]byte(testPolicyJSON))
		if err != nil {
			t.Fatal(err)
		}
		deadline := testStart.Add(10 * time.Minute)
		a := &approval{call: publishCall("call_1"), pending: PendingApproval{ToolCallID: "call_1", ExpiresAt: deadline}}
		r := &run{policy: p, approvals: map[string]*approval{"call_1": a}, seenMsgs: map[string]bool{}, verifiedMsgs: map[string]bool{}}
		d := Decision{ToolCallID: callID, Decision: decision, ApproverClientID: who, ApproverRole: role, AblyMessageID: msgID}
		if publishedAfter != 0 {
			d.PublishedAt = testStart.Add(time.Duration(publishedAfter) * time.Second)
		}
		why := r.whyIgnore(testStart.Add(time.Minute), d, r.approvals[callID], false)
		wellFormed := ValidateMessageID(msgID) == nil && who != "" && len(who) <= MaxClientIDLen && len(role) <= MaxRoleLen
		valid := wellFormed && callID == "call_1" &&
			(decision == DecisionApproved || decision == DecisionRejected) &&
			p.Check("publish_blog_post", role) == nil &&
			(d.PublishedAt.IsZero() || !d.PublishedAt.After(deadline))
		if (why == "") != valid {
			t.Fatalf("whyIgnore(%+v) = %q, want valid=%v", d, why, valid)
		}
		r.remember(d)
		again := r.whyIgnore(testStart.Add(time.Minute), d, r.approvals[callID], false)
		if wellFormed && again != whyUnverifiedCopy {
			t.Fatalf("second delivery of %q, never verified: %q, want %q", msgID, again, whyUnverifiedCopy)
		}
		if wellFormed {
			r.verified(d)
			if again = r.whyIgnore(testStart.Add(time.Minute), d, r.approvals[callID], false); again != "duplicate" {
				t.Fatalf("second delivery of %q, verified: %q, want duplicate", msgID, again)
			}
		}
		if !wellFormed && again != why {
			t.Fatalf("second delivery of malformed %+v: %q, want %q again", d, again, why)
		}
		// Another client's message with the same id is not a duplicate.
		other := d
		other.ApproverClientID = "other-" + who
		if wellFormed && len(other.ApproverClientID) <= MaxClientIDLen {
			if got := r.whyIgnore(testStart.Add(time.Minute), other, r.approvals[callID], false); got == "duplicate" {
				t.Fatalf("message %q of another client counted as a duplicate", msgID)
			}
		}
	})
}
