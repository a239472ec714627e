package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/hitl/durable-approvals/workflows"
)

// resetLookTimeout bounds the look for the run a reset started.
const resetLookTimeout = 10 * time.Second

// wait waits for the run wr (waitRuns) and prints its answer and audit
// trail; or, for a run that ended otherwise, its audit trail as its query
// gives it (printFailedAudit) before returning its failure (runFailed),
// and the signal that stopped that query, if one did (exit 130 or 143).
// A wait that ends without the run's end (Ctrl-C, or Temporal unreachable
// for longer than the SDK's retries of its long poll, about a minute: a
// server restarting; or a result that does not decode) says the run may
// go on.
func wait(ctx context.Context, c client.Client, wr client.WorkflowRun, every time.Duration, w io.Writer) error {
	var res workflows.AgentResult
	wr, err := waitRuns(ctx, c, wr, every, w, &res)
	if err == nil {
		return printResult(w, res)
	}
	if ctx.Err() != nil {
		// Exit 130 or 143 when a signal ended the wait (config.ExitCode).
		return fmt.Errorf("stopped waiting; the run %s goes on (%w)", wr.GetID(), context.Cause(ctx))
	}
	var ended *temporal.WorkflowExecutionError
	if !errors.As(err, &ended) {
		why := ""
		if de := (*serviceerror.DeadlineExceeded)(nil); errors.As(err, &de) || errors.Is(err, context.DeadlineExceeded) {
			// The SDK's retries of its long poll ran out (a
			// *serviceerror.DeadlineExceeded, seen after 65 s with
			// the server killed): the server did not answer.
			why = "Temporal did not answer for about a minute (is it still running?); "
		}
		return fmt.Errorf("could not wait for the run %s to end (%sit may go on: the Web UI shows it): %w", wr.GetID(), why, err)
	}
	printFailedAudit(ctx, c, wr.GetID(), wr.GetRunID(), w)
	// A signal during the audit trail's query: exit 130 or 143 all the
	// same, as during the wait (config.ExitCode).
	return cutShort(ctx, runFailed(wr.GetID(), err))
}

// waitRuns waits for the run wr, saying meanwhile its activities' failed
// attempts (watchRetries), and, when a reset ends it (the Web UI's Reset,
// `temporal workflow reset`: the run is terminated and goes on in a new
// one), for the new run in its place, saying so. It returns the last run
// waited for and what it ended with.
func waitRuns(ctx context.Context, c client.Client, wr client.WorkflowRun, every time.Duration, w io.Writer, res *workflows.AgentResult) (client.WorkflowRun, error) {
	first := wr.GetRunID()
	for {
		err := waitRun(ctx, c, wr, every, w, res)
		next := resetRun(ctx, c, wr.GetID(), wr.GetRunID(), first, err)
		if next == "" {
			return wr, err
		}
		fmt.Fprintf(w, "The run was reset: waiting for its new run %s...\n", next)
		wr = c.GetWorkflow(ctx, wr.GetID(), next)
	}
}

// waitRun waits for the run wr, watching its retries meanwhile.
func waitRun(ctx context.Context, c client.Client, wr client.WorkflowRun, every time.Duration, w io.Writer, res *workflows.AgentResult) error {
	wctx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	id, runID := wr.GetID(), wr.GetRunID() // read before Get, which may follow a run continued as new
	go func() {
		defer close(watched)
		watchRetries(wctx, c, id, runID, every, w, time.Now)
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
