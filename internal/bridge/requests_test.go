package bridge

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/workflows"
)

func requestFrom(from, callID, wfID string, expires time.Time) *ably.Message {
	d := workflows.ApprovalRequestData{Tool: "publish_blog_post", Arguments: `{"title":"x"}`, ToolCallID: callID, WorkflowID: wfID,
		RequiredRole: "publisher", Roles: workflows.DefaultRoles, ExpiresAt: expires}
	d.ArgumentsDigest = workflows.ArgumentsDigest(d.Arguments)
	return &ably.Message{Name: workflows.MsgApprovalRequest, ClientID: from, Data: map[string]any{
		"tool": d.Tool, "arguments": d.Arguments, "argumentsDigest": d.ArgumentsDigest, "toolCallId": callID, "workflowId": wfID,
		"requiredRole": d.RequiredRole, "roles": []any{"editor", "publisher", "admin"}, "expiresAt": expires.Format(time.RFC3339Nano)}}
}

func resolvedFrom(from, callID, wfID string) *ably.Message {
	return &ably.Message{Name: workflows.MsgApprovalResolved, ClientID: from, Data: map[string]any{
		"toolCallId": callID, "workflowId": wfID, "tool": "publish_blog_post", "outcome": "approved"}}
}

func TestRequests(t *testing.T) {
	now := time.Now()
	q := newRequests(workflows.DefaultAgentClientID, 3)
	q.apply(requestFrom(workflows.DefaultAgentClientID, "call_1", "wf-1", now.Add(time.Hour)))
	q.apply(requestFrom("mallory", "call_2", "wf-evil", now.Add(time.Hour))) // not the agent: ignored
	q.apply(requestFrom(workflows.DefaultAgentClientID, "call_3", "wf-3", now.Add(-time.Second)))

	if r, open, resolved := q.lookup("", "call_1", now); !open || resolved || r.WorkflowID != "wf-1" || r.RequiredRole != "publisher" ||
		len(r.Roles) != 3 || r.Digest == "" {
		t.Fatalf("call_1 = %+v open=%v resolved=%v", r, open, resolved)
	}
	if _, open, _ := q.lookup("", "call_2", now); open {
		t.Fatal("a request from another clientId was taken as the agent's")
	}
	if _, open, _ := q.lookup("", "call_3", now); open {
		t.Fatal("an expired request counts as open")
	}
	q.apply(resolvedFrom("mallory", "call_1", "wf-1")) // not the agent: ignored
	if _, open, _ := q.lookup("", "call_1", now); !open {
		t.Fatal("a resolution from another clientId closed the request")
	}
	q.apply(resolvedFrom(workflows.DefaultAgentClientID, "call_1", "wf-1"))
	if _, open, resolved := q.lookup("", "call_1", now); open || !resolved {
		t.Fatalf("after approval-resolved: open=%v resolved=%v", open, resolved)
	}
	// A request seen again after its resolution (a re-announcement, an
	// out-of-order history) does not reopen it.
	q.apply(requestFrom(workflows.DefaultAgentClientID, "call_1", "wf-1", now.Add(time.Hour)))
	if _, open, _ := q.lookup("", "call_1", now); open {
		t.Fatal("a resolved request was reopened")
	}
	// Bounded: the oldest entries go first.
	for i := range 5 {
		q.apply(requestFrom(workflows.DefaultAgentClientID, fmt.Sprint("call_n", i), "wf-n", now.Add(time.Hour)))
	}
	if n := len(q.open) + len(q.resolved); n > 3 {
		t.Fatalf("%d entries kept, want at most 3", n)
	}
	if _, open, _ := q.lookup("", "call_n4", now); !open {
		t.Fatal("the newest request was evicted")
	}
}

// A later revision of a request (escalation, quorum progress, an edit)
// replaces the one known; an older one, or one of another run, does not.
func TestRequestsRevisions(t *testing.T) {
	now := time.Now()
	q := newRequests(workflows.DefaultAgentClientID, 10)
	rev := func(wfID string, n int, role, args string) *ably.Message {
		m := requestFrom(workflows.DefaultAgentClientID, "call_1", wfID, now.Add(time.Hour))
		d := m.Data.(map[string]any)
		d["revision"], d["requiredRole"], d["arguments"], d["argumentsDigest"] = n, role, args, workflows.ArgumentsDigest(args)
		return m
	}
	q.apply(rev("wf-1", 0, "publisher", `{"title":"x"}`))
	q.apply(rev("wf-1", 2, "admin", `{"title":"edited"}`))
	q.apply(rev("wf-1", 1, "publisher", `{"title":"x"}`)) // older: ignored
	r, open, _ := q.lookup("", "call_1", now)
	if !open || r.WorkflowID != "wf-1" || r.Revision != 2 || r.RequiredRole != "admin" || r.Digest != workflows.ArgumentsDigest(`{"title":"edited"}`) {
		t.Fatalf("call_1 = %+v open=%v, want revision 2 of wf-1", r, open)
	}
	q.apply(rev("wf-2", 3, "editor", `{"title":"other"}`)) // another run: its own entry
	if r, _, _ := q.lookup("wf-1", "call_1", now); r.Revision != 2 || r.RequiredRole != "admin" {
		t.Fatalf("wf-1's call_1 = %+v, want unchanged by wf-2's request", r)
	}
}

// A response to a request the agent announced goes to its workflow with
// no visibility lookup and no query; a stale digest is dropped; a response
// to a resolved request is dropped without asking Temporal.
func TestHandleFastPath(t *testing.T) {
	now := time.Now()
	f := newFakeTemporal()
	f.addWorkflow("wf-1", publishView("publisher"), "call_abc123")
	log, logs := logBuffer(t)
	h := fastHandler(f, log)
	h.requests = newRequests(workflows.DefaultAgentClientID, 100)
	h.requests.apply(requestFrom(workflows.DefaultAgentClientID, "call_abc123", "wf-1", now.Add(time.Hour)))

	stale := msg(func(m *ably.Message) {
		m.ID = "stale"
		m.Data = map[string]any{"decision": "approved", "argumentsDigest": workflows.ArgumentsDigest(`{"title":"other"}`)}
	})
	if err := h.Handle(t.Context(), stale); err != nil || len(f.sent()) != 0 {
		t.Fatalf("stale digest: %v, %d signals; want dropped", err, len(f.sent()))
	}
	if err := h.Handle(t.Context(), msg(nil)); err != nil {
		t.Fatal(err)
	}
	sent := f.sent()
	if len(sent) != 1 || sent[0].WorkflowID != "wf-1" {
		t.Fatalf("signals = %+v, want one to wf-1", sent)
	}
	f.mu.Lock()
	lookups, queries := len(f.queries), f.queryCalls
	f.mu.Unlock()
	if lookups != 0 || queries != 0 {
		t.Fatalf("%d visibility lookups and %d queries, want none on the fast path", lookups, queries)
	}
	h.requests.apply(resolvedFrom(workflows.DefaultAgentClientID, "call_abc123", "wf-1"))
	late := msg(func(m *ably.Message) { m.ID = "late" })
	if err := h.Handle(t.Context(), late); err != nil || len(f.sent()) != 1 {
		t.Fatalf("late response: %v, %d signals; want dropped", err, len(f.sent()))
	}
	if want := "the agent announced the tool call resolved"; !strings.Contains(logs(), want) {
		t.Errorf("logs lack %q", want)
	}
}

// Two runs may wait on the same tool-call id. What the bridge learned is
// kept per (workflow id, tool-call id): a response naming its run takes
// that run's fast path, whatever happened to the call in another run; a
// response without one (the guide's client) takes the fast path only when
// the bridge knows of exactly one run with the call, and otherwise asks
// Temporal, which drops it as ambiguous while both wait.
func TestRequestsKeyedByRun(t *testing.T) {
	type agentMsg struct {
		resolved bool
		wfID     string
	}
	tests := []struct {
		name         string
		running      []string   // runs waiting on call_abc123 in Temporal
		agent        []agentMsg // the agent's messages the bridge saw, in order
		header       string     // the response's workflowId header
		wantSignal   string     // "" for none
		wantLog      string
		wantTemporal bool // the bridge had to ask Temporal
	}{
		{name: "two open runs, no workflow id: not guessed", running: []string{"wf-A", "wf-B"},
			agent: []agentMsg{{wfID: "wf-A"}, {wfID: "wf-B"}}, wantLog: "more than one running workflow", wantTemporal: true},
		{name: "two open runs, workflow id named: that run", running: []string{"wf-A", "wf-B"},
			agent: []agentMsg{{wfID: "wf-A"}, {wfID: "wf-B"}}, header: "wf-B", wantSignal: "wf-B"},
		{name: "resolved in one run, named in the other: forwarded", running: []string{"wf-B"},
			agent: []agentMsg{{wfID: "wf-A"}, {resolved: true, wfID: "wf-A"}, {wfID: "wf-B"}}, header: "wf-B", wantSignal: "wf-B"},
		{name: "resolved in one run, open in another, no workflow id: Temporal decides", running: []string{"wf-B"},
			agent: []agentMsg{{wfID: "wf-A"}, {resolved: true, wfID: "wf-A"}, {wfID: "wf-B"}}, wantSignal: "wf-B", wantTemporal: true},
		{name: "the one run known resolved, no workflow id: dropped at once", running: []string{"wf-A"},
			agent: []agentMsg{{wfID: "wf-A"}, {resolved: true, wfID: "wf-A"}}, wantLog: "the agent announced the tool call resolved"},
		{name: "resolved in another run, this one not seen: Temporal decides", running: []string{"wf-B"},
			agent: []agentMsg{{wfID: "wf-A"}, {resolved: true, wfID: "wf-A"}}, header: "wf-B", wantSignal: "wf-B", wantTemporal: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Now()
			f := newFakeTemporal()
			for _, id := range tt.running {
				f.addWorkflow(id, publishView("publisher"), "call_abc123")
			}
			log, logs := logBuffer(t)
			h := fastHandler(f, log)
			h.requests = newRequests(workflows.DefaultAgentClientID, 100)
			for _, a := range tt.agent {
				if a.resolved {
					h.requests.apply(resolvedFrom(workflows.DefaultAgentClientID, "call_abc123", a.wfID))
				} else {
					h.requests.apply(requestFrom(workflows.DefaultAgentClientID, "call_abc123", a.wfID, now.Add(time.Hour)))
				}
			}
			m := msg(func(m *ably.Message) {
				if tt.header != "" {
					m.Extras["headers"] = map[string]any{"toolCallId": "call_abc123", "workflowId": tt.header}
				}
			})
			if err := h.Handle(t.Context(), m); err != nil {
				t.Fatal(err)
			}
			sent := f.sent()
			switch {
			case tt.wantSignal == "" && len(sent) != 0:
				t.Fatalf("signalled %s (signed for %q), want none:\n%s", sent[0].WorkflowID, sent[0].Decision.WorkflowID, logs())
			case tt.wantSignal != "" && (len(sent) != 1 || sent[0].WorkflowID != tt.wantSignal || sent[0].Decision.WorkflowID != tt.wantSignal):
				t.Fatalf("signals = %+v, want one to %s:\n%s", sent, tt.wantSignal, logs())
			}
			f.mu.Lock()
			asked := len(f.queries) > 0 || f.queryCalls > 0
			f.mu.Unlock()
			if asked != tt.wantTemporal {
				t.Errorf("asked Temporal = %v, want %v", asked, tt.wantTemporal)
			}
			if tt.wantLog != "" && !strings.Contains(logs(), tt.wantLog) {
				t.Errorf("logs lack %q:\n%s", tt.wantLog, logs())
			}
		})
	}
}

// Evicting the oldest entry also forgets its run in the index by
// tool-call id, so a guide-shaped response is not routed by a stale one.
func TestRequestsEvictionKeepsTheRunIndex(t *testing.T) {
	now := time.Now()
	q := newRequests(workflows.DefaultAgentClientID, 2)
	q.apply(requestFrom(workflows.DefaultAgentClientID, "call_1", "wf-A", now.Add(time.Hour)))
	q.apply(requestFrom(workflows.DefaultAgentClientID, "call_1", "wf-B", now.Add(time.Hour)))
	if _, open, _ := q.lookup("", "call_1", now); open {
		t.Fatal("two runs with call_1: a response without workflow id was routed")
	}
	q.apply(requestFrom(workflows.DefaultAgentClientID, "call_2", "wf-C", now.Add(time.Hour))) // evicts wf-A's call_1
	if r, open, _ := q.lookup("", "call_1", now); !open || r.WorkflowID != "wf-B" {
		t.Fatalf("call_1 = %+v open=%v, want wf-B's (the one run left)", r, open)
	}
	if n := len(q.runs); n != 2 {
		t.Fatalf("index holds %d tool-call ids, want 2", n)
	}
}

// TestRequestsResetRuns: a run made by a Temporal reset asks again for a
// call of the run it reset (same ids, its runId); the bridge takes its
// request as open whatever it held, and ignores the original run's word
// on a call a reset run asks for.
func TestRequestsResetRuns(t *testing.T) {
	now := time.Now()
	agent := workflows.DefaultAgentClientID
	withRun := func(m *ably.Message, run string, revision int) *ably.Message {
		d := m.Data.(map[string]any)
		if run != "" {
			d["runId"] = run
		}
		if revision > 0 {
			d["revision"] = revision
		}
		return m
	}
	req := func(run string, revision int) *ably.Message {
		return withRun(requestFrom(agent, "call_1", "wf-1", now.Add(time.Hour)), run, revision)
	}
	res := func(run string) *ably.Message { return withRun(resolvedFrom(agent, "call_1", "wf-1"), run, 0) }
	tests := []struct {
		name         string
		msgs         []*ably.Message
		open, closed bool
		run          string // of the open request
		revision     int
	}{
		{"resolved in the original run, asked again by a reset run", []*ably.Message{req("", 0), res(""), req("run-b", 0)}, true, false, "run-b", 0},
		{"the original run's request again after that", []*ably.Message{req("", 0), res(""), req("run-b", 0), req("", 0)}, true, false, "run-b", 0},
		{"the original run's resolution does not close the reset run's request", []*ably.Message{req("", 2), req("run-b", 0), res("")}, true, false, "run-b", 0},
		{"a reset run's request replaces a higher revision of the original run", []*ably.Message{req("", 3), req("run-b", 1)}, true, false, "run-b", 1},
		{"the reset run's own resolution closes it", []*ably.Message{req("", 0), res(""), req("run-b", 0), res("run-b")}, false, true, "", 0},
		{"the same reset run asks nothing again once resolved", []*ably.Message{req("run-b", 0), res("run-b"), req("run-b", 0)}, false, true, "", 0},
		{"a reset of the reset run asks again", []*ably.Message{req("run-b", 0), res("run-b"), req("run-c", 0)}, true, false, "run-c", 0},
		{"a later reset run's resolution closes the earlier reset run's request", []*ably.Message{req("run-b", 0), res("run-c")}, false, true, "", 0},
		{"the original run's request after a reset run's resolution", []*ably.Message{req("run-b", 0), res("run-b"), req("", 0)}, false, true, "", 0},
		{"a malformed runId is not the agent's request", []*ably.Message{req("", 0), res(""), req("run b", 0)}, false, true, "", 0},
		{"ordinary runs as before: a request after the resolution does not reopen", []*ably.Message{req("", 0), res(""), req("", 0)}, false, true, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newRequests(agent, 10)
			for _, m := range tt.msgs {
				q.apply(m)
			}
			r, open, closed := q.lookup("wf-1", "call_1", now)
			if open != tt.open || closed != tt.closed || r.RunID != tt.run || r.Revision != tt.revision {
				t.Errorf("lookup = %+v open=%v resolved=%v, want open=%v resolved=%v run %q revision %d", r, open, closed, tt.open, tt.closed, tt.run, tt.revision)
			}
			if n := len(q.order); n != 1 || len(q.runs["call_1"]) != 1 {
				t.Errorf("eviction order %d entries, runs of call_1 %v: want one each", n, q.runs["call_1"])
			}
		})
	}
}

// TestRequestsIgnoreMalformedAgentMessages: an approval-request or
// approval-resolved of the agent whose ids do not validate changes
// nothing the bridge holds: it neither opens a call (a guide-shaped
// response would be routed to a workflow id no run has) nor closes one.
func TestRequestsIgnoreMalformedAgentMessages(t *testing.T) {
	now := time.Now()
	agent := workflows.DefaultAgentClientID
	with := func(m *ably.Message, key string, v any) *ably.Message {
		m.Data.(map[string]any)[key] = v
		return m
	}
	tests := []struct {
		name string
		m    *ably.Message
	}{
		{"a request with a bad tool-call id", requestFrom(agent, "call 2", "wf-2", now.Add(time.Hour))},
		{"a request without a workflow id", requestFrom(agent, "call_2", "", now.Add(time.Hour))},
		{"a request with a bad run id", with(requestFrom(agent, "call_2", "wf-2", now.Add(time.Hour)), "runId", "run b")},
		{"a resolution with a bad tool-call id", resolvedFrom(agent, "call 1", "wf-1")},
		{"a resolution without a workflow id", resolvedFrom(agent, "call_1", "")},
		{"a resolution with a bad run id", with(resolvedFrom(agent, "call_1", "wf-1"), "runId", "run b")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newRequests(agent, 10)
			q.apply(requestFrom(agent, "call_1", "wf-1", now.Add(time.Hour)))
			q.apply(tt.m)
			if _, open, resolved := q.lookup("wf-1", "call_1", now); !open || resolved {
				t.Errorf("call_1 open=%v resolved=%v, want still open", open, resolved)
			}
			if len(q.order) != 1 || len(q.open) != 1 || len(q.resolved) != 0 || len(q.runs) != 1 {
				t.Errorf("held %d in order, %d open, %d resolved, runs %v; want only call_1", len(q.order), len(q.open), len(q.resolved), q.runs)
			}
		})
	}
}

// TestRequestsBookkeeping: what requests holds stays consistent and
// bounded: a resolution of a call never requested is remembered (and
// found by a guide-shaped response), a second resolution adds nothing,
// a resolved call is no longer held open, an evicted call leaves no empty
// entry in the index by tool-call id; a request is open until, not at,
// its expiry, and one without expiry stays open.
func TestRequestsBookkeeping(t *testing.T) {
	now := time.Now()
	agent := workflows.DefaultAgentClientID
	type want struct {
		call     string
		open     bool
		resolved bool
	}
	tests := []struct {
		name  string
		max   int
		msgs  []*ably.Message
		at    time.Time
		wants []want // looked up without a workflow id
		order int    // entries in the eviction order
		runs  int    // tool-call ids in the index
	}{
		{name: "a resolution of a call never requested", max: 10,
			msgs: []*ably.Message{resolvedFrom(agent, "call_9", "wf-9")}, at: now,
			wants: []want{{"call_9", false, true}}, order: 1, runs: 1},
		{name: "the same resolution twice", max: 10,
			msgs: []*ably.Message{requestFrom(agent, "call_1", "wf-1", now.Add(time.Hour)), resolvedFrom(agent, "call_1", "wf-1"), resolvedFrom(agent, "call_1", "wf-1")}, at: now,
			wants: []want{{"call_1", false, true}}, order: 1, runs: 1},
		{name: "an evicted call leaves the index", max: 1,
			msgs: []*ably.Message{requestFrom(agent, "call_1", "wf-1", now.Add(time.Hour)), requestFrom(agent, "call_2", "wf-2", now.Add(time.Hour))}, at: now,
			wants: []want{{"call_1", false, false}, {"call_2", true, false}}, order: 1, runs: 1},
		{name: "open until its expiry", max: 10,
			msgs: []*ably.Message{requestFrom(agent, "call_1", "wf-1", now)}, at: now.Add(-time.Nanosecond),
			wants: []want{{"call_1", true, false}}, order: 1, runs: 1},
		{name: "not open at its expiry", max: 10,
			msgs: []*ably.Message{requestFrom(agent, "call_1", "wf-1", now)}, at: now,
			wants: []want{{"call_1", false, false}}, order: 1, runs: 1},
		{name: "a request without expiry stays open", max: 10,
			msgs: []*ably.Message{func() *ably.Message {
				m := requestFrom(agent, "call_1", "wf-1", now)
				delete(m.Data.(map[string]any), "expiresAt")
				return m
			}()}, at: now.Add(24 * time.Hour),
			wants: []want{{"call_1", true, false}}, order: 1, runs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newRequests(agent, tt.max)
			for _, m := range tt.msgs {
				q.apply(m)
			}
			for _, w := range tt.wants {
				if _, open, resolved := q.lookup("", w.call, tt.at); open != w.open || resolved != w.resolved {
					t.Errorf("%s: open=%v resolved=%v, want open=%v resolved=%v", w.call, open, resolved, w.open, w.resolved)
				}
			}
			for k := range q.resolved {
				if _, both := q.open[k]; both {
					t.Errorf("%v held both open and resolved", k)
				}
			}
			if len(q.order) != tt.order || len(q.runs) != tt.runs {
				t.Errorf("%d in the eviction order, index %v; want %d and %d tool-call ids", len(q.order), q.runs, tt.order, tt.runs)
			}
		})
	}
}
