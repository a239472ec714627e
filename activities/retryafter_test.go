package activities

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/hitl/durable-approvals/workflows"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name, header string
		want         time.Duration
	}{
		{"none", "", 0},
		{"seconds", "7", 7 * time.Second},
		{"seconds with spaces", " 7 ", 7 * time.Second},
		{"zero", "0", 0},
		{"capped", "3600", maxRetryAfter},
		{"past uint32: a long wait", "99999999999", maxRetryAfter},
		{"past uint64: a long wait", "999999999999999999999999", maxRetryAfter},
		{"negative", "-5", 0},
		{"fraction", "1.5", 0},
		{"garbage", "soon", 0},
		{"an HTTP date ahead", now.Add(20 * time.Second).Format(http.TimeFormat), 20 * time.Second},
		{"an HTTP date far ahead", now.Add(2 * time.Hour).Format(http.TimeFormat), maxRetryAfter},
		{"an HTTP date past", now.Add(-time.Hour).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.header != "" {
				h.Set("Retry-After", tt.header)
			}
			if got := retryAfter(h, now, maxRetryAfter); got != tt.want {
				t.Errorf("retryAfter(%q) = %s, want %s", tt.header, got, tt.want)
			}
		})
	}
}

// toolRun is how a run runs ExecuteTool in TestPublishWebhookRetryAfterWaits.
type toolRun int

const (
	// activityRun: an activity of its own (a tool with Local false), 3
	// attempts, 1 s doubling waits.
	activityRun toolRun = iota
	// localRun: a local activity of a run recorded with
	// workflows.ToolRetry: 4 attempts, 1 s doubling to 30 s waits, and a
	// ScheduleToClose bound that covers them.
	localRun
	// legacyLocalRun: a local activity of a run recorded before
	// workflows.ToolRetry: 3 attempts, 1 s doubling waits, no bound of its
	// own (the SDK sets it to the attempt's minute).
	legacyLocalRun
)

// timedTool is a workflow that runs ExecuteTool as kind says and returns
// how long the tool took on the workflow's clock.
func timedTool(kind toolRun) func(workflow.Context, workflows.ToolRequest) (time.Duration, error) {
	return func(ctx workflow.Context, req workflows.ToolRequest) (time.Duration, error) {
		var f workflow.Future
		switch kind {
		case activityRun:
			f = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
				StartToCloseTimeout: time.Minute,
				RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumAttempts: 3},
			}), workflows.ActivityExecuteTool, req)
		case localRun:
			f = workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
				ScheduleToCloseTimeout: 7 * time.Minute,
				StartToCloseTimeout:    time.Minute,
				RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 4},
			}), workflows.ActivityExecuteTool, req)
		default:
			f = workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
				StartToCloseTimeout: time.Minute,
				RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 3},
			}), workflows.ActivityExecuteTool, req)
		}
		start := workflow.Now(ctx)
		err := f.Get(ctx, nil)
		return workflow.Now(ctx).Sub(start), err
	}
}

// A CMS that answers 429 or 503 with Retry-After gets the next attempt
// that much later (at most maxRetryAfter) than the retry's own wait; other
// answers keep the retry's waits. Retry-After is the least wait: a
// shorter one ("Retry-After: 1", a load balancer's usual value) keeps the
// backoff's, or the run's attempts would be spent within seconds instead
// of over the window ToolRetry gives them to ride out a restart. A local
// tool of a run recorded before ToolRetry, bound to one attempt's minute,
// keeps the backoff and its 3 attempts: a wait past its bound would make
// the SDK give up on the tool at once, the approval spent after one
// request.
func TestPublishWebhookRetryAfterWaits(t *testing.T) {
	tests := []struct {
		name       string
		run        toolRun
		fails      int // the CMS's failed answers before its 201
		status     int
		retryAfter string
		min, max   time.Duration // the tool's time on the workflow's clock
	}{
		{"429 asks for 20 s", activityRun, 1, http.StatusTooManyRequests, "20", 20 * time.Second, 25 * time.Second},
		{"503 asks for 20 s", activityRun, 1, http.StatusServiceUnavailable, "20", 20 * time.Second, 25 * time.Second},
		{"503 asks for an hour", activityRun, 1, http.StatusServiceUnavailable, "3600", maxRetryAfter, maxRetryAfter + 5*time.Second},
		{"503 without it", activityRun, 1, http.StatusServiceUnavailable, "", time.Second, 6 * time.Second},
		{"502 with it: not a wait it asks for", activityRun, 1, http.StatusBadGateway, "20", time.Second, 6 * time.Second},
		{"local: 503 asks for 20 s", localRun, 1, http.StatusServiceUnavailable, "20", 20 * time.Second, 25 * time.Second},
		// The backoff's waits: 1, 2 and 4 s; Retry-After's alone: 3 s.
		{"local: shorter than the backoff", localRun, 3, http.StatusServiceUnavailable, "1", 7 * time.Second, 12 * time.Second},
		{"local, recorded before ToolRetry: 60 s asked", legacyLocalRun, 2, http.StatusServiceUnavailable, "60", 3 * time.Second, 8 * time.Second},
		{"local, recorded before ToolRetry: 45 s asked", legacyLocalRun, 2, http.StatusServiceUnavailable, "45", 3 * time.Second, 8 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			n := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				n++
				if n <= tt.fails {
					if tt.retryAfter != "" {
						w.Header().Set("Retry-After", tt.retryAfter)
					}
					w.WriteHeader(tt.status)
					return
				}
				w.WriteHeader(http.StatusCreated)
			}))
			t.Cleanup(srv.Close)
			a, _ := newBlogActivities(t, BlogConfig{WebhookURL: srv.URL + "/hook"})
			var ts testsuite.WorkflowTestSuite
			env := ts.NewTestWorkflowEnvironment()
			env.RegisterActivity(a)
			env.RegisterWorkflowWithOptions(timedTool(tt.run), workflow.RegisterOptions{Name: "timedTool"})
			env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "wf-ra"})
			env.ExecuteWorkflow("timedTool", approved(a, workflows.ToolRequest{WorkflowID: "wf-ra", CallID: "call_ra", Name: ToolPublishBlogPost, Arguments: `{"title":"Later"}`, ApprovedBy: "pat"}))
			var took time.Duration
			if err := env.GetWorkflowResult(&took); err != nil {
				t.Fatalf("the tool failed: %v", err)
			}
			if took < tt.min || took > tt.max {
				t.Errorf("published after %s on the workflow's clock, want %s to %s", took, tt.min, tt.max)
			}
			mu.Lock()
			defer mu.Unlock()
			if n != tt.fails+1 {
				t.Errorf("%d requests, want %d", n, tt.fails+1)
			}
		})
	}
}
