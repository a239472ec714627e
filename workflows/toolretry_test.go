package workflows_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/hitl/durable-approvals/internal/signing"
	"github.com/hitl/durable-approvals/internal/temporaltest"
	"github.com/hitl/durable-approvals/workflows"
)

// TestLocalToolRetry runs an approved local tool that fails its first
// attempts on a dev server: the run tries it as the worker's recorded
// ToolRetry says, waiting on a workflow timer once a wait is longer than
// the workflow task's timeout (the SDK's rule for local activities), and
// a run recorded without one keeps the 3 attempts of before.
func TestLocalToolRetry(t *testing.T) {
	srv := temporaltest.StartDevServer(t)
	c := srv.Client()
	signer, verifier, err := signing.NewPair("retry", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		retry      *workflows.ToolRetry
		fails      int
		wantRan    int
		wantKind   string // the call's last audit entry
		wantTimers bool   // a wait went through a workflow timer
		// wantBound is the tool's ScheduleToClose bound: its attempts of a
		// minute and the waits between them (each at least
		// MaxToolRetryAfter), or the SDK's default of one attempt's minute.
		wantBound time.Duration
		record    string // the history's name under testdata/replay
	}{
		// Waits of 1 and 2 s, the second longer than the task's 1 s timeout.
		{"recorded retry rides out the failures", &workflows.ToolRetry{MaxAttempts: 4, MaxInterval: 2 * time.Second}, 3, 4, workflows.AuditExecuted, true, 7 * time.Minute, "v17-local-tool-retry.json"},
		{"recorded retry gives up", &workflows.ToolRetry{MaxAttempts: 2, MaxInterval: time.Second}, 5, 2, workflows.AuditFailed, false, 3 * time.Minute, ""},
		{"recorded without a retry", nil, 5, 3, workflows.AuditFailed, true, time.Minute, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, queue := fmt.Sprintf("tool-retry-%d", i), fmt.Sprintf("tool-retry-%d", i)
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			published := make(chan struct{}, 1)
			acts := &crashActivities{verifier: verifier, retry: tt.retry, toolFails: tt.fails,
				publish: func(context.Context, workflows.ApprovalRequestInput) error {
					select {
					case published <- struct{}{}:
					default:
					}
					return nil
				}}
			w := worker.New(c, queue, worker.Options{})
			acts.register(w)
			if err := w.Start(); err != nil {
				t.Fatal(err)
			}
			defer w.Stop()
			run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue, WorkflowTaskTimeout: time.Second},
				workflows.WorkflowName, workflows.AgentInput{Prompt: "Publish 'After the crash'", Requester: "bob"})
			if err != nil {
				t.Fatal(err)
			}
			approveWhenAsked(ctx, t, c, signer, id, "msg-"+id, published)
			var res workflows.AgentResult
			if err := run.Get(ctx, &res); err != nil {
				t.Fatalf("run: %v", err)
			}
			acts.mu.Lock()
			ran, bound := len(acts.ran), acts.bound
			acts.mu.Unlock()
			if bound != tt.wantBound {
				t.Errorf("the tool's ScheduleToClose bound = %s, want %s", bound, tt.wantBound)
			}
			if ran != tt.wantRan {
				t.Errorf("the tool ran %d times, want %d", ran, tt.wantRan)
			}
			if last := res.Audit[len(res.Audit)-1]; last.ToolCallID != "call_1" || last.Kind != tt.wantKind {
				t.Errorf("last audit entry = %+v, want %s for call_1", last, tt.wantKind)
			} else if tt.wantKind == workflows.AuditFailed && !strings.Contains(last.Reason, fmt.Sprintf("disk full (attempt %d)", tt.wantRan)) {
				t.Errorf("failure = %q, want the last attempt's", last.Reason)
			}
			timers := 0
			it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			for it.HasNext() {
				ev, err := it.Next()
				if err != nil {
					t.Fatal(err)
				}
				if ev.GetEventType() == enumspb.EVENT_TYPE_TIMER_FIRED {
					timers++
				}
			}
			if (timers > 0) != tt.wantTimers {
				t.Errorf("%d timers fired, want some: %v", timers, tt.wantTimers)
			}
			if tt.record != "" {
				checkReplays(t, c, id, tt.record)
			}
		})
	}
}
