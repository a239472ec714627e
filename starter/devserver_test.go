package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/temporaltest"
	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// fakeAgent stands in for workflows.AgentWorkflow: it echoes what the
// starter sent so the test can check the input.
func fakeAgent(ctx workflow.Context, in workflows.AgentInput) (workflows.AgentResult, error) {
	return workflows.AgentResult{
		Answer: fmt.Sprintf("echo %q from %s, %d policy tools in the input, max turns %d", in.Prompt, in.Requester, len(in.Policy.Tools), in.MaxTurns),
		Turns:  1,
		Audit: []workflows.AuditEntry{{
			Time: workflow.Now(ctx), Kind: workflows.AuditAutoApproved, Tool: "search_posts", ToolCallID: "call_1",
		}},
	}, nil
}

// startAgentWorker runs a worker on srv's task queue with agent as the
// agent workflow and the given activities, each registered by its name.
func startAgentWorker(t *testing.T, srv *testsuite.DevServer, agent any, acts map[string]any) {
	t.Helper()
	w := worker.New(srv.Client(), workflows.TaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(agent, workflow.RegisterOptions{Name: workflows.WorkflowName})
	for name, fn := range acts {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
}

// waitConfig is the starter's config of `--wait "Publish it"` against srv.
func waitConfig(t *testing.T, srv *testsuite.DevServer) Config {
	t.Helper()
	env := testEnv(t)
	env["TEMPORAL_ADDRESS"] = srv.FrontendHostPort()
	cfg, err := loadConfig([]string{"--wait", "Publish it"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestStartAndWaitOnDevServer runs the starter against the pinned Temporal
// dev server and a worker with a stand-in workflow.
func TestStartAndWaitOnDevServer(t *testing.T) {
	srv := temporaltest.StartDevServer(t)

	startAgentWorker(t, srv, fakeAgent, nil)

	env := testEnv(t)
	env["TEMPORAL_ADDRESS"], env["TEMPORAL_UI_URL"] = srv.FrontendHostPort(), "http://ui.test"
	var stdout, stderr bytes.Buffer
	prompt := "Publish the blog post called 'Introducing our new API'"
	if err := mainErr(t.Context(), []string{"--wait", "--max-turns", "7", prompt}, env, &stdout, &stderr); err != nil {
		t.Fatalf("starter: %v\nstderr: %s", err, stderr.String())
	}
	out := stdout.String()
	m := regexp.MustCompile(`Started workflow (hitl-[0-9a-f]{32})\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no workflow id in:\n%s", out)
	}
	id := m[1]
	for _, want := range []string{
		"http://ui.test/namespaces/default/workflows/" + id,
		fmt.Sprintf("echo %q from alice, 0 policy tools in the input, max turns 7", prompt), // the starter sends no policy
		"auto-approved  search_posts",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	desc, err := srv.Client().DescribeWorkflow(t.Context(), id, "")
	if err != nil {
		t.Fatal(err)
	}
	summary, err := desc.GetStaticSummary()
	if err != nil || summary != prompt {
		t.Errorf("static summary = %q, %v; want the prompt", summary, err)
	}
	details, err := desc.GetStaticDetails()
	if err != nil || !strings.Contains(details, "**Requester:** alice") {
		t.Errorf("static details = %q, %v", details, err)
	}

	// An id in use by a running workflow is an error, not a silent attach
	// to that run. (No worker polls this type, so the first run stays open.)
	dupID := "hitl-" + strings.Repeat("0", 32)
	first, err := srv.Client().ExecuteWorkflow(t.Context(), startOptions(dupID, "first", "alice"), "never-polled")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Client().TerminateWorkflow(context.Background(), dupID, first.GetRunID(), "test done") })
	_, err = srv.Client().ExecuteWorkflow(t.Context(), startOptions(dupID, "second", "alice"), "never-polled")
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if !errors.As(err, &already) {
		t.Errorf("second start with id %s: err = %v, want WorkflowExecutionAlreadyStarted, not the first run", dupID, err)
	}

	// A namespace the server does not know is asked for until the dial
	// timeout, which the error names.
	wrongNS := maps.Clone(env)
	wrongNS["TEMPORAL_NAMESPACE"] = "no-such-namespace"
	err = mainErr(t.Context(), []string{"--dial-timeout", "1s", "hi"}, wrongNS, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "gave up after --dial-timeout 1s") || !strings.Contains(err.Error(), "no-such-namespace") {
		t.Errorf("unknown namespace: %v, want the namespace and the dial timeout named", err)
	}

	// An unreachable server is one clear error, quickly.
	env["TEMPORAL_ADDRESS"] = "127.0.0.1:1"
	err = mainErr(t.Context(), []string{"--dial-timeout", "1s", "hi"}, env, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "cannot reach Temporal at 127.0.0.1:1") || !strings.Contains(err.Error(), "is a Temporal server running there?") {
		t.Errorf("unreachable Temporal: %v", err)
	} else if strings.Contains(err.Error(), "gave up after") {
		// Refused at once: the time it was allowed is not the reason.
		t.Errorf("unreachable Temporal: %v, want no timeout named for a refused connection", err)
	}
}

// TestStartWithoutWait: without --wait the starter prints the run's id
// and Web UI link and returns at once, the run going on (no worker here:
// it waits for ever).
func TestStartWithoutWait(t *testing.T) {
	srv := temporaltest.StartDevServer(t)
	env := testEnv(t)
	env["TEMPORAL_ADDRESS"], env["TEMPORAL_UI_URL"] = srv.FrontendHostPort(), "http://ui.test"
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"prompt only", []string{"Publish it"}},
		{"flags after the prompt", []string{"Publish it", "--requester", "bob"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// A starter that waited would be cut short here, with an error.
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			var stdout bytes.Buffer
			if err := mainErr(ctx, tt.args, env, &stdout, io.Discard); err != nil {
				t.Fatalf("starter = %v, want it to return once started:\n%s", err, stdout.String())
			}
			m := regexp.MustCompile(`^Started workflow (hitl-[0-9a-f]{32})\nhttp://ui.test/namespaces/default/workflows/(hitl-[0-9a-f]{32})\n$`).FindStringSubmatch(stdout.String())
			if m == nil || m[1] != m[2] {
				t.Fatalf("output %q, want the id and its link, and nothing else", stdout.String())
			}
			desc, err := srv.Client().DescribeWorkflowExecution(t.Context(), m[1], "")
			if err != nil {
				t.Fatal(err)
			}
			if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				t.Errorf("the run is %v, want running", st)
			}
		})
	}
}

// TestRefusesNamespaceWithoutSearchAttributes: on a server made as a bare
// `temporal server start-dev` makes it, a run would wait forever (the
// worker refuses such a namespace): the starter says why and starts none.
func TestRefusesNamespaceWithoutSearchAttributes(t *testing.T) {
	srv := temporaltest.StartBareDevServer(t)
	env := testEnv(t)
	env["TEMPORAL_ADDRESS"] = srv.FrontendHostPort()
	var stdout, stderr bytes.Buffer
	err := mainErr(t.Context(), []string{"--dial-timeout", "2s", "hi"}, env, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "lacks the workflow's search attributes") {
		t.Fatalf("mainErr = %v, want the missing search attributes named", err)
	}
	resp, err := srv.Client().ListWorkflow(t.Context(), &workflowservice.ListWorkflowExecutionsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(resp.GetExecutions()); n != 0 {
		t.Errorf("%d runs started", n)
	}
}

// TestWaitInterrupted: Ctrl-C or SIGTERM during --wait stops the wait, not
// the run, and the starter exits 130 or 143 (config.ExitCode), as a shell
// reports a command a signal cut short; the run still runs.
func TestWaitInterrupted(t *testing.T) {
	srv := temporaltest.StartDevServer(t) // no worker: the run waits for ever
	env := testEnv(t)
	env["TEMPORAL_ADDRESS"] = srv.FrontendHostPort()
	ctx, cancel := context.WithCancelCause(t.Context())
	var stdout testutil.SyncBuffer
	done := make(chan error, 1)
	go func() { done <- mainErr(ctx, []string{"--wait", "Publish it"}, env, &stdout, io.Discard) }()
	testutil.Eventually(t, 30*time.Second, "the starter waiting", func() bool {
		return strings.Contains(stdout.String(), "Waiting for the run to finish")
	})
	cancel(config.Interrupted{Signal: syscall.SIGTERM})
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the starter still waits 30 s after SIGTERM")
	}
	if code := config.ExitCode(err); code != 143 || !strings.Contains(err.Error(), "the run") || !strings.Contains(err.Error(), "goes on") {
		t.Fatalf("starter = %v (exit status %d), want the run going on and 143", err, code)
	}
	id := regexp.MustCompile(`hitl-[0-9a-f]{32}`).FindString(stdout.String())
	desc, err := srv.Client().DescribeWorkflowExecution(t.Context(), id, "")
	if err != nil {
		t.Fatal(err)
	}
	if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Errorf("the run is %v after the wait stopped, want running", st)
	}
}

// flakyModelAgent stands in for workflows.AgentWorkflow: its one model
// call fails twice (OpenAI down) and answers on its third attempt.
func flakyModelAgent(ctx workflow.Context, in workflows.AgentInput) (workflows.AgentResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumAttempts: 65},
	})
	var answer string
	err := workflow.ExecuteActivity(ctx, workflows.ActivityCallModel).Get(ctx, &answer)
	return workflows.AgentResult{Answer: answer, Turns: 1}, err
}

// TestWaitShowsRetries: while --wait waits, each failed attempt of the
// run's model call that Temporal will try again is said once, with the
// error and when the next attempt comes, so that an OpenAI outage (tried
// for an hour: workflows.ModelRetry) does not look like a hang.
func TestWaitShowsRetries(t *testing.T) {
	srv := temporaltest.StartDevServer(t)
	startAgentWorker(t, srv, flakyModelAgent, map[string]any{workflows.ActivityCallModel: func(ctx context.Context) (string, error) {
		if activity.GetInfo(ctx).Attempt < 3 {
			return "", errors.New("openai: 503 Service Unavailable (retryable)")
		}
		return "published", nil
	}})
	cfg := waitConfig(t, srv)
	cfg.RetryWatchEvery = 100 * time.Millisecond
	var stdout testutil.SyncBuffer
	if err := run(t.Context(), cfg, &stdout); err != nil {
		t.Fatalf("starter: %v\n%s", err, stdout.String())
	}
	out := stdout.String()
	for i, want := range []string{
		"  the model call, attempt 1, failed: openai: 503 Service Unavailable (retryable); Temporal tries it again in ",
		"  the model call, attempt 2, failed: openai: 503 Service Unavailable (retryable); Temporal tries it again in ",
		"Answer (1 model turns):\npublished",
	} {
		if n := strings.Count(out, want); n != 1 {
			t.Errorf("line %d %q shown %d times, want once:\n%s", i, want, n, out)
		}
	}
	if !regexp.MustCompile(`again in [0-9]s\n`).MatchString(out) {
		t.Errorf("no next attempt's time in:\n%s", out)
	}
}

// downModelAgent stands in for workflows.AgentWorkflow: its one model
// call is tried every second (a reset of it while it runs waits for its
// start-to-close timeout, 5 s, before Temporal tries it again).
func downModelAgent(ctx workflow.Context, in workflows.AgentInput) (workflows.AgentResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 1},
	})
	var answer string
	err := workflow.ExecuteActivity(ctx, workflows.ActivityCallModel).Get(ctx, &answer)
	return workflows.AgentResult{Answer: answer, Turns: 1}, err
}

// TestWaitShowsRetriesAfterResets: the model call's attempts, started
// again at 1 by an activity reset (`temporal activity reset`) or by a reset
// of the run to before it (the Web UI's Reset), are said again from
// attempt 1, not hidden until they pass the count said before.
func TestWaitShowsRetriesAfterResets(t *testing.T) {
	srv := temporaltest.StartDevServer(t)
	var up atomic.Bool
	startAgentWorker(t, srv, downModelAgent, map[string]any{workflows.ActivityCallModel: func(ctx context.Context) (string, error) {
		if !up.Load() {
			return "", errors.New("openai: 503 Service Unavailable (retryable)")
		}
		return "published", nil
	}})
	cfg := waitConfig(t, srv)
	cfg.RetryWatchEvery = 100 * time.Millisecond
	var stdout testutil.SyncBuffer
	done := make(chan error, 1)
	go func() { done <- run(t.Context(), cfg, &stdout) }()
	const firstFailed = "  the model call, attempt 1, failed: "
	shown := func(n int) func() bool {
		return func() bool { return strings.Count(stdout.String(), firstFailed) == n }
	}

	testutil.Eventually(t, 30*time.Second, "attempt 2 said to have failed", func() bool {
		return strings.Contains(stdout.String(), "  the model call, attempt 2, failed: ")
	})
	id := regexp.MustCompile(`hitl-[0-9a-f]{32}`).FindString(stdout.String())
	desc, err := srv.Client().DescribeWorkflowExecution(t.Context(), id, "")
	if err != nil {
		t.Fatal(err)
	}
	first := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	if len(desc.GetPendingActivities()) != 1 {
		t.Fatalf("pending activities %v, want the model call", desc.GetPendingActivities())
	}
	if _, err := srv.Client().WorkflowService().ResetActivity(t.Context(), &workflowservice.ResetActivityRequest{
		Namespace: "default",
		Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: first},
		Activity:  &workflowservice.ResetActivityRequest_Id{Id: desc.GetPendingActivities()[0].GetActivityId()},
	}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "attempt 1 after the activity reset said to have failed", shown(2))

	// Reset to the end of the first workflow task, before the model call
	// was scheduled: the new run calls the model afresh.
	if _, err := srv.Client().ResetWorkflowExecution(t.Context(), &workflowservice.ResetWorkflowExecutionRequest{
		Namespace:                 "default",
		WorkflowExecution:         &commonpb.WorkflowExecution{WorkflowId: id, RunId: first},
		Reason:                    "test",
		WorkflowTaskFinishEventId: 4,
	}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "attempt 1 of the reset run said to have failed", shown(3))

	up.Store(true)
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the starter still waits 30 s after the model call was let through:\n%s", stdout.String())
	}
	if err != nil || !strings.Contains(stdout.String(), "Answer (1 model turns):\npublished") {
		t.Fatalf("starter = %v, want the answer:\n%s", err, stdout.String())
	}
	if !strings.Contains(stdout.String(), "The run was reset: waiting for its new run ") {
		t.Errorf("the reset run not followed:\n%s", stdout.String())
	}
}

// publishedThenFailed stands in for a run whose approved post was
// published before the model's next turn failed for good.
func publishedThenFailed(ctx workflow.Context, in workflows.AgentInput) (workflows.AgentResult, error) {
	audit := []workflows.AuditEntry{
		{Time: workflow.Now(ctx), Kind: workflows.AuditApproved, Tool: "publish_blog_post", ToolCallID: "call_1", Actor: "pat", Role: "publisher"},
		{Time: workflow.Now(ctx), Kind: workflows.AuditExecuted, Tool: "publish_blog_post", ToolCallID: "call_1", Actor: "pat"},
	}
	if err := workflow.SetQueryHandler(ctx, workflows.ApprovalsQuery, func() (workflows.ApprovalsView, error) {
		return workflows.ApprovalsView{Audit: audit}, nil
	}); err != nil {
		return workflows.AgentResult{}, err
	}
	return workflows.AgentResult{}, temporal.NewNonRetryableApplicationError("model call, turn 2: openai: 429 Too Many Requests: the account's quota is used up", workflows.ErrTypeModel, nil)
}

// TestWaitShowsAuditOfFailedRun: a run that failed tells, besides its
// failure, what its tools did first (as its approvals query answers), so
// that whoever started it does not start it again and publish twice.
func TestWaitShowsAuditOfFailedRun(t *testing.T) {
	srv := temporaltest.StartDevServer(t)
	startAgentWorker(t, srv, publishedThenFailed, nil)
	var stdout testutil.SyncBuffer
	err := run(t.Context(), waitConfig(t, srv), &stdout)
	if err == nil || !strings.HasSuffix(err.Error(), "failed: model call, turn 2: openai: 429 Too Many Requests: the account's quota is used up") {
		t.Fatalf("err = %v, want the run's failure", err)
	}
	out := stdout.String()
	if !regexp.MustCompile(`(?m)^Audit trail:\n.*\n.*approved +publish_blog_post +call_1 +pat +publisher.*\n.*executed +publish_blog_post +call_1 +pat`).MatchString(out) {
		t.Errorf("no audit trail with the published post in:\n%s", out)
	}
}

// signalledAgent stands in for workflows.AgentWorkflow: it answers what
// the "go" signal says.
func signalledAgent(ctx workflow.Context, in workflows.AgentInput) (workflows.AgentResult, error) {
	var answer string
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, &answer)
	return workflows.AgentResult{Answer: answer, Turns: 1}, nil
}

// TestWaitFollowsResetRun: a run reset while --wait waits (the Web UI's
// Reset, `temporal workflow reset`) goes on in its new run, which is
// waited for, where the terminated run was said to have failed.
func TestWaitFollowsResetRun(t *testing.T) {
	srv := temporaltest.StartDevServer(t)
	startAgentWorker(t, srv, signalledAgent, nil)
	var stdout testutil.SyncBuffer
	done := make(chan error, 1)
	go func() { done <- run(t.Context(), waitConfig(t, srv), &stdout) }()
	var id string
	var desc *workflowservice.DescribeWorkflowExecutionResponse
	testutil.WaitFor(t, 30*time.Second, "the run's first workflow task completed", func() (bool, error) {
		if id = regexp.MustCompile(`hitl-[0-9a-f]{32}`).FindString(stdout.String()); id == "" {
			return false, nil
		}
		var err error
		desc, err = srv.Client().DescribeWorkflowExecution(t.Context(), id, "")
		return err == nil && desc.GetWorkflowExecutionInfo().GetHistoryLength() >= 4, err
	})
	first := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	reset, err := srv.Client().ResetWorkflowExecution(t.Context(), &workflowservice.ResetWorkflowExecutionRequest{
		Namespace:                 "default",
		WorkflowExecution:         &commonpb.WorkflowExecution{WorkflowId: id, RunId: first},
		Reason:                    "test",
		WorkflowTaskFinishEventId: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Client().SignalWorkflow(t.Context(), id, reset.GetRunId(), "go", "answered after the reset"); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the starter still waits 30 s after the reset run ended:\n%s", stdout.String())
	}
	if err != nil || !strings.Contains(stdout.String(), "Answer (1 model turns):\nanswered after the reset") {
		t.Fatalf("starter = %v, want the reset run's answer:\n%s", err, stdout.String())
	}
	if want := "reset: waiting for its new run " + reset.GetRunId(); !strings.Contains(stdout.String(), want) {
		t.Errorf("no %q in:\n%s", want, stdout.String())
	}
}
