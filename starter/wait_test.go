package main

import (
	"context"
	"errors"
	"fmt"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/temporal"
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
