package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	failurepb "go.temporal.io/api/failure/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hitl/durable-approvals/workflows"
)

// scriptedDescriber answers each describe with the next of its answers
// and ends the watch (cancel) once they are spent.
type scriptedDescriber struct {
	mu      sync.Mutex
	answers []describeAnswer
	cancel  context.CancelFunc
}

type describeAnswer struct {
	pending []*workflowpb.PendingActivityInfo
	err     error
}

func (s *scriptedDescriber) DescribeWorkflowExecution(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	if _, ok := ctx.Deadline(); !ok {
		return nil, errors.New("describe without a deadline")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.answers) == 0 {
		s.cancel()
		return nil, context.Canceled
	}
	a := s.answers[0]
	s.answers = s.answers[1:]
	return &workflowservice.DescribeWorkflowExecutionResponse{PendingActivities: a.pending}, a.err
}

func TestWatchRetries(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	pending := func(id, typ string, attempt int32, msg string, next, until time.Duration) *workflowpb.PendingActivityInfo {
		p := &workflowpb.PendingActivityInfo{ActivityId: id, ActivityType: &commonpb.ActivityType{Name: typ}, Attempt: attempt}
		if msg != "" {
			p.LastFailure = &failurepb.Failure{Message: msg}
		}
		if next != 0 {
			p.NextAttemptScheduleTime = timestamppb.New(now.Add(next))
		}
		if until > 0 {
			p.ExpirationTime = timestamppb.New(now.Add(until))
		}
		return p
	}
	const down = "openai: 503 Service Unavailable (retryable): The server is overloaded"
	tests := []struct {
		name    string
		answers []describeAnswer
		want    []string
	}{
		{"nothing failed", []describeAnswer{
			{pending: []*workflowpb.PendingActivityInfo{pending("9", workflows.ActivityCallModel, 1, "", 0, 0)}},
		}, nil},
		{"each failed attempt once", []describeAnswer{
			{pending: []*workflowpb.PendingActivityInfo{pending("9", workflows.ActivityCallModel, 2, down, 2*time.Second, time.Hour)}},
			{pending: []*workflowpb.PendingActivityInfo{pending("9", workflows.ActivityCallModel, 2, down, time.Second, time.Hour)}},
			{err: errors.New("unavailable")},
			{pending: []*workflowpb.PendingActivityInfo{pending("9", workflows.ActivityCallModel, 3, down, 4*time.Second, time.Hour)}},
		}, []string{
			"  the model call, attempt 1, failed: " + down + "; Temporal tries it again in 2s, until 13:00:00 UTC",
			"  the model call, attempt 2, failed: " + down + "; Temporal tries it again in 4s, until 13:00:00 UTC",
		}},
		// Attempts tried again between two looks are counted, not lost:
		// the first look of a model call down since its start sees its
		// third attempt fail.
		{"attempts failed between looks", []describeAnswer{
			{pending: []*workflowpb.PendingActivityInfo{pending("9", workflows.ActivityCallModel, 4, down, 4*time.Second, time.Hour)}},
			{pending: []*workflowpb.PendingActivityInfo{pending("9", workflows.ActivityCallModel, 5, down, 8*time.Second, time.Hour)}},
			{pending: []*workflowpb.PendingActivityInfo{pending("9", workflows.ActivityCallModel, 8, down, time.Minute, time.Hour)}},
		}, []string{
			"  the model call, attempts 1 to 3, failed, the last: " + down + "; Temporal tries it again in 4s, until 13:00:00 UTC",
			"  the model call, attempt 4, failed: " + down + "; Temporal tries it again in 8s, until 13:00:00 UTC",
			"  the model call, attempts 5 to 7, failed, the last: " + down + "; Temporal tries it again in 1m0s, until 13:00:00 UTC",
		}},
		// An activity reset (`temporal activity reset`) starts its
		// attempts again at 1, with no failure (or the failure of an
		// attempt that was running, which Temporal does not count): its
		// failed attempts are said again, not hidden until the count
		// passes the one before.
		{"attempts started again", []describeAnswer{
			{pending: []*workflowpb.PendingActivityInfo{pending("9", workflows.ActivityCallModel, 4, down, 4*time.Second, time.Hour)}},
			{pending: []*workflowpb.PendingActivityInfo{pending("9", workflows.ActivityCallModel, 1, down, 0, time.Hour)}},
			{pending: []*workflowpb.PendingActivityInfo{pending("9", workflows.ActivityCallModel, 2, down, 2*time.Second, time.Hour)}},
			{pending: []*workflowpb.PendingActivityInfo{pending("9", workflows.ActivityCallModel, 3, down, 2*time.Second, time.Hour)}},
			{pending: []*workflowpb.PendingActivityInfo{pending("9", workflows.ActivityCallModel, 4, down, 2*time.Second, time.Hour)}},
			{pending: []*workflowpb.PendingActivityInfo{pending("9", workflows.ActivityCallModel, 5, down, 2*time.Second, time.Hour)}},
		}, []string{
			"  the model call, attempts 1 to 3, failed, the last: " + down + "; Temporal tries it again in 4s, until 13:00:00 UTC",
			"  the model call, attempt 1, failed: " + down + "; Temporal tries it again in 2s, until 13:00:00 UTC",
			"  the model call, attempt 2, failed: " + down + "; Temporal tries it again in 2s, until 13:00:00 UTC",
			"  the model call, attempt 3, failed: " + down + "; Temporal tries it again in 2s, until 13:00:00 UTC",
			"  the model call, attempt 4, failed: " + down + "; Temporal tries it again in 2s, until 13:00:00 UTC",
		}},
		// A restart seen first after some of its attempts failed (between
		// two looks) counts them from 1; another activity is left as it was.
		{"attempts started again between looks", []describeAnswer{
			{pending: []*workflowpb.PendingActivityInfo{pending("9", workflows.ActivityCallModel, 6, down, 4*time.Second, time.Hour), pending("12", workflows.ActivityExecuteTool, 3, "webhook: 502", time.Second, 0)}},
			{pending: []*workflowpb.PendingActivityInfo{pending("9", workflows.ActivityCallModel, 4, down, 2*time.Second, time.Hour), pending("12", workflows.ActivityExecuteTool, 3, "webhook: 502", time.Second, 0)}},
		}, []string{
			"  the model call, attempts 1 to 5, failed, the last: " + down + "; Temporal tries it again in 4s, until 13:00:00 UTC",
			"  a tool, attempts 1 to 2, failed, the last: webhook: 502; Temporal tries it again in 1s",
			"  the model call, attempts 1 to 3, failed, the last: " + down + "; Temporal tries it again in 2s, until 13:00:00 UTC",
		}},
		// A restart seen first one attempt below the last look's is a
		// restart all the same.
		{"attempts started again, seen one attempt lower", []describeAnswer{
			{pending: []*workflowpb.PendingActivityInfo{pending("9", workflows.ActivityCallModel, 5, down, 4*time.Second, time.Hour)}},
			{pending: []*workflowpb.PendingActivityInfo{pending("9", workflows.ActivityCallModel, 4, down, 2*time.Second, time.Hour)}},
		}, []string{
			"  the model call, attempts 1 to 4, failed, the last: " + down + "; Temporal tries it again in 4s, until 13:00:00 UTC",
			"  the model call, attempts 1 to 3, failed, the last: " + down + "; Temporal tries it again in 2s, until 13:00:00 UTC",
		}},
		{"a tool with no bound, and one running again", []describeAnswer{
			{pending: []*workflowpb.PendingActivityInfo{pending("12", workflows.ActivityExecuteTool, 2, "webhook: 502 Bad Gateway (retryable)", 0, 0)}},
		}, []string{
			"  a tool, attempt 1, failed: webhook: 502 Bad Gateway (retryable)",
		}},
		{"no failure said, or none before the attempt", []describeAnswer{
			{pending: []*workflowpb.PendingActivityInfo{pending("9", workflows.ActivityCallModel, 3, "", time.Second, 0), pending("12", workflows.ActivityExecuteTool, 1, "left from before a reset", time.Second, 0)}},
		}, nil},
		{"a next attempt already due, no expiry (the epoch)", []describeAnswer{
			{pending: []*workflowpb.PendingActivityInfo{func() *workflowpb.PendingActivityInfo {
				p := pending("9", workflows.ActivityCallModel, 2, "down", -3*time.Second, 0)
				p.ExpirationTime = &timestamppb.Timestamp{}
				return p
			}()}},
		}, []string{
			"  the model call, attempt 1, failed: down; Temporal tries it again in 0s",
		}},
		{"long text cut", []describeAnswer{
			{pending: []*workflowpb.PendingActivityInfo{pending("9", strings.Repeat("T", 150), 2, strings.Repeat("é", 400), time.Second, 0)}},
		}, []string{
			"  " + strings.Repeat("T", 99) + "…, attempt 1, failed: " + strings.Repeat("é", 299) + "…; Temporal tries it again in 1s",
		}},
		{"what a server says is quoted", []describeAnswer{
			{pending: []*workflowpb.PendingActivityInfo{pending("9", "Other\x1b[2J", 2, "bad\x1b]0;owned\x07", time.Second, 0)}},
		}, []string{
			`  "Other\x1b[2J", attempt 1, failed: "bad\x1b]0;owned\a"; Temporal tries it again in 1s`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			d := &scriptedDescriber{answers: tt.answers, cancel: cancel}
			var out strings.Builder
			watchRetries(ctx, d, "hitl-1", "run-1", time.Millisecond, &out, func() time.Time { return now })
			got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if out.Len() == 0 {
				got = nil
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("watch printed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestRunFailed: a failed run is told by the failure its workflow ended
// with, once, as the SDK's client gets it from Temporal (the converter
// turns the history's failure into the error chain).
func TestRunFailed(t *testing.T) {
	const gaveUp = "model call, turn 2: openai: 503 Service Unavailable: The server is overloaded; gave up after 65 attempts (HITL_MODEL_RETRY_FOR 1h0m0s when the run started)"
	modelFailure := &failurepb.Failure{
		Message:     gaveUp,
		FailureInfo: &failurepb.Failure_ApplicationFailureInfo{ApplicationFailureInfo: &failurepb.ApplicationFailureInfo{Type: "ModelError", NonRetryable: true}},
		Cause: &failurepb.Failure{
			FailureInfo: &failurepb.Failure_ActivityFailureInfo{ActivityFailureInfo: &failurepb.ActivityFailureInfo{ActivityType: &commonpb.ActivityType{Name: workflows.ActivityCallModel}}},
			Cause: &failurepb.Failure{
				Message:     "openai: 503 Service Unavailable (retryable): The server is overloaded",
				FailureInfo: &failurepb.Failure_ApplicationFailureInfo{ApplicationFailureInfo: &failurepb.ApplicationFailureInfo{Type: "wrapError"}},
			},
		},
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"the workflow's failure", fmt.Errorf("workflow execution error (type: AgentWorkflowV2): %w", temporal.GetDefaultFailureConverter().FailureToError(modelFailure)), "run hitl-1 failed: " + gaveUp},
		{"another end", errors.New("workflow execution error (type: AgentWorkflowV2): terminated"), "run hitl-1 failed: workflow execution error (type: AgentWorkflowV2): terminated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := runFailed("hitl-1", tt.err).Error(); got != tt.want {
				t.Errorf("runFailed = %q\nwant       %q", got, tt.want)
			}
		})
	}
}
