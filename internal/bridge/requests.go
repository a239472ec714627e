package bridge

import (
	"sync"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablymsg"
	"github.com/hitl/durable-approvals/workflows"
)

// requests is what the bridge learns from the agent's own messages on the
// channel (Ably guarantees their clientId): the approval requests still
// open and the ones resolved, by tool-call id. A response to a known open
// request goes to its workflow without a visibility lookup or a query; one
// to a resolved request is dropped without asking Temporal. Anything
// unknown takes the slow path (Handler.lookup and Handler.checkPending),
// so nothing depends on having seen every message. Bounded: the oldest
// entries go first.
type requests struct {
	agentClientID string
	max           int

	mu       sync.Mutex
	open     map[string]openRequest // by tool-call id
	resolved map[string]string      // tool-call id -> workflow id
	order    []string               // tool-call ids, oldest first, for eviction
}

// openRequest is one approval request the agent published.
type openRequest struct {
	WorkflowID   string
	RequiredRole string
	Roles        []string // the run's role hierarchy, lowest first; empty in older requests
	Digest       string
	ExpiresAt    time.Time
	Revision     int // of the newest approval-request seen for the call
}

func newRequests(agentClientID string, max int) *requests {
	return &requests{agentClientID: agentClientID, max: max, open: map[string]openRequest{}, resolved: map[string]string{}}
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
		if ablymsg.DecodeData(m.Data, m.Encoding, &d) != nil || workflows.ValidateToolCallID(d.ToolCallID) != nil ||
			workflows.ValidateWorkflowID(d.WorkflowID) != nil {
			return
		}
		q.mu.Lock()
		defer q.mu.Unlock()
		if _, done := q.resolved[d.ToolCallID]; done {
			return
		}
		if prev, ok := q.open[d.ToolCallID]; ok && (prev.WorkflowID != d.WorkflowID || prev.Revision > d.Revision) {
			// A revision of a call (escalation, quorum progress, edit)
			// replaces an older one of the same run only.
			return
		}
		q.remember(d.ToolCallID)
		q.open[d.ToolCallID] = openRequest{WorkflowID: d.WorkflowID, RequiredRole: d.RequiredRole, Roles: d.Roles,
			Digest: d.ArgumentsDigest, ExpiresAt: d.ExpiresAt, Revision: d.Revision}
	case workflows.MsgApprovalResolved:
		var d workflows.ApprovalResolvedData
		if ablymsg.DecodeData(m.Data, m.Encoding, &d) != nil || workflows.ValidateToolCallID(d.ToolCallID) != nil {
			return
		}
		q.mu.Lock()
		defer q.mu.Unlock()
		q.remember(d.ToolCallID)
		delete(q.open, d.ToolCallID)
		q.resolved[d.ToolCallID] = d.WorkflowID
	}
}

// remember keeps id in the eviction order, dropping the oldest entry when
// full. The caller holds q.mu.
func (q *requests) remember(id string) {
	if _, ok := q.open[id]; ok {
		return
	}
	if _, ok := q.resolved[id]; ok {
		return
	}
	if len(q.order) >= q.max {
		old := q.order[0]
		q.order = q.order[1:]
		delete(q.open, old)
		delete(q.resolved, old)
	}
	q.order = append(q.order, id)
}

// lookup says what the bridge knows of toolCallID at now: an open request
// (not expired), a resolved one, or nothing.
func (q *requests) lookup(toolCallID string, now time.Time) (r openRequest, open, resolved bool) {
	if q == nil {
		return openRequest{}, false, false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.resolved[toolCallID]; ok {
		return openRequest{}, false, true
	}
	r, ok := q.open[toolCallID]
	if ok && !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt) {
		return openRequest{}, false, false
	}
	return r, ok, false
}
