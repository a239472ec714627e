package activities

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/hitl/durable-approvals/internal/signing"
	"github.com/hitl/durable-approvals/workflows"
)

// quorumPolicy makes publish_blog_post need two distinct publishers, with
// edits.
const quorumPolicy = `{"roles":["editor","publisher","admin"],
 "tools":{"publish_blog_post":{"minRole":"publisher","approvals":2,"editable":true},
          "search_posts":{"minRole":"none"},
          "delete_post":{"minRole":"admin"}}}`

// noSearchPolicy leaves search_posts out: a tool the worker has but its
// policy does not name runs for no one.
const noSearchPolicy = `{"roles":["editor","publisher","admin"],
 "tools":{"publish_blog_post":{"minRole":"publisher"},
          "delete_post":{"minRole":"admin"}}}`

// TestExecuteToolChecksApprovals: the worker runs a tool that needs
// approval only with signed approvals of the calling run's call, by roles
// its policy accepts, of these arguments: a workflow of someone else's
// scheduling ExecuteTool (it may, on the task queue) runs nothing.
func TestExecuteToolChecksApprovals(t *testing.T) {
	const args = `{"title":"Checked"}`
	signer, _ := testKeys()
	type decisionEdit func(d *workflows.Decision)
	sign := func(d *workflows.Decision) { signer.Sign(d) }
	tests := []struct {
		name   string
		policy string // "" : teamPolicy
		run    string // the calling run; "" : the request's
		req    workflows.ToolRequest
		// edits change the decisions approved() would pass, before they
		// are signed (sign: true) or after (a tampered decision).
		before, after decisionEdit
		extra         int  // approvals of further approvers (quorum)
		none          bool // no approvals at all
		want          string
	}{
		{name: "approved by a publisher, for these arguments", want: ""},
		{name: "no approval", none: true, want: "needs an approval (publisher or higher), and the request carries none"},
		{name: "another run asks for the call", run: "wf-rogue", want: `the request names run "wf-c", but run "wf-rogue" asked for it`},
		{name: "an approval signed for another run", before: func(d *workflows.Decision) { d.WorkflowID = "wf-other" }, want: `signed for run "wf-other"`},
		{name: "an approval of another call", before: func(d *workflows.Decision) { d.ToolCallID = "call_other" }, want: `signed for call "call_other"`},
		{name: "a rejection", before: func(d *workflows.Decision) { d.Decision = workflows.DecisionRejected }, want: `decision "rejected", not an approval`},
		{name: "a role raised after signing", before: func(d *workflows.Decision) { d.ApproverRole = "editor" }, after: func(d *workflows.Decision) { d.ApproverRole = "admin" }, want: "signature"},
		{name: "unsigned", after: func(d *workflows.Decision) { d.Signature, d.KeyID = "", "" }, want: "signature"},
		{name: "an editor's approval", before: func(d *workflows.Decision) { d.ApproverRole = "editor" }, want: "insufficient role: editor < publisher"},
		{name: "an approval of other arguments", before: func(d *workflows.Decision) { d.ArgumentsDigest = workflows.ArgumentsDigest(`{"title":"Other"}`) }, want: "it approved other arguments"},
		{name: "an approval that names no digest (a guide-shaped client): the run bound it", before: func(d *workflows.Decision) { d.ArgumentsDigest = "" }, want: ""},
		{name: "published longer ago than any approval waits", before: func(d *workflows.Decision) { d.PublishedAt = d.PublishedAt.Add(-workflows.MaxDecisionAge - time.Hour) }, want: "more than"},
		{name: "published 1ns beyond the longest wait", before: func(d *workflows.Decision) { d.PublishedAt = d.PublishedAt.Add(-workflows.MaxDecisionAge - 1) }, want: "more than"},
		{name: "published exactly the longest wait ago", before: func(d *workflows.Decision) { d.PublishedAt = d.PublishedAt.Add(-workflows.MaxDecisionAge) }, want: ""},
		{name: "no publish time", before: func(d *workflows.Decision) { d.PublishedAt = time.Time{} }, want: "no publish time"},
		{name: "a tool that needs no approval runs without", req: workflows.ToolRequest{Name: ToolSearchPosts, Arguments: `{"query":"x"}`}, none: true, want: ""},
		{name: "a tool that needs no approval, for another run", run: "wf-rogue", req: workflows.ToolRequest{Name: ToolSearchPosts, Arguments: `{"query":"x"}`}, none: true, want: "asked for it"},
		{name: "a tool the worker's policy does not name", policy: noSearchPolicy, req: workflows.ToolRequest{Name: ToolSearchPosts, Arguments: `{"query":"x"}`}, none: true, want: `tool "search_posts" has no policy on this worker`},
		{name: "a quorum of two with one approver", policy: quorumPolicy, want: "needs 2 distinct approvers, the request carries 1"},
		{name: "a quorum of two with the same approver twice", policy: quorumPolicy, extra: 1, before: func(d *workflows.Decision) { d.ApproverClientID = "approver-1" }, want: "needs 2 distinct approvers, the request carries 1"},
		{name: "a quorum of two", policy: quorumPolicy, extra: 1, want: ""},
		{name: "an edit of exactly these arguments", policy: quorumPolicy, extra: 1, before: func(d *workflows.Decision) { d.Arguments = `{ "title" : "Checked" }` }, want: ""},
		{name: "an edit of other arguments", policy: quorumPolicy, extra: 1, before: func(d *workflows.Decision) { d.Arguments = `{"title":"Edited"}` }, want: "it approved other (edited) arguments"},
		{name: "an edit the tool's schema refuses", policy: quorumPolicy, extra: 1, before: func(d *workflows.Decision) { d.Arguments = `{"title":"Checked","author":"x"}` }, want: "its edited arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, dir := newBlogActivities(t, BlogConfig{})
			a.now = fixedNow // the decisions' ages are exact
			if tt.policy != "" {
				p, err := workflows.ParsePolicy([]byte(tt.policy))
				if err != nil {
					t.Fatal(err)
				}
				a.policy = workerPolicy(p, a.tools, workflows.DefaultToolRetry(), workflows.DefaultModelRetry())
			}
			req := tt.req
			if req.Name == "" {
				req = workflows.ToolRequest{Name: ToolPublishBlogPost, Arguments: args, ApprovedBy: "pat"}
			}
			req.WorkflowID, req.CallID = "wf-c", "call_c"
			if !tt.none {
				d := approval(a, req, 0)
				if tt.before != nil {
					tt.before(&d)
				}
				sign(&d)
				if tt.after != nil {
					tt.after(&d)
				}
				req.Approvals = append(req.Approvals, d)
				for i := range tt.extra {
					d := approval(a, req, i+1)
					sign(&d)
					req.Approvals = append(req.Approvals, d)
				}
			}
			run := tt.run
			if run == "" {
				run = req.WorkflowID
			}
			out, err := execToolAs(t, a, run, req)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if req.Name == ToolPublishBlogPost && len(posts(t, dir)) != 1 {
					t.Errorf("ran (%q), but %d posts", out, len(posts(t, dir)))
				}
				return
			}
			if err == nil || errType(err) != workflows.ErrTypeNotApproved || !isNonRetryable(err) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v (output %q), want a non-retryable %s saying %q", err, out, workflows.ErrTypeNotApproved, tt.want)
			}
			if n := len(posts(t, dir)); n != 0 {
				t.Errorf("refused, but %d posts were written", n)
			}
		})
	}
}

// approval is the unsigned approval of req by approver i, a publisher,
// naming the digest of req's arguments, published now.
func approval(a *Activities, req workflows.ToolRequest, i int) workflows.Decision {
	return workflows.Decision{WorkflowID: req.WorkflowID, ToolCallID: req.CallID, Decision: workflows.DecisionApproved,
		ApproverClientID: "approver-" + string(rune('0'+i)), ApproverRole: "publisher", AblyMessageID: "msg-" + string(rune('0'+i)),
		PublishedAt: a.now(), ArgumentsDigest: workflows.ArgumentsDigest(req.Arguments)}
}

// TestPublishRefusesOtherRuns: the agent's messages about a run are
// published only when that run asks: a workflow of someone else's could
// otherwise announce another run's pending call as resolved, and the
// approvers' screens would drop it.
func TestPublishRefusesOtherRuns(t *testing.T) {
	a := newTestActivities(t, noModel{}, nil) // nopPublisher fails the test if reached
	ins := map[string]any{
		workflows.ActivityPublishApprovalRequest: workflows.ApprovalRequestInput{Data: workflows.ApprovalRequestData{
			Tool: ToolPublishBlogPost, ToolCallID: "call_v", WorkflowID: "wf-victim", Arguments: "{}", RequiredRole: "publisher"}},
		workflows.ActivityPublishApprovalResolved: workflows.ApprovalResolvedInput{Data: workflows.ApprovalResolvedData{
			ToolCallID: "call_v", WorkflowID: "wf-victim", Tool: ToolPublishBlogPost, Outcome: workflows.OutcomeApproved, DecidedBy: "ada", Role: "admin"}},
		workflows.ActivityPublishApprovalIgnored: workflows.ApprovalIgnoredInput{Data: workflows.ApprovalIgnoredData{
			ToolCallID: "call_v", WorkflowID: "wf-victim"}},
	}
	for name, in := range ins {
		t.Run(name, func(t *testing.T) {
			err := runActivityAs(t, a, "wf-rogue", name, in)
			if err == nil || errType(err) != workflows.ErrTypeBadRequest || !isNonRetryable(err) ||
				!strings.Contains(err.Error(), `the message is about run "wf-victim", but run "wf-rogue" asked for it`) {
				t.Fatalf("err = %v, want a non-retryable BadRequestError naming both runs", err)
			}
		})
	}
}

// TestActivitiesCheckTheirCaller: run as activities of their own,
// ExecuteTool and the Publish* activities act only for the agent's
// workflow on its task queue, as Temporal describes the calling run: a
// workflow of someone else's, even under the workflow id of a closed run
// whose signed decisions it read from the history, gets nothing. Run as
// local activities they need not ask: a local activity runs in this
// worker's own workflow task.
func TestActivitiesCheckTheirCaller(t *testing.T) {
	tests := []struct {
		name      string
		runs      callerRuns
		local     bool
		want      string // "": allowed
		retryable bool
	}{
		{name: "the agent's workflow on its task queue", runs: callerRuns{}},
		{name: "the agent's workflow under its first name", runs: callerRuns{kind: workflows.WorkflowNameV1}},
		{name: "a workflow on a task queue of its own", runs: callerRuns{queue: "rogue"}, want: `is a "AgentWorkflowV2" on task queue "rogue", not the agent's workflow on "hitl-agent"`},
		{name: "another workflow type on the agent's task queue", runs: callerRuns{kind: "Rogue"}, want: `is a "Rogue" on task queue "hitl-agent"`},
		{name: "a run Temporal does not know", runs: callerRuns{err: serviceerror.NewNotFound("gone")}, want: "is not known to Temporal"},
		{name: "Temporal out of reach: tried again", runs: callerRuns{err: serviceerror.NewUnavailable("down")}, want: "describe the calling run", retryable: true},
		{name: "a local activity, whatever Temporal says", runs: callerRuns{queue: "rogue"}, local: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, dir := newBlogActivities(t, BlogConfig{})
			a.runs = tt.runs
			req := approved(a, workflows.ToolRequest{WorkflowID: "wf-caller", CallID: "call_caller", Name: ToolPublishBlogPost, Arguments: `{"title":"Caller"}`})
			var err error
			if tt.local {
				err = runLocalToolAs(t, a, req.WorkflowID, req)
			} else {
				_, err = execToolAs(t, a, req.WorkflowID, req)
			}
			checkRefusal(t, err, tt.want, tt.retryable)
			if n := len(posts(t, dir)); (tt.want == "") != (n == 1) {
				t.Errorf("%d posts after %v", n, err)
			}
			if tt.local {
				return
			}
			resolved := workflows.ApprovalResolvedInput{Data: workflows.ApprovalResolvedData{
				ToolCallID: "call_caller", WorkflowID: "wf-caller", Tool: ToolPublishBlogPost, Outcome: workflows.OutcomeRejected, DecidedBy: "ada", Role: "admin"}}
			if tt.want == "" {
				return // the publish would reach nopPublisher, which fails the test
			}
			checkRefusal(t, runActivityAs(t, a, "wf-caller", workflows.ActivityPublishApprovalResolved, resolved), tt.want, tt.retryable)
		})
	}
}

// checkRefusal checks err: nil when want is "", and otherwise an error
// saying want, non-retryable NotApprovedError unless retryable.
func checkRefusal(t *testing.T, err error, want string, retryable bool) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("refused: %v", err)
	case want == "":
	case err == nil || !strings.Contains(err.Error(), want):
		t.Fatalf("err = %v, want one saying %q", err, want)
	case retryable && isNonRetryable(err):
		t.Fatalf("err = %v, want it retryable", err)
	case !retryable && (errType(err) != workflows.ErrTypeNotApproved || !isNonRetryable(err)):
		t.Fatalf("err = %v, want a non-retryable %s", err, workflows.ErrTypeNotApproved)
	}
}

// runLocalToolAs runs ExecuteTool once as a local activity of a workflow
// whose id is run.
func runLocalToolAs(t *testing.T, a *Activities, run string, req workflows.ToolRequest) error {
	t.Helper()
	return runWorkflowAs(t, a, run, oneLocalToolWorkflow, req).GetWorkflowError()
}

// oneLocalToolWorkflow runs ExecuteTool as a local activity, with one
// attempt.
func oneLocalToolWorkflow(ctx workflow.Context, req workflows.ToolRequest) error {
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	return workflow.ExecuteLocalActivity(ctx, workflows.ActivityExecuteTool, req).Get(ctx, nil)
}

// countingRuns is callerRuns that counts the runs it describes.
type countingRuns struct {
	callerRuns
	n *atomic.Int32
}

func (r countingRuns) DescribeWorkflowExecution(ctx context.Context, id, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	r.n.Add(1)
	return r.callerRuns.DescribeWorkflowExecution(ctx, id, runID)
}

// TestCallModelChecksItsCaller: another workflow does not get the model
// at the worker's cost; the agent's run is described once per worker, not
// for each of its model calls.
func TestCallModelChecksItsCaller(t *testing.T) {
	f := newFakeOpenAI(t, fakeReply{200, messageResponse}, fakeReply{200, messageResponse})
	a := newTestActivities(t, newTestModel(t, f.baseURL(), "sk-test"), nil)
	var n atomic.Int32
	a.runs = countingRuns{n: &n}
	req := workflows.ModelRequest{WorkflowID: "wf-model", Turn: 1, Input: []workflows.ConversationItem{{Type: workflows.ItemMessage, Role: "user", Text: "hi"}}}
	for turn := 1; turn <= 2; turn++ {
		req.Turn = turn
		if _, err := callModel(t, a, req); err != nil {
			t.Fatalf("turn %d: %v", turn, err)
		}
	}
	if got := n.Load(); got != 1 {
		t.Errorf("the calling run was described %d times for two model calls, want once", got)
	}

	rogue := newTestActivities(t, newTestModel(t, f.baseURL(), "sk-test"), nil)
	rogue.runs = callerRuns{queue: "rogue"}
	_, err := callModel(t, rogue, req)
	checkRefusal(t, err, `on task queue "rogue", not the agent's workflow`, false)
	if bodies, _, _ := f.requests(); len(bodies) != 2 {
		t.Errorf("the model was asked %d times, want 2 (none for the other workflow)", len(bodies))
	}
}

// runsByID describes each run id as the run in it; a run id it lacks is
// not known.
type runsByID map[string]callerRuns

func (r runsByID) DescribeWorkflowExecution(ctx context.Context, id, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	run, ok := r[runID]
	if !ok {
		return nil, serviceerror.NewNotFound("no run " + runID)
	}
	return run.DescribeWorkflowExecution(ctx, id, runID)
}

// TestCheckRunRemembersRunsNotIDs: the agent's runs checkCaller remembers
// are run ids. A workflow id is no proof: once the agent's run closes,
// anyone may start a workflow of their own under the same id (Temporal's
// default reuse policy), and its activities must be asked about afresh.
func TestCheckRunRemembersRunsNotIDs(t *testing.T) {
	a, _ := newBlogActivities(t, BlogConfig{})
	var n atomic.Int32
	a.runs = countingRunsByID{runs: runsByID{"run-agent": {}, "run-rogue": {queue: "rogue"}}, n: &n}
	ctx := t.Context()
	for range 2 {
		if err := a.checkRun(ctx, false, "wf-reused", "run-agent"); err != nil {
			t.Fatalf("the agent's run: %v", err)
		}
	}
	if got := n.Load(); got != 1 {
		t.Errorf("the agent's run was described %d times, want once", got)
	}
	checkRefusal(t, a.checkRun(ctx, false, "wf-reused", "run-rogue"), `on task queue "rogue", not the agent's workflow`, false)
	checkRefusal(t, a.checkRun(ctx, false, "wf-other", "run-rogue"), `on task queue "rogue", not the agent's workflow`, false)
}

// countingRunsByID is runsByID that counts the runs it describes.
type countingRunsByID struct {
	runs runsByID
	n    *atomic.Int32
}

func (r countingRunsByID) DescribeWorkflowExecution(ctx context.Context, id, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	r.n.Add(1)
	return r.runs.DescribeWorkflowExecution(ctx, id, runID)
}

// TestCheckRunNeedsARun: an activity without a workflow id or run id
// (an activity no workflow scheduled) is refused without asking Temporal,
// which, asked about an empty run id, would describe the workflow id's
// current run: perhaps the agent's.
func TestCheckRunNeedsARun(t *testing.T) {
	tests := []struct {
		name, id, runID string
	}{
		{name: "no run id", id: "wf-caller"},
		{name: "no workflow id", runID: "run-1"},
		{name: "neither"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := newBlogActivities(t, BlogConfig{})
			var n atomic.Int32
			a.runs = countingRuns{n: &n}
			checkRefusal(t, a.checkRun(context.Background(), false, tt.id, tt.runID), "no workflow run asked for it", false)
			if got := n.Load(); got != 0 {
				t.Errorf("Temporal was asked %d times, want none", got)
			}
		})
	}
}

// TestToolRefusalsCounted: each call ExecuteTool refuses for good is
// counted in MetricToolsRefused by why, an approval signed with a key the
// worker no longer holds apart (a decision key dropped too early, which
// VerifyDecision's metric does not show: the decision had verified); a
// refusal that may pass (Temporal out of reach) is not counted.
func TestToolRefusalsCounted(t *testing.T) {
	const run = "default-test-workflow-id" // the test environment's
	signer, _ := testKeys()
	tests := []struct {
		name string
		runs callerRuns
		edit func(d *workflows.Decision) // after signing
		want string                      // the reason counted; "" none
	}{
		{name: "approved", want: ""},
		{name: "signed with a key the worker no longer holds", edit: func(d *workflows.Decision) { d.KeyID = "k-dropped" }, want: refusedUnknownKey},
		{name: "a signature that does not verify", edit: func(d *workflows.Decision) { d.ApproverRole = "admin" }, want: refusedApproval},
		{name: "not the agent's workflow", runs: callerRuns{queue: "rogue"}, want: refusedCaller},
		{name: "Temporal out of reach: tried again, not counted", runs: callerRuns{err: serviceerror.NewUnavailable("down")}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := newBlogActivities(t, BlogConfig{})
			a.now = fixedNow
			a.runs = tt.runs
			req := workflows.ToolRequest{WorkflowID: run, CallID: "call_m", Name: ToolPublishBlogPost, Arguments: `{"title":"Counted"}`, ApprovedBy: "pat"}
			d := approval(a, req, 0)
			signer.Sign(&d)
			if tt.edit != nil {
				tt.edit(&d)
			}
			req.Approvals = []workflows.Decision{d}
			var ts testsuite.WorkflowTestSuite
			counts := &counterCapture{n: map[string]int64{}}
			ts.SetMetricsHandler(counts)
			env := ts.NewTestActivityEnvironment()
			env.RegisterActivity(a)
			_, err := env.ExecuteActivity(a.ExecuteTool, req)
			if (err == nil) != (tt.want == "" && tt.runs.err == nil) {
				t.Fatalf("ExecuteTool = %v", err)
			}
			for _, reason := range []string{refusedCaller, refusedUnknownKey, refusedApproval} {
				want := int64(0)
				if reason == tt.want {
					want = 1
				}
				if got := counts.get(MetricToolsRefused, "reason", reason); got != want {
					t.Errorf("%s{reason=%q} = %d, want %d (all: %v)", MetricToolsRefused, reason, got, want, counts.n)
				}
			}
		})
	}
}

// TestRetiredKey: once a rotation retires the old decision key
// (HITL_DECISION_RETIRED_KEYS), a new decision signed with it is refused
// (VerifyDecision: a retired_key verdict, counted), while a call the run
// counted under it before still runs (ExecuteTool's check of its
// approvals); a key dropped altogether refuses both.
func TestRetiredKey(t *testing.T) {
	const run = "default-test-workflow-id" // the test environment's
	oldSK, oldVK, err := signing.Generate("k-old", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, newVK, err := signing.Generate("k-cur", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	old, err := signing.ParseSigner(oldSK)
	if err != nil {
		t.Fatal(err)
	}
	retired, err := signing.ParseVerifierRetired(newVK, oldVK)
	if err != nil {
		t.Fatal(err)
	}
	dropped, err := signing.ParseVerifier(newVK)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		verifier   *signing.Verifier
		tamper     bool   // the decision is changed after it was signed
		verdict    string // VerifyDecision's reason's prefix
		retiredSig bool   // its verdict says the retired key signed it
		unverified string // its count's reason
		toolErr    string // "" the tool runs
	}{
		{"retired", retired, false, `retired key "k-old"`, true, "retired_key", ""},
		// Naming the retired key without its signature is a forgery,
		// which the run tells no approver of.
		{"retired key's id, forged", retired, true, "bad signature", false, "bad_signature", "bad signature"},
		{"dropped", dropped, false, `unknown key "k-old"`, false, "unknown_key", `signature: unknown key "k-old"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, dir := newBlogActivities(t, BlogConfig{})
			a.now = fixedNow
			a.verifier = tt.verifier
			var ts testsuite.WorkflowTestSuite
			counts := &counterCapture{n: map[string]int64{}}
			ts.SetMetricsHandler(counts)
			env := ts.NewTestActivityEnvironment()
			env.RegisterActivity(a)

			req := workflows.ToolRequest{WorkflowID: run, CallID: "call_r", Name: ToolPublishBlogPost, Arguments: `{"title":"Retired"}`, ApprovedBy: "pat"}
			d := approval(a, req, 0)
			old.Sign(&d)
			if tt.tamper {
				d.Reason = "changed after signing"
			}

			v, err := env.ExecuteLocalActivity(a.VerifyDecision, d)
			if err != nil {
				t.Fatal(err)
			}
			var verdict workflows.DecisionVerdict
			if err := v.Get(&verdict); err != nil {
				t.Fatal(err)
			}
			if verdict.Valid || !strings.HasPrefix(verdict.Reason, tt.verdict) || verdict.Retired != tt.retiredSig {
				t.Errorf("VerifyDecision of a new decision = %+v, want refused: %s (retired %v)", verdict, tt.verdict, tt.retiredSig)
			}
			if got := counts.get(MetricDecisionsUnverified, "reason", tt.unverified); got != 1 {
				t.Errorf("%s{reason=%q} = %d, want 1 (all: %v)", MetricDecisionsUnverified, tt.unverified, got, counts.n)
			}

			req.Approvals = []workflows.Decision{d}
			_, err = env.ExecuteActivity(a.ExecuteTool, req)
			posts, _ := filepath.Glob(filepath.Join(dir, "*.md"))
			if tt.toolErr == "" {
				if err != nil || len(posts) != 1 {
					t.Fatalf("ExecuteTool of a call counted under the retired key = %v, posts %v; want it run", err, posts)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.toolErr) || len(posts) != 0 {
				t.Fatalf("ExecuteTool = %v, posts %v; want refused: %s", err, posts, tt.toolErr)
			}
		})
	}
}
