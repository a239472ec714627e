package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/hitl/durable-approvals/internal/termtext"
	"github.com/hitl/durable-approvals/workflows"
)

// DefaultRetryWatchEvery is how often --wait asks Temporal about the run's
// activities that failed and will be tried again.
const DefaultRetryWatchEvery = 5 * time.Second

// runDescriber is the part of the Temporal client watchRetries uses.
type runDescriber interface {
	DescribeWorkflowExecution(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error)
}

// watchRetries prints to w, until ctx is done, each failed attempt of the
// run's activities that Temporal will try again, once (those that failed
// between two looks together, with the last one's error): a model call while
// OpenAI is down may be tried for an hour (workflows.ModelRetry), and a
// wait that says nothing meanwhile looks like a hang. It asks Temporal
// every interval, each call bounded by it; a failed call is left to the
// wait, which reports what matters. (Local activities, the blog tools
// among them, are not listed by Temporal; their retries show in the
// worker's log.)
//
// An activity's attempts may start again at 1 (Temporal's activity reset,
// `temporal activity reset`, or an unpause that resets its attempts): an
// attempt lower than the one seen at the last look is such a restart, whose
// failed attempts are said afresh, from attempt 1. (A restart first seen
// once its attempts are back at that count, or past it, looks like the
// attempts going on, and is counted on from there.) A workflow reset goes
// on in a new run, which has a watch of its own (waitRuns).
func watchRetries(ctx context.Context, d runDescriber, workflowID, runID string, every time.Duration, w io.Writer, now func() time.Time) {
	seen := map[string]attemptsSeen{} // by activity id
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		dctx, cancel := context.WithTimeout(ctx, every)
		resp, err := d.DescribeWorkflowExecution(dctx, workflowID, runID)
		cancel()
		if err != nil {
			continue
		}
		for _, p := range resp.GetPendingActivities() {
			s := seen[p.GetActivityId()]
			if p.GetAttempt() < s.attempt {
				s = attemptsSeen{} // its attempts started again at 1
			}
			s.attempt = p.GetAttempt()
			seen[p.GetActivityId()] = s
			failed := p.GetAttempt() - 1 // the attempt LastFailure is of
			if p.GetLastFailure() == nil || failed < 1 || s.shown >= failed {
				continue
			}
			// Attempts tried again between two looks failed too: they are
			// counted, with the last one's error (Temporal keeps no other).
			attempts := fmt.Sprintf("attempt %d, failed:", failed)
			if first := s.shown + 1; first < failed {
				attempts = fmt.Sprintf("attempts %d to %d, failed, the last:", first, failed)
			}
			s.shown = failed
			seen[p.GetActivityId()] = s
			line := fmt.Sprintf("  %s, %s %s", activityName(p.GetActivityType().GetName()), attempts, termtext.Line(truncate(p.GetLastFailure().GetMessage(), 300)))
			if next := p.GetNextAttemptScheduleTime(); next != nil {
				line += fmt.Sprintf("; Temporal tries it again in %s", max(next.AsTime().Sub(now()), 0).Round(time.Second))
			}
			if exp := p.GetExpirationTime(); exp != nil && !exp.AsTime().IsZero() && exp.AsTime().Unix() > 0 {
				line += ", until " + exp.AsTime().UTC().Format("15:04:05 UTC")
			}
			fmt.Fprintln(w, line)
		}
	}
}

// attemptsSeen is what watchRetries saw of one activity: its attempt at
// the last look, and the last failed attempt it said.
type attemptsSeen struct{ attempt, shown int32 }

// activityName names an activity of the agent for the person who started
// the run.
func activityName(activityType string) string {
	switch activityType {
	case workflows.ActivityCallModel:
		return "the model call"
	case workflows.ActivityExecuteTool:
		return "a tool"
	}
	return termtext.Line(truncate(activityType, 100))
}
