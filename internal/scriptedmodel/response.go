package scriptedmodel

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// response is a Responses API response object, with the fields the real
// API always sends.
type response struct {
	ID                 string          `json:"id"`
	Object             string          `json:"object"`
	CreatedAt          int64           `json:"created_at"`
	Status             string          `json:"status"`
	Error              *apiError       `json:"error"`
	IncompleteDetails  any             `json:"incomplete_details"`
	Instructions       any             `json:"instructions"`
	MaxOutputTokens    any             `json:"max_output_tokens"`
	Model              string          `json:"model"`
	Output             []outputItem    `json:"output"`
	ParallelToolCalls  bool            `json:"parallel_tool_calls"`
	PreviousResponseID any             `json:"previous_response_id"`
	Store              bool            `json:"store"`
	Temperature        float64         `json:"temperature"`
	Text               json.RawMessage `json:"text"`
	ToolChoice         string          `json:"tool_choice"`
	Tools              []any           `json:"tools"`
	TopP               float64         `json:"top_p"`
	Truncation         string          `json:"truncation"`
	Usage              usage           `json:"usage"`
	Metadata           map[string]any  `json:"metadata"`
}

type outputItem struct {
	Type      string        `json:"type"`
	ID        string        `json:"id"`
	Status    string        `json:"status"`
	Role      string        `json:"role,omitempty"`
	Content   []contentPart `json:"content,omitempty"`
	CallID    string        `json:"call_id,omitempty"`
	Name      string        `json:"name,omitempty"`
	Arguments string        `json:"arguments,omitempty"`
}

type contentPart struct {
	Type        string `json:"type"`
	Text        string `json:"text"`
	Annotations []any  `json:"annotations"`
}

type usage struct {
	InputTokens         int            `json:"input_tokens"`
	InputTokensDetails  map[string]int `json:"input_tokens_details"`
	OutputTokens        int            `json:"output_tokens"`
	OutputTokensDetails map[string]int `json:"output_tokens_details"`
	TotalTokens         int            `json:"total_tokens"`
}

// buildResponse turns a plan into a response. seed (a hash of the input)
// makes every id deterministic.
func buildResponse(seed, model string, now time.Time, p plan, inputBytes int) *response {
	res := &response{
		ID:                "resp_" + seed[:32],
		Object:            "response",
		CreatedAt:         now.Unix(),
		Status:            "completed",
		Model:             model,
		Output:            []outputItem{},
		ParallelToolCalls: true,
		Text:              json.RawMessage(`{"format":{"type":"text"}}`),
		ToolChoice:        "auto",
		Tools:             []any{},
		TopP:              1,
		Temperature:       1,
		Truncation:        "disabled",
		Metadata:          map[string]any{},
	}
	outBytes := 0
	for i, c := range p.Calls {
		args, _ := json.Marshal(c.Args) // map[string]string always encodes
		h := callHash(seed, i)
		res.Output = append(res.Output, outputItem{
			Type: "function_call", ID: "fc_" + h, Status: "completed",
			CallID: "call_" + h, Name: c.Name, Arguments: string(args),
		})
		outBytes += len(args)
	}
	if len(p.Calls) == 0 {
		text := Prefix + p.Text
		res.Output = append(res.Output, outputItem{
			Type: "message", ID: "msg_" + seed[:32], Status: "completed", Role: "assistant",
			Content: []contentPart{{Type: "output_text", Text: text, Annotations: []any{}}},
		})
		outBytes += len(text)
	}
	res.Usage = usage{
		InputTokens: inputBytes/4 + 1, InputTokensDetails: map[string]int{"cached_tokens": 0},
		OutputTokens: outBytes/4 + 1, OutputTokensDetails: map[string]int{"reasoning_tokens": 0},
	}
	res.Usage.TotalTokens = res.Usage.InputTokens + res.Usage.OutputTokens
	return res
}

// callHash is the deterministic id part of the i-th call of a reply.
func callHash(seed string, i int) string {
	return fmt.Sprintf("%s%02x", seed[:22], i)
}

type apiError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// writeError writes an OpenAI-shaped error body.
func writeError(w http.ResponseWriter, status int, msg, typ, param, code string) {
	e := apiError{Message: msg, Type: typ}
	if param != "" {
		e.Param = &param
	}
	if code != "" {
		e.Code = &code
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]apiError{"error": e})
}
