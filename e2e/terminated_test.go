package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/activities"
	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/reannounce"
	"github.com/hitl/durable-approvals/workflows"
)

// terminatedSteps: a run terminated in Temporal while it waits announces
// nothing itself; a worker's keeper (reannounce.Keeper, here one sweep of
// a keeper like the worker's, whose own sweeps are 10 minutes apart)
// resolves its request, and `approver list` no longer lists it.
func terminatedSteps(s *stack, step func(string, func(*testing.T))) {
	step("a run terminated while it waits: the keeper resolves its request and the CLI drops it", func(t *testing.T) {
		id := s.startRun("Publish the blog post called 'Terminated while waiting'")
		p := s.waitPending(id, 1)[0]
		if out, err := s.cli("publisher", "list"); err != nil || !strings.Contains(out, p.ToolCallID) {
			t.Fatalf("approver list: %v, want %s listed\n%s", err, p.ToolCallID, out)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		desc, err := s.tc.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			t.Fatal(err)
		}
		runID := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
		if err := s.tc.TerminateWorkflow(ctx, id, runID, "e2e: terminated while it waits"); err != nil {
			t.Fatal(err)
		}
		// Terminated, the run announced nothing: the CLI still lists it.
		if out, err := s.cli("publisher", "list"); err != nil || !strings.Contains(out, p.ToolCallID) {
			t.Fatalf("approver list after the termination, before a sweep: %v, want %s still listed\n%s", err, p.ToolCallID, out)
		}

		cfg := ablyconn.Config{APIKey: ablyKeyName + ":" + ablyKeySecret, Endpoint: s.ably.Addr(), TLS: false}
		hist, err := reannounce.NewAblyHistory(cfg, workflows.DefaultAgentClientID, channel)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := activities.NewAblyPublisher(cfg, workflows.DefaultAgentClientID)
		if err != nil {
			t.Fatal(err)
		}
		k := &reannounce.Keeper{
			Pending: reannounce.NewTemporal(s.tc, "default"), History: hist, Publisher: pub, Channel: channel,
			AgentClientID: workflows.DefaultAgentClientID, IDKey: cfg.MessageIDKey(),
			// The run closed a moment ago, on this machine's clock.
			ClosedFor: time.Nanosecond,
		}
		res, err := k.Sweep(ctx)
		if err != nil || res.Resolved != 1 || res.ResolvedBy["terminated"] != 1 {
			t.Fatalf("the keeper's sweep: %+v, %v; want the terminated run's request resolved", res, err)
		}
		out, err := s.cli("publisher", "list")
		if err != nil || strings.Contains(out, p.ToolCallID) {
			t.Fatalf("approver list after the sweep: %v, want %s gone\n%s", err, p.ToolCallID, out)
		}
		// A second sweep finds it resolved.
		if res, err := k.Sweep(ctx); err != nil || res.Resolved != 0 {
			t.Fatalf("a second sweep: %+v, %v; want nothing resolved", res, err)
		}
	})
}
