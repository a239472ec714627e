package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hitl/durable-approvals/internal/signing"
	"github.com/hitl/durable-approvals/workflows"
)

// signers are the recording's signing keys: the bridge's, and one the
// worker has retired.
type signers struct {
	current, retired *signing.Signer
}

// record runs one scenario to completion and writes its history.
func record(ctx context.Context, c client.Client, wk *recorderWorker, keys signers, sc scenario, cfg config, logger *slog.Logger) error {
	fake := wk.fake
	policy, err := workflows.ParsePolicy([]byte(sc.policy))
	if err != nil {
		return err
	}
	in := workflows.AgentInput{Prompt: sc.name, Requester: "recorder"}
	if sc.inputPolicy != "" {
		if in.Policy, err = workflows.ParsePolicy([]byte(sc.inputPolicy)); err != nil {
			return err
		}
	}
	id := "record-" + sc.name
	fake.setPolicy(id, policy, sc.activityTools)
	name := workflows.WorkflowName
	if sc.workerPolicyVersion != 0 {
		name = workflows.WorkflowNameV1
		wk.setPolicyVersion(id, sc.workerPolicyVersion)
	}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                workflows.TaskQueue,
		WorkflowExecutionTimeout: time.Minute,
	}, name, in)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if err := waitPending(ctx, c, id, sc.waitPending); err != nil {
		return err
	}
	if sc.waitKind != "" {
		if err := waitView(ctx, c, id, "an audit entry "+sc.waitKind, func(v workflows.ApprovalsView) bool {
			return slices.ContainsFunc(v.Audit, func(e workflows.AuditEntry) bool { return e.Kind == sc.waitKind })
		}); err != nil {
			return err
		}
	}
	if sc.workerDown > 0 && sc.stopBeforeDelay {
		wk.stop()
		logger.Info("worker stopped", "scenario", sc.name)
	}
	if sc.delay > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(sc.delay):
		}
	}
	if sc.workerDown > 0 && !sc.stopBeforeDelay {
		wk.stop()
		logger.Info("worker stopped", "scenario", sc.name, "for", sc.workerDown)
	}
	first := time.Now() // when the first decision is sent
	for i, d := range sc.decisions {
		if i < len(sc.waits) {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(sc.waits[i]):
			}
		}
		if sc.workerDown > 0 && d.PublishedAt.IsZero() {
			d.PublishedAt = time.Now().UTC() // as the bridge sets Ably's timestamp
		}
		if at, ok := sc.stamp(i, first); ok {
			d.PublishedAt = at
		}
		switch {
		case slices.Contains(sc.unsigned, i):
		case slices.Contains(sc.retiredKey, i):
			d.WorkflowID = id
			keys.retired.Sign(&d)
		default:
			d.WorkflowID = id
			keys.current.Sign(&d)
		}
		if slices.Contains(sc.tampered, i) {
			d.Reason += " (changed after signing)"
		}
		if err := c.SignalWorkflow(ctx, id, run.GetRunID(), workflows.DecisionSignal, d); err != nil {
			return fmt.Errorf("signal: %w", err)
		}
	}
	if sc.workerDown > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(sc.workerDown):
		}
		if err := wk.start(); err != nil {
			return err
		}
		logger.Info("worker started again", "scenario", sc.name)
	}
	if sc.cancel {
		if err := waitAudit(ctx, c, id, len(sc.decisions)); err != nil {
			return err
		}
		if err := c.CancelWorkflow(ctx, id, run.GetRunID()); err != nil {
			return fmt.Errorf("cancel: %w", err)
		}
		var canceled *temporal.CanceledError
		if err := run.Get(ctx, nil); !errors.As(err, &canceled) {
			return fmt.Errorf("result of the cancelled run: %v, want a cancellation", err)
		}
		logger.Info("run cancelled", "scenario", sc.name)
	} else {
		var res workflows.AgentResult
		if err := run.Get(ctx, &res); err != nil {
			return fmt.Errorf("result: %w", err)
		}
		logger.Info("run finished", "scenario", sc.name, "turns", res.Turns, "answer", res.Answer, "audit", len(res.Audit))
	}

	if sc.wantNoticed != nil {
		if got := fake.noticedOf(id); !slices.Equal(got, sc.wantNoticed) {
			return fmt.Errorf("approval-ignored sent to %q, want %q", got, sc.wantNoticed)
		}
	}
	if sc.wantResolved != nil {
		if got := fake.resolvedOf(id); !maps.Equal(got, sc.wantResolved) {
			return fmt.Errorf("approval-resolved outcomes %v, want %v", got, sc.wantResolved)
		}
	}

	hist := &historypb.History{}
	it := c.GetWorkflowHistory(ctx, id, run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return fmt.Errorf("history: %w", err)
		}
		hist.Events = append(hist.Events, ev)
	}
	b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
	if err != nil {
		return fmt.Errorf("encode history: %w", err)
	}
	path := cfg.path(sc.name)
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if cfg.Overwrite {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	r := worker.NewWorkflowReplayer()
	for _, name := range workflows.RegisteredNames() {
		r.RegisterWorkflowWithOptions(workflows.AgentWorkflow, workflow.RegisterOptions{Name: name})
	}
	if err := r.ReplayWorkflowHistoryFromJSONFile(tlog.NewStructuredLogger(logger), path); err != nil {
		return fmt.Errorf("replay %s: %w", path, err)
	}
	logger.Info("history written", "path", path, "events", len(hist.Events))
	return nil
}

// waitPending polls the approvals query until n approvals wait.
func waitPending(ctx context.Context, c client.Client, id string, n int) error {
	return waitView(ctx, c, id, fmt.Sprintf("%d pending approvals", n), func(v workflows.ApprovalsView) bool { return len(v.Pending) >= n })
}

// waitAudit polls the approvals query until n decisions are in the audit
// (as ignored, approved or rejected), so that a cancellation comes after them.
func waitAudit(ctx context.Context, c client.Client, id string, n int) error {
	return waitView(ctx, c, id, fmt.Sprintf("%d decisions in the audit", n), func(v workflows.ApprovalsView) bool {
		got := 0
		for _, e := range v.Audit {
			switch e.Kind {
			case workflows.AuditIgnored, workflows.AuditApproved, workflows.AuditRejected:
				got++
			}
		}
		return got >= n
	})
}

// waitView polls the approvals query until done accepts the view.
func waitView(ctx context.Context, c client.Client, id, what string, done func(workflows.ApprovalsView) bool) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		v, err := c.QueryWorkflow(ctx, id, "", workflows.ApprovalsQuery)
		if err == nil {
			var view workflows.ApprovalsView
			if err := v.Get(&view); err != nil {
				return fmt.Errorf("decode query: %w", err)
			}
			if done(view) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last query error: %v)", what, ctx.Err(), err)
		case <-tick.C:
		}
	}
}
