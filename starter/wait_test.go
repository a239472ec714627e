package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/testutil"
)

// currentRun answers a describe of the workflow's current run.
type currentRun struct {
	runID, firstRunID string
	err               error
}

func (c currentRun) DescribeWorkflowExecution(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	if _, ok := ctx.Deadline(); !ok || runID != "" {
		return nil, fmt.Errorf("describe of run %q, deadline %v: want the current run, bounded", runID, ok)
	}
	if c.err != nil {
		return nil, c.err
	}
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
		Execution: &commonpb.WorkflowExecution{WorkflowId: workflowID, RunId: c.runID}, FirstRunId: c.firstRunID,
	}}, nil
}

// Only a run terminated by a reset of it is followed: not one terminated
// for good, nor a run started afresh under the same workflow id.
func TestResetRun(t *testing.T) {
	terminated := fmt.Errorf("workflow execution error: %w", &temporal.TerminatedError{})
	tests := []struct {
		name    string
		err     error
		current currentRun
		want    string
	}{
		{"reset", terminated, currentRun{runID: "r2", firstRunID: "r0"}, "r2"},
		{"terminated for good", terminated, currentRun{runID: "r1", firstRunID: "r0"}, ""},
		{"a new run under the id", terminated, currentRun{runID: "r9", firstRunID: "r9"}, ""},
		{"failed", errors.New("model call failed"), currentRun{runID: "r2", firstRunID: "r0"}, ""},
		{"completed", nil, currentRun{runID: "r2", firstRunID: "r0"}, ""},
		{"describe fails", terminated, currentRun{err: errors.New("unavailable")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := resetRun(t.Context(), tt.current, "hitl-1", "r1", "r0", tt.err); got != tt.want {
				t.Errorf("resetRun = %q, want %q", got, tt.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if got := resetRun(ctx, currentRun{runID: "r2", firstRunID: "r0"}, "hitl-1", "r1", "r0", terminated); got != "" {
		t.Errorf("resetRun after the wait stopped = %q, want none", got)
	}
}

// scriptedRun is a client.WorkflowRun whose Get ends as told.
type scriptedRun struct {
	id, runID string
	err       error
}

func (r scriptedRun) GetID() string                  { return r.id }
func (r scriptedRun) GetRunID() string               { return r.runID }
func (r scriptedRun) GetFirstExecutionRunID() string { return r.runID }
func (r scriptedRun) Get(ctx context.Context, v any) error {
	return r.err
}
func (r scriptedRun) GetWithOptions(ctx context.Context, v any, _ client.WorkflowRunGetOptions) error {
	return r.err
}

// scriptedClient is the part of a Temporal client wait uses: the runs
// GetWorkflow returns, the current run a describe names, and the run ids
// queried (an audit trail asked for). With querying, a query is told on
// it and answers only when its context ends, as a query no worker takes
// up would (until failedAuditTimeout).
type scriptedClient struct {
	client.Client
	runs     map[string]scriptedRun
	current  currentRun
	querying chan<- struct{}
	mu       sync.Mutex
	queried  []string
}

func (c *scriptedClient) GetWorkflow(_ context.Context, workflowID, runID string) client.WorkflowRun {
	return c.runs[runID]
}

func (c *scriptedClient) DescribeWorkflowExecution(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	return c.current.DescribeWorkflowExecution(ctx, workflowID, runID)
}

func (c *scriptedClient) QueryWorkflow(ctx context.Context, workflowID, runID, queryType string, _ ...any) (converter.EncodedValue, error) {
	c.mu.Lock()
	c.queried = append(c.queried, runID)
	c.mu.Unlock()
	if c.querying != nil {
		c.querying <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return nil, errors.New("no worker")
}

// A wait that ends without the run's end (Temporal unreachable for longer
// than the SDK's retries) does not say the run failed, nor asks for its
// audit trail; a run that fails after a reset has the new run's trail
// asked for.
func TestWaitEnds(t *testing.T) {
	// ended is the SDK's error of a run that ended with cause.
	ended := func(cause error) error { return errors.Join(&temporal.WorkflowExecutionError{}, cause) }
	failed := ended(temporal.NewNonRetryableApplicationError("model call failed", "ModelError", nil))
	tests := []struct {
		name        string
		first       scriptedRun
		runs        map[string]scriptedRun
		current     currentRun
		wantErr     string
		wantQueried []string
	}{
		{"Temporal unreachable", scriptedRun{"hitl-1", "r0", serviceerror.NewUnavailable("connection refused")}, nil, currentRun{},
			"could not wait for the run hitl-1 to end (it may go on: the Web UI shows it): connection refused", nil},
		{"Temporal silent past the SDK's retries", scriptedRun{"hitl-1", "r0", serviceerror.NewDeadlineExceeded("context deadline exceeded")}, nil, currentRun{},
			"could not wait for the run hitl-1 to end (Temporal did not answer for about a minute (is it still running?); it may go on: the Web UI shows it): context deadline exceeded", nil},
		{"the run failed", scriptedRun{"hitl-1", "r0", failed}, nil, currentRun{},
			"run hitl-1 failed: model call failed", []string{"r0"}},
		{"the reset run failed", scriptedRun{"hitl-1", "r0", ended(&temporal.TerminatedError{})},
			map[string]scriptedRun{"r1": {"hitl-1", "r1", failed}}, currentRun{runID: "r1", firstRunID: "r0"},
			"run hitl-1 failed: model call failed", []string{"r1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &scriptedClient{runs: tt.runs, current: tt.current}
			var out strings.Builder
			err := wait(t.Context(), c, tt.first, time.Hour, &out)
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("wait = %v, want %q", err, tt.wantErr)
			}
			if !slices.Equal(c.queried, tt.wantQueried) {
				t.Errorf("audit trails asked of runs %q, want %q\n%s", c.queried, tt.wantQueried, out.String())
			}
		})
	}
}

// TestAuditInterrupted: Ctrl-C or SIGTERM while the audit trail of a
// failed run is asked for stops the query, and the starter exits 130 or
// 143 (config.ExitCode), as for a signal during the wait, still saying
// how the run failed.
func TestAuditInterrupted(t *testing.T) {
	failed := errors.Join(&temporal.WorkflowExecutionError{}, temporal.NewNonRetryableApplicationError("model call failed", "ModelError", nil))
	for _, tt := range []struct {
		sig  os.Signal
		code int
	}{{os.Interrupt, 130}, {syscall.SIGTERM, 143}} {
		t.Run(tt.sig.String(), func(t *testing.T) {
			querying := make(chan struct{})
			c := &scriptedClient{querying: querying}
			ctx, cancel := context.WithCancelCause(t.Context())
			defer cancel(nil)
			var out testutil.SyncBuffer
			done := make(chan error, 1)
			go func() { done <- wait(ctx, c, scriptedRun{"hitl-1", "r0", failed}, time.Hour, &out) }()
			select {
			case <-querying:
			case err := <-done:
				t.Fatalf("wait = %v before the audit trail was asked for", err)
			case <-time.After(30 * time.Second):
				t.Fatal("no audit trail asked for in 30 s")
			}
			cancel(config.Interrupted{Signal: tt.sig})
			var err error
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("the audit trail still asked for 30 s after the signal")
			}
			if code := config.ExitCode(err); code != tt.code || !strings.HasPrefix(err.Error(), "run hitl-1 failed: model call failed") {
				t.Errorf("wait = %v (exit status %d), want the run's failure and %d", err, code, tt.code)
			}
			if want := "Audit trail: not read (interrupted by " + tt.sig.String() + ")"; !strings.Contains(out.String(), want) {
				t.Errorf("no %q in:\n%s", want, out.String())
			}
		})
	}
}
