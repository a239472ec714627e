package bridge

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/workflows"
)

// FuzzRequestsApply feeds sequences of agent messages, and of messages
// anyone with publish rights may send, to what the bridge learns from the
// channel (requests.apply). Each line is one message: its first byte says
// which ('Q' the agent's approval-request, 'R' the agent's
// approval-resolved, 'q' and 'r' the same from another clientId, anything
// else an approval-response of the agent's clientId), the rest is its data
// with encoding "json". After every message: another clientId's message
// changed nothing; every call held has valid ids; a call is open or
// resolved, never both; the eviction order holds each call held exactly
// once, and nothing else, within the bound; the tool-call index names
// exactly the calls in the order; lookup agrees with what is held.
func FuzzRequestsApply(f *testing.F) {
	req := func(call, wf, extra string) string {
		return `{"tool":"publish_blog_post","arguments":"{}","toolCallId":"` + call + `","workflowId":"` + wf + `","requiredRole":"publisher","expiresAt":"2099-01-01T00:00:00Z"` + extra + `}`
	}
	res := func(call, wf, extra string) string {
		return `{"toolCallId":"` + call + `","workflowId":"` + wf + `","tool":"publish_blog_post","outcome":"approved"` + extra + `}`
	}
	f.Add("Q" + req("call_1", "wf-1", "") + "\nR" + res("call_1", "wf-1", "") + "\nQ" + req("call_1", "wf-1", ""))
	f.Add("q" + req("call_2", "wf-evil", "") + "\nr" + res("call_2", "wf-evil", ""))
	f.Add("Q" + req("call_1", "wf-1", `,"revision":2`) + "\nQ" + req("call_1", "wf-1", `,"revision":1`))
	f.Add("Q" + req("call_1", "wf-1", "") + "\nR" + res("call_1", "wf-1", "") + "\nQ" + req("call_1", "wf-1", `,"runId":"r-2"`) +
		"\nR" + res("call_1", "wf-1", "") + "\nQ" + req("call_1", "wf-2", ""))
	f.Add("Q" + req("call_1", "wf-1", "") + "\nQ" + req("call_2", "wf-1", "") + "\nQ" + req("call_3", "wf-1", "") +
		"\nQ" + req("call_4", "wf-1", "") + "\nR" + res("call_1", "wf-1", ""))
	f.Add("Q" + req("call 1", "wf-1", "") + "\nR" + res("call_1", "", "") + "\nQ{}}")
	const agent = workflows.DefaultAgentClientID
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, lines string) {
		q := newRequests(agent, 3)
		for i, line := range strings.SplitN(lines, "\n", 16) {
			if line == "" {
				continue
			}
			m := &ably.Message{ID: "m", ClientID: agent, Data: line[1:], Encoding: "json"}
			switch line[0] {
			case 'Q', 'q':
				m.Name = workflows.MsgApprovalRequest
			case 'R', 'r':
				m.Name = workflows.MsgApprovalResolved
			default:
				m.Name = workflows.MsgApprovalResponse
			}
			if line[0] == 'q' || line[0] == 'r' {
				m.ClientID = "mallory"
			}
			before := snapshotRequests(q)
			q.apply(m)
			if m.ClientID != agent || m.Name == workflows.MsgApprovalResponse {
				if after := snapshotRequests(q); !reflect.DeepEqual(before, after) {
					t.Fatalf("message %d (%s from %s) changed what the bridge holds:\n%+v\n%+v", i, m.Name, m.ClientID, before, after)
				}
			}
			checkRequests(t, q, now)
		}
	})
}

type requestsSnapshot struct {
	open     map[requestKey]openRequest
	resolved map[requestKey]string
	runs     map[string][]string
	order    []requestKey
}

func snapshotRequests(q *requests) requestsSnapshot {
	q.mu.Lock()
	defer q.mu.Unlock()
	runs := make(map[string][]string, len(q.runs))
	for k, v := range q.runs {
		runs[k] = slices.Clone(v)
	}
	return requestsSnapshot{maps.Clone(q.open), maps.Clone(q.resolved), runs, slices.Clone(q.order)}
}

func checkRequests(t *testing.T, q *requests, now time.Time) {
	t.Helper()
	s := snapshotRequests(q)
	if len(s.order) > q.max {
		t.Fatalf("%d calls held, bound %d", len(s.order), q.max)
	}
	inOrder := map[requestKey]bool{}
	for _, k := range s.order {
		if inOrder[k] {
			t.Fatalf("%v twice in the eviction order %v", k, s.order)
		}
		inOrder[k] = true
		_, open := s.open[k]
		_, resolved := s.resolved[k]
		if open == resolved {
			t.Fatalf("%v: open %v, resolved %v", k, open, resolved)
		}
		if workflows.ValidateToolCallID(k.toolCallID) != nil || workflows.ValidateWorkflowID(k.workflowID) != nil {
			t.Fatalf("held a call with invalid ids: %q", k)
		}
	}
	for k, r := range s.open {
		if !inOrder[k] {
			t.Fatalf("open %v is not in the eviction order", k)
		}
		if r.WorkflowID != k.workflowID || workflows.ValidateRunID(r.RunID) != nil {
			t.Fatalf("open %v holds %+v", k, r)
		}
	}
	for k, run := range s.resolved {
		if !inOrder[k] {
			t.Fatalf("resolved %v is not in the eviction order", k)
		}
		if workflows.ValidateRunID(run) != nil {
			t.Fatalf("resolved %v by run %q", k, run)
		}
		if _, open, resolved := q.lookup(k.workflowID, k.toolCallID, now); open || !resolved {
			t.Fatalf("lookup of resolved %v: open %v, resolved %v", k, open, resolved)
		}
	}
	indexed := 0
	for call, wfs := range s.runs {
		if len(wfs) == 0 {
			t.Fatalf("tool-call id %q indexed with no runs", call)
		}
		for _, wf := range wfs {
			if !inOrder[requestKey{wf, call}] {
				t.Fatalf("index names %q in %q, which is not held", call, wf)
			}
			indexed++
		}
	}
	if indexed != len(s.order) {
		t.Fatalf("index holds %d calls, order %d: %v / %v", indexed, len(s.order), s.runs, s.order)
	}
}
