package scriptedmodel

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/openai/openai-go/v3/responses"
)

var allTools = []string{toolPublish, toolSearch, toolDelete}

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(Handler(nil))
	t.Cleanup(srv.Close)
	return srv
}

// newClient is the real openai-go Responses client, configured the way the
// worker configures it for the scripted model.
func newClient(srv *httptest.Server, base string) responses.ResponseService {
	return responses.NewResponseService(
		option.WithHTTPClient(srv.Client()),
		option.WithBaseURL(srv.URL+base),
		option.WithAPIKey("scripted"),
		option.WithMaxRetries(0),
	)
}

func params(tools []string, items ...responses.ResponseInputItemUnionParam) responses.ResponseNewParams {
	p := responses.ResponseNewParams{Model: "gpt-4o", Input: responses.ResponseNewParamsInputUnion{OfInputItemList: items}}
	for _, name := range tools {
		p.Tools = append(p.Tools, responses.ToolParamOfFunction(name, map[string]any{"type": "object", "properties": map[string]any{}}, false))
	}
	return p
}

func user(text string) responses.ResponseInputItemUnionParam {
	return responses.ResponseInputItemParamOfMessage(text, responses.EasyInputMessageRoleUser)
}

func fnCall(callID, name, args string) responses.ResponseInputItemUnionParam {
	return responses.ResponseInputItemParamOfFunctionCall(args, callID, name)
}

func fnOutput(callID, out string) responses.ResponseInputItemUnionParam {
	o := responses.ResponseInputItemParamOfFunctionCallOutput(out)
	o.OfFunctionCallOutput.CallID = param.NewOpt(callID)
	return o
}

type gotCall struct{ Name, Args string }

func TestPromptsWithOpenAIClient(t *testing.T) {
	tests := []struct {
		name     string
		prompt   string
		tools    []string
		calls    []gotCall
		wantText string // substring of the text answer when there are no calls
	}{
		{"guide prompt", "Publish the blog post called 'Introducing our new API'", allTools,
			[]gotCall{{toolPublish, `{"title":"Introducing our new API"}`}}, ""},
		{"titled unquoted", "Please publish a post titled Hello World. Thanks!", allTools,
			[]gotCall{{toolPublish, `{"title":"Hello World"}`}}, ""},
		{"double quotes and apostrophe", `Publish Bob's draft called "Go's new API"`, allTools,
			[]gotCall{{toolPublish, `{"title":"Go's new API"}`}}, ""},
		{"two posts", "publish two posts 'Alpha launch' and 'Beta launch'", allTools,
			[]gotCall{{toolPublish, `{"title":"Alpha launch"}`}, {toolPublish, `{"title":"Beta launch"}`}}, ""},
		{"delete slug", "Delete post old-news", allTools,
			[]gotCall{{toolDelete, `{"slug":"old-news"}`}}, ""},
		{"delete quoted title", "please remove the post called 'Old News!'", allTools,
			[]gotCall{{toolDelete, `{"slug":"old-news"}`}}, ""},
		{"search", "Search posts about API launches", allTools,
			[]gotCall{{toolSearch, `{"query":"API launches"}`}}, ""},
		{"list", "list all posts", allTools,
			[]gotCall{{toolSearch, `{"query":""}`}}, ""},
		{"earliest verb wins", "Search for 'publish' in posts", allTools,
			[]gotCall{{toolSearch, `{"query":"publish"}`}}, ""},
		{"no title", "publish something nice", allTools, nil, "Which title?"},
		{"chit-chat", "What is the weather like?", allTools, nil, helpText},
		{"tool not offered", "Publish the post called 'X'", []string{toolSearch}, nil, "not among the offered tools"},
	}
	srv := newServer(t)
	client := newClient(srv, "/v1/")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := client.New(t.Context(), params(tt.tools, user(tt.prompt)))
			if err != nil {
				t.Fatal(err)
			}
			var calls []gotCall
			for _, it := range resp.Output {
				if it.Type == "function_call" {
					calls = append(calls, gotCall{it.Name, it.Arguments.OfString})
					if !strings.HasPrefix(it.CallID, "call_") {
						t.Errorf("call id %q lacks the call_ prefix", it.CallID)
					}
				}
			}
			if !reflect.DeepEqual(calls, tt.calls) {
				t.Errorf("calls = %v, want %v", calls, tt.calls)
			}
			text := resp.OutputText()
			if tt.calls == nil {
				if !strings.HasPrefix(text, Prefix) || !strings.Contains(text, tt.wantText) {
					t.Errorf("text = %q, want %q after the prefix", text, tt.wantText)
				}
			} else if text != "" {
				t.Errorf("text = %q alongside calls", text)
			}
		})
	}
}

func TestToolOutputsAreSummarised(t *testing.T) {
	tests := []struct {
		name  string
		items []responses.ResponseInputItemUnionParam
		want  string
	}{
		{"published", []responses.ResponseInputItemUnionParam{
			user("publish 'A'"), fnCall("call_1", toolPublish, `{"title":"A"}`), fnOutput("call_1", `{"published":true,"title":"A"}`),
		}, Prefix + `Done: publish_blog_post → {"published":true,"title":"A"}`},
		{"rejected", []responses.ResponseInputItemUnionParam{
			user("publish 'A'"), fnCall("call_1", toolPublish, `{"title":"A"}`), fnOutput("call_1", "rejected by bob (publisher): not today"),
		}, Prefix + "publish_blog_post was rejected: rejected by bob (publisher): not today"},
		{"two outputs, one denied", []responses.ResponseInputItemUnionParam{
			user("publish 'A' and 'B'"), fnCall("call_1", toolPublish, `{"title":"A"}`), fnCall("call_2", toolDelete, `{"slug":"b"}`),
			fnOutput("call_1", `{"published":true}`), fnOutput("call_2", `denied: tool "delete_post" has no policy`),
		}, Prefix + `Done: publish_blog_post → {"published":true}; delete_post did not run: denied: tool "delete_post" has no policy`},
		{"after an answer the user speaks again", []responses.ResponseInputItemUnionParam{
			user("publish 'A'"), fnCall("call_1", toolPublish, `{"title":"A"}`), fnOutput("call_1", "ok"),
			responses.ResponseInputItemParamOfMessage(Prefix+"Done", responses.EasyInputMessageRoleAssistant), user("thanks"),
		}, Prefix + helpText},
	}
	srv := newServer(t)
	client := newClient(srv, "/") // BaseURL without /v1/ reaches /responses
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := client.New(t.Context(), params(allTools, tt.items...))
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.OutputText(); got != tt.want {
				t.Errorf("text = %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestCallIDsAreDeterministic(t *testing.T) {
	srv := newServer(t)
	client := newClient(srv, "/v1/")
	ids := func(prompt, workflowID string) []string {
		p := params(allTools, user(prompt))
		if workflowID != "" {
			p.Metadata = map[string]string{"workflow_id": workflowID}
		}
		resp, err := client.New(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, it := range resp.Output {
			out = append(out, it.CallID)
		}
		return append(out, resp.ID)
	}
	a1, a2 := ids("publish 'A' and 'B'", "wf-1"), ids("publish 'A' and 'B'", "wf-1")
	if !reflect.DeepEqual(a1, a2) {
		t.Errorf("a retried request got other ids: %v vs %v", a1, a2)
	}
	if a1[0] == a1[1] {
		t.Errorf("two calls of one reply share id %s", a1[0])
	}
	for name, other := range map[string][]string{
		"other prompt":      ids("publish 'A' and 'C'", "wf-1"),
		"other workflow":    ids("publish 'A' and 'B'", "wf-2"),
		"no workflow given": ids("publish 'A' and 'B'", ""),
	} {
		if other[0] == a1[0] {
			t.Errorf("%s: same call id %s", name, a1[0])
		}
	}
}

func TestBadRequests(t *testing.T) {
	tests := []struct {
		name, method, path, body string
		status                   int
		wantMsg                  string
	}{
		{"bad json", "POST", "/v1/responses", `{"model":`, 400, "could not parse the JSON"},
		{"no model", "POST", "/v1/responses", `{"input":"hi"}`, 400, "'model'"},
		{"no input", "POST", "/v1/responses", `{"model":"m"}`, 400, "'input'"},
		{"empty input", "POST", "/v1/responses", `{"model":"m","input":[]}`, 400, "empty array"},
		{"input number", "POST", "/v1/responses", `{"model":"m","input":5}`, 400, "Invalid type for 'input'"},
		{"stream", "POST", "/v1/responses", `{"model":"m","input":"hi","stream":true}`, 400, "stream"},
		{"bad role", "POST", "/v1/responses", `{"model":"m","input":[{"type":"message","role":"root","content":"x"}]}`, 400, "'root'"},
		{"unanswered call", "POST", "/v1/responses", `{"model":"m","input":[{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"}]}`, 400, "No tool output found for function call c1"},
		{"orphan output", "POST", "/v1/responses", `{"model":"m","input":[{"type":"function_call_output","call_id":"c9","output":"x"}]}`, 400, "No tool call found"},
		{"hosted tool", "POST", "/v1/responses", `{"model":"m","input":"hi","tools":[{"type":"web_search"}]}`, 400, "function tools"},
		{"GET", "GET", "/v1/responses", ``, 405, "POST"},
		{"other path", "POST", "/v1/chat/completions", `{}`, 404, "Invalid URL"},
		{"too large", "POST", "/v1/responses", `{"model":"m","input":"` + strings.Repeat("a", maxBody) + `"}`, 413, "too large"},
	}
	srv := newServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			var body struct {
				Error struct {
					Message string `json:"message"`
					Type    string `json:"type"`
				} `json:"error"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("error body is not JSON: %v", err)
			}
			if !strings.Contains(body.Error.Message, tt.wantMsg) || body.Error.Type == "" {
				t.Errorf("error = %+v, want message containing %q", body.Error, tt.wantMsg)
			}
		})
	}
}

// TestBadRequestReachesOpenAIClientAsAPIError checks that openai-go parses
// the error body: the worker's error mapping depends on it.
func TestBadRequestReachesOpenAIClientAsAPIError(t *testing.T) {
	srv := newServer(t)
	client := newClient(srv, "/v1/")
	_, err := client.New(t.Context(), params(allTools, fnCall("c1", toolPublish, "{}")))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want *openai.Error", err)
	}
	if apiErr.StatusCode != 400 || apiErr.Type != "invalid_request_error" || !strings.Contains(apiErr.Message, "c1") {
		t.Errorf("api error = %d %s %q", apiErr.StatusCode, apiErr.Type, apiErr.Message)
	}
}

var slugPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

func FuzzParsePrompt(f *testing.F) {
	for _, s := range []string{
		"Publish the blog post called 'Introducing our new API'",
		"publish two posts 'A' and 'B'", "delete post x", "search 'q'", "publish ''", "publish 'unterminated",
		"“smart” ‘quotes’ publish", "don't publish it's", "remove", "list",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, prompt string) {
		p := parsePrompt(prompt)
		if !reflect.DeepEqual(p, parsePrompt(prompt)) {
			t.Fatal("not deterministic")
		}
		if (len(p.Calls) == 0) == (p.Text == "") {
			t.Fatalf("want calls xor text, got %+v", p)
		}
		if len(p.Calls) > maxCalls {
			t.Fatalf("%d calls", len(p.Calls))
		}
		for _, c := range p.Calls {
			switch c.Name {
			case toolPublish:
				if tl := c.Args["title"]; tl == "" || tl != strings.TrimSpace(tl) {
					t.Fatalf("bad title %q", tl)
				}
			case toolDelete:
				if !slugPattern.MatchString(c.Args["slug"]) || len(c.Args["slug"]) > 80 {
					t.Fatalf("bad slug %q", c.Args["slug"])
				}
			case toolSearch:
				if _, ok := c.Args["query"]; !ok {
					t.Fatal("search without query")
				}
			default:
				t.Fatalf("unknown tool %q", c.Name)
			}
		}
	})
}

func FuzzHandler(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","input":"publish 'A'","tools":[{"type":"function","name":"publish_blog_post"}]}`,
		`{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"delete post a"}]}],"tools":[{"type":"function","name":"delete_post"}]}`,
		`{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":[{"type":"input_text","text":"ok"}]}]}`,
		`{"model":`, `null`, `[]`, `{"model":"m","input":null}`,
	} {
		f.Add([]byte(s))
	}
	h := Handler(nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/responses", bytes.NewReader(body)))
		raw, _ := io.ReadAll(rec.Body)
		switch rec.Code {
		case http.StatusOK:
			var resp responses.Response
			if err := json.Unmarshal(raw, &resp); err != nil {
				t.Fatalf("200 body does not decode: %v", err)
			}
			if len(resp.Output) == 0 {
				t.Fatal("200 without output")
			}
			if text := resp.OutputText(); text != "" && !strings.HasPrefix(text, Prefix) {
				t.Fatalf("text %q lacks the prefix", text)
			}
		case http.StatusBadRequest:
			var e struct {
				Error struct{ Message string } `json:"error"`
			}
			if err := json.Unmarshal(raw, &e); err != nil || e.Error.Message == "" {
				t.Fatalf("400 body %q is not an OpenAI error", raw)
			}
		default:
			t.Fatalf("status %d for %q", rec.Code, body)
		}
	})
}
