package telemetry

import (
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/workflow"

	"github.com/hitl/durable-approvals/workflows"
)

// DecisionSpans is a worker interceptor that follows a decision into the
// tool it approved: the span of the ExecuteTool activity becomes a child of
// the span of the approval-decision signal whose approver the activity
// names (ToolRequest.ApprovedBy), instead of a child of the run. The
// signal's span is itself a child of the bridge's SignalWorkflow span
// (the SDK carries it in the signal header), so one trace goes from the
// bridge to the tool.
//
// It must come after the SDK's tracing interceptor (Tracing puts that in
// the client options, which the worker places first) and share its span
// key. It changes no command and no payload: only which span a span hangs
// under. On replay the tracing interceptor records no spans, so nothing is
// kept then either.
type DecisionSpans struct {
	interceptor.WorkerInterceptorBase
}

// InterceptWorkflow keeps, per workflow execution, the span of the first
// decision signal of each (tool call, approver).
func (*DecisionSpans) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &decisionInbound{
		WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next},
		spans:                          map[decisionKey]any{},
	}
}

type decisionKey struct{ toolCallID, approver string }

type decisionInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	spans map[decisionKey]any // the tracing interceptor's span of the signal
}

func (d *decisionInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	return d.Next.Init(&decisionOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: outbound}, in: d})
}

func (d *decisionInbound) HandleSignal(ctx workflow.Context, in *interceptor.HandleSignalInput) error {
	if in.SignalName == workflows.DecisionSignal {
		if span := ctx.Value(spanKey{}); span != nil {
			var dec workflows.Decision
			if err := converter.GetDefaultDataConverter().FromPayloads(in.Arg, &dec); err == nil {
				k := decisionKey{dec.ToolCallID, dec.ApproverClientID}
				if _, ok := d.spans[k]; !ok {
					d.spans[k] = span
				}
			}
		}
	}
	return d.Next.HandleSignal(ctx, in)
}

type decisionOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	in *decisionInbound
}

func (o *decisionOutbound) ExecuteActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	return o.Next.ExecuteActivity(o.underDecision(ctx, activityType, args), activityType, args...)
}

// ExecuteLocalActivity does the same for a tool the workflow runs as a
// local activity (its fast path).
func (o *decisionOutbound) ExecuteLocalActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	return o.Next.ExecuteLocalActivity(o.underDecision(ctx, activityType, args), activityType, args...)
}

// underDecision puts the approving decision's signal span in ctx when the
// activity is the tool run of an approved call.
func (o *decisionOutbound) underDecision(ctx workflow.Context, activityType string, args []any) workflow.Context {
	if activityType != workflows.ActivityExecuteTool || len(args) != 1 {
		return ctx
	}
	req, ok := args[0].(workflows.ToolRequest)
	if !ok || req.ApprovedBy == "" {
		return ctx
	}
	if span, ok := o.in.spans[decisionKey{req.CallID, req.ApprovedBy}]; ok {
		return workflow.WithValue(ctx, spanKey{}, span)
	}
	return ctx
}
