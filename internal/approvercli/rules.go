package approvercli

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/hitl/durable-approvals/internal/termtext"
	"github.com/hitl/durable-approvals/workflows"
)

// The rules beyond one approver (a quorum, separation from the requester,
// escalation, edits), as an approver sees them: what a request says about
// them, and which decisions the CLI refuses to send because the workflow
// would not count them.

// roles is the role hierarchy a request names, lowest first, or the
// default one for requests that name none.
func (r Request) roles() []string {
	if len(r.Roles) > 0 {
		return r.Roles
	}
	return workflows.DefaultRoles
}

// refusal says why the workflow would not count decision by the approver
// (clientID with role) on r, for the reasons the request itself shows, or
// "". edit says whether the approval carries edited arguments.
func refusal(r Request, clientID, role, decision string, edit bool) string {
	switch {
	case r.DistinctFromRequester && clientID != "" && clientID == r.Requester:
		return "you requested this run: the policy needs another approver"
	case r.Escalation != nil && workflows.CanApprove(r.roles(), role, r.RequiredRole) != nil:
		return fmt.Sprintf("needs %s since %s (escalated from %s)", termtext.Line(r.RequiredRole), r.Escalation.Since.UTC().Format("15:04 UTC"), termtext.Line(r.Escalation.PreviousRole))
	case decision == workflows.DecisionApproved && !edit && hasClient(r.ApprovedBy, clientID):
		return fmt.Sprintf("you already approved (%s)", progress(len(r.ApprovedBy), r.Approvals, "approvals"))
	case decision == workflows.DecisionRejected && r.RejectBy == workflows.RejectByQuorum && hasClient(r.RejectedBy, clientID):
		return fmt.Sprintf("you already rejected (%s)", progress(len(r.RejectedBy), r.Approvals, "rejections"))
	case edit && !r.Editable:
		return fmt.Sprintf("the policy does not allow edits of %s", termtext.Line(r.Tool))
	}
	return ""
}

// takeBack says how an approver whose approval of r is counted can take
// it back while r needs more approvals: under rejectBy quorum a rejection
// withdraws it, otherwise it rejects the call. "" once r has its approvals.
func takeBack(r Request) string {
	if len(r.ApprovedBy) >= max(r.Approvals, 1) {
		return ""
	}
	if r.RejectBy == workflows.RejectByQuorum {
		return fmt.Sprintf("; `approver reject %s` withdraws your approval", termtext.Line(r.ToolCallID))
	}
	return fmt.Sprintf("; `approver reject %s` rejects it", termtext.Line(r.ToolCallID))
}

// withdrawn is "; your approval no longer counts" (what names the kind)
// when clientID was in before and is not in after, else "".
func withdrawn(before, after []workflows.Approver, clientID, what string) string {
	if !hasClient(before, clientID) || hasClient(after, clientID) {
		return ""
	}
	return fmt.Sprintf("; your %s no longer counts", what)
}

func hasClient(list []workflows.Approver, clientID string) bool {
	return clientID != "" && slices.ContainsFunc(list, func(a workflows.Approver) bool { return a.ClientID == clientID })
}

// progress is "1 of 2 approvals".
func progress(have, need int, what string) string {
	return fmt.Sprintf("%d of %d %s", have, max(need, 1), what)
}

// who lists approvers as "alice (publisher), carol (admin)".
func who(list []workflows.Approver) string {
	parts := make([]string, len(list))
	for i, a := range list {
		parts[i] = fmt.Sprintf("%s (%s)", termtext.Line(a.ClientID), termtext.Line(a.Role))
	}
	return strings.Join(parts, ", ")
}

// writeRules prints the lines of a request's rules, if it has any.
func writeRules(w io.Writer, r Request, now time.Time) {
	if r.Approvals > 1 {
		line := progress(len(r.ApprovedBy), r.Approvals, "approvals")
		if len(r.ApprovedBy) > 0 {
			line += ", by " + who(r.ApprovedBy)
		}
		fmt.Fprintf(w, "Approvals:     %s\n", line)
	}
	if r.RejectBy == workflows.RejectByQuorum {
		line := progress(len(r.RejectedBy), r.Approvals, "rejections")
		if len(r.RejectedBy) > 0 {
			line += ", by " + who(r.RejectedBy)
		}
		fmt.Fprintf(w, "Rejections:    %s (a quorum rejects)\n", line)
	}
	if e := r.Escalation; e != nil {
		fmt.Fprintf(w, "Escalated:     needs %s since %s (was %s; stage %d)\n", termtext.Line(r.RequiredRole), e.Since.UTC().Format("15:04:05 UTC"), termtext.Line(e.PreviousRole), e.Level)
	}
	if n := r.NextEscalation; n != nil {
		fmt.Fprintf(w, "Escalates:     to %s at %s (in %s) if still undecided\n", termtext.Line(n.MinRole), n.At.UTC().Format("15:04:05 UTC"), max(n.At.Sub(now).Truncate(time.Second), 0))
	}
	if r.DistinctFromRequester {
		fmt.Fprintf(w, "Separation:    the requester cannot decide this call\n")
	}
	if e := r.EditedBy; e != nil {
		fmt.Fprintf(w, "Edited by:     %s (%s); earlier approvals no longer count\n", termtext.Line(e.ClientID), termtext.Line(e.Role))
	}
	if r.Editable {
		fmt.Fprintf(w, "Editable:      yes (approver approve %s --edit)\n", termtext.Line(r.ToolCallID))
	}
}
