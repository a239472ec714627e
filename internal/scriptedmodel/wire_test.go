package scriptedmodel

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

// post sends body to h at /v1/responses and returns the recorded reply.
func post(t *testing.T, h http.Handler, body string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/responses", strings.NewReader(body)))
	return rec
}

// Every rejected request is a 400 whose OpenAI error body names the
// offending parameter (openai-go exposes it as Error.Param), and a request
// the real API accepts in the agent's subset is accepted.
func TestRequestValidation(t *testing.T) {
	fc := func(id, name string) string {
		return `{"type":"function_call","call_id":"` + id + `","name":"` + name + `","arguments":"{}"}`
	}
	out := func(id, output string) string {
		return `{"type":"function_call_output","call_id":"` + id + `","output":` + output + `}`
	}
	in := func(items ...string) string {
		return `{"model":"m","input":[` + strings.Join(items, ",") + `]}`
	}
	tests := []struct {
		name, body string
		status     int
		param, msg string
	}{
		{"null input", `{"model":"m","input":null}`, 400, "input", "'input'"},
		{"function tool without name", `{"model":"m","input":"hi","tools":[{"type":"function"}]}`, 400, "tools[0]", "function tools"},
		{"named hosted tool", `{"model":"m","input":"hi","tools":[{"type":"function","name":"f"},{"type":"mcp","name":"f"}]}`, 400, "tools[1]", `"mcp"`},
		{"content of another type", in(`{"type":"message","role":"user","content":5}`), 400, "input[0].content", "Invalid content"},
		{"function call without name", in(fc("c1", ""), out("c1", `"x"`)), 400, "input[0]", "'call_id' or 'name'"},
		{"function call without call id", in(fc("", "f"), out("", `"x"`)), 400, "input[0]", "'call_id' or 'name'"},
		{"duplicate call", in(fc("c1", "f"), fc("c1", "f"), out("c1", `"x"`)), 400, "input[1].call_id", "Duplicate function call with call_id c1"},
		{"duplicate output", in(fc("c1", "f"), out("c1", `"x"`), out("c1", `"y"`)), 400, "input[2]", "Duplicate function call output for call_id c1"},
		{"output of another type", in(fc("c1", "f"), out("c1", `{"a":1}`)), 400, "input[1].output", "Invalid output"},
		{"unknown item type", in(`{"type":"reasoning","summary":[]}`, `{"role":"user","content":"hi"}`), 400, "input[0].type", "'reasoning'"},
		{"output before its call", in(`{"role":"user","content":"hi"}`, out("c1", `"x"`), fc("c1", "f")), 400, "input[1]", "No tool call found for function call output with call_id c1"},
		{"bad role names param", in(`{"type":"message","role":"root","content":"x"}`), 400, "input[0].role", "'root'"},
		{"developer and system roles", in(`{"role":"developer","content":"be brief"}`, `{"role":"system","content":"x"}`, `{"role":"user","content":"hi"}`), 200, "", ""},
		{"output as content parts", in(`{"role":"user","content":"hi"}`, fc("c1", "f"), out("c1", `[{"type":"input_text","text":"ok"}]`)), 200, "", ""},
	}
	h := Handler(nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := post(t, h, tt.body)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if tt.status == 200 {
				return
			}
			var body struct {
				Error struct {
					Message string  `json:"message"`
					Type    string  `json:"type"`
					Param   *string `json:"param"`
				} `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			e := body.Error
			if e.Type != "invalid_request_error" || e.Param == nil || *e.Param != tt.param || !strings.Contains(e.Message, tt.msg) {
				t.Errorf("error = %s, want invalid_request_error, param %q, message containing %q", rec.Body, tt.param, tt.msg)
			}
		})
	}
}

// The body limit is maxBody (1 MiB) exactly: a body of that size is read
// whole, one byte more is a 413 with an OpenAI error body.
func TestBodyLimit(t *testing.T) {
	if maxBody != 1<<20 {
		t.Fatalf("maxBody = %d, want 1 MiB", maxBody)
	}
	body := func(n int) string {
		head, tail := `{"model":"m","input":"`, `"}`
		return head + strings.Repeat("a", n-len(head)-len(tail)) + tail
	}
	h := Handler(nil)
	if rec := post(t, h, body(maxBody)); rec.Code != http.StatusOK {
		t.Errorf("body of %d bytes: status %d, want 200: %.200s", maxBody, rec.Code, rec.Body)
	}
	rec := post(t, h, body(maxBody+1))
	if rec.Code != http.StatusRequestEntityTooLarge || rec.Header().Get("Content-Type") != "application/json" || !strings.Contains(rec.Body.String(), "too large") {
		t.Errorf("body of %d bytes: %d %q %s, want a 413 JSON error", maxBody+1, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
}

// A method other than POST is a 405 that says which one is allowed.
func TestMethodNotAllowedSaysAllow(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler(nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/responses", nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != http.MethodPost || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("GET: %d, Allow %q, Content-Type %q; want 405, POST, application/json", rec.Code, rec.Header().Get("Allow"), rec.Header().Get("Content-Type"))
	}
}

// The reply is a Responses API response object with the fields the real
// API sends, and it is labelled as scripted: the literal "[scripted model] "
// text prefix and the X-Scripted-Model header.
func TestResponseWireFormat(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h := &handler{log: slog.New(slog.DiscardHandler), now: func() time.Time { return now }}
	serve := func(body string) (map[string]any, *httptest.ResponseRecorder) {
		t.Helper()
		rec := httptest.NewRecorder()
		h.responses(rec, httptest.NewRequest(http.MethodPost, "/v1/responses", strings.NewReader(body)))
		if rec.Code != 200 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		if _, err := dec.Token(); err != io.EOF {
			t.Fatalf("more than one JSON value: %s", rec.Body)
		}
		return m, rec
	}
	num := func(v any) int64 {
		n, err := v.(json.Number).Int64()
		if err != nil {
			t.Fatalf("%v is not an integer", v)
		}
		return n
	}
	tools := `"tools":[{"type":"function","name":"publish_blog_post"}]`
	text, rec := serve(`{"model":"gpt-x","input":"hello",` + tools + `}`)
	if got := rec.Header().Get("X-Scripted-Model"); got != "true" {
		t.Errorf("X-Scripted-Model = %q, want true", got)
	}
	calls, _ := serve(`{"model":"gpt-x","input":"publish 'A' and 'B'",` + tools + `}`)
	for name, m := range map[string]map[string]any{"text": text, "calls": calls} {
		id, _ := m["id"].(string)
		if !strings.HasPrefix(id, "resp_") || m["object"] != "response" || m["status"] != "completed" || m["model"] != "gpt-x" ||
			num(m["created_at"]) != now.Unix() || m["parallel_tool_calls"] != true {
			t.Errorf("%s: response header fields = id %v object %v status %v model %v created_at %v parallel_tool_calls %v",
				name, m["id"], m["object"], m["status"], m["model"], m["created_at"], m["parallel_tool_calls"])
		}
		if f, _ := json.Marshal(m["text"]); string(f) != `{"format":{"type":"text"}}` {
			t.Errorf("%s: text = %s, want the plain text format", name, f)
		}
		for _, k := range []string{"error", "incomplete_details", "previous_response_id"} {
			if v, ok := m[k]; !ok || v != nil {
				t.Errorf("%s: %s = %v (present %v), want null", name, k, v, ok)
			}
		}
		u := m["usage"].(map[string]any)
		in, out, total := num(u["input_tokens"]), num(u["output_tokens"]), num(u["total_tokens"])
		if in < 1 || out < 1 || total != in+out {
			t.Errorf("%s: usage = %v, want positive counts and total = input + output", name, u)
		}
	}
	items := text["output"].([]any)
	msg := items[0].(map[string]any)
	content := msg["content"].([]any)[0].(map[string]any)
	if len(items) != 1 || msg["type"] != "message" || msg["role"] != "assistant" || msg["status"] != "completed" ||
		!strings.HasPrefix(msg["id"].(string), "msg_") || content["type"] != "output_text" ||
		!strings.HasPrefix(content["text"].(string), "[scripted model] ") || !reflect.DeepEqual(content["annotations"], []any{}) {
		t.Errorf("text output = %v", items)
	}
	for _, it := range calls["output"].([]any) {
		c := it.(map[string]any)
		if c["type"] != "function_call" || c["status"] != "completed" || !strings.HasPrefix(c["id"].(string), "fc_") ||
			!strings.HasPrefix(c["call_id"].(string), "call_") || c["name"] != toolPublish {
			t.Errorf("call output = %v", c)
		}
	}
	// A longer answer counts more output tokens.
	long, _ := serve(`{"model":"gpt-x","input":[{"role":"user","content":"publish 'A'"},{"type":"function_call","call_id":"c","name":"publish_blog_post","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":"` + strings.Repeat("x", 400) + `"}]}`)
	if a, b := num(long["usage"].(map[string]any)["output_tokens"]), num(text["usage"].(map[string]any)["output_tokens"]); a <= b {
		t.Errorf("output tokens of a long answer %d <= of a short one %d", a, b)
	}
}

// Call ids depend on the model too: the same prompt sent to two models is
// two conversations.
func TestCallIDsDependOnModel(t *testing.T) {
	h := Handler(nil)
	callID := func(model string) string {
		rec := post(t, h, `{"model":"`+model+`","input":"publish 'A'","tools":[{"type":"function","name":"publish_blog_post"}]}`)
		var m struct {
			Output []struct {
				CallID string `json:"call_id"`
			} `json:"output"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || len(m.Output) != 1 {
			t.Fatalf("%s: %v %s", model, err, rec.Body)
		}
		return m.Output[0].CallID
	}
	if a, b := callID("m1"), callID("m2"); a == b {
		t.Errorf("models m1 and m2 got the same call id %s", a)
	}
}
