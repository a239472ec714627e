// Package scriptedmodel is a scripted, offline stand-in for the OpenAI
// Responses API. It serves POST /v1/responses (and /responses) with the
// real wire format, so the offline demo and the end-to-end tests run the
// real openai-go client against it with BaseURL "http://HOST:PORT/v1/".
//
// It is not a language model. It recognises a few prompt shapes (publish a
// post called 'X', publish two posts 'A' and 'B', delete post X, search
// posts about X), answers them with function calls, and summarises tool
// outputs once they come back. Every text answer starts with
// "[scripted model] " so nobody mistakes it for a real model. Call ids are
// hashes of the request input, model and metadata.workflow_id, so a retried
// request gets the same answer and two runs of one prompt do not collide.
package scriptedmodel

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Prefix starts every text answer of the scripted model.
const Prefix = "[scripted model] "

// maxBody bounds a request body.
const maxBody = 1 << 20

// Handler returns the HTTP handler of the scripted model. logger may be nil.
func Handler(logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &handler{log: logger, now: time.Now}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/responses", h.responses)
	mux.HandleFunc("/responses", h.responses)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Invalid URL (%s %s): the scripted model serves only POST /v1/responses", r.Method, r.URL.Path), "invalid_request_error", "", "")
	})
	return mux
}

type handler struct {
	log *slog.Logger
	now func() time.Time
}

// item is one input item, in the subset of the Responses API the agent
// sends. Content and Output may be a string or a list of content parts.
type item struct {
	Type      string          `json:"type"`
	Role      string          `json:"role"`
	Content   json.RawMessage `json:"content"`
	CallID    string          `json:"call_id"`
	Name      string          `json:"name"`
	Arguments string          `json:"arguments"`
	Output    json.RawMessage `json:"output"`
}

type request struct {
	Model  string          `json:"model"`
	Input  json.RawMessage `json:"input"`
	Tools  []toolDef       `json:"tools"`
	Stream bool            `json:"stream"`
	// Metadata["workflow_id"], when present, goes into the call-id hash so
	// two runs with the same prompt get different call ids.
	Metadata map[string]string `json:"metadata"`
}

type toolDef struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

// conv is an input item reduced to what the script looks at.
type conv struct {
	Type, Role, Text, CallID, Name, Arguments, Output string
}

// badRequest is a 400 with an OpenAI-shaped error body.
type badRequest struct{ msg, param string }

func (e badRequest) Error() string { return e.msg }

func (h *handler) responses(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "Method not allowed: use POST", "invalid_request_error", "", "")
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "Request body too large", "invalid_request_error", "", "")
			return
		}
		writeError(w, http.StatusBadRequest, "Could not read the request body", "invalid_request_error", "", "")
		return
	}
	res, err := h.respond(body)
	if err != nil {
		var br badRequest
		if errors.As(err, &br) {
			h.log.Info("scripted model: bad request", "error", br.msg)
			writeError(w, http.StatusBadRequest, br.msg, "invalid_request_error", br.param, "")
			return
		}
		h.log.Error("scripted model failed", "error", err)
		writeError(w, http.StatusInternalServerError, "The scripted model failed", "server_error", "", "")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Scripted-Model", "true")
	if err := json.NewEncoder(w).Encode(res); err != nil {
		h.log.Warn("scripted model: write response", "error", err)
	}
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxBody))
	return buf.Bytes(), err
}

// respond parses and validates a request body and builds the reply.
func (h *handler) respond(body []byte) (*response, error) {
	var req request
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, badRequest{msg: "We could not parse the JSON body of your request. (" + err.Error() + ")"}
	}
	if req.Model == "" {
		return nil, badRequest{msg: "Missing required parameter: 'model'.", param: "model"}
	}
	if req.Stream {
		return nil, badRequest{msg: "The scripted model does not support 'stream': true.", param: "stream"}
	}
	items, err := parseInput(req.Input)
	if err != nil {
		return nil, err
	}
	var tools []string
	for i, t := range req.Tools {
		if t.Type != "function" || t.Name == "" {
			return nil, badRequest{msg: fmt.Sprintf("The scripted model supports only named function tools; tools[%d] is %q.", i, t.Type), param: fmt.Sprintf("tools[%d]", i)}
		}
		tools = append(tools, t.Name)
	}
	canon, err := json.Marshal(items)
	if err != nil {
		return nil, fmt.Errorf("hash input: %w", err)
	}
	sum := sha256.Sum256(fmt.Appendf(canon, "\x00%s\x00%s", req.Model, req.Metadata["workflow_id"]))
	seed := hex.EncodeToString(sum[:])
	p := script(items, tools)
	h.log.Info("scripted model", "items", len(items), "calls", len(p.Calls), "text", p.Text != "")
	return buildResponse(seed, req.Model, h.now(), p, len(canon)), nil
}

// parseInput reads input (a string or a list of items), checks it the way
// the real API does (every function_call has exactly one output and every
// output follows its call), and flattens content to text.
func parseInput(raw json.RawMessage) ([]conv, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, badRequest{msg: "Missing required parameter: 'input'.", param: "input"}
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []conv{{Type: "message", Role: "user", Text: s}}, nil
	}
	var raws []item
	if err := json.Unmarshal(raw, &raws); err != nil {
		return nil, badRequest{msg: "Invalid type for 'input': expected a string or an array of input items.", param: "input"}
	}
	if len(raws) == 0 {
		return nil, badRequest{msg: "Invalid 'input': empty array.", param: "input"}
	}
	calls := map[string]string{}
	answered := map[string]bool{}
	out := make([]conv, 0, len(raws))
	for i, it := range raws {
		param := fmt.Sprintf("input[%d]", i)
		typ := it.Type
		if typ == "" && it.Role != "" {
			typ = "message"
		}
		switch typ {
		case "message":
			if !slices.Contains([]string{"user", "assistant", "system", "developer"}, it.Role) {
				return nil, badRequest{msg: fmt.Sprintf("Invalid value: '%s'. Supported values are: 'user', 'assistant', 'system' and 'developer'.", it.Role), param: param + ".role"}
			}
			text, err := flattenText(it.Content)
			if err != nil {
				return nil, badRequest{msg: "Invalid content: " + err.Error(), param: param + ".content"}
			}
			out = append(out, conv{Type: typ, Role: it.Role, Text: text})
		case "function_call":
			if it.CallID == "" || it.Name == "" {
				return nil, badRequest{msg: "Missing required parameter: 'call_id' or 'name'.", param: param}
			}
			if _, dup := calls[it.CallID]; dup {
				return nil, badRequest{msg: fmt.Sprintf("Duplicate function call with call_id %s.", it.CallID), param: param + ".call_id"}
			}
			calls[it.CallID] = it.Name
			out = append(out, conv{Type: typ, CallID: it.CallID, Name: it.Name, Arguments: it.Arguments})
		case "function_call_output":
			if _, ok := calls[it.CallID]; !ok {
				return nil, badRequest{msg: fmt.Sprintf("No tool call found for function call output with call_id %s.", it.CallID), param: param}
			}
			if answered[it.CallID] {
				return nil, badRequest{msg: fmt.Sprintf("Duplicate function call output for call_id %s.", it.CallID), param: param}
			}
			answered[it.CallID] = true
			text, err := flattenText(it.Output)
			if err != nil {
				return nil, badRequest{msg: "Invalid output: " + err.Error(), param: param + ".output"}
			}
			out = append(out, conv{Type: typ, CallID: it.CallID, Name: calls[it.CallID], Output: text})
		default:
			return nil, badRequest{msg: fmt.Sprintf("Invalid value: '%s'. The scripted model supports message, function_call and function_call_output items.", it.Type), param: param + ".type"}
		}
	}
	for id := range calls {
		if !answered[id] {
			return nil, badRequest{msg: fmt.Sprintf("No tool output found for function call %s.", id), param: "input"}
		}
	}
	return out, nil
}

// flattenText reads a string, or a list of parts with a "text" field.
func flattenText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", errors.New("expected a string or a list of content parts")
	}
	var sb strings.Builder
	for _, p := range parts {
		sb.WriteString(p.Text)
	}
	return sb.String(), nil
}

// script decides the reply from the conversation: summarise trailing tool
// outputs, or act on a trailing user prompt.
func script(items []conv, tools []string) plan {
	last := items[len(items)-1]
	switch {
	case last.Type == "function_call_output":
		first := len(items) - 1
		for first > 0 && items[first-1].Type == "function_call_output" {
			first--
		}
		var parts []string
		for _, it := range items[first:] {
			parts = append(parts, summarise(it.Name, it.Output))
		}
		return plan{Text: strings.Join(parts, "; ")}
	case last.Type == "message" && last.Role == "user":
		p := parsePrompt(last.Text)
		for _, c := range p.Calls {
			if !slices.Contains(tools, c.Name) {
				return plan{Text: fmt.Sprintf("I would call %s, but it is not among the offered tools %v.", c.Name, tools)}
			}
		}
		return p
	}
	return plan{Text: helpText}
}

// summarise describes one tool output. The workflow reports a call that
// did not run with an output starting "rejected", "denied:", "approval
// expired" or "tool failed:"; anything else is the tool's own output.
func summarise(tool, output string) string {
	out := strings.TrimSpace(output)
	if r := []rune(out); len(r) > 500 {
		out = string(r[:500]) + "…"
	}
	l := strings.ToLower(out)
	switch {
	case strings.HasPrefix(l, "rejected"):
		return fmt.Sprintf("%s was rejected: %s", tool, out)
	case strings.HasPrefix(l, "denied"), strings.HasPrefix(l, "approval expired"), strings.HasPrefix(l, "tool failed"):
		return fmt.Sprintf("%s did not run: %s", tool, out)
	}
	return fmt.Sprintf("Done: %s → %s", tool, out)
}
