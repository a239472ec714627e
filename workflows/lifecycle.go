package workflows

import "go.temporal.io/sdk/workflow"

// state is where an approval is in its lifecycle. It starts pending and
// moves once, through run.resolve, to one of the final states.
type state int

const (
	statePending state = iota
	stateApproved
	stateRejected
	stateExpired
	stateCancelled
	// stateUnpublished: the approval-request could not be published, so
	// the call was denied without asking anyone.
	stateUnpublished
)

// String names the state in audit reasons ("already resolved (expired)")
// and activity summaries.
func (s state) String() string {
	switch s {
	case statePending:
		return "pending"
	case stateApproved:
		return "approved"
	case stateRejected:
		return "rejected"
	case stateExpired:
		return "expired"
	case stateCancelled:
		return "cancelled"
	case stateUnpublished:
		return "unpublished"
	}
	return "unknown"
}

// outcome is the state as approval-resolved reports it (Outcome*). An
// unpublished request is void, like a cancelled one.
func (s state) outcome() string {
	switch s {
	case stateApproved:
		return OutcomeApproved
	case stateRejected:
		return OutcomeRejected
	case stateExpired:
		return OutcomeExpired
	case stateCancelled, stateUnpublished:
		return OutcomeCancelled
	}
	return ""
}

// auditKind is the kind of the audit entry that records the move to s.
func (s state) auditKind() string {
	switch s {
	case stateApproved:
		return AuditApproved
	case stateRejected:
		return AuditRejected
	case stateExpired:
		return AuditExpired
	case stateCancelled:
		return AuditCancelled
	case stateUnpublished:
		return AuditDenied
	}
	return ""
}

// decisionState maps a decision's value to the state it resolves to. A
// value that is neither approved nor rejected resolves nothing (whyIgnore
// refuses it first).
func decisionState(decision string) (state, bool) {
	switch decision {
	case DecisionApproved:
		return stateApproved, true
	case DecisionRejected:
		return stateRejected, true
	}
	return statePending, false
}

// approval is one tool call waiting for (or resolved by) a human.
type approval struct {
	pending PendingApproval
	call    ToolCall
	state   state
	// decision is the winning decision, in stateApproved and
	// stateRejected.
	decision Decision
	// rules, when set, decide the call by its policy's rules beyond one
	// approver (rules.go).
	rules *rules
	// unpublished says why the request could not be published, once
	// republish.go gave up (stateUnpublished).
	unpublished string
	// announced is set once an approval-request of the call (any
	// revision) was published: approvers can see it.
	announced bool
}

// isPending reports whether the approval still waits for a human.
func (a *approval) isPending() bool { return a.state == statePending }

// resolve moves the pending approval a to its final state s and records
// e, its Kind set from s, in the audit trail; d is the winning decision
// for stateApproved and stateRejected. Every state change of an approval
// passes through here. It reports false, changing nothing, when a is
// already resolved.
func (r *run) resolve(ctx workflow.Context, a *approval, s state, d *Decision, e AuditEntry) bool {
	if !a.isPending() || s == statePending {
		workflow.GetLogger(ctx).Error("approval resolved twice", "callId", a.call.CallID, "state", a.state.String(), "to", s.String())
		return false
	}
	a.state = s
	if d != nil {
		a.decision = *d
	}
	e.Kind = s.auditKind()
	r.record(ctx, e)
	countApproval(ctx, s.String(), a.call.Name)
	return true
}
