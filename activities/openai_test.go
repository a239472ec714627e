package activities

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/hitl/durable-approvals/workflows"
)

// Real Responses API bodies, in the shape api.openai.com returns them.
const functionCallResponse = `{
  "id": "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
  "object": "response",
  "created_at": 1741476542,
  "status": "completed",
  "error": null,
  "incomplete_details": null,
  "instructions": null,
  "max_output_tokens": null,
  "model": "gpt-4o-2024-08-06",
  "output": [
    {
      "type": "function_call",
      "id": "fc_67ca09c6bedc8190a7abfec07b1a1332",
      "call_id": "call_unLAR8MvFNptuiZK6K6HCy5k",
      "name": "publish_blog_post",
      "arguments": "{\"title\":\"Introducing our new API\"}",
      "status": "completed"
    }
  ],
  "parallel_tool_calls": true,
  "previous_response_id": null,
  "reasoning": {"effort": null, "summary": null},
  "store": false,
  "temperature": 1.0,
  "text": {"format": {"type": "text"}},
  "tool_choice": "auto",
  "tools": [],
  "top_p": 1.0,
  "truncation": "disabled",
  "usage": {"input_tokens": 291, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 23, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 314},
  "user": null,
  "metadata": {}
}`

const messageResponse = `{
  "id": "resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41",
  "object": "response",
  "created_at": 1741476777,
  "status": "completed",
  "error": null,
  "incomplete_details": null,
  "instructions": null,
  "max_output_tokens": null,
  "model": "gpt-4o-2024-08-06",
  "output": [
    {
      "type": "message",
      "id": "msg_67ccd3acc8d48190a77525dc6de64b4104becb25c45c1d41",
      "status": "completed",
      "role": "assistant",
      "content": [
        {"type": "output_text", "text": "The post \"Introducing our new API\" is published.", "annotations": []}
      ]
    }
  ],
  "parallel_tool_calls": true,
  "previous_response_id": null,
  "reasoning": {"effort": null, "summary": null},
  "store": false,
  "temperature": 1.0,
  "text": {"format": {"type": "text"}},
  "tool_choice": "auto",
  "tools": [],
  "top_p": 1.0,
  "truncation": "disabled",
  "usage": {"input_tokens": 328, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 52, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 380},
  "user": null,
  "metadata": {}
}`

// fakeOpenAI is an httptest server that records requests and answers each
// with the next scripted reply.
type fakeOpenAI struct {
	srv *httptest.Server

	// header is set on every reply.
	header http.Header

	mu      sync.Mutex
	bodies  []map[string]any
	headers []http.Header
	paths   []string
	replies []fakeReply
}

type fakeReply struct {
	status int
	body   string
}

func newFakeOpenAI(t *testing.T, replies ...fakeReply) *fakeOpenAI {
	t.Helper()
	f := &fakeOpenAI{replies: replies}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Errorf("request body is not JSON: %v: %s", err, raw)
		}
		f.mu.Lock()
		f.bodies = append(f.bodies, body)
		f.headers = append(f.headers, r.Header.Clone())
		f.paths = append(f.paths, r.Method+" "+r.URL.Path)
		var rep fakeReply
		if len(f.replies) > 0 {
			rep, f.replies = f.replies[0], f.replies[1:]
		} else {
			rep = fakeReply{status: 500, body: `{"error":{"message":"no more scripted replies","type":"server_error","param":null,"code":null}}`}
		}
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		for k, v := range f.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rep.status)
		_, _ = io.WriteString(w, rep.body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOpenAI) baseURL() string { return f.srv.URL + "/v1/" }

func (f *fakeOpenAI) requests() ([]map[string]any, []http.Header, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bodies, f.headers, f.paths
}

func testRegistry(t *testing.T) (*Registry, *Blog) {
	t.Helper()
	blog, err := NewBlog(BlogConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := NewRegistry(blog.Tools()...)
	if err != nil {
		t.Fatal(err)
	}
	return reg, blog
}

// nopPublisher fails the test if anything is published.
type nopPublisher struct{ t *testing.T }

func (p nopPublisher) Publish(context.Context, string, *ably.Message) error {
	p.t.Error("unexpected publish")
	return nil
}

func newTestActivities(t *testing.T, model Model, pub Publisher) *Activities {
	t.Helper()
	reg, _ := testRegistry(t)
	if pub == nil {
		pub = nopPublisher{t}
	}
	d, _ := withTrust(t, Deps{Model: model, Tools: reg, Publisher: pub})
	a, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func newTestModel(t *testing.T, baseURL, key string) *OpenAIModel {
	t.Helper()
	m, err := NewOpenAIModel(OpenAIConfig{APIKey: key, BaseURL: baseURL})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func callModel(t *testing.T, a *Activities, req workflows.ModelRequest) (workflows.ModelResponse, error) {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	v, err := env.ExecuteActivity(workflows.ActivityCallModel, req)
	if err != nil {
		return workflows.ModelResponse{}, err
	}
	var res workflows.ModelResponse
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	return res, nil
}

func TestCallModelConversation(t *testing.T) {
	f := newFakeOpenAI(t, fakeReply{200, functionCallResponse}, fakeReply{200, messageResponse})
	a := newTestActivities(t, newTestModel(t, f.baseURL(), "sk-test"), nil)
	tools := []string{ToolPublishBlogPost, ToolSearchPosts}

	conv := []workflows.ConversationItem{{Type: workflows.ItemMessage, Role: "user", Text: "Publish the blog post called 'Introducing our new API'"}}
	res, err := callModel(t, a, workflows.ModelRequest{WorkflowID: "wf-1", Turn: 1, Input: conv, Tools: tools})
	if err != nil {
		t.Fatalf("turn 1: %v", err)
	}
	wantCall := workflows.ToolCall{CallID: "call_unLAR8MvFNptuiZK6K6HCy5k", Name: ToolPublishBlogPost, Arguments: `{"title":"Introducing our new API"}`}
	if len(res.ToolCalls) != 1 || res.ToolCalls[0] != wantCall {
		t.Fatalf("tool calls = %+v, want [%+v]", res.ToolCalls, wantCall)
	}
	if got, want := res.ResponseID, "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b"; got != want {
		t.Errorf("response id = %q, want %q", got, want)
	}
	if len(res.Output) != 1 || res.Output[0].Type != workflows.ItemFunctionCall || res.Output[0].CallID != wantCall.CallID {
		t.Fatalf("output = %+v", res.Output)
	}

	conv = append(conv, res.Output...)
	conv = append(conv, workflows.ConversationItem{Type: workflows.ItemFunctionCallOutput, CallID: wantCall.CallID, Output: `{"published":true}`})
	res, err = callModel(t, a, workflows.ModelRequest{WorkflowID: "wf-1", Turn: 2, Input: conv, Tools: tools})
	if err != nil {
		t.Fatalf("turn 2: %v", err)
	}
	if got, want := res.Text, `The post "Introducing our new API" is published.`; got != want {
		t.Errorf("text = %q, want %q", got, want)
	}
	if len(res.ToolCalls) != 0 {
		t.Errorf("tool calls = %+v, want none", res.ToolCalls)
	}
	if len(res.Output) != 1 || res.Output[0].Role != "assistant" || res.Output[0].Text != res.Text {
		t.Errorf("output = %+v", res.Output)
	}

	bodies, headers, paths := f.requests()
	if len(bodies) != 2 {
		t.Fatalf("requests = %d, want 2", len(bodies))
	}
	for i, p := range paths {
		if p != "POST /v1/responses" {
			t.Errorf("request %d: %s, want POST /v1/responses", i, p)
		}
		if got := headers[i].Get("Authorization"); got != "Bearer sk-test" {
			t.Errorf("request %d: Authorization = %q", i, got)
		}
	}
	first := bodies[0]
	if md, _ := first["metadata"].(map[string]any); md[MetadataWorkflowID] != "wf-1" {
		t.Errorf("metadata = %v, want workflow_id wf-1", first["metadata"])
	}
	if first["store"] != false {
		t.Errorf("store = %v, want false", first["store"])
	}
	if got := first["model"]; got != DefaultOpenAIModel {
		t.Errorf("model = %v, want %s", got, DefaultOpenAIModel)
	}
	var toolNames []string
	for _, raw := range first["tools"].([]any) {
		tool := raw.(map[string]any)
		if tool["type"] != "function" {
			t.Errorf("tool type = %v", tool["type"])
		}
		params, _ := tool["parameters"].(map[string]any)
		if params["type"] != "object" || params["properties"] == nil {
			t.Errorf("tool %v: parameters = %v", tool["name"], params)
		}
		if d, _ := tool["description"].(string); d == "" {
			t.Errorf("tool %v: no description", tool["name"])
		}
		toolNames = append(toolNames, tool["name"].(string))
	}
	if got, want := strings.Join(toolNames, ","), strings.Join(tools, ","); got != want {
		t.Errorf("tools = %s, want %s", got, want)
	}

	input := bodies[1]["input"].([]any)
	if len(input) != 3 {
		t.Fatalf("turn 2 input has %d items, want 3: %v", len(input), input)
	}
	msg := input[0].(map[string]any)
	if msg["role"] != "user" || !strings.Contains(msg["content"].(string), "Introducing") {
		t.Errorf("input[0] = %v", msg)
	}
	fc := input[1].(map[string]any)
	if fc["type"] != "function_call" || fc["call_id"] != wantCall.CallID || fc["name"] != wantCall.Name || fc["arguments"] != wantCall.Arguments {
		t.Errorf("input[1] = %v", fc)
	}
	out := input[2].(map[string]any)
	if out["type"] != "function_call_output" || out["call_id"] != wantCall.CallID || out["output"] != `{"published":true}` {
		t.Errorf("input[2] = %v", out)
	}
}

func TestCallModelErrors(t *testing.T) {
	errBody := func(msg, typ, code string) string {
		c := "null"
		if code != "" {
			c = `"` + code + `"`
		}
		return `{"error":{"message":"` + msg + `","type":"` + typ + `","param":null,"code":` + c + `}}`
	}
	const tooLarge = "Request too large for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000, Requested 30601. The input or output tokens must be reduced in order to run successfully."
	const rateLimited = "Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000, Used 28554, Requested 3082. Please try again in 9.8s."
	tests := []struct {
		status       int
		code         string // the error's code
		message      string // the error's message; "" for one that quotes a key
		nonRetryable bool
		wantMsg      string
	}{
		{408, "", "", false, "408"},
		{409, "", "", false, "409"},
		{429, "", "", false, "429"},
		{429, "rate_limit_exceeded", rateLimited, false, "openai: 429 Too Many Requests (retryable): Rate limit reached"},
		// OpenAI answers a used-up quota, and a request larger than the
		// project's tokens-per-minute limit, with a 429 too: the run would
		// send the same conversation again, so no retry mends either.
		{429, "insufficient_quota", "", true, "openai: 429 Too Many Requests: the account's quota is used up: check the plan and billing"},
		{429, "rate_limit_exceeded", tooLarge, true, "openai: 429 Too Many Requests: the request is larger than the project's tokens-per-minute limit"},
		{500, "", "", false, "500"},
		{503, "", "", false, "503"},
		{400, "", "", true, "openai: 400 Bad Request: Invalid input"},
		{401, "", "", true, "openai: 401 Unauthorized: check OPENAI_API_KEY"},
		{403, "", "", true, "openai: 403 Forbidden"},
		{404, "", "", true, "check OPENAI_MODEL"},
		{422, "", "", true, "openai: 422 Unprocessable Entity"},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status)+" "+tt.code+" "+strings.SplitN(tt.message, " ", 2)[0], func(t *testing.T) {
			msg := tt.message
			if msg == "" {
				msg = "Invalid input sk-proj-abc***xyz"
			}
			f := newFakeOpenAI(t, fakeReply{tt.status, errBody(msg, "invalid_request_error", tt.code)})
			a := newTestActivities(t, newTestModel(t, f.baseURL(), "sk-test"), nil)
			_, err := callModel(t, a, workflows.ModelRequest{WorkflowID: "wf", Input: []workflows.ConversationItem{{Type: "message", Role: "user", Text: "hi"}}})
			if err == nil {
				t.Fatal("no error")
			}
			if got := isNonRetryable(err); got != tt.nonRetryable {
				t.Errorf("non-retryable = %v, want %v (%v)", got, tt.nonRetryable, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
			if tt.status == 401 && strings.Contains(err.Error(), "sk-proj") {
				t.Errorf("401 error leaks the key hint: %v", err)
			}
			if bodies, _, _ := f.requests(); len(bodies) != 1 {
				t.Errorf("requests = %d, want 1 (SDK retries must be off)", len(bodies))
			}
		})
	}
}

// A 429's or 503's wait, as OpenAI's headers ask for it, is the least wait
// before the model call's next attempt: retry-after-ms first, then
// Retry-After, at most workflows.MaxModelRetryAfter. The call runs as a run
// runs it (timedModel). (A wait shorter than the retry's own keeps the
// retry's, retryableAfter's rule; the test environment does not give an
// activity of its own its retry policy, so that rule is checked on a local
// tool: TestPublishWebhookRetryAfterWaits.)
func TestCallModelRetryAfter(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		header   map[string]string
		min, max time.Duration // the call's time on the workflow's clock
	}{
		{"none", 429, nil, time.Second, 2 * time.Second},
		{"retry-after-ms", 429, map[string]string{"Retry-After-Ms": "4500"}, 4500 * time.Millisecond, 5500 * time.Millisecond},
		{"retry-after", 429, map[string]string{"Retry-After": "7"}, 7 * time.Second, 8 * time.Second},
		{"retry-after-ms wins", 429, map[string]string{"Retry-After-Ms": "3000", "Retry-After": "20"}, 3 * time.Second, 4 * time.Second},
		{"retry-after-ms unreadable", 429, map[string]string{"Retry-After-Ms": "soon", "Retry-After": "5"}, 5 * time.Second, 6 * time.Second},
		{"retry-after-ms negative", 429, map[string]string{"Retry-After-Ms": "-5000"}, time.Second, 2 * time.Second},
		{"capped", 503, map[string]string{"Retry-After-Ms": "600000"}, workflows.MaxModelRetryAfter, workflows.MaxModelRetryAfter + time.Second},
		{"retry-after capped", 503, map[string]string{"Retry-After": "3600"}, workflows.MaxModelRetryAfter, workflows.MaxModelRetryAfter + time.Second},
		{"500 with it: not a wait it asks for", 500, map[string]string{"Retry-After": "20"}, time.Second, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeOpenAI(t,
				fakeReply{tt.status, `{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}`},
				fakeReply{200, messageResponse})
			f.header = http.Header{}
			for k, v := range tt.header {
				f.header.Set(k, v)
			}
			a := newTestActivities(t, newTestModel(t, f.baseURL(), "sk-test"), nil)
			var ts testsuite.WorkflowTestSuite
			env := ts.NewTestWorkflowEnvironment()
			env.RegisterActivity(a)
			env.RegisterWorkflowWithOptions(timedModel, workflow.RegisterOptions{Name: "timedModel"})
			env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "wf"})
			env.ExecuteWorkflow("timedModel", workflows.ModelRequest{WorkflowID: "wf", Turn: 1, Input: []workflows.ConversationItem{{Type: "message", Role: "user", Text: "hi"}}})
			var took time.Duration
			if err := env.GetWorkflowResult(&took); err != nil {
				t.Fatalf("the model call failed: %v", err)
			}
			if took < tt.min || took > tt.max {
				t.Errorf("answered after %s on the workflow's clock, want %s to %s", took, tt.min, tt.max)
			}
			if bodies, _, _ := f.requests(); len(bodies) != 2 {
				t.Errorf("%d requests, want 2", len(bodies))
			}
		})
	}
}

// timedModel is a workflow that calls CallModel as a run does under
// workflows.DefaultModelRetry (65 attempts, waits of 1 s doubling to a
// minute, no ScheduleToClose) and returns how long the call took on the
// workflow's clock.
func timedModel(ctx workflow.Context, req workflows.ModelRequest) (time.Duration, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 65},
	})
	start := workflow.Now(ctx)
	err := workflow.ExecuteActivity(ctx, workflows.ActivityCallModel, req).Get(ctx, nil)
	return workflow.Now(ctx).Sub(start), err
}

// A response the model did not finish is no answer: a failed one is tried
// again when its error may pass, an incomplete one (its text or a call's
// arguments cut short) is refused for good, as is one still in progress.
func TestCallModelUnfinishedResponse(t *testing.T) {
	withStatus := func(status, extra string) string {
		return strings.Replace(messageResponse, `"status": "completed",
  "error": null,
  "incomplete_details": null,`, `"status": "`+status+`",`+extra, 1)
	}
	tests := []struct {
		name         string
		body         string
		nonRetryable bool
		wantMsg      string
	}{
		{"failed, server error", withStatus("failed", `"error": {"code": "server_error", "message": "The server had an error"}, "incomplete_details": null,`), false, "failed (server_error): The server had an error (retryable)"},
		{"failed, rate limit", withStatus("failed", `"error": {"code": "rate_limit_exceeded", "message": "Rate limit reached"}, "incomplete_details": null,`), false, "(rate_limit_exceeded)"},
		{"failed, bad prompt", withStatus("failed", `"error": {"code": "invalid_prompt", "message": "Invalid prompt"}, "incomplete_details": null,`), true, "failed (invalid_prompt): Invalid prompt"},
		{"failed, no error given", withStatus("failed", `"error": null, "incomplete_details": null,`), true, "failed (no code given)"},
		{"incomplete, output limit", withStatus("incomplete", `"error": null, "incomplete_details": {"reason": "max_output_tokens"},`), true, "is incomplete (max_output_tokens)"},
		{"incomplete, content filter", withStatus("incomplete", `"error": null, "incomplete_details": {"reason": "content_filter"},`), true, "is incomplete (content_filter)"},
		{"incomplete, no reason", withStatus("incomplete", `"error": null, "incomplete_details": null,`), true, "is incomplete (no reason given)"},
		{"in progress", withStatus("in_progress", `"error": null, "incomplete_details": null,`), true, `has status "in_progress", not an answer`},
		// An OpenAI-compatible gateway may answer 200 with an error object
		// and nothing else: no answer, not an empty one.
		{"no status, a gateway's server error", `{"error": {"message": "upstream: model overloaded", "type": "server_error", "code": "server_error"}}`, false, "answered 200 with an error, not a response (server_error): upstream: model overloaded (retryable)"},
		{"no status, a gateway's other error", `{"error": {"message": "no such deployment", "code": "DeploymentNotFound"}}`, true, "answered 200 with an error, not a response (DeploymentNotFound): no such deployment"},
		// OPENAI_BASE_URL at another JSON API.
		{"no status, no output", `{}`, true, "not a Responses API response (check OPENAI_BASE_URL)"},
		{"another API's list", `{"object": "list", "data": []}`, true, "not a Responses API response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.body == messageResponse {
				t.Fatal("the test's body is the completed response")
			}
			f := newFakeOpenAI(t, fakeReply{200, tt.body})
			a := newTestActivities(t, newTestModel(t, f.baseURL(), "sk-test"), nil)
			res, err := callModel(t, a, workflows.ModelRequest{WorkflowID: "wf", Input: []workflows.ConversationItem{{Type: "message", Role: "user", Text: "hi"}}})
			if err == nil {
				t.Fatalf("no error; the run would take %q as the model's answer", res.Text)
			}
			if got := isNonRetryable(err); got != tt.nonRetryable {
				t.Errorf("non-retryable = %v, want %v (%v)", got, tt.nonRetryable, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
		})
	}
}

// What a model server says of a response it did not finish (its id, an
// error's code, why it is incomplete, its status) reaches the run's
// failure cut short, as its error's message is: a model server gone wrong
// may send a megabyte of it.
func TestCallModelUnfinishedResponseCutsItsText(t *testing.T) {
	long := strings.Repeat("x", 100_000)
	unfinished := func(status, extra string) string {
		body := strings.Replace(messageResponse, `"status": "completed",
  "error": null,
  "incomplete_details": null,`, `"status": "`+status+`",`+extra, 1)
		return strings.Replace(body, `"id": "resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41"`, `"id": "resp_`+long+`"`, 1)
	}
	tests := []struct{ name, body string }{
		{"failed", unfinished("failed", `"error": {"code": "`+long+`", "message": "`+long+`"}, "incomplete_details": null,`)},
		{"incomplete", unfinished("incomplete", `"error": null, "incomplete_details": {"reason": "`+long+`"},`)},
		{"another status", unfinished(long, `"error": null, "incomplete_details": null,`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeOpenAI(t, fakeReply{200, tt.body})
			a := newTestActivities(t, newTestModel(t, f.baseURL(), "sk-test"), nil)
			_, err := callModel(t, a, workflows.ModelRequest{WorkflowID: "wf", Input: []workflows.ConversationItem{{Type: "message", Role: "user", Text: "hi"}}})
			if err == nil {
				t.Fatal("no error: the response was taken as the model's answer")
			}
			if n := len(err.Error()); n > 1024 {
				t.Errorf("the error takes %d bytes, want at most 1 KiB: %.200s…", n, err)
			}
		})
	}
}

// TestCallModelWithoutStatus: a minimal model server that sends output
// but no status is answered by its output.
func TestCallModelWithoutStatus(t *testing.T) {
	body := strings.Replace(messageResponse, `"status": "completed",`, ``, 1)
	if body == messageResponse {
		t.Fatal("the test's body has a status")
	}
	f := newFakeOpenAI(t, fakeReply{200, body})
	a := newTestActivities(t, newTestModel(t, f.baseURL(), "sk-test"), nil)
	res, err := callModel(t, a, workflows.ModelRequest{WorkflowID: "wf", Input: []workflows.ConversationItem{{Type: "message", Role: "user", Text: "hi"}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "The post \"Introducing our new API\" is published."; res.Text != want {
		t.Errorf("text = %q, want %q", res.Text, want)
	}
}

// TestCallModelRefusal: a refusal is the model's answer too: its text
// reaches the run (and the user) like any other.
func TestCallModelRefusal(t *testing.T) {
	const refusal = "I can't help with publishing that."
	reply := strings.Replace(messageResponse, `{"type": "output_text", "text": "The post \"Introducing our new API\" is published.", "annotations": []}`,
		`{"type": "refusal", "refusal": "`+refusal+`"}`, 1)
	if reply == messageResponse {
		t.Fatal("the test's reply was not rewritten")
	}
	f := newFakeOpenAI(t, fakeReply{200, reply})
	a := newTestActivities(t, newTestModel(t, f.baseURL(), "sk-test"), nil)
	res, err := callModel(t, a, workflows.ModelRequest{WorkflowID: "wf", Input: []workflows.ConversationItem{{Type: "message", Role: "user", Text: "hi"}}})
	if err != nil || res.Text != refusal || len(res.Output) != 1 || res.Output[0].Text != refusal {
		t.Fatalf("CallModel = %+v, %v; want the refusal as the answer", res, err)
	}
}

// TestCallModelMessageWithoutRole: a message item without a role is the
// assistant's: the conversation's next turn sends it back, and a message
// without a role would be refused then.
func TestCallModelMessageWithoutRole(t *testing.T) {
	reply := strings.Replace(messageResponse, `"role": "assistant",`, "", 1)
	if reply == messageResponse {
		t.Fatal("the test's reply was not rewritten")
	}
	f := newFakeOpenAI(t, fakeReply{200, reply})
	a := newTestActivities(t, newTestModel(t, f.baseURL(), "sk-test"), nil)
	res, err := callModel(t, a, workflows.ModelRequest{WorkflowID: "wf", Input: []workflows.ConversationItem{{Type: "message", Role: "user", Text: "hi"}}})
	if err != nil || len(res.Output) != 1 || res.Output[0].Role != "assistant" {
		t.Fatalf("CallModel = %+v, %v; want the message as the assistant's", res, err)
	}
}

// TestCallModelLongWorkflowID: OpenAI takes metadata values of at most 512
// characters; a longer workflow id (Temporal allows 1,000 bytes) is sent
// cut, rather than have every model call of the run refused.
func TestCallModelLongWorkflowID(t *testing.T) {
	f := newFakeOpenAI(t, fakeReply{200, messageResponse})
	a := newTestActivities(t, newTestModel(t, f.baseURL(), "sk-test"), nil)
	id := strings.Repeat("w", 600)
	if _, err := callModel(t, a, workflows.ModelRequest{WorkflowID: id, Input: []workflows.ConversationItem{{Type: "message", Role: "user", Text: "hi"}}}); err != nil {
		t.Fatal(err)
	}
	bodies, _, _ := f.requests()
	if len(bodies) != 1 {
		t.Fatalf("requests = %d, want 1", len(bodies))
	}
	if md, _ := bodies[0]["metadata"].(map[string]any); md[MetadataWorkflowID] != id[:512] {
		t.Errorf("metadata = %v, want workflow_id cut to 512 bytes", bodies[0]["metadata"])
	}
}

// A model server that answers more than MaxModelResponseLen (a self-hosted
// model gone wrong, a hostile OPENAI_BASE_URL) fails the call for good,
// saying so, instead of producing a result over Temporal's payload limit.
func TestCallModelResponseTooLarge(t *testing.T) {
	const text = `"text": "The post \"Introducing our new API\" is published."`
	tests := []struct {
		name    string
		char    string // the message text is made of
		size    int    // of the message text
		wantErr string
	}{
		{"under the bound", "a", MaxModelResponseLen - 4096, ""},
		{"over the bound", "a", MaxModelResponseLen + 1, "larger than 1048576 bytes"},
		// "<" takes six bytes as JSON: the body is far under its bound,
		// the activity's result (the text twice) over Temporal's limit.
		{"a result over the payload limit", "<", 200 << 10, "bytes as the activity's result, more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := strings.Replace(messageResponse, text, `"text": "`+strings.Repeat(tt.char, tt.size)+`"`, 1)
			if body == messageResponse {
				t.Fatal("the response's text was not replaced")
			}
			f := newFakeOpenAI(t, fakeReply{200, body})
			a := newTestActivities(t, newTestModel(t, f.baseURL(), "sk-test"), nil)
			res, err := callModel(t, a, workflows.ModelRequest{WorkflowID: "wf", Input: []workflows.ConversationItem{{Type: "message", Role: "user", Text: "hi"}}})
			switch {
			case tt.wantErr != "" && (err == nil || !isNonRetryable(err) || errType(err) != workflows.ErrTypeModel || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("err = %v, want a non-retryable ModelError saying %q", err, tt.wantErr)
			case tt.wantErr == "" && (err != nil || len(res.Text) != tt.size):
				t.Fatalf("err = %v, text of %d bytes, want %d", err, len(res.Text), tt.size)
			}
		})
	}
}

// A 200 that does not say it is JSON (OPENAI_BASE_URL pointing at a web
// page, a proxy's login page), which openai-go refuses, fails the call for
// good, saying so, rather than be tried again for the whole retry window;
// JSON under another name still answers.
func TestCallModelNotJSON(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		wantErr                 string
	}{
		{"a web page", "text/html; charset=utf-8", "<!doctype html><title>Sign in</title>", `the model server answered "text/html; charset=utf-8", not JSON (check OPENAI_BASE_URL)`},
		{"plain text", "text/plain", "ok", `answered "text/plain", not JSON`},
		{"JSON with a charset", "application/json; charset=utf-8", messageResponse, ""},
		{"JSON by a suffix", "application/vnd.api+json", messageResponse, ""},
		{"no type", "", messageResponse, "the model server answered without a Content-Type, not JSON (check OPENAI_BASE_URL)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeOpenAI(t, fakeReply{200, tt.body})
			f.header = http.Header{"Content-Type": {tt.contentType}}
			if tt.contentType == "" {
				f.header = http.Header{"Content-Type": nil}
			}
			a := newTestActivities(t, newTestModel(t, f.baseURL(), "sk-test"), nil)
			res, err := callModel(t, a, workflows.ModelRequest{WorkflowID: "wf", Input: []workflows.ConversationItem{{Type: "message", Role: "user", Text: "hi"}}})
			if tt.wantErr == "" {
				if err != nil || res.Text == "" {
					t.Fatalf("err = %v, text %q; want the model's answer", err, res.Text)
				}
				return
			}
			if err == nil || !isNonRetryable(err) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want a non-retryable error saying %q", err, tt.wantErr)
			}
		})
	}
}

func TestCallModelNetworkErrorIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL + "/v1/"
	srv.Close() // nothing listens any more
	a := newTestActivities(t, newTestModel(t, base, "sk-test"), nil)
	_, err := callModel(t, a, workflows.ModelRequest{WorkflowID: "wf", Input: []workflows.ConversationItem{{Type: "message", Role: "user", Text: "hi"}}})
	if err == nil || isNonRetryable(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
}

// A credential in OPENAI_BASE_URL (a gateway's token as the user name, a
// user and password) must not reach the run's history or the worker's log
// through a failed call's error, which names the URL it could not reach.
func TestCallModelErrorHidesTheBaseURLsCredential(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	host := strings.TrimPrefix(srv.URL, "http://")
	srv.Close() // nothing listens any more
	for _, base := range []string{
		"http://gw-token-s3cr3t@" + host + "/v1/",
		"http://user:pa55-s3cr3t@" + host + "/v1/",
		"http://" + host + "/gw-path-s3cr3t/v1/",
	} {
		a := newTestActivities(t, newTestModel(t, base, "sk-test"), nil)
		_, err := callModel(t, a, workflows.ModelRequest{WorkflowID: "wf", Input: []workflows.ConversationItem{{Type: "message", Role: "user", Text: "hi"}}})
		if err == nil || isNonRetryable(err) {
			t.Fatalf("%s: err = %v, want a retryable error", base, err)
		}
		if strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "http://"+host) {
			t.Errorf("%s: err = %v, want the scheme and host without the URL's credential", base, err)
		}
	}
	// A call that timed out names the URL too.
	ue := &url.Error{Op: "Post", URL: "https://gw-token-s3cr3t@gw.example/v1/responses", Err: context.DeadlineExceeded}
	if err := classifyOpenAIError(context.Background(), ue, time.Now()); strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("timeout: err = %v, want it without the URL's credential", err)
	}
}

func TestCallModelRejectsBadRequests(t *testing.T) {
	tests := []struct {
		name string
		req  workflows.ModelRequest
		want string
	}{
		{"unknown tool", workflows.ModelRequest{Tools: []string{"rm_rf"}}, `unknown tool "rm_rf"`},
		{"bad role", workflows.ModelRequest{Input: []workflows.ConversationItem{{Type: "message", Role: "root"}}}, `message role "root"`},
		{"bad item", workflows.ModelRequest{Input: []workflows.ConversationItem{{Type: "reasoning"}}}, `unknown type "reasoning"`},
		{"output without call id", workflows.ModelRequest{Input: []workflows.ConversationItem{{Type: "function_call_output"}}}, "without call id"},
		{"call without name", workflows.ModelRequest{Input: []workflows.ConversationItem{{Type: "function_call", CallID: "call_1"}}}, "without call id or name"},
		{"call without call id", workflows.ModelRequest{Input: []workflows.ConversationItem{{Type: "function_call", Name: "search_posts"}}}, "without call id or name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeOpenAI(t)
			a := newTestActivities(t, newTestModel(t, f.baseURL(), "sk-test"), nil)
			_, err := callModel(t, a, tt.req)
			if err == nil || !isNonRetryable(err) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want non-retryable containing %q", err, tt.want)
			}
			if bodies, _, _ := f.requests(); len(bodies) != 0 {
				t.Errorf("a bad request reached the API")
			}
		})
	}
}

// TestOpenAIModelIgnoresEnvironment sets every variable openai-go reads and
// checks that only the explicit configuration reaches the wire.
func TestOpenAIModelIgnoresEnvironment(t *testing.T) {
	envSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request went to the OPENAI_BASE_URL from the environment: %s", r.URL)
		w.WriteHeader(500)
	}))
	t.Cleanup(envSrv.Close)
	t.Setenv("OPENAI_API_KEY", "sk-from-env-bogus")
	t.Setenv("OPENAI_BASE_URL", envSrv.URL+"/v1/")
	t.Setenv("OPENAI_ORG_ID", "org-from-env")
	t.Setenv("OPENAI_PROJECT_ID", "proj-from-env")
	t.Setenv("OPENAI_CUSTOM_HEADERS", "X-Leak: yes")

	f := newFakeOpenAI(t, fakeReply{200, messageResponse})
	m := newTestModel(t, f.baseURL(), "sk-explicit")
	if _, err := m.Respond(t.Context(), workflows.ModelRequest{Input: []workflows.ConversationItem{{Type: "message", Role: "user", Text: "hi"}}}, nil); err != nil {
		t.Fatal(err)
	}
	_, headers, _ := f.requests()
	if len(headers) != 1 {
		t.Fatalf("requests = %d, want 1", len(headers))
	}
	h := headers[0]
	if got, want := h.Get("Authorization"), "Bearer sk-explicit"; got != want {
		t.Errorf("Authorization = %q, want %q", got, want)
	}
	for _, k := range []string{"OpenAI-Organization", "OpenAI-Project", "X-Leak"} {
		if v := h.Get(k); v != "" {
			t.Errorf("header %s = %q leaked from the environment", k, v)
		}
	}
}

func TestOpenAIConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  OpenAIConfig
		want string
	}{
		{"ok", OpenAIConfig{APIKey: "k"}, ""},
		{"no key", OpenAIConfig{}, "OPENAI_API_KEY is required"},
		{"relative url", OpenAIConfig{APIKey: "k", BaseURL: "api.openai.com/v1"}, "OPENAI_BASE_URL"},
		{"ftp url", OpenAIConfig{APIKey: "k", BaseURL: "ftp://x/"}, "OPENAI_BASE_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewOpenAIModel(tt.cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// isNonRetryable reports whether Temporal would stop retrying err.
func isNonRetryable(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.NonRetryable()
}

func TestTruncateUTF8(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abc", 3, "abc"}, // exactly n bytes: nothing to cut (and no byte n to look at)
		{"abc", 2, "ab"},
		{"aé", 2, "a"}, // é is two bytes: never split
		{"éé", 3, "é"},
		{"", 0, ""},
	}
	for _, tt := range tests {
		if got := truncateUTF8(tt.in, tt.n); got != tt.want {
			t.Errorf("truncateUTF8(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
