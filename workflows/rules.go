package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// rules is the state of a call decided by the rules of its tool policy
// beyond one approver (ToolPolicy.hasRules): a quorum of distinct
// approvers, rejections by quorum, separation from the requester,
// escalation stages on workflow timers, and approval with edited
// arguments. Every change of it is re-announced to approver screens as a
// new revision of the approval-request (stale).
type rules struct {
	tp   ToolPolicy
	need int // distinct approvals (and, with RejectByQuorum, rejections)

	approvedBy []Approver // counted approvals of the current arguments
	rejectedBy []Approver // counted rejections (RejectByQuorum)
	stage      int        // escalation stages passed
	edits      int
	original   string    // the arguments before the first edit; "" when unedited
	editedBy   *Approver // who made the last edit
	revision   int       // of the last approval-request published
	stale      bool      // changed since the last approval-request
	// changed counts, per clientId, the approvals that withdrew the
	// approver's own rejection of the current arguments (changeOneVote).
	changed map[string]int
	// approvedAt is, per clientId, when the approver's last counted
	// approval was published (its Ably timestamp; zero when unknown);
	// rejectedAt when their newest rejection the run received was, counted
	// or not (sawDecision), their counted one among them.
	approvedAt, rejectedAt map[string]time.Time
	// signed is, per clientId, the approver's last counted approval, the
	// signed decision passed to the tool (approval.approvals).
	signed map[string]Decision
}

// newRules returns the rules of a call with policy tp, or nil when the call
// takes one approver: its policy has no rules, the run predates the
// worker's policy (no schemas to check an edit against), or the run's
// version of changeApprovalRules is older. Only a call with rules asks
// changeApprovalRules, so other runs' histories do not change.
func (r *run) newRules(ctx workflow.Context, tp ToolPolicy) *rules {
	if !tp.hasRules() || !r.canonical {
		return nil
	}
	if workflow.GetVersion(ctx, changeApprovalRules, workflow.DefaultVersion, 1) < 1 {
		return nil
	}
	return &rules{tp: tp, need: tp.RequiredApprovals()}
}

// nextStage returns the next escalation stage and when it is due, or
// false when none is left.
func (q *rules) nextStage(requestedAt time.Time) (EscalationStage, time.Time, bool) {
	if q.stage >= len(q.tp.Escalate) {
		return EscalationStage{}, time.Time{}, false
	}
	st := q.tp.Escalate[q.stage]
	return st, requestedAt.Add(time.Duration(st.After)), true
}

// syncPending copies the rules' state into a.pending, what the approvals
// query and the approval-request show.
func (a *approval) syncPending() {
	q := a.rules
	if q == nil {
		return
	}
	c := CallRules{
		Approvals:             q.need,
		ApprovedBy:            q.approvedBy,
		DistinctFromRequester: q.tp.DistinctFromRequester,
		Escalation:            a.pending.Escalation,
		Editable:              q.tp.Editable,
		EditedBy:              q.editedBy,
		Revision:              q.revision,
	}
	if q.tp.RejectBy == RejectByQuorum {
		c.RejectBy, c.RejectedBy = RejectByQuorum, q.rejectedBy
	}
	a.pending.CallRules = c.clone()
	a.pending.NextEscalation = nil
	if st, at, ok := q.nextStage(a.pending.RequestedAt); ok {
		a.pending.NextEscalation = &EscalationStep{At: at, MinRole: st.MinRole}
	}
}

// requestData is the approval-request that announces approval a in its
// current state.
func (r *run) requestData(a *approval) ApprovalRequestData {
	d := a.pending.Request(r.workflowID, r.in.Requester, r.policy.Roles)
	d.RunID = r.resetRunID
	return d
}

// awaitRules waits until approval a is decided or expires, escalating it
// on the stages' timers and re-announcing it whenever its state changed.
// It returns only the run's cancellation.
func (r *run) awaitRules(ctx workflow.Context, a *approval) error {
	q := a.rules
	c := a.call
	remaining := a.pending.ExpiresAt.Sub(workflow.Now(ctx))
	if !a.isPending() || remaining <= 0 {
		return nil
	}
	// Every timer is cancelled once the call is decided, so a decided
	// approval leaves none behind to wake the run later.
	tctx, cancelTimers := workflow.WithCancel(ctx)
	defer cancelTimers()
	expiry := workflow.NewTimerWithOptions(tctx, remaining, workflow.TimerOptions{
		Summary: fmt.Sprintf("approval timeout: %s (%s)", c.Name, c.CallID),
	})
	var escalation workflow.Future
	arm := func() {
		escalation = nil
		if st, at, ok := q.nextStage(a.pending.RequestedAt); ok {
			escalation = workflow.NewTimerWithOptions(tctx, at.Sub(workflow.Now(ctx)), workflow.TimerOptions{
				Summary: fmt.Sprintf("escalate to %s: %s (%s)", st.MinRole, c.Name, c.CallID),
			})
		}
	}
	arm()
	for {
		err := workflow.Await(ctx, func() bool {
			return !a.isPending() || expiry.IsReady() || q.stale || (escalation != nil && escalation.IsReady())
		})
		if err != nil {
			return err
		}
		if !a.isPending() || expiry.IsReady() {
			return nil
		}
		if escalation != nil && escalation.IsReady() {
			r.escalate(ctx, a)
			arm()
		}
		if q.stale {
			q.stale = false
			q.revision++
			a.syncPending()
			in := ApprovalRequestInput{Data: r.requestData(a)}
			summary := fmt.Sprintf("approval request, revision %d: %s (%s)", q.revision, c.Name, c.CallID)
			if err := r.publish(ctx, ActivityPublishApprovalRequest, in, summary).Get(ctx, nil); err != nil {
				if temporal.IsCanceledError(err) {
					return err
				}
				// The first request stands; screens show an older state
				// until the next revision, and the workflow decides.
				workflow.GetLogger(ctx).Error("approval-request revision not published", "callId", c.CallID, "revision", q.revision, "error", err)
			} else {
				if !a.announced {
					// The first request that reached approvers (the first
					// publish failed, republish.go): audited and counted as
					// requested, as approveAndRun and republish do.
					r.record(ctx, AuditEntry{Kind: AuditRequested, ToolCallID: c.CallID, Tool: c.Name, Role: in.Data.RequiredRole,
						Reason: fmt.Sprintf("published as revision %d after the first publish failed", q.revision)})
					countApproval(ctx, ApprovalEventRequested, c.Name)
				}
				a.announced = true
			}
		}
	}
}

// escalate moves approval a to its next escalation stage: it needs the
// stage's role from now on, and only the counted decisions of approvers who
// have that role still count.
func (r *run) escalate(ctx workflow.Context, a *approval) {
	q := a.rules
	st, due, ok := q.nextStage(a.pending.RequestedAt)
	if !ok {
		return
	}
	q.stage++
	prev := a.pending.RequiredRole
	stillCounts := func(list []Approver) []Approver {
		return slices.DeleteFunc(slices.Clone(list), func(x Approver) bool {
			return CanApprove(r.policy.Roles, x.Role, st.MinRole) != nil
		})
	}
	dropped := len(q.approvedBy) + len(q.rejectedBy)
	q.approvedBy, q.rejectedBy = stillCounts(q.approvedBy), stillCounts(q.rejectedBy)
	dropped -= len(q.approvedBy) + len(q.rejectedBy)
	a.pending.RequiredRole = st.MinRole
	// Since is when the stage fell due, as the refusals of decisions that
	// came between then and now say (whyEscalationDue): the run applies
	// it later when it was busy or no worker ran. Only the request's text
	// and the query answer change with it, no command.
	a.pending.Escalation = &EscalationState{Level: q.stage, PreviousRole: prev, Since: due}
	a.syncPending()
	q.stale = true
	why := fmt.Sprintf("undecided after %s: needs %s or higher (was %s)", time.Duration(st.After), st.MinRole, prev)
	if dropped > 0 {
		why += fmt.Sprintf("; %d decision(s) by lower roles no longer count", dropped)
	}
	r.record(ctx, AuditEntry{Kind: AuditEscalated, ToolCallID: a.call.CallID, Tool: a.call.Name, Role: st.MinRole, Reason: why})
	countApproval(ctx, ApprovalEventEscalated, a.call.Name)
	workflow.GetLogger(ctx).Info("approval escalated", "callId", a.call.CallID, "to", st.MinRole, "stage", q.stage)
	r.setDetails(ctx)
}

// whyNotByRules returns why decision d (well formed, new, for pending
// approval a with rules, approving or rejecting the arguments a asks
// about) does not count, or "". It only reads the run's state.
func (r *run) whyNotByRules(d Decision, a *approval) string {
	q := a.rules
	if q.tp.DistinctFromRequester && d.ApproverClientID == r.in.Requester {
		return "you requested this run: the policy needs an approver other than the requester"
	}
	if err := CanApprove(r.policy.Roles, d.ApproverRole, a.pending.RequiredRole); err != nil {
		if e := a.pending.Escalation; e != nil && CanApprove(r.policy.Roles, d.ApproverRole, q.tp.MinRole) == nil {
			return fmt.Sprintf("needs %s since %s (escalated from %s)", a.pending.RequiredRole, e.Since.UTC().Format("15:04:05 UTC"), e.PreviousRole)
		}
		return err.Error()
	}
	if d.Decision == DecisionRejected {
		switch {
		case d.Arguments != "":
			return "a rejection carries no arguments"
		case q.tp.RejectBy == RejectByQuorum && hasApprover(q.rejectedBy, d.ApproverClientID):
			return "you already rejected"
		}
		return "" // one that withdraws the approver's approval is never refused
	}
	if d.Arguments == "" {
		if hasApprover(q.approvedBy, d.ApproverClientID) {
			return "you already approved"
		}
		return q.whyNoChange(d.ApproverClientID)
	}
	canon, why := r.edit(d, a)
	if why == "" && canon == a.call.Arguments && hasApprover(q.approvedBy, d.ApproverClientID) {
		return "you already approved"
	}
	if why == "" && canon == a.call.Arguments {
		why = q.whyNoChange(d.ApproverClientID)
	}
	return why
}

// whyNoChange refuses an approval of clientID that would withdraw their
// counted rejection once their approvals did so MaxVoteChangesPerCall
// times on these arguments, or returns "". A rejection that withdraws an
// approval is never refused: the cap must not keep an approval its
// approver took back. Only changes made since changeOneVote are counted,
// so older runs are not affected.
func (q *rules) whyNoChange(clientID string) string {
	if q.changed[clientID] < MaxVoteChangesPerCall || !hasApprover(q.rejectedBy, clientID) {
		return ""
	}
	return fmt.Sprintf("you changed your decision on this call too many times (at most %d)", MaxVoteChangesPerCall)
}

// edit checks the edited arguments of approval d for approval a and
// returns them canonical, or why the edit is refused.
func (r *run) edit(d Decision, a *approval) (string, string) {
	q := a.rules
	switch {
	case !q.tp.Editable:
		return "", fmt.Sprintf("the policy does not allow edits of %s", a.call.Name)
	case d.ArgumentsDigest == "":
		return "", "an edit must name the digest of the arguments it edits (argumentsDigest)"
	case len(d.Arguments) > MaxEditedArgumentsLen:
		return "", fmt.Sprintf("edited arguments longer than %d bytes", MaxEditedArgumentsLen)
	}
	canon, err := CanonicalArguments(d.Arguments, r.schemas[a.call.Name])
	if err != nil {
		return "", "edited arguments refused: " + truncate(err.Error(), maxToolErrorLen)
	}
	if canon != a.call.Arguments && q.edits >= MaxEditsPerCall {
		return "", fmt.Sprintf("too many edits of this call (at most %d)", MaxEditsPerCall)
	}
	return canon, ""
}

// whyNoEdit refuses the edited arguments of a decision for a call without
// rules (its policy is not editable). It is asked after the decision's
// signature was checked, so that decisions in histories recorded before
// edits existed replay as they were applied.
func whyNoEdit(d Decision, a *approval) string {
	if d.Arguments == "" || a == nil || a.rules != nil {
		return ""
	}
	return fmt.Sprintf("the policy does not allow edits of %s", a.call.Name)
}

// applyRules applies a decision that counts (whyNotByRules accepted it) to
// approval a: it is counted, and resolves a once the quorum is reached.
// e is its audit entry.
func (r *run) applyRules(ctx workflow.Context, a *approval, d Decision, e AuditEntry) {
	q := a.rules
	who := Approver{ClientID: d.ApproverClientID, Role: d.ApproverRole, At: workflow.Now(ctx)}
	if d.Decision == DecisionRejected {
		if q.tp.RejectBy != RejectByQuorum {
			r.resolve(ctx, a, stateRejected, &d, e)
			return
		}
		if w := q.withdraw(ctx, &q.approvedBy, who.ClientID, "approval"); w != "" {
			e.Reason = joinReason(w, e.Reason)
		}
		q.rejectedBy = append(q.rejectedBy, who)
		if len(q.rejectedBy) >= q.need {
			e.Reason = joinReason(fmt.Sprintf("%d of %d rejections: %s", len(q.rejectedBy), q.need, names(q.rejectedBy)), e.Reason)
			r.resolve(ctx, a, stateRejected, &d, e)
			return
		}
		r.count(ctx, a, e, fmt.Sprintf("%d of %d rejections", len(q.rejectedBy), q.need))
		return
	}
	if d.Arguments != "" {
		if canon, _ := r.edit(d, a); canon != "" && canon != a.call.Arguments {
			r.record(ctx, AuditEntry{Kind: AuditEdited, ToolCallID: a.call.CallID, Tool: a.call.Name, Actor: who.ClientID, Role: who.Role,
				AblyMessageID: d.AblyMessageID, Arguments: canon, Original: a.call.Arguments,
				Reason: fmt.Sprintf("edit %d; the approvals of the earlier arguments no longer count", q.edits+1)})
			countApproval(ctx, ApprovalEventEdited, a.call.Name)
			if q.original == "" {
				q.original = a.call.Arguments
			}
			q.edits++
			q.editedBy = &who
			// The count restarts on the edited arguments, and so do
			// the changes of mind.
			q.approvedBy, q.rejectedBy, q.changed = nil, nil, nil
			a.call.Arguments = canon
			a.pending.Arguments = canon
			a.pending.ArgumentsDigest = ArgumentsDigest(canon)
		}
	}
	if w := q.withdraw(ctx, &q.rejectedBy, who.ClientID, "rejection"); w != "" {
		e.Reason = joinReason(w, e.Reason)
	}
	q.approvedBy = append(q.approvedBy, who)
	q.approved(d)
	if len(q.approvedBy) >= q.need {
		e.Reason = joinReason(fmt.Sprintf("%d of %d approvals: %s", len(q.approvedBy), q.need, names(q.approvedBy)), e.Reason)
		a.syncPending()
		r.resolve(ctx, a, stateApproved, &d, e)
		return
	}
	r.count(ctx, a, e, fmt.Sprintf("%d of %d approvals", len(q.approvedBy), q.need))
}

// whySuperseded refuses, under RejectByQuorum, a decision d that would
// withdraw its approver's counted decision on the other side although it
// was published before that one: it arrived late (a bridge replays a
// dropped message after later ones), and the approver's later decision
// stands, as it would had they arrived in order. Otherwise "". It only
// reads the rules' state; whyRefusedSince asks changeOneVote when it
// refuses.
func (q *rules) whySuperseded(d Decision) string {
	if q == nil || q.tp.RejectBy != RejectByQuorum || d.PublishedAt.IsZero() {
		return ""
	}
	// An approval is judged against the approver's newest rejection
	// received, also one not counted (a repeat of the one that was): it
	// may be unverified, but it can only keep a rejection standing, never
	// take one back. A rejection is judged against their counted approval.
	other, at := q.rejectedBy, q.rejectedAt[d.ApproverClientID]
	if d.Decision == DecisionRejected {
		other, at = q.approvedBy, q.approvedAt[d.ApproverClientID]
	}
	if !hasApprover(other, d.ApproverClientID) {
		return ""
	}
	switch {
	case d.PublishedAt.Before(at):
		return "published before your later decision on this call, which stands"
	case d.Decision == DecisionApproved && d.PublishedAt.Equal(at):
		// Ably's timestamps have millisecond resolution, so which came
		// first cannot be told: the rejection stands (no person clicks
		// twice in a millisecond).
		return "published in the same millisecond as your rejection on this call, which stands"
	}
	return ""
}

// sawDecision notes the publish time of a rejection that reached the run
// for this call (whySuperseded). q may be nil.
func (q *rules) sawDecision(d Decision) {
	if q == nil || d.Decision != DecisionRejected || !d.PublishedAt.After(q.rejectedAt[d.ApproverClientID]) {
		return
	}
	if q.rejectedAt == nil {
		q.rejectedAt = map[string]time.Time{}
	}
	q.rejectedAt[d.ApproverClientID] = d.PublishedAt
}

// approved records when the counted approval d was published.
func (q *rules) approved(d Decision) {
	if q.approvedAt == nil {
		q.approvedAt = map[string]time.Time{}
		q.signed = map[string]Decision{}
	}
	q.approvedAt[d.ApproverClientID] = d.PublishedAt
	q.signed[d.ApproverClientID] = d
}

// withdraw removes clientID's counted decision from list, the other side's
// counted decisions of a call (with RejectByQuorum, both approvals and
// rejections count), when the approver now decides the other way: one
// approver has one vote on a call, their latest (changeOneVote). It returns
// what the audit says about it ("their approval no longer counts"), or "".
// Asked only when clientID is on list, so no other run's history changes.
func (q *rules) withdraw(ctx workflow.Context, list *[]Approver, clientID, what string) string {
	if !hasApprover(*list, clientID) || workflow.GetVersion(ctx, changeOneVote, workflow.DefaultVersion, 1) < 1 {
		return ""
	}
	*list = slices.DeleteFunc(slices.Clone(*list), func(x Approver) bool { return x.ClientID == clientID })
	if what == "rejection" { // an approval took it back: whyNoChange bounds these
		if q.changed == nil {
			q.changed = map[string]int{}
		}
		q.changed[clientID]++
	}
	return fmt.Sprintf("replaces their %s, which no longer counts", what)
}

// count records a decision counted toward the quorum, and marks a for
// re-announcement.
func (r *run) count(ctx workflow.Context, a *approval, e AuditEntry, progress string) {
	e.Kind = AuditCounted
	e.Reason = joinReason(progress, e.Reason)
	r.record(ctx, e)
	countApproval(ctx, ApprovalEventCounted, a.call.Name)
	a.syncPending()
	a.rules.stale = true
	workflow.GetLogger(ctx).Info("decision counted", "callId", a.call.CallID, "by", e.Actor, "progress", progress)
	r.setDetails(ctx)
}

// editedOutput is the tool's output for the model when an approver edited
// the arguments: the model is told that a human edited them, what they
// became, and who did. When the tool failed, the failure leads
// (changeEditedFailure): "the tool ran with ..." read as a run that
// worked, and the model could tell its user the post was published.
func editedOutput(ctx workflow.Context, q *rules, c ToolCall, output string, failed bool) string {
	if q == nil || q.original == "" || q.editedBy == nil {
		return output
	}
	if failed && workflow.GetVersion(ctx, changeEditedFailure, workflow.DefaultVersion, 1) >= 1 {
		return fmt.Sprintf("%s (approved with edits: %s (%s) edited the arguments before approving; the tool was called with %s instead of %s)",
			output, q.editedBy.ClientID, q.editedBy.Role, c.Arguments, q.original)
	}
	return fmt.Sprintf("approved with edits: %s (%s) edited the arguments before approving; the tool ran with %s instead of %s. Tool output: %s",
		q.editedBy.ClientID, q.editedBy.Role, c.Arguments, q.original, output)
}

// approvals returns the signed decisions that approved a's call, in the
// order they counted, for ToolRequest.Approvals: the winning decision, or
// each counted approval of the quorum.
func (a *approval) approvals() []Decision {
	if a.state != stateApproved {
		return nil
	}
	if a.rules == nil || len(a.rules.approvedBy) == 0 {
		return []Decision{a.decision}
	}
	out := make([]Decision, 0, len(a.rules.approvedBy))
	for _, x := range a.rules.approvedBy {
		if d, ok := a.rules.signed[x.ClientID]; ok {
			out = append(out, d)
		}
	}
	return out
}

// approvedBy is the approvers of an approved call as ToolRequest.ApprovedBy
// has them: comma-separated clientIds.
func (a *approval) approvedBy() string {
	if a.rules == nil || len(a.rules.approvedBy) == 0 {
		return a.decision.ApproverClientID
	}
	ids := make([]string, len(a.rules.approvedBy))
	for i, x := range a.rules.approvedBy {
		ids[i] = x.ClientID
	}
	return strings.Join(ids, ",")
}

func hasApprover(list []Approver, clientID string) bool {
	return slices.ContainsFunc(list, func(x Approver) bool { return x.ClientID == clientID })
}

// names lists the approvers' clientIds with their roles.
func names(list []Approver) string {
	parts := make([]string, len(list))
	for i, x := range list {
		parts[i] = fmt.Sprintf("%s (%s)", x.ClientID, x.Role)
	}
	return strings.Join(parts, ", ")
}

func joinReason(progress, reason string) string {
	if reason == "" {
		return progress
	}
	return progress + "; " + reason
}
