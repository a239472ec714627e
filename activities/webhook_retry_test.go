package activities

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/hitl/durable-approvals/workflows"
)

// retriedToolWorkflow runs ExecuteTool with three attempts, as a run does,
// and returns the failure's message: what the model would be told.
func retriedToolWorkflow(ctx workflow.Context, req workflows.ToolRequest) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
	})
	var res workflows.ToolResult
	err := workflow.ExecuteActivity(ctx, workflows.ActivityExecuteTool, req).Get(ctx, &res)
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Error(), nil
	}
	if err != nil {
		return err.Error(), nil
	}
	return "ran: " + res.Output, nil
}

// TestPublishWebhookRetriedSaysWhatMayBePublished: the workflow hears only
// the last attempt's failure, so a failure that may follow a published
// post says so: a 5xx (a gateway's 504 after the CMS took the post), a
// refusal of a retried call (the CMS refuses the repeat of a post it
// took), a connection lost once the request may have gone out; one that
// cannot (nothing listens) does not.
func TestPublishWebhookRetriedSaysWhatMayBePublished(t *testing.T) {
	const (
		allSame = "the CMS may have published the post all the same"
		earlier = "an earlier attempt may have published the post"
	)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nothing := "http://" + closed.Addr().String() + "/hook"
	closed.Close()
	tests := []struct {
		name     string
		statuses []int  // per attempt; the last repeats
		url      string // instead of the CMS
		drop     bool   // the CMS closes the connection without an answer
		want     []string
		wantNot  []string
		attempts int
	}{
		{name: "a gateway's 504 every time", statuses: []int{http.StatusGatewayTimeout}, want: []string{allSame, "attempt 3: " + earlier}, attempts: 3},
		{name: "a 503, then a refusal of the repeat", statuses: []int{http.StatusServiceUnavailable, http.StatusUnprocessableEntity}, want: []string{"422", "attempt 2: " + earlier}, wantNot: []string{allSame}, attempts: 2},
		{name: "a refusal at the first attempt", statuses: []int{http.StatusUnprocessableEntity}, want: []string{"422"}, wantNot: []string{earlier, allSame}, attempts: 1},
		{name: "the connection lost every time", drop: true, want: []string{"the CMS may still publish the post", "attempt 3: " + earlier}, attempts: 3},
		{name: "nothing listens", url: nothing, want: []string{"attempt 3: " + earlier}, wantNot: []string{"may still publish", allSame}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			n := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				n++
				if tt.drop {
					// The request arrived; the answer never leaves.
					conn, _, err := w.(http.Hijacker).Hijack()
					if err != nil {
						t.Error(err)
						return
					}
					conn.Close()
					return
				}
				w.WriteHeader(tt.statuses[min(n-1, len(tt.statuses)-1)])
			}))
			t.Cleanup(srv.Close)
			url := srv.URL + "/hook"
			if tt.url != "" {
				url = tt.url
			}
			a, _ := newBlogActivities(t, BlogConfig{WebhookURL: url})
			var ts testsuite.WorkflowTestSuite
			env := ts.NewTestWorkflowEnvironment()
			env.RegisterActivity(a)
			env.RegisterWorkflow(retriedToolWorkflow)
			env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "wf-r"})
			env.ExecuteWorkflow(retriedToolWorkflow, approved(a, workflows.ToolRequest{WorkflowID: "wf-r", CallID: "call_r", Name: ToolPublishBlogPost, Arguments: `{"title":"Retried"}`, ApprovedBy: "pat"}))
			var got string
			if err := env.GetWorkflowResult(&got); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("the model is told %q, want it to say %q", got, w)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(got, w) {
					t.Errorf("the model is told %q, which must not say %q", got, w)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if tt.url == "" && n != tt.attempts {
				t.Errorf("%d requests, want %d", n, tt.attempts)
			}
		})
	}
}
