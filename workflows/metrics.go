package workflows

import "go.temporal.io/sdk/workflow"

// MetricApprovals is the workflow's approval counter, one series per event
// and tool: Prometheus shows it as hitl_approvals_total{event, tool} (plus
// the SDK's namespace, task_queue and workflow_type labels) on the worker's
// /metrics. Events: ApprovalEventRequested when the approval-request is
// published, then the state an approval is resolved to (approved,
// rejected, expired, cancelled, unpublished), and, for calls with rules,
// ApprovalEventEscalated each time an undecided call moves to a higher role
// (escalate), ApprovalEventCounted for each decision counted toward a
// quorum that does not resolve the call, and ApprovalEventEdited for each
// edit of the arguments.
const MetricApprovals = "hitl_approvals"

// Approval events of MetricApprovals that are not resolution states.
const (
	ApprovalEventRequested = "requested"
	ApprovalEventEscalated = "escalated"
	ApprovalEventCounted   = "counted"
	ApprovalEventEdited    = "edited"
)

// countApproval adds one to MetricApprovals for event and tool. The SDK's
// metrics handler records nothing while the workflow replays, so each event
// counts once however often its code runs; no GetVersion is needed.
func countApproval(ctx workflow.Context, event, tool string) {
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"event": event, "tool": tool}).Counter(MetricApprovals).Inc(1)
}
