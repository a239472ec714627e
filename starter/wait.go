package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/hitl/durable-approvals/workflows"
)

// resetLookTimeout bounds the look for the run a reset started.
const resetLookTimeout = 10 * time.Second

// waitRuns waits for the run wr, saying meanwhile its activities' failed
// attempts (watchRetries), and, when a reset ends it (the Web UI's Reset,
// `temporal workflow reset`: the run is terminated and goes on in a new
// one), for the new run in its place, saying so. It returns what the
// last run waited for ended with; wr.GetRunID() is that run.
func waitRuns(ctx context.Context, c client.Client, wr client.WorkflowRun, every time.Duration, w io.Writer, res *workflows.AgentResult) error {
	first := wr.GetRunID()
	for {
		err := waitRun(ctx, c, wr, every, w, res)
		next := resetRun(ctx, c, wr.GetID(), wr.GetRunID(), first, err)
		if next == "" {
			return err
		}
		fmt.Fprintf(w, "The run was reset: waiting for its new run %s...\n", next)
		wr = c.GetWorkflow(ctx, wr.GetID(), next)
	}
}

// waitRun waits for the run wr, watching its retries meanwhile.
func waitRun(ctx context.Context, c client.Client, wr client.WorkflowRun, every time.Duration, w io.Writer, res *workflows.AgentResult) error {
	wctx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		watchRetries(wctx, c, wr.GetID(), wr.GetRunID(), every, w, time.Now)
	}()
	err := wr.Get(ctx, res)
	stopWatch()
	<-watched
	return err
}

// resetRun is the id of the run a reset of runID started, or "": when err
// says runID was terminated, the workflow's current run is another one
// whose first run is firstRunID (a reset keeps it; a start under the same
// workflow id does not). A describe that fails counts as no reset.
func resetRun(ctx context.Context, d runDescriber, workflowID, runID, firstRunID string, err error) string {
	var terminated *temporal.TerminatedError
	if !errors.As(err, &terminated) || ctx.Err() != nil {
		return ""
	}
	dctx, cancel := context.WithTimeout(ctx, resetLookTimeout)
	defer cancel()
	resp, err := d.DescribeWorkflowExecution(dctx, workflowID, "")
	if err != nil {
		return ""
	}
	info := resp.GetWorkflowExecutionInfo()
	if next := info.GetExecution().GetRunId(); next != runID && info.GetFirstRunId() == firstRunID {
		return next
	}
	return ""
}
