package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
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

var fixedNow = func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }

func newBlogActivities(t *testing.T, cfg BlogConfig) (*Activities, string) {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.Now == nil {
		cfg.Now = fixedNow
	}
	blog, err := NewBlog(cfg)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := NewRegistry(blog.Tools()...)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := withTrust(t, Deps{Model: noModel{}, Tools: reg, Publisher: nopPublisher{t}})
	a, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	return a, cfg.Dir
}

type noModel struct{}

func (noModel) Respond(context.Context, workflows.ModelRequest, []Tool) (workflows.ModelResponse, error) {
	return workflows.ModelResponse{}, errors.New("no model in this test")
}

// execTool runs ExecuteTool as the run req.WorkflowID asks for it, with
// the approvals that run would pass (approved), so errors arrive as the
// workflow would see them.
func execTool(t *testing.T, a *Activities, req workflows.ToolRequest) (string, error) {
	t.Helper()
	return execToolAs(t, a, req.WorkflowID, approved(a, req))
}

// execToolAs runs ExecuteTool once, in Temporal's test environment, from a
// workflow whose id is run: the run the activity sees as its caller.
func execToolAs(t *testing.T, a *Activities, run string, req workflows.ToolRequest) (string, error) {
	t.Helper()
	if run == "" {
		run = "wf-without-id"
	}
	env := runWorkflowAs(t, a, run, oneToolWorkflow, req)
	if err := env.GetWorkflowError(); err != nil {
		return "", err
	}
	var out string
	if err := env.GetWorkflowResult(&out); err != nil {
		t.Fatal(err)
	}
	return out, nil
}

// runWorkflowAs runs wf with args to its end in Temporal's test
// environment, a's activities registered, as a workflow whose id is run
// ("": the environment's default), and returns the environment.
func runWorkflowAs(t *testing.T, a *Activities, run string, wf any, args ...any) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.SetTestTimeout(time.Minute)
	env.RegisterActivity(a)
	env.RegisterWorkflow(wf)
	if run != "" {
		env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: run})
	}
	env.ExecuteWorkflow(wf, args...)
	if !env.IsWorkflowCompleted() {
		t.Fatal("the test's workflow did not complete")
	}
	return env
}

// oneToolWorkflow runs ExecuteTool with one attempt and returns its output.
func oneToolWorkflow(ctx workflow.Context, req workflows.ToolRequest) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	var res workflows.ToolResult
	if err := workflow.ExecuteActivity(ctx, workflows.ActivityExecuteTool, req).Get(ctx, &res); err != nil {
		return "", err
	}
	return res.Output, nil
}

// approved returns req with the signed approvals its run would pass (none
// when it carries some, or its tool needs none): as many distinct
// approvers of the policy's highest role as the tool needs, each naming
// the digest of req's arguments, signed with the test key (testKeys).
func approved(a *Activities, req workflows.ToolRequest) workflows.ToolRequest {
	tp, ok := a.policy.Policy.Tools[req.Name]
	if !ok || !tp.NeedsApproval() || req.Approvals != nil {
		return req
	}
	signer, _ := testKeys()
	roles := a.policy.Policy.Roles
	for i := range tp.RequiredApprovals() {
		d := workflows.Decision{WorkflowID: req.WorkflowID, ToolCallID: req.CallID, Decision: workflows.DecisionApproved,
			ApproverClientID: fmt.Sprintf("approver-%d", i), ApproverRole: roles[len(roles)-1],
			AblyMessageID: fmt.Sprintf("msg-%s-%d", req.CallID, i), PublishedAt: a.now(), ArgumentsDigest: workflows.ArgumentsDigest(req.Arguments)}
		signer.Sign(&d)
		req.Approvals = append(req.Approvals, d)
	}
	return req
}

func posts(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

func errType(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Type()
	}
	return ""
}

func TestPublishIsIdempotent(t *testing.T) {
	a, dir := newBlogActivities(t, BlogConfig{})
	req := workflows.ToolRequest{WorkflowID: "wf-1", CallID: "call_1", Name: ToolPublishBlogPost,
		Arguments: `{"title":"Introducing our new API","body":"Hello."}`, ApprovedBy: "alice"}
	out1, err := execTool(t, a, req)
	if err != nil {
		t.Fatal(err)
	}
	out2, err := execTool(t, a, req)
	if err != nil {
		t.Fatal(err)
	}
	if out1 != out2 {
		t.Errorf("second run returned %s, first %s", out2, out1)
	}
	var res PublishResult
	if err := json.Unmarshal([]byte(out1), &res); err != nil {
		t.Fatal(err)
	}
	want := PublishResult{Published: true, Title: "Introducing our new API", Slug: "introducing-our-new-api", Location: "introducing-our-new-api.md"}
	if res != want {
		t.Errorf("result = %+v, want %+v", res, want)
	}
	if got := posts(t, dir); len(got) != 1 || got[0] != want.Location {
		t.Fatalf("posts = %v, want [%s]", got, want.Location)
	}
	data, err := os.ReadFile(filepath.Join(dir, want.Location))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{`title: "Introducing our new API"`, `workflow_id: "wf-1"`, `tool_call_id: "call_1"`, `approved_by: "alice"`, "published_at: 2026-11-25T12:00:00Z", "\n---\n\nHello.\n"} {
		if !strings.Contains(string(data), line) {
			t.Errorf("post lacks %q:\n%s", line, data)
		}
	}

	// The ledger lost (a crash between post and ledger write): the rerun
	// recognises its own post and still publishes once.
	if err := os.RemoveAll(filepath.Join(dir, ledgerDirName)); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, ledgerDirName), 0o755); err != nil {
		t.Fatal(err)
	}
	out3, err := execTool(t, a, req)
	if err != nil {
		t.Fatal(err)
	}
	if out3 != out1 {
		t.Errorf("rerun after lost ledger = %s, want %s", out3, out1)
	}
	if got := posts(t, dir); len(got) != 1 {
		t.Errorf("posts after rerun = %v, want one", got)
	}
}

func TestPublishSameTitleOtherCallDoesNotOverwrite(t *testing.T) {
	a, dir := newBlogActivities(t, BlogConfig{})
	first := workflows.ToolRequest{WorkflowID: "wf-1", CallID: "call_1", Name: ToolPublishBlogPost, Arguments: `{"title":"Hello","body":"one"}`}
	second := first
	second.WorkflowID, second.Arguments = "wf-2", `{"title":"Hello","body":"two"}`
	if _, err := execTool(t, a, first); err != nil {
		t.Fatal(err)
	}
	out, err := execTool(t, a, second)
	if err != nil {
		t.Fatal(err)
	}
	if got := posts(t, dir); len(got) != 2 {
		t.Fatalf("posts = %v, want two", got)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "hello.md"))
	if !strings.Contains(string(data), "one") {
		t.Errorf("first post was overwritten:\n%s", data)
	}
	var res PublishResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || !strings.HasPrefix(res.Slug, "hello-") {
		t.Errorf("second result = %s (%v), want slug hello-<hash>", out, err)
	}
}

func TestExecuteToolBadInput(t *testing.T) {
	tests := []struct {
		name     string
		req      workflows.ToolRequest
		wantType string
		wantMsg  string
	}{
		{"not json", workflows.ToolRequest{Name: ToolPublishBlogPost, Arguments: `{"title":`}, workflows.ErrTypeToolInput, "not a valid JSON object"},
		{"array", workflows.ToolRequest{Name: ToolPublishBlogPost, Arguments: `["x"]`}, workflows.ErrTypeToolInput, "not a valid JSON object"},
		{"unknown field", workflows.ToolRequest{Name: ToolPublishBlogPost, Arguments: `{"title":"x","author":"y"}`}, workflows.ErrTypeToolInput, "unknown field"},
		{"trailing data", workflows.ToolRequest{Name: ToolPublishBlogPost, Arguments: `{"title":"x"}{}`}, workflows.ErrTypeToolInput, "trailing data"},
		{"missing title", workflows.ToolRequest{Name: ToolPublishBlogPost, Arguments: `{"body":"x"}`}, workflows.ErrTypeToolInput, "title is required"},
		{"blank title", workflows.ToolRequest{Name: ToolPublishBlogPost, Arguments: `{"title":"  "}`}, workflows.ErrTypeToolInput, "title is required"},
		{"two-line title", workflows.ToolRequest{Name: ToolPublishBlogPost, Arguments: `{"title":"a\nslug: evil"}`}, workflows.ErrTypeToolInput, "one line"},
		{"long title", workflows.ToolRequest{Name: ToolPublishBlogPost, Arguments: `{"title":"` + strings.Repeat("a", 201) + `"}`}, workflows.ErrTypeToolInput, "longer than"},
		{"long body", workflows.ToolRequest{Name: ToolPublishBlogPost, Arguments: `{"title":"x","body":"` + strings.Repeat("a", maxBodyLen+1) + `"}`}, workflows.ErrTypeToolInput, "body longer than"},
		{"missing query", workflows.ToolRequest{Name: ToolSearchPosts, Arguments: `{}`}, workflows.ErrTypeToolInput, "query is required"},
		{"long query", workflows.ToolRequest{Name: ToolSearchPosts, Arguments: `{"query":"` + strings.Repeat("q", maxQueryLen+1) + `"}`}, workflows.ErrTypeToolInput, "query longer than"},
		{"path traversal", workflows.ToolRequest{Name: ToolDeletePost, Arguments: `{"slug":"../../etc/passwd"}`}, workflows.ErrTypeToolInput, "slug"},
		{"empty slug", workflows.ToolRequest{Name: ToolDeletePost, Arguments: `{"slug":""}`}, workflows.ErrTypeToolInput, "slug"},
		{"unknown tool", workflows.ToolRequest{Name: "rm_rf", Arguments: `{}`}, workflows.ErrTypeUnknownTool, `unknown tool "rm_rf"`},
		{"no call id", workflows.ToolRequest{Name: ToolSearchPosts, Arguments: `{"query":""}`, CallID: "-"}, workflows.ErrTypeBadRequest, "callId are required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, dir := newBlogActivities(t, BlogConfig{})
			req := tt.req
			req.WorkflowID = "wf"
			switch req.CallID {
			case "":
				req.CallID = "call_x"
			case "-":
				req.CallID = ""
			}
			_, err := execTool(t, a, req)
			if err == nil {
				t.Fatal("no error")
			}
			if !isNonRetryable(err) || errType(err) != tt.wantType {
				t.Errorf("err = %v (type %q), want non-retryable %s", err, errType(err), tt.wantType)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err = %v, want it to contain %q", err, tt.wantMsg)
			}
			if got := posts(t, dir); len(got) != 0 {
				t.Errorf("bad input published %v", got)
			}
		})
	}
}

func TestSearchPosts(t *testing.T) {
	a, _ := newBlogActivities(t, BlogConfig{})
	for i, title := range []string{"Introducing our new API", "Quarterly results", "API deprecation notice"} {
		req := workflows.ToolRequest{WorkflowID: "wf", CallID: "call_" + string(rune('a'+i)), Name: ToolPublishBlogPost, Arguments: `{"title":"` + title + `"}`}
		if _, err := execTool(t, a, req); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"api", []string{"api-deprecation-notice", "introducing-our-new-api"}},
		{"NEW api", []string{"introducing-our-new-api"}},
		{"", []string{"api-deprecation-notice", "introducing-our-new-api", "quarterly-results"}},
		{"nothing matches this", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			args, _ := json.Marshal(map[string]string{"query": tt.query})
			out, err := execTool(t, a, workflows.ToolRequest{WorkflowID: "wf", CallID: "call_s", Name: ToolSearchPosts, Arguments: string(args)})
			if err != nil {
				t.Fatal(err)
			}
			var res SearchResult
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, m := range res.Matches {
				got = append(got, m.Slug)
				if m.Title == "" {
					t.Errorf("match %s has no title", m.Slug)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("matches = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestSearchPostsBounds: search_posts lists at most maxSearchHits posts,
// saying when there are more, and never a hidden file (a draft, a
// temporary file of a write under way).
func TestSearchPostsBounds(t *testing.T) {
	dir := t.TempDir()
	b, err := NewBlog(BlogConfig{Dir: dir, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	for i := range maxSearchHits + 1 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("post-%02d.md", i)), []byte("---\ntitle: \"Post\"\n---\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ".draft.md"), []byte("---\ntitle: \"Secret draft\"\n---\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		query     string
		matches   int
		truncated bool
	}{
		{"", maxSearchHits, true},
		{"secret", 0, false},
	}
	for _, tt := range tests {
		args, _ := json.Marshal(map[string]string{"query": tt.query})
		out, err := b.search(t.Context(), ToolCall{Name: ToolSearchPosts, Arguments: string(args)})
		var res SearchResult
		if err != nil || json.Unmarshal([]byte(out), &res) != nil || len(res.Matches) != tt.matches || res.Truncated != tt.truncated {
			t.Errorf("search %q = %s, %v; want %d matches, truncated %v", tt.query, out, err, tt.matches, tt.truncated)
		}
	}
}

// TestDeletePostSlugLength: delete_post takes the longest name
// publish_blog_post gives a post (a slug of maxSlugLen and "-" and 8 hex
// digits), and nothing longer.
func TestDeletePostSlugLength(t *testing.T) {
	b, err := NewBlog(BlogConfig{Dir: t.TempDir(), Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	longest := strings.Repeat("a", maxSlugLen) + "-0123abcd"
	for _, tt := range []struct {
		slug string
		ok   bool
	}{{longest, true}, {longest + "e", false}} {
		_, err := b.delete(t.Context(), deleteCall("wf", "call_"+fmt.Sprint(len(tt.slug)), tt.slug))
		if (err == nil) != tt.ok || (err != nil && errType(err) != workflows.ErrTypeToolInput) {
			t.Errorf("delete of a %d-byte slug: %v; want ok %v, else a ToolInputError", len(tt.slug), err, tt.ok)
		}
	}
}

func TestDeletePostIsIdempotent(t *testing.T) {
	a, dir := newBlogActivities(t, BlogConfig{})
	pub := workflows.ToolRequest{WorkflowID: "wf", CallID: "call_p", Name: ToolPublishBlogPost, Arguments: `{"title":"Old news"}`}
	if _, err := execTool(t, a, pub); err != nil {
		t.Fatal(err)
	}
	del := workflows.ToolRequest{WorkflowID: "wf", CallID: "call_d", Name: ToolDeletePost, Arguments: `{"slug":"old-news"}`, ApprovedBy: "root"}
	out1, err := execTool(t, a, del)
	if err != nil {
		t.Fatal(err)
	}
	if got := posts(t, dir); len(got) != 0 {
		t.Fatalf("posts after delete = %v", got)
	}
	out2, err := execTool(t, a, del)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"deleted":true,"slug":"old-news"}`; out1 != want || out2 != want {
		t.Errorf("outputs = %s, %s; want %s twice", out1, out2, want)
	}
	other := del
	other.CallID = "call_d2"
	out3, err := execTool(t, a, other)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"deleted":false,"slug":"old-news","alreadyAbsent":true}`; out3 != want {
		t.Errorf("delete of a missing post = %s, want %s", out3, want)
	}
}

// fakeCMS is a webhook that answers with the scripted statuses in order
// and records the Idempotency-Key and body of every request.
type fakeCMS struct {
	mu       sync.Mutex
	statuses []int
	keys     []string
	bodies   []webhookPayload
}

func (c *fakeCMS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var p webhookPayload
	raw, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(raw, &p)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys = append(c.keys, r.Header.Get(HeaderIdempotencyKey))
	c.bodies = append(c.bodies, p)
	status := http.StatusOK
	if len(c.statuses) > 0 {
		status, c.statuses = c.statuses[0], c.statuses[1:]
	}
	w.WriteHeader(status)
	switch {
	case status == http.StatusOK:
		_, _ = io.WriteString(w, `{"url":"https://blog.example.com/`+p.Slug+`"}`)
	case status < 300:
		_, _ = io.WriteString(w, `{}`) // published, and no url said
	default:
		_, _ = io.WriteString(w, "cms says no")
	}
}

func TestPublishWebhook(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int
		// per attempt: "" success, "no url" success without the CMS's
		// url, "retry" retryable, "fatal" non-retryable, "redirect" the
		// non-retryable error of a 3xx
		want []string
	}{
		{"ok", []int{200}, []string{""}},
		{"201 without a url", []int{201}, []string{"no url"}},
		{"300 is not a publication", []int{300}, []string{"redirect"}},
		{"5xx then ok", []int{503, 200}, []string{"retry", ""}},
		{"500 then ok", []int{500, 200}, []string{"retry", ""}},
		{"408 then ok", []int{408, 200}, []string{"retry", ""}},
		{"429 then ok", []int{429, 200}, []string{"retry", ""}},
		{"409 (the same key in progress) then ok", []int{409, 200}, []string{"retry", ""}},
		{"4xx", []int{422}, []string{"fatal"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cms := &fakeCMS{statuses: tt.statuses}
			srv := httptest.NewServer(cms)
			t.Cleanup(srv.Close)
			a, dir := newBlogActivities(t, BlogConfig{WebhookURL: srv.URL + "/hooks/publish"})
			req := workflows.ToolRequest{WorkflowID: "wf-9", CallID: "call_9", Name: ToolPublishBlogPost, Arguments: `{"title":"Via CMS","body":"b"}`, ApprovedBy: "bob"}
			for i, want := range tt.want {
				out, err := execTool(t, a, req)
				switch want {
				case "":
					if err != nil {
						t.Fatalf("attempt %d: %v", i, err)
					}
					if !strings.Contains(out, `"location":"https://blog.example.com/via-cms"`) {
						t.Errorf("attempt %d: output %s lacks the CMS url", i, out)
					}
				case "no url":
					// The webhook's address as the model may see it.
					if err != nil || !strings.Contains(out, `"location":"http://127.0.0.1:`) || !strings.Contains(out, `/…"`) {
						t.Fatalf("attempt %d: %s, %v; want the webhook's shown address as the location", i, out, err)
					}
				case "redirect":
					if err == nil || !isNonRetryable(err) || errType(err) != workflows.ErrTypeWebhook || !strings.Contains(err.Error(), "redirects") {
						t.Fatalf("attempt %d: err = %v, want a non-retryable WebhookError saying it redirects", i, err)
					}
				case "retry":
					if err == nil || isNonRetryable(err) {
						t.Fatalf("attempt %d: err = %v, want retryable", i, err)
					}
				case "fatal":
					if err == nil || !isNonRetryable(err) || errType(err) != workflows.ErrTypeWebhook || !strings.Contains(err.Error(), "cms says no") {
						t.Fatalf("attempt %d: err = %v, want non-retryable WebhookError", i, err)
					}
				}
			}
			cms.mu.Lock()
			defer cms.mu.Unlock()
			if len(cms.keys) != len(tt.want) {
				t.Fatalf("webhook requests = %d, want %d", len(cms.keys), len(tt.want))
			}
			for i, k := range cms.keys {
				if k != "wf-9:call_9" {
					t.Errorf("request %d: Idempotency-Key = %q, want wf-9:call_9", i, k)
				}
				want := webhookPayload{Title: "Via CMS", Body: "b", Slug: "via-cms", WorkflowID: "wf-9", ToolCallID: "call_9", ApprovedBy: "bob"}
				if cms.bodies[i] != want {
					t.Errorf("request %d: body = %+v, want %+v", i, cms.bodies[i], want)
				}
			}
			if got := posts(t, dir); len(got) != 0 {
				t.Errorf("webhook mode wrote files %v", got)
			}
		})
	}
}

// A webhook that answers the POST with a redirect (a login page, a moved
// endpoint) has not published: Go would follow a 302 with a GET without
// the post and take its 200 for a publication, for good (the ledger).
func TestPublishWebhookRefusesRedirects(t *testing.T) {
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		for _, own := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d own client %v", status, own), func(t *testing.T) {
				var mu sync.Mutex
				var seen []string
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					seen = append(seen, r.Method+" "+r.URL.Path)
					mu.Unlock()
					if r.URL.Path == "/hooks/publish" {
						http.Redirect(w, r, "/login?token=s3cret", status)
						return
					}
					_, _ = io.WriteString(w, `{"url":"https://blog.example.com/login"}`)
				}))
				t.Cleanup(srv.Close)
				cfg := BlogConfig{WebhookURL: srv.URL + "/hooks/publish"}
				if own {
					cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
				}
				a, dir := newBlogActivities(t, cfg)
				req := workflows.ToolRequest{WorkflowID: "wf-r", CallID: "call_r", Name: ToolPublishBlogPost, Arguments: `{"title":"Launch"}`, ApprovedBy: "pat"}
				out, err := execTool(t, a, req)
				if err == nil || !isNonRetryable(err) || errType(err) != workflows.ErrTypeWebhook || !strings.Contains(err.Error(), "redirects (to (a path on the same host))") || strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("output %s, err %v; want a non-retryable WebhookError naming the redirect, redacted", out, err)
				}
				mu.Lock()
				defer mu.Unlock()
				if !slices.Equal(seen, []string{"POST /hooks/publish"}) {
					t.Errorf("the CMS saw %q, want the POST alone", seen)
				}
				if entries, _ := filepath.Glob(filepath.Join(dir, ledgerDirName, "*")); len(entries) != 0 {
					t.Errorf("ledger entries %v, want none", entries)
				}
			})
		}
	}
}

// The webhook's URL may carry its credential (user information, a query):
// neither the tool's output nor its error (both go to the model and the
// run's history) names it.
func TestPublishWebhookRedactsItsURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent) // no "url" in the reply
	}))
	t.Cleanup(srv.Close)
	hook := strings.Replace(srv.URL, "http://", "http://s3cret-user@", 1) + "/hooks/s3cret-path?key=s3cret-key"
	a, _ := newBlogActivities(t, BlogConfig{WebhookURL: hook})
	req := workflows.ToolRequest{WorkflowID: "wf-s", CallID: "call_s", Name: ToolPublishBlogPost, Arguments: `{"title":"Launch"}`, ApprovedBy: "pat"}
	out, err := execTool(t, a, req)
	if err != nil {
		t.Fatal(err)
	}
	var res PublishResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || !res.Published || res.Location != srv.URL+"/…" {
		t.Errorf("output %s (%v), want the location redacted", out, err)
	}
	srv.Close() // the next call cannot connect: its error names the URL
	req.CallID = "call_s2"
	_, err = execTool(t, a, req)
	if err == nil || isNonRetryable(err) || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), srv.URL+"/…") {
		t.Errorf("err = %v, want a retryable error naming the URL without the credential", err)
	}
}

// The same call (workflow id, call id) run again with other arguments (a
// run reset to before an approver's edit) publishes nothing and does not
// report the first post as theirs: it fails for good, saying why.
func TestPublishSameCallOtherArguments(t *testing.T) {
	a, dir := newBlogActivities(t, BlogConfig{})
	req := workflows.ToolRequest{WorkflowID: "wf-x", CallID: "call_1", Name: ToolPublishBlogPost, Arguments: `{"title":"Draft A"}`, ApprovedBy: "pat"}
	if _, err := execTool(t, a, req); err != nil {
		t.Fatal(err)
	}
	req.Arguments = `{"title":"Approved B"}`
	out, err := execTool(t, a, req)
	if err == nil || !isNonRetryable(err) || errType(err) != workflows.ErrTypeAlreadyRan || !strings.Contains(err.Error(), "already ran with other input") {
		t.Fatalf("output %s, err %v; want a non-retryable AlreadyRanError", out, err)
	}
	if got := posts(t, dir); !slices.Equal(got, []string{"draft-a.md"}) {
		t.Errorf("posts %v, want draft-a.md alone", got)
	}
}

func TestPublishWebhookHonoursContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	blog, err := NewBlog(BlogConfig{Dir: t.TempDir(), WebhookURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	tool := blog.Tools()[0]
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = tool.Run(ctx, ToolCall{WorkflowID: "wf", CallID: "c", Name: tool.Name, Arguments: `{"title":"x"}`})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v, the context was ignored", d)
	}
}

func TestNewRegistryRejectsBadTools(t *testing.T) {
	run := func(context.Context, ToolCall) (string, error) { return "", nil }
	schema := map[string]any{"type": "object"}
	tests := []struct {
		name  string
		tools []Tool
		want  string
	}{
		{"empty name", []Tool{{Run: run, Parameters: schema}}, "empty name"},
		{"duplicate", []Tool{{Name: "a", Run: run, Parameters: schema}, {Name: "a", Run: run, Parameters: schema}}, "registered twice"},
		{"no run", []Tool{{Name: "a", Parameters: schema}}, "no Run"},
		{"no schema", []Tool{{Name: "a", Run: run}}, "no parameter schema"},
		{"tuple items", []Tool{{Name: "a", Run: run, Parameters: map[string]any{"type": "array", "items": []any{map[string]any{"type": "string"}}}}}, "every call would be denied"},
		{"boolean property schema", []Tool{{Name: "a", Run: run, Parameters: map[string]any{"type": "object", "properties": map[string]any{"x": true}}}}, "every call would be denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewRegistry(tt.tools...); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// The blog tools use only what the workflow checks; a tool whose schema
// has an "enum" or a "minimum" gets a warning naming them.
func TestRegistrySchemaWarnings(t *testing.T) {
	blog, err := NewBlog(BlogConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	run := func(context.Context, ToolCall) (string, error) { return "", nil }
	invoice := Tool{Name: "send_invoice", Run: run, Parameters: map[string]any{
		"type": "object",
		"properties": map[string]any{
			"amount":  map[string]any{"type": "integer", "minimum": 1},
			"country": map[string]any{"type": "string", "enum": []string{"DE", "FR"}},
		},
	}}
	r, err := NewRegistry(append(blog.Tools(), invoice)...)
	if err != nil {
		t.Fatal(err)
	}
	got := r.SchemaWarnings()
	if len(got) != 1 || !strings.Contains(got[0], `tool "send_invoice": its schema's properties."amount".minimum, properties."country".enum are not checked`) {
		t.Fatalf("SchemaWarnings() = %q", got)
	}
}

func TestBlogConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  BlogConfig
		want string
	}{
		{BlogConfig{}, "BLOG_DIR is required"},
		{BlogConfig{Dir: "x", WebhookURL: "cms.local/hook"}, "BLOG_WEBHOOK_URL"},
		{BlogConfig{Dir: "x", WebhookURL: "https://cms.example.com/hook"}, ""},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func TestSlugify(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Introducing our new API", "introducing-our-new-api"},
		{"  Hello,  World!  ", "hello-world"},
		{"../../etc/passwd", "etc-passwd"},
		{"Crème brûlée", "cr-me-br-l-e"},
		{"日本語", "post"},
		{"", "post"},
		{strings.Repeat("ab ", 100), strings.TrimRight(strings.Repeat("ab-", 27), "-")},
		// 79 letters, a dash and a letter would be 81 bytes: cut at 80 and
		// the dash left at the end trimmed.
		{strings.Repeat("a", 79) + " b", strings.Repeat("a", 79)},
		{strings.Repeat("a", 78) + " bc", strings.Repeat("a", 78) + "-b"},
	}
	for _, tt := range tests {
		if got := Slugify(tt.in); got != tt.want {
			t.Errorf("Slugify(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzSlugify(f *testing.F) {
	for _, s := range []string{"Introducing our new API", "../x", "日本語", "a--b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, title string) {
		s := Slugify(title)
		if !slugRE.MatchString(s) || len(s) > maxSlugLen {
			t.Fatalf("Slugify(%q) = %q: not a valid slug", title, s)
		}
	})
}

// FuzzDecodeArgs: the model's arguments either decode, being one valid JSON
// text, or fail with a ToolInputError the model is told about.
func FuzzDecodeArgs(f *testing.F) {
	for _, s := range []string{`{"title":"x"}`, `{"title":1}`, `null`, `[]`, `{"title":"x"} x`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, args string) {
		var p publishArgs
		err := DecodeArgs(ToolCall{Name: ToolPublishBlogPost, Arguments: args}, &p)
		if err != nil && (!isNonRetryable(err) || errType(err) != workflows.ErrTypeToolInput) {
			t.Fatalf("DecodeArgs(%q) = %v, want a ToolInputError", args, err)
		}
		// What a tool runs with is one JSON text, as encoding/json sees it.
		if err == nil && !json.Valid([]byte(args)) {
			t.Fatalf("DecodeArgs accepted %q, which is not JSON", args)
		}
	})
}

// A retry after a 2xx whose activity never completed (worker crash,
// timeout) must not POST again: the ledger answers for the CMS.
func TestPublishWebhookRecordsInLedger(t *testing.T) {
	cms := &fakeCMS{}
	srv := httptest.NewServer(cms)
	t.Cleanup(srv.Close)
	a, dir := newBlogActivities(t, BlogConfig{WebhookURL: srv.URL})
	req := workflows.ToolRequest{WorkflowID: "wf-7", CallID: "call_7", Name: ToolPublishBlogPost, Arguments: `{"title":"Once only"}`, ApprovedBy: "bob"}
	out1, err := execTool(t, a, req)
	if err != nil {
		t.Fatal(err)
	}
	out2, err := execTool(t, a, req)
	if err != nil {
		t.Fatal(err)
	}
	if out1 != out2 || !strings.Contains(out1, `"location":"https://blog.example.com/once-only"`) {
		t.Errorf("outputs %s and %s, want the same CMS result twice", out1, out2)
	}
	requests := func() int {
		cms.mu.Lock()
		defer cms.mu.Unlock()
		return len(cms.keys)
	}
	if n := requests(); n != 1 {
		t.Fatalf("webhook requests after two runs of one call = %d, want 1", n)
	}
	if m, err := filepath.Glob(filepath.Join(dir, ledgerDirName, "*.json")); err != nil || len(m) != 1 {
		t.Errorf("ledger entries = %v, %v; want one", m, err)
	}

	// Another call of the same workflow is another publish.
	req.CallID = "call_8"
	if _, err := execTool(t, a, req); err != nil {
		t.Fatal(err)
	}
	if n := requests(); n != 2 {
		t.Errorf("webhook requests after a second call = %d, want 2", n)
	}
	cms.mu.Lock()
	defer cms.mu.Unlock()
	if want := []string{"wf-7:call_7", "wf-7:call_8"}; strings.Join(cms.keys, ",") != strings.Join(want, ",") {
		t.Errorf("Idempotency-Keys = %v, want %v", cms.keys, want)
	}

	// A worker on the same BLOG_DIR that writes post files instead (the
	// webhook unset since) answers the call with the CMS's result as
	// recorded: its location is no post file to look for.
	files, _ := newBlogActivities(t, BlogConfig{Dir: dir})
	req.CallID = "call_7"
	if out, err := execTool(t, files, req); err != nil || out != out1 {
		t.Errorf("the call again, posts now in files = %s, %v; want the recorded %s", out, err, out1)
	}
}

// Concurrent runs of one call (a retry racing an attempt the server gave
// up on) POST once and agree on the result.
func TestPublishWebhookConcurrentRunsPostOnce(t *testing.T) {
	cms := &fakeCMS{}
	srv := httptest.NewServer(cms)
	t.Cleanup(srv.Close)
	blog, err := NewBlog(BlogConfig{Dir: t.TempDir(), WebhookURL: srv.URL, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	tool := blog.Tools()[0]
	call := ToolCall{WorkflowID: "wf", CallID: "c", Name: tool.Name, Arguments: `{"title":"Race"}`}
	const runs = 8
	outs := make([]string, runs)
	errs := make([]error, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() { outs[i], errs[i] = tool.Run(t.Context(), call) })
	}
	wg.Wait()
	for i := range runs {
		if errs[i] != nil || outs[i] != outs[0] {
			t.Errorf("run %d: %s, %v; want %s", i, outs[i], errs[i], outs[0])
		}
	}
	cms.mu.Lock()
	defer cms.mu.Unlock()
	if len(cms.keys) != 1 {
		t.Errorf("webhook requests = %d, want 1", len(cms.keys))
	}
}

// TestFileToolsRefuseAtWebhook: with posts going to a CMS webhook there are
// no post files, so search_posts and delete_post fail for good with an
// error that says so, rather than report no match or a post already
// absent; a post file in BLOG_DIR is left alone.
func TestFileToolsRefuseAtWebhook(t *testing.T) {
	a, dir := newBlogActivities(t, BlogConfig{WebhookURL: "http://127.0.0.1:9/hooks/publish"})
	if err := os.WriteFile(filepath.Join(dir, "old-news.md"), []byte("---\ntitle: Old news\n---\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, req := range []workflows.ToolRequest{
		{WorkflowID: "wf", CallID: "call_s", Name: ToolSearchPosts, Arguments: `{"query":"old"}`},
		{WorkflowID: "wf", CallID: "call_d", Name: ToolDeletePost, Arguments: `{"slug":"old-news"}`, ApprovedBy: "root"},
	} {
		t.Run(req.Name, func(t *testing.T) {
			out, err := execTool(t, a, req)
			if got := errType(err); got != workflows.ErrTypeWebhook || !strings.Contains(err.Error(), "BLOG_WEBHOOK_URL") {
				t.Fatalf("= %q, %v (type %q); want a %s error naming BLOG_WEBHOOK_URL", out, err, got, workflows.ErrTypeWebhook)
			}
			var appErr *temporal.ApplicationError
			if !errors.As(err, &appErr) || !appErr.NonRetryable() {
				t.Errorf("error %v is retryable", err)
			}
			if got := posts(t, dir); len(got) != 1 {
				t.Errorf("posts = %v, want old-news.md left alone", got)
			}
		})
	}
}

func TestShownURL(t *testing.T) {
	for in, want := range map[string]string{
		"":                                   "",
		"https://cms.example.com":            "https://cms.example.com",
		"https://cms.example.com/":           "https://cms.example.com",
		"https://cms.example.com/hooks/T0/s": "https://cms.example.com/…",
		"https://u:p@cms.example.com":        "https://cms.example.com/…",
		"https://cms.example.com?key=s":      "https://cms.example.com/…",
		"/login?token=s":                     "(a path on the same host)",
		"http://[::1":                        "(not shown)",
	} {
		if got := shownURL(in); got != want {
			t.Errorf("shownURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// A webhook attempt whose outcome is unknown (a timeout, a 409 for the
// key still in progress) says the post may still appear: after the last
// attempt that text is what the model is told.
func TestPublishWebhookUnknownOutcome(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) }) // runs first: the handler returns
	a, _ := newBlogActivities(t, BlogConfig{WebhookURL: slow.URL + "/hook", HTTPClient: &http.Client{Timeout: 200 * time.Millisecond}})
	req := workflows.ToolRequest{WorkflowID: "wf-u", CallID: "call_u", Name: ToolPublishBlogPost, Arguments: `{"title":"Maybe"}`, ApprovedBy: "pat"}
	if _, err := execTool(t, a, req); err == nil || isNonRetryable(err) || !strings.Contains(err.Error(), "the CMS may still publish the post") {
		t.Errorf("timeout: err = %v, want a retryable error saying the post may still appear", err)
	}

	cms := &fakeCMS{statuses: []int{http.StatusConflict}}
	srv := httptest.NewServer(cms)
	t.Cleanup(srv.Close)
	a, _ = newBlogActivities(t, BlogConfig{WebhookURL: srv.URL + "/hook"})
	if _, err := execTool(t, a, req); err == nil || isNonRetryable(err) || !strings.Contains(err.Error(), "the post may still be published") {
		t.Errorf("409: err = %v, want a retryable error saying the post may still appear", err)
	}
}

// A call asked again after its post was deleted (a reset of its run) gets
// its first result from the ledger, saying the post is gone, not that it
// is published.
func TestPublishAgainAfterDelete(t *testing.T) {
	a, dir := newBlogActivities(t, BlogConfig{})
	pub := workflows.ToolRequest{WorkflowID: "wf-p", CallID: "call_1", Name: ToolPublishBlogPost, Arguments: `{"title":"Stale Post"}`, ApprovedBy: "pat"}
	out, err := execTool(t, a, pub)
	if err != nil || strings.Contains(out, "removed") {
		t.Fatalf("first publish: %s, %v", out, err)
	}
	if again, err := execTool(t, a, pub); err != nil || again != out {
		t.Fatalf("asked again with the post there: %s, %v; want the first result %s", again, err, out)
	}
	del := workflows.ToolRequest{WorkflowID: "wf-d", CallID: "call_1", Name: ToolDeletePost, Arguments: `{"slug":"stale-post"}`, ApprovedBy: "ada"}
	if _, err := execTool(t, a, del); err != nil {
		t.Fatal(err)
	}
	again, err := execTool(t, a, pub)
	var res PublishResult
	if err != nil || json.Unmarshal([]byte(again), &res) != nil || res.Slug != "stale-post" || !strings.Contains(res.Removed, "removed since") || res.Published {
		t.Fatalf("asked again after the delete: %s, %v; want the first result saying the post was removed, not published", again, err)
	}
	if got := posts(t, dir); len(got) != 0 {
		t.Errorf("posts %v, want none (not published again)", got)
	}
	// Another call publishes a post under the same name: the first call's
	// post is still not there.
	other := pub
	other.CallID = "call_2"
	if _, err := execTool(t, a, other); err != nil {
		t.Fatal(err)
	}
	again, err = execTool(t, a, pub)
	res = PublishResult{}
	if err != nil || json.Unmarshal([]byte(again), &res) != nil || res.Location != "stale-post.md" || !strings.Contains(res.Removed, "removed since") || res.Published {
		t.Fatalf("asked again with another call's post at its name: %s, %v; want the first result saying the post was removed", again, err)
	}
}
