package bridge

import (
	"slices"
	"sync"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablymsg"
	"github.com/hitl/durable-approvals/workflows"
)

// requests is what the bridge learns from the agent's own messages on the
// channel (Ably guarantees their clientId): the approval requests still
// open and the ones resolved, by (workflow id, tool-call id), since two
// runs may use the same tool-call id. A response to a known open request
// goes to its workflow without a visibility lookup or a query; one to a
// resolved request is dropped without asking Temporal. Anything unknown
// or ambiguous (a response without a workflow id when the bridge knows of
// more than one run with its tool-call id) takes the slow path
// (Handler.lookup and Handler.checkPending), so nothing depends on having
// seen every message. Bounded: the oldest entries go first.
//
// A run made by a Temporal reset asks again for calls of the run it reset,
// with the same ids and its RunID (workflows.ResetRunID): such a request
// reopens a call held resolved, and replaces one held open, whatever its
// revision (workflows.AskedAgain); an approval-request or approval-resolved
// of the original run about a call a reset run asks for is ignored
// (workflows.FromEarlierRun).
type requests struct {
	agentClientID string
	max           int

	mu       sync.Mutex
	open     map[requestKey]openRequest
	resolved map[requestKey]string // the RunID of the approval-resolved
	runs     map[string][]string   // tool-call id -> the workflow ids known with it
	order    []requestKey          // oldest first, for eviction
}

// requestKey names one tool call of one run.
type requestKey struct{ workflowID, toolCallID string }

// openRequest is one approval request the agent published.
type openRequest struct {
	WorkflowID   string
	RequiredRole string
	Roles        []string // the run's role hierarchy, lowest first; empty in older requests
	Digest       string
	ExpiresAt    time.Time
	Revision     int    // of the newest approval-request seen for the call
	RunID        string // of that request: "" but in a run made by a reset
	Edited       bool   // that request shows arguments an approver edited
}

func newRequests(agentClientID string, max int) *requests {
	return &requests{agentClientID: agentClientID, max: max, open: map[requestKey]openRequest{},
		resolved: map[requestKey]string{}, runs: map[string][]string{}}
}

// apply records an approval-request or approval-resolved of the agent;
// it ignores anything else, and anything from another clientId.
func (q *requests) apply(m *ably.Message) {
	if q == nil || m == nil || m.ClientID != q.agentClientID {
		return
	}
	switch m.Name {
	case workflows.MsgApprovalRequest:
		var d workflows.ApprovalRequestData
		if ablymsg.DecodeData(m.Data, m.Encoding, &d) != nil || !validIDs(d.WorkflowID, d.ToolCallID, d.RunID) {
			return
		}
		k := requestKey{d.WorkflowID, d.ToolCallID}
		q.mu.Lock()
		defer q.mu.Unlock()
		if run, done := q.resolved[k]; done {
			if !workflows.AskedAgain(run, d.RunID) {
				return
			}
			// Asked again by a reset run: k stays in the eviction order.
			delete(q.resolved, k)
		} else if prev, ok := q.open[k]; ok && !workflows.AskedAgain(prev.RunID, d.RunID) {
			if workflows.FromEarlierRun(prev.RunID, d.RunID) || prev.Revision > d.Revision {
				// A revision of a call (escalation, quorum progress,
				// edit) replaces an older one of its run only.
				return
			}
		} else {
			q.remember(k)
		}
		q.open[k] = openRequest{WorkflowID: d.WorkflowID, RequiredRole: d.RequiredRole, Roles: d.Roles,
			Digest: d.ArgumentsDigest, ExpiresAt: d.ExpiresAt, Revision: d.Revision, RunID: d.RunID, Edited: d.EditedBy != nil}
	case workflows.MsgApprovalResolved:
		var d workflows.ApprovalResolvedData
		if ablymsg.DecodeData(m.Data, m.Encoding, &d) != nil || !validIDs(d.WorkflowID, d.ToolCallID, d.RunID) {
			return
		}
		k := requestKey{d.WorkflowID, d.ToolCallID}
		q.mu.Lock()
		defer q.mu.Unlock()
		if prev, ok := q.open[k]; ok && workflows.FromEarlierRun(prev.RunID, d.RunID) {
			return
		}
		q.remember(k)
		delete(q.open, k)
		q.resolved[k] = d.RunID
	}
}

// validIDs reports whether an agent's message names a call by ids
// workflows accepts; apply, and the history reads' filter, pass over the
// others.
func validIDs(workflowID, toolCallID, runID string) bool {
	return workflows.ValidateToolCallID(toolCallID) == nil && workflows.ValidateWorkflowID(workflowID) == nil &&
		workflows.ValidateRunID(runID) == nil
}

// remember keeps k in the eviction order, dropping the oldest entry when
// full. The caller holds q.mu.
func (q *requests) remember(k requestKey) {
	if _, ok := q.open[k]; ok {
		return
	}
	if _, ok := q.resolved[k]; ok {
		return
	}
	if len(q.order) >= q.max {
		old := q.order[0]
		q.order = q.order[1:]
		delete(q.open, old)
		delete(q.resolved, old)
		runs := slices.DeleteFunc(q.runs[old.toolCallID], func(id string) bool { return id == old.workflowID })
		if len(runs) == 0 {
			delete(q.runs, old.toolCallID)
		} else {
			q.runs[old.toolCallID] = runs
		}
	}
	q.order = append(q.order, k)
	q.runs[k.toolCallID] = append(q.runs[k.toolCallID], k.workflowID)
}

// lookup says what the bridge knows of toolCallID in run workflowID at
// now: an open request (not expired), a resolved one, or nothing. With no
// workflowID (a guide-shaped response) it answers only when it knows
// exactly one run with toolCallID; with more, which one the approver
// meant is for the slow path to tell (it drops an ambiguous response).
func (q *requests) lookup(workflowID, toolCallID string, now time.Time) (r openRequest, open, resolved bool) {
	if q == nil {
		return openRequest{}, false, false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if workflowID == "" {
		runs := q.runs[toolCallID]
		if len(runs) != 1 {
			return openRequest{}, false, false
		}
		workflowID = runs[0]
	}
	k := requestKey{workflowID, toolCallID}
	if _, ok := q.resolved[k]; ok {
		return openRequest{}, false, true
	}
	r, ok := q.open[k]
	if ok && !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt) {
		return openRequest{}, false, false
	}
	return r, ok, false
}
