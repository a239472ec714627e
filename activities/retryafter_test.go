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
			if got := retryAfter(h, now); got != tt.want {
				t.Errorf("retryAfter(%q) = %s, want %s", tt.header, got, tt.want)
			}
		})
	}
}

// timedToolWorkflow runs ExecuteTool as a run does (1 s doubling waits)
// and returns how long it took on the workflow's clock.
func timedToolWorkflow(ctx workflow.Context, req workflows.ToolRequest) (time.Duration, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumAttempts: 3},
	})
	start := workflow.Now(ctx)
	err := workflow.ExecuteActivity(ctx, workflows.ActivityExecuteTool, req).Get(ctx, nil)
	return workflow.Now(ctx).Sub(start), err
}

// A CMS that answers 429 or 503 with Retry-After gets the next attempt
// that much later (at most maxRetryAfter), instead of after the retry's
// first wait of 1 s; other answers keep the retry's waits.
func TestPublishWebhookHonoursRetryAfter(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter string
		want       time.Duration
	}{
		{"429 asks for 20 s", http.StatusTooManyRequests, "20", 20 * time.Second},
		{"503 asks for 20 s", http.StatusServiceUnavailable, "20", 20 * time.Second},
		{"503 asks for an hour", http.StatusServiceUnavailable, "3600", maxRetryAfter},
		{"503 without it", http.StatusServiceUnavailable, "", time.Second},
		{"502 with it: not a wait it asks for", http.StatusBadGateway, "20", time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			n := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				n++
				if n == 1 {
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
			env.RegisterWorkflow(timedToolWorkflow)
			env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "wf-ra"})
			env.ExecuteWorkflow(timedToolWorkflow, approved(a, workflows.ToolRequest{WorkflowID: "wf-ra", CallID: "call_ra", Name: ToolPublishBlogPost, Arguments: `{"title":"Later"}`, ApprovedBy: "pat"}))
			var took time.Duration
			if err := env.GetWorkflowResult(&took); err != nil {
				t.Fatal(err)
			}
			if took < tt.want || took > tt.want+5*time.Second {
				t.Errorf("published after %s on the workflow's clock, want %s", took, tt.want)
			}
			mu.Lock()
			defer mu.Unlock()
			if n != 2 {
				t.Errorf("%d requests, want 2", n)
			}
		})
	}
}

// timedLocalToolWorkflow runs ExecuteTool as a run runs a local tool (1 s
// doubling waits, 4 attempts, its ScheduleToClose bound covering them) and
// returns how long it took on the workflow's clock.
func timedLocalToolWorkflow(ctx workflow.Context, req workflows.ToolRequest) (time.Duration, error) {
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 4*time.Minute + 7*time.Second,
		StartToCloseTimeout:    time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 4},
	})
	start := workflow.Now(ctx)
	err := workflow.ExecuteLocalActivity(ctx, workflows.ActivityExecuteTool, req).Get(ctx, nil)
	return workflow.Now(ctx).Sub(start), err
}

// A Retry-After shorter than the retry's own wait does not shorten it: a
// CMS that answers every 503 with "Retry-After: 1" (a load balancer's
// usual value) would otherwise have the run's attempts spent within a few
// seconds instead of over the window ToolRetry gives them to ride out a
// restart. Retry-After is the least wait, the backoff's waits stay.
func TestPublishWebhookRetryAfterShorterThanBackoff(t *testing.T) {
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n <= 3 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(srv.Close)
	a, _ := newBlogActivities(t, BlogConfig{WebhookURL: srv.URL + "/hook"})
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterActivity(a)
	env.RegisterWorkflow(timedLocalToolWorkflow)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "wf-ra-short"})
	env.ExecuteWorkflow(timedLocalToolWorkflow, approved(a, workflows.ToolRequest{WorkflowID: "wf-ra-short", CallID: "call_ra", Name: ToolPublishBlogPost, Arguments: `{"title":"Later"}`, ApprovedBy: "pat"}))
	var took time.Duration
	if err := env.GetWorkflowResult(&took); err != nil {
		t.Fatal(err)
	}
	// The backoff's waits: 1, 2 and 4 s; Retry-After's alone: 3 s.
	if want := 7 * time.Second; took < want {
		t.Errorf("published after %s on the workflow's clock, want at least %s (the backoff's waits)", took, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
}

// legacyLocalToolWorkflow runs ExecuteTool as a run recorded before
// workflows.ToolRetry runs a local tool: 3 attempts, 1 s doubling waits,
// and no ScheduleToClose bound of its own, which the SDK sets to the
// attempt's minute. It returns how long the tool took on the workflow's
// clock.
func legacyLocalToolWorkflow(ctx workflow.Context, req workflows.ToolRequest) (time.Duration, error) {
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 3},
	})
	start := workflow.Now(ctx)
	err := workflow.ExecuteLocalActivity(ctx, workflows.ActivityExecuteTool, req).Get(ctx, nil)
	return workflow.Now(ctx).Sub(start), err
}

// A run recorded before workflows.ToolRetry keeps its 3 attempts of a
// local tool when the CMS asks for a long wait: its ScheduleToClose bound
// is one attempt's minute, and a wait past it makes the SDK give up on
// the tool at once (the approval spent after one request), so such a
// tool keeps the backoff's waits and the Retry-After is not asked for.
func TestPublishWebhookRetryAfterLegacyLocalRun(t *testing.T) {
	for _, ra := range []string{"60", "45"} {
		t.Run("Retry-After "+ra, func(t *testing.T) {
			var mu sync.Mutex
			n := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				n++
				if n <= 2 {
					w.Header().Set("Retry-After", ra)
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				w.WriteHeader(http.StatusCreated)
			}))
			t.Cleanup(srv.Close)
			a, _ := newBlogActivities(t, BlogConfig{WebhookURL: srv.URL + "/hook"})
			var ts testsuite.WorkflowTestSuite
			env := ts.NewTestWorkflowEnvironment()
			env.RegisterActivity(a)
			env.RegisterWorkflow(legacyLocalToolWorkflow)
			env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "wf-ra-legacy"})
			env.ExecuteWorkflow(legacyLocalToolWorkflow, approved(a, workflows.ToolRequest{WorkflowID: "wf-ra-legacy", CallID: "call_ra", Name: ToolPublishBlogPost, Arguments: `{"title":"Later"}`, ApprovedBy: "pat"}))
			var took time.Duration
			if err := env.GetWorkflowResult(&took); err != nil {
				t.Fatalf("the tool failed: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if n != 3 {
				t.Errorf("%d requests, want 3", n)
			}
		})
	}
}

// A local tool whose bound covers its attempts and waits (a run recorded
// with workflows.ToolRetry) waits as long as Retry-After asks.
func TestPublishWebhookRetryAfterLocalRun(t *testing.T) {
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n == 1 {
			w.Header().Set("Retry-After", "20")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(srv.Close)
	a, _ := newBlogActivities(t, BlogConfig{WebhookURL: srv.URL + "/hook"})
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterActivity(a)
	env.RegisterWorkflow(timedLocalToolWorkflow)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "wf-ra-local"})
	env.ExecuteWorkflow(timedLocalToolWorkflow, approved(a, workflows.ToolRequest{WorkflowID: "wf-ra-local", CallID: "call_ra", Name: ToolPublishBlogPost, Arguments: `{"title":"Later"}`, ApprovedBy: "pat"}))
	var took time.Duration
	if err := env.GetWorkflowResult(&took); err != nil {
		t.Fatal(err)
	}
	if want := 20 * time.Second; took < want || took > want+5*time.Second {
		t.Errorf("published after %s on the workflow's clock, want %s", took, want)
	}
}
