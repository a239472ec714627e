package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// craftedMarker in a prompt, as "[crafted TOOL] ARGUMENTS", makes the
// crafted model answer with a call of TOOL whose arguments are the rest of
// the prompt, verbatim: how a model (or a prompt injection) hands the agent
// arguments that encoding/json reads one way and a person another.
const craftedMarker = "[crafted "

// craftedModel serves the Responses API for prompts that start with
// craftedMarker and hands every other request to next (the scripted model).
func craftedModel(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var req struct {
			Input []struct {
				Type    string          `json:"type"`
				Content json.RawMessage `json:"content"`
				Output  string          `json:"output"`
			} `json:"input"`
		}
		if json.Unmarshal(body, &req) != nil || len(req.Input) == 0 || !strings.Contains(string(req.Input[0].Content), craftedMarker) {
			r.Body = io.NopCloser(bytes.NewReader(body))
			next.ServeHTTP(w, r)
			return
		}
		var prompt string
		if err := json.Unmarshal(req.Input[0].Content, &prompt); err != nil {
			var parts []struct{ Text string }
			_ = json.Unmarshal(req.Input[0].Content, &parts)
			for _, p := range parts {
				prompt += p.Text
			}
		}
		tool, args, _ := strings.Cut(strings.SplitN(prompt, craftedMarker, 2)[1], "] ")
		item := map[string]any{"type": "function_call", "id": "fc_crafted", "status": "completed",
			"call_id": fmt.Sprint("call_crafted", time.Now().UnixNano()), "name": tool, "arguments": args}
		for _, in := range req.Input {
			if in.Type == "function_call_output" {
				// Second turn: report what the agent said about the call.
				item = map[string]any{"type": "message", "id": "msg_crafted", "status": "completed", "role": "assistant",
					"content": []any{map[string]any{"type": "output_text", "text": "[crafted model] the call returned: " + in.Output, "annotations": []any{}}}}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": fmt.Sprint("resp_crafted_", time.Now().UnixNano()), "object": "response", "created_at": time.Now().Unix(),
			"status": "completed", "model": "crafted", "output": []any{item}, "parallel_tool_calls": true,
			"text": map[string]any{"format": map[string]any{"type": "text"}}, "tool_choice": "auto", "tools": []any{},
			"top_p": 1, "temperature": 1, "truncation": "disabled", "metadata": map[string]any{},
			"usage": map[string]any{"input_tokens": 1, "output_tokens": 1, "total_tokens": 2,
				"input_tokens_details": map[string]any{"cached_tokens": 0}, "output_tokens_details": map[string]any{"reasoning_tokens": 0}},
		})
	})
}
