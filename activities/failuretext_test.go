package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hitl/durable-approvals/internal/temporaltest"
	"github.com/hitl/durable-approvals/workflows"
)

// latin1 is "Titel vergeben: Müller" in Latin-1: not UTF-8.
const latin1 = "Titel vergeben: M\xfcller"

func TestValidUTF8Failure(t *testing.T) {
	valid := temporal.NewNonRetryableApplicationError("webhook: 422: title taken", "WebhookError", nil)
	tests := []struct {
		name          string
		err           error
		wantSame      bool
		wantType      string
		wantRetryable bool
		wantText      string
	}{
		{name: "nil", err: nil, wantSame: true},
		{name: "valid text is left as it is", err: valid, wantSame: true},
		{name: "an ApplicationError keeps its type and retryability",
			err:      temporal.NewNonRetryableApplicationError("webhook: 422: "+latin1, "WebhookError", nil),
			wantType: "WebhookError", wantText: "webhook: 422: Titel vergeben: M\uFFFDller"},
		{name: "a retryable one stays retryable",
			err:      temporal.NewApplicationError("webhook: 503 Service "+latin1, "WebhookError"),
			wantType: "WebhookError", wantRetryable: true, wantText: "webhook: 503 Service Titel vergeben: M\uFFFDller"},
		{name: "a character cut in half",
			err:      temporal.NewNonRetryableApplicationError("openai: 400: "+"タイトル"[:4], "ModelError", nil),
			wantType: "ModelError", wantText: "openai: 400: タ\uFFFD"},
		{name: "a plain error is a retryable failure",
			err:           fmt.Errorf("openai: 500 (will retry): %w", errors.New(latin1)),
			wantRetryable: true, wantText: "openai: 500 (will retry): Titel vergeben: M\uFFFDller"},
		{name: "a cause's text",
			err:      temporal.NewNonRetryableApplicationError("ably refused", "AblyError", errors.New(latin1)),
			wantType: "AblyError", wantText: "ably refused"},
		{name: "a cancellation stays one", err: errors.Join(context.Canceled, errors.New(latin1)), wantSame: true},
		{name: "the category and the next retry delay",
			err: temporal.NewApplicationErrorWithOptions("webhook: 503 "+latin1, "WebhookError",
				temporal.ApplicationErrorOptions{Category: temporal.ApplicationErrorCategoryBenign, NextRetryDelay: 3 * time.Second}),
			wantType: "WebhookError", wantRetryable: true, wantText: "webhook: 503 Titel vergeben: M\uFFFDller"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := validUTF8Failure(tt.err)
			if tt.wantSame {
				if got != tt.err {
					t.Fatalf("got %v, want the error itself", got)
				}
				return
			}
			if !utf8.ValidString(got.Error()) {
				t.Fatalf("text still not UTF-8: %q", got.Error())
			}
			var app *temporal.ApplicationError
			if !errors.As(got, &app) {
				t.Fatalf("got %T, want an ApplicationError", got)
			}
			if app.Type() != tt.wantType || app.NonRetryable() == tt.wantRetryable || app.Message() != tt.wantText {
				t.Errorf("got type %q retryable %v message %q, want %q %v %q", app.Type(), !app.NonRetryable(), app.Message(), tt.wantType, tt.wantRetryable, tt.wantText)
			}
			var orig *temporal.ApplicationError
			if errors.As(tt.err, &orig) && (app.Category() != orig.Category() || app.NextRetryDelay() != orig.NextRetryDelay()) {
				t.Errorf("category %v, next retry delay %v; want %v, %v", app.Category(), app.NextRetryDelay(), orig.Category(), orig.NextRetryDelay())
			}
			if errors.Unwrap(tt.err) != nil {
				if c := errors.Unwrap(got); c == nil || !strings.Contains(c.Error(), "M\uFFFDller") {
					t.Errorf("cause = %v, want the cause's text made valid", c)
				}
			}
		})
	}
}

// failingTool is a local activity that fails with text that is not UTF-8,
// as publish_blog_post did when a CMS answered in Latin-1.
func failingTool() error {
	return temporal.NewNonRetryableApplicationError("webhook: 422 Unprocessable Entity: "+latin1, "WebhookError", nil)
}

func failingToolWorkflow(ctx workflow.Context) (string, error) {
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 10 * time.Second})
	err := workflow.ExecuteLocalActivity(ctx, failingTool).Get(ctx, nil)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) {
		return "", fmt.Errorf("want the tool's failure, got %v", err)
	}
	return app.Message(), nil
}

// TestValidUTF8FailuresOnTemporal: on a real server, a local activity's
// failure whose text is not UTF-8 reaches its workflow, made valid,
// through the worker's interceptor; without it the workflow task cannot
// be completed (gRPC refuses the text) and runs the activity again and
// again.
func TestValidUTF8FailuresOnTemporal(t *testing.T) {
	srv := temporaltest.StartBareDevServer(t)
	c := srv.Client()
	w := worker.New(c, "utf8-failures", worker.Options{Interceptors: []interceptor.WorkerInterceptor{&ValidUTF8Failures{}}})
	w.RegisterWorkflow(failingToolWorkflow)
	w.RegisterActivity(failingTool)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "utf8-failures", TaskQueue: "utf8-failures"}, failingToolWorkflow)
	if err != nil {
		t.Fatal(err)
	}
	var msg string
	if err := run.Get(ctx, &msg); err != nil {
		t.Fatalf("run: %v", err)
	}
	if want := "webhook: 422 Unprocessable Entity: Titel vergeben: M\uFFFDller"; msg != want {
		t.Errorf("the workflow saw %q, want %q", msg, want)
	}
}

// TestErrorTextCutBetweenCharacters: the replies an error message quotes
// are cut between characters and made valid UTF-8 where they are made,
// so the interceptor's U+FFFD is the exception.
func TestErrorTextCutBetweenCharacters(t *testing.T) {
	t.Run("a webhook's reply", func(t *testing.T) {
		for _, reply := range []string{strings.Repeat("タイトル", 20), latin1 + "\nmore"} {
			got := firstLine(reply)
			if !utf8.ValidString(got) || len(got) > 200 || strings.Contains(got, "\n") {
				t.Errorf("firstLine(%q) = %q: want one valid line of at most 200 bytes", reply, got)
			}
		}
	})
	t.Run("a model server's message", func(t *testing.T) {
		msg := strings.Repeat("a", 299) + "é and more"
		f := newFakeOpenAI(t, fakeReply{400, `{"error":{"message":"` + msg + `","type":"invalid_request_error"}}`})
		a := newTestActivities(t, newTestModel(t, f.baseURL(), "sk-test"), nil)
		_, err := callModel(t, a, workflows.ModelRequest{WorkflowID: "wf", Input: []workflows.ConversationItem{{Type: "message", Role: "user", Text: "hi"}}})
		if err == nil || !utf8.ValidString(err.Error()) || !strings.Contains(err.Error(), strings.Repeat("a", 299)+"…") {
			t.Errorf("error = %q: want the message cut before é, valid UTF-8", err)
		}
	})
}
