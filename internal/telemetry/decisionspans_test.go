package telemetry

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hitl/durable-approvals/workflows"
)

// spansWorkflow receives the named signals in order, then runs the tool
// request as the activity named activityType (or as a local activity).
func spansWorkflow(ctx workflow.Context, signals []string, activityType string, local bool, req workflows.ToolRequest) error {
	for _, name := range signals {
		var d workflows.Decision
		workflow.GetSignalChannel(ctx, name).Receive(ctx, &d)
	}
	if local {
		ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: time.Minute})
		return workflow.ExecuteLocalActivity(ctx, activityType, req).Get(ctx, nil)
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	return workflow.ExecuteActivity(ctx, activityType, req).Get(ctx, nil)
}

// otherSignal is a signal that is not a decision, though its payload reads
// as one.
const otherSignal = "not-a-decision"

// DecisionSpans hangs the ExecuteTool span of an approved call under the
// span of the first decision signal of that call by that approver; any
// other tool run, and any other activity, stays under the run. It works
// with the tracing interceptor Tracing makes (they share the span key).
func TestDecisionSpans(t *testing.T) {
	dec := func(call, approver string) workflows.Decision {
		return workflows.Decision{ToolCallID: call, Decision: workflows.DecisionApproved, ApproverClientID: approver}
	}
	tests := []struct {
		name       string
		signals    []workflows.Decision
		req        workflows.ToolRequest
		local      bool
		wantParent int    // index of the signal whose span is the tool's parent; -1: none
		other      string // the activity type, when not ExecuteTool
		otherFirst bool   // an otherSignal with signals[0]'s payload comes first
	}{
		{"approved by the signal's approver", []workflows.Decision{dec("c1", "alice")}, workflows.ToolRequest{CallID: "c1", ApprovedBy: "alice"}, false, 0, "", false},
		{"local activity too", []workflows.Decision{dec("c1", "alice")}, workflows.ToolRequest{CallID: "c1", ApprovedBy: "alice"}, true, 0, "", false},
		{"first decision of a pair wins", []workflows.Decision{dec("c1", "alice"), dec("c1", "alice")}, workflows.ToolRequest{CallID: "c1", ApprovedBy: "alice"}, false, 0, "", false},
		{"the approving one among others", []workflows.Decision{dec("c1", "bob"), dec("c2", "alice"), dec("c1", "alice")}, workflows.ToolRequest{CallID: "c1", ApprovedBy: "alice"}, false, 2, "", false},
		{"another approver", []workflows.Decision{dec("c1", "bob")}, workflows.ToolRequest{CallID: "c1", ApprovedBy: "alice"}, false, -1, "", false},
		{"another call", []workflows.Decision{dec("c2", "alice")}, workflows.ToolRequest{CallID: "c1", ApprovedBy: "alice"}, false, -1, "", false},
		{"no approval needed", []workflows.Decision{dec("c1", "")}, workflows.ToolRequest{CallID: "c1"}, false, -1, "", false},
		{"another activity", []workflows.Decision{dec("c1", "alice")}, workflows.ToolRequest{CallID: "c1", ApprovedBy: "alice"}, false, -1, "VerifyDecision", false},
		{"a signal that is no decision", []workflows.Decision{dec("c1", "alice")}, workflows.ToolRequest{CallID: "c1", ApprovedBy: "alice"}, false, 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := NewTracing("test", filepath.Join(t.TempDir(), "spans.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { tr.Shutdown(context.Background()) })
			rec := tracetest.NewSpanRecorder()
			tr.provider.RegisterSpanProcessor(rec)
			cis, err := tr.ClientInterceptors()
			if err != nil {
				t.Fatal(err)
			}
			// As the worker has them: the SDK's interceptor (from the
			// client options) first, then Tracing's worker interceptors.
			wis := append([]interceptor.WorkerInterceptor{cis[0].(interceptor.WorkerInterceptor)}, tr.WorkerInterceptors()...)
			var s testsuite.WorkflowTestSuite
			env := s.NewTestWorkflowEnvironment()
			env.SetWorkerOptions(worker.Options{Interceptors: wis})
			env.RegisterWorkflow(spansWorkflow)
			activityType := workflows.ActivityExecuteTool
			if tt.other != "" {
				activityType = tt.other
			}
			env.RegisterActivityWithOptions(func(context.Context, workflows.ToolRequest) error { return nil }, activity.RegisterOptions{Name: activityType})
			var names []string
			if tt.otherFirst {
				names = append(names, otherSignal)
				env.RegisterDelayedCallback(func() { env.SignalWorkflow(otherSignal, tt.signals[0]) }, time.Second/2)
			}
			for i, d := range tt.signals {
				names = append(names, workflows.DecisionSignal)
				env.RegisterDelayedCallback(func() { env.SignalWorkflow(workflows.DecisionSignal, d) }, time.Duration(i+1)*time.Second)
			}
			env.ExecuteWorkflow(spansWorkflow, names, activityType, tt.local, tt.req)
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			var signalSpans []trace.SpanID
			var tool sdktrace.ReadOnlySpan
			for _, sp := range rec.Ended() {
				switch sp.Name() {
				case "HandleSignal:" + workflows.DecisionSignal:
					signalSpans = append(signalSpans, sp.SpanContext().SpanID())
				case "StartActivity:" + activityType:
					tool = sp
				}
			}
			if len(signalSpans) != len(tt.signals) || tool == nil {
				var names []string
				for _, sp := range rec.Ended() {
					names = append(names, sp.Name())
				}
				t.Fatalf("spans = %q, want %d signal spans and the tool's", names, len(tt.signals))
			}
			parent := tool.Parent().SpanID()
			got := -1
			for i, id := range signalSpans {
				if id == parent {
					got = i
				}
			}
			if got != tt.wantParent {
				t.Errorf("the tool's span hangs under signal %d, want %d", got, tt.wantParent)
			}
		})
	}
}
