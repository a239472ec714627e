package bridge

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablymsg"
	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// Attack 6 of the security review: a low role could fill a run's history.
// Insufficient-role decisions were forwarded "for the audit trail", about
// four events each, until Temporal's event limit terminated the run. Now
// each approver's first one per tool call is forwarded; the rest are only
// logged.
func TestInsufficientRoleForwardedOncePerApproverAndCall(t *testing.T) {
	f := newFakeTemporal()
	f.addWorkflow("wf-1", publishView("admin"), "call_abc123")
	log, logs := logBuffer(t)
	h := fastHandler(f, log)
	h.RateLimit = RateLimit{PerMinute: 1000, Burst: 1000}
	h.PreLimit = RateLimit{PerMinute: 1000, Burst: 1000}
	for i := range 50 {
		for _, who := range []string{"erin", "evan"} {
			m := msg(func(m *ably.Message) { m.ClientID = who; m.ID = fmt.Sprintf("%s:%d", who, i) })
			if err := h.Handle(t.Context(), m); err != nil {
				t.Fatalf("Handle: %v", err)
			}
		}
	}
	sent := f.sent()
	if len(sent) != 2 {
		t.Fatalf("forwarded %d insufficient-role decisions, want 2 (one per approver)", len(sent))
	}
	if n := strings.Count(logs(), "insufficient role is already in the run's audit"); n != 98 {
		t.Errorf("%d drops logged, want 98", n)
	}
	// The approver's first decision for another call is forwarded.
	f.addWorkflow("wf-2", viewOf("call_other", "admin"), "call_other")
	m := msg(func(m *ably.Message) {
		m.ClientID, m.ID = "erin", "erin:other"
		m.Extras["headers"] = map[string]any{"toolCallId": "call_other"}
	})
	if err := h.Handle(t.Context(), m); err != nil || len(f.sent()) != 3 {
		t.Fatalf("first decision for another call: %v, %d signals; want it forwarded", err, len(f.sent()))
	}
	// A sufficient role is not held back by this limit: each different
	// decision is forwarded (its repeats are dropped by decided).
	f.addWorkflow("wf-3", viewOf("call_third", "publisher"), "call_third")
	for i, d := range []string{"approved", "rejected"} {
		m := msg(func(m *ably.Message) {
			m.ClientID, m.ID = "erin", fmt.Sprint("erin:third:", i)
			m.Extras["headers"] = map[string]any{"toolCallId": "call_third"}
			m.Extras["userClaim"] = "admin"
			m.Data = map[string]any{"decision": d}
		})
		if err := h.Handle(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(f.sent()); got != 5 {
		t.Fatalf("%d signals, want 5 (both of a sufficient role's decisions forwarded)", got)
	}
}

// viewOf is a run's view with one pending publish_blog_post call.
func viewOf(callID, required string) workflows.ApprovalsView {
	v := publishView(required)
	v.Pending[0].ToolCallID = callID
	return v
}

// Attack 7: after a restart the bridge read only the newest ten pages of
// history, so a flood of junk hid a decision published while it was down,
// though the human saw "Decision sent". Now it reads back to the oldest
// pending run's start, however many messages came since.
func TestCatchUpReadsPastAJunkFlood(t *testing.T) {
	ac := startAbly(t)
	f := newFakeTemporal()
	f.addWorkflow("wf-1", publishView("publisher"), "call_abc123")
	f.setStarted("wf-1", time.Now().Add(-time.Minute))

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	alice, err := ably.NewREST(approverOptions(t, ac, "alice", "publisher")...)
	if err != nil {
		t.Fatal(err)
	}
	ch := alice.Channels.Get(testChannel)
	if err := ch.PublishMultiple(ctx, []*ably.Message{guideResponse("call_abc123", "approved")}); err != nil {
		t.Fatalf("publish the decision: %v", err)
	}
	mallory, err := ably.NewREST(approverOptions(t, ac, "mallory", "editor")...)
	if err != nil {
		t.Fatal(err)
	}
	mch := mallory.Channels.Get(testChannel)
	const junk = 1000
	for i := 0; i < junk; i += 100 {
		batch := make([]*ably.Message, 0, 100)
		for j := range 100 {
			batch = append(batch, guideResponse(fmt.Sprintf("call_junk%d", i+j), "approved"))
		}
		if err := mch.PublishMultiple(ctx, batch); err != nil {
			t.Fatalf("publish junk: %v", err)
		}
	}

	logs := startBridge(t, ac, f)
	testutil.Eventually(t, 30*time.Second, "the decision behind the junk", func() bool { return len(f.sent()) >= 1 })
	checkDecision(t, f.sent()[0], "wf-1", "alice", "publisher", "approved")
	testutil.Eventually(t, 30*time.Second, "the catch-up to finish", func() bool { return strings.Contains(logs(), "catch-up done") })
	if !strings.Contains(logs(), fmt.Sprintf(`"responses":%d`, junk+1)) {
		t.Errorf("the catch-up did not read all %d responses:\n%s", junk+1, logs())
	}
}

// With no run waiting for a human there is nothing a decision could
// change: the catch-up reads no history.
func TestCatchUpWithNothingPending(t *testing.T) {
	ac := startAbly(t)
	f := newFakeTemporal()
	f.addWorkflow("wf-1", workflows.ApprovalsView{Roles: workflows.DefaultRoles}, "call_abc123")
	logs := startBridge(t, ac, f)
	testutil.Eventually(t, 15*time.Second, "the catch-up", func() bool { return strings.Contains(logs(), "no run waits for a human") })
	if strings.Contains(logs(), `"responses"`) {
		t.Errorf("history was read with nothing pending:\n%s", logs())
	}
}

// The bridge learns open requests from the agent's own messages: a
// guide-shaped response (toolCallId only) to a request it saw is routed
// without a visibility lookup and forwarded without a query.
func TestBridgeRoutesFromTheAgentsRequests(t *testing.T) {
	ac := startAbly(t)
	f := newFakeTemporal()
	f.addWorkflow("wf-1", publishView("publisher"), "call_abc123")
	logs := startBridge(t, ac, f)
	testutil.Eventually(t, 15*time.Second, "the bridge's first catch-up", func() bool { return strings.Contains(logs(), "catch-up done") })

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	agent, err := ably.NewREST(mustTrusted(t, ac, workflows.DefaultAgentClientID)...)
	if err != nil {
		t.Fatal(err)
	}
	am, err := workflows.ApprovalRequestData{Tool: "publish_blog_post", Arguments: `{"title":"x"}`, ToolCallID: "call_abc123",
		WorkflowID: "wf-1", RequiredRole: "publisher", Roles: workflows.DefaultRoles, ExpiresAt: time.Now().Add(time.Hour)}.Message([]byte("0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ablymsg.Agent(am)
	if err != nil {
		t.Fatal(err)
	}
	if err := agent.Channels.Get(testChannel).PublishMultiple(ctx, []*ably.Message{m}); err != nil {
		t.Fatal(err)
	}
	// The request and the response travel on one channel, in order.
	publishAs(t, ac, "alice", "publisher", guideResponse("call_abc123", "approved"))
	testutil.Eventually(t, 15*time.Second, "the signal", func() bool { return len(f.sent()) >= 1 })
	checkDecision(t, f.sent()[0], "wf-1", "alice", "publisher", "approved")
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, q := range f.queries {
		if q != workflows.PendingRunsQuery() {
			t.Errorf("visibility lookup %q for a request the agent announced", q)
		}
	}
	if f.queryCalls != 0 {
		t.Errorf("%d approvals queries, want none", f.queryCalls)
	}
}

// Responses are handled concurrently, each approver's in order.
func TestBridgeKeepsEachApproversOrderPerCall(t *testing.T) {
	ac := startAbly(t)
	f := newFakeTemporal()
	for i := range 6 {
		f.addWorkflow(fmt.Sprint("wf-", i), viewOf(fmt.Sprint("call_", i), "publisher"), fmt.Sprint("call_", i))
	}
	logs := startBridge(t, ac, f)
	testutil.Eventually(t, 15*time.Second, "the bridge's first catch-up", func() bool { return strings.Contains(logs(), "catch-up done") })
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	// Each approver decides every call twice, in one batch: alice approves
	// then rejects, bob rejects then approves. The calls may be handled
	// side by side; the two decisions of one approver on one call must
	// reach the workflow in the order they were published (the first
	// counts).
	order := map[string][]string{"alice": {"approved", "rejected"}, "bob": {"rejected", "approved"}}
	for who, decisions := range order {
		c, err := ably.NewREST(approverOptions(t, ac, who, "publisher")...)
		if err != nil {
			t.Fatal(err)
		}
		var batch []*ably.Message
		for i := range 6 {
			for _, d := range decisions {
				m := guideResponse(fmt.Sprint("call_", i), d)
				m.Extras["headers"] = map[string]any{"toolCallId": fmt.Sprint("call_", i), "workflowId": fmt.Sprint("wf-", i)}
				batch = append(batch, m)
			}
		}
		if err := c.Channels.Get(testChannel).PublishMultiple(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 15*time.Second, "24 signals", func() bool { return len(f.sent()) >= 24 })
	next := map[string]int{}
	for _, s := range f.sent() {
		key := s.Decision.ApproverClientID + " on " + s.Decision.ToolCallID
		want := order[s.Decision.ApproverClientID][next[key]]
		if s.Decision.Decision != want {
			t.Fatalf("%s: decision %d is %s, want %s", key, next[key]+1, s.Decision.Decision, want)
		}
		next[key]++
	}
	if len(next) != 12 {
		t.Errorf("signals for %d (approver, call) pairs, want 12: %v", len(next), next)
	}
}

// TestLowRoleMemory pins where the bridge takes an approver's role verdict
// from and what its once-per-call memory of insufficient roles covers: a
// request without the run's roles (an older request) is judged by the
// run's own view; a higher role after a low one is a decision like any
// other; a run made by a reset records the low role once more.
func TestLowRoleMemory(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	request := func(required string, mutate func(d map[string]any)) *ably.Message {
		m := requestFrom(workflows.DefaultAgentClientID, "call_abc123", "wf-1", now.Add(time.Hour))
		d := m.Data.(map[string]any)
		d["requiredRole"] = required
		if mutate != nil {
			mutate(d)
		}
		return m
	}
	type step struct {
		agent         *ably.Message // the agent's message the bridge sees first, if any
		role, verdict string
	}
	tests := []struct {
		name        string
		required    string // the run's, in its view
		steps       []step
		want        int // signals
		wantQueries bool
	}{
		{name: "a request without roles: the run's view judges the role", required: "publisher",
			steps: []step{{agent: request("publisher", func(d map[string]any) { delete(d, "roles") }), role: "publisher", verdict: "approved"},
				{role: "publisher", verdict: "rejected"}},
			want: 2, wantQueries: true},
		{name: "a role raised after a low one: the sufficient decision goes through", required: "publisher",
			steps: []step{{agent: request("publisher", nil), role: "editor", verdict: "approved"},
				{role: "publisher", verdict: "approved"}, {role: "editor", verdict: "approved"}},
			want: 2},
		// The repeat memory of sufficient roles does not hold back a low
		// one's first decision (a role lowered while the call waits).
		{name: "a role lowered after a sufficient decision: the low one reaches the audit once", required: "publisher",
			steps: []step{{agent: request("publisher", nil), role: "publisher", verdict: "approved"},
				{role: "editor", verdict: "approved"}, {role: "editor", verdict: "approved"}},
			want: 2},
		{name: "asked again by a reset run: the low role reaches its audit once more", required: "admin",
			steps: []step{{agent: request("admin", nil), role: "publisher", verdict: "approved"},
				{role: "publisher", verdict: "approved"},
				{agent: request("admin", func(d map[string]any) { d["runId"] = "run-b" }), role: "publisher", verdict: "approved"},
				{role: "publisher", verdict: "approved"}},
			want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeTemporal()
			f.addWorkflow("wf-1", publishView(tt.required), "call_abc123")
			log, logs := logBuffer(t)
			h := fastHandler(f, log)
			h.Now = func() time.Time { return now }
			h.requests = newRequests(workflows.DefaultAgentClientID, 100)
			for i, s := range tt.steps {
				if s.agent != nil {
					h.requests.apply(s.agent)
				}
				m := msg(func(m *ably.Message) {
					m.ID = fmt.Sprint("alice:", i)
					m.Extras["userClaim"] = s.role
					m.Data = map[string]any{"decision": s.verdict}
				})
				if err := h.Handle(t.Context(), m); err != nil {
					t.Fatalf("decision %d: %v", i, err)
				}
			}
			if got := len(f.sent()); got != tt.want {
				t.Fatalf("%d signals, want %d:\n%s", got, tt.want, logs())
			}
			f.mu.Lock()
			queried := f.queryCalls > 0
			f.mu.Unlock()
			if queried != tt.wantQueries {
				t.Errorf("queried Temporal = %v, want %v", queried, tt.wantQueries)
			}
		})
	}
}

// TestLowRoleOncePerRun: two runs may wait on the same tool-call id; an
// approver's insufficient role reaches each run's audit once.
func TestLowRoleOncePerRun(t *testing.T) {
	f := newFakeTemporal()
	f.addWorkflow("wf-1", publishView("admin"), "call_abc123")
	f.addWorkflow("wf-2", publishView("admin"), "call_abc123")
	log, logs := logBuffer(t)
	h := fastHandler(f, log)
	for i, wf := range []string{"wf-1", "wf-2", "wf-1", "wf-2"} {
		m := msg(func(m *ably.Message) {
			m.ID = fmt.Sprint("alice:", i)
			m.Extras["headers"] = map[string]any{"toolCallId": "call_abc123", "workflowId": wf}
		})
		if err := h.Handle(t.Context(), m); err != nil {
			t.Fatalf("decision %d: %v", i, err)
		}
	}
	sent := f.sent()
	if len(sent) != 2 || sent[0].WorkflowID != "wf-1" || sent[1].WorkflowID != "wf-2" {
		t.Fatalf("signals = %+v, want one to wf-1 and one to wf-2:\n%s", sent, logs())
	}
}
