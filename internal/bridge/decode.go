package bridge

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/workflows"
)

// Limits on untrusted input.
const (
	// MaxDataBytes bounds the JSON text of one message's data.
	MaxDataBytes = 64 << 10
	// MaxReasonBytes bounds a decision's reason; longer reasons are cut
	// (the workflow keeps at most as much).
	MaxReasonBytes = 512
	// MaxToolCallIDLen bounds a tool-call id (the workflow's own limit).
	MaxToolCallIDLen = workflows.MaxToolCallIDLen
	// MaxMessageIDLen bounds an Ably message id; a longer one, or one with
	// bytes outside printable ASCII, drops the message.
	MaxMessageIDLen = 128
	// MaxClientIDLen bounds the approver's clientId; a longer one drops the
	// message.
	MaxClientIDLen = 128
	// MaxRoleLen bounds the role in extras.userClaim; a longer one drops
	// the message.
	MaxRoleLen = 64
	// MaxWorkflowIDLen bounds a workflow id (Temporal's own default limit).
	MaxWorkflowIDLen = 1000
	maxEncodingSteps = 4
)

// Response is a verified approval-response: every field comes from the
// message, and Role only from the server-set extras.userClaim.
type Response struct {
	MessageID   string
	ClientID    string
	Role        string
	ToolCallID  string
	WorkflowID  string // optional extras.headers.workflowId
	Decision    string // workflows.DecisionApproved or workflows.DecisionRejected
	Reason      string
	PublishedAt time.Time // zero when the message has no timestamp
}

// Signal is the DecisionSignal payload for the response.
func (r Response) Signal() workflows.Decision {
	return workflows.Decision{
		ToolCallID:       r.ToolCallID,
		Decision:         r.Decision,
		ApproverClientID: r.ClientID,
		ApproverRole:     r.Role,
		Reason:           r.Reason,
		AblyMessageID:    r.MessageID,
		PublishedAt:      r.PublishedAt,
	}
}

// DecodeResponse verifies and decodes one approval-response message. It
// denies by default: anything not exactly the documented shape is an error
// that says why.
func DecodeResponse(m *ably.Message) (Response, error) {
	if m == nil {
		return Response{}, errors.New("nil message")
	}
	if m.Name != workflows.MsgApprovalResponse {
		return Response{}, fmt.Errorf("message name %q is not %q", m.Name, workflows.MsgApprovalResponse)
	}
	if m.ID == "" {
		return Response{}, errors.New("message has no id")
	}
	if err := ValidMessageID(m.ID); err != nil {
		return Response{}, err
	}
	if m.ClientID == "" {
		return Response{}, errors.New("message has no clientId: the approver is unidentified")
	}
	if err := printable("clientId", m.ClientID, MaxClientIDLen); err != nil {
		return Response{}, err
	}
	role, ok := m.Extras["userClaim"].(string)
	if !ok || role == "" {
		return Response{}, errors.New("message has no extras.userClaim: the publisher's token carries no role")
	}
	if err := printable("extras.userClaim", role, MaxRoleLen); err != nil {
		return Response{}, err
	}
	headers, _ := AsMap(m.Extras["headers"])
	toolCallID, _ := headers[workflows.HeaderToolCallID].(string)
	if err := ValidToolCallID(toolCallID); err != nil {
		return Response{}, fmt.Errorf("extras.headers.%s: %w", workflows.HeaderToolCallID, err)
	}
	var workflowID string
	if v, present := headers[workflows.HeaderWorkflowID]; present {
		s, ok := v.(string)
		if !ok {
			return Response{}, fmt.Errorf("extras.headers.%s: not a string", workflows.HeaderWorkflowID)
		}
		if s != "" {
			if err := ValidWorkflowID(s); err != nil {
				return Response{}, fmt.Errorf("extras.headers.%s: %w", workflows.HeaderWorkflowID, err)
			}
			workflowID = s
		}
	}
	var data workflows.ApprovalResponseData
	if err := DecodeData(m.Data, m.Encoding, &data); err != nil {
		return Response{}, fmt.Errorf("data: %w", err)
	}
	switch data.Decision {
	case workflows.DecisionApproved, workflows.DecisionRejected:
	default:
		return Response{}, fmt.Errorf("data.decision %q: want %q or %q", data.Decision, workflows.DecisionApproved, workflows.DecisionRejected)
	}
	r := Response{
		MessageID:  m.ID,
		ClientID:   m.ClientID,
		Role:       role,
		ToolCallID: toolCallID,
		WorkflowID: workflowID,
		Decision:   data.Decision,
		Reason:     truncate(strings.ToValidUTF8(data.Reason, "\uFFFD"), MaxReasonBytes),
	}
	if m.Timestamp > 0 {
		r.PublishedAt = time.UnixMilli(m.Timestamp).UTC()
	}
	return r, nil
}

// ValidToolCallID accepts the ids OpenAI hands out ("call_…", "fc_…") and
// nothing that could break out of a visibility query: letters, digits and
// "_-.:@", at most MaxToolCallIDLen bytes.
func ValidToolCallID(id string) error {
	if id == "" {
		return errors.New("missing tool call id")
	}
	if len(id) > MaxToolCallIDLen {
		return fmt.Errorf("tool call id longer than %d bytes", MaxToolCallIDLen)
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("_-.:@", r):
		default:
			return fmt.Errorf("tool call id %q: character %q not allowed", id, r)
		}
	}
	return nil
}

// ValidMessageID accepts an Ably message id of 1 to MaxMessageIDLen bytes
// of printable ASCII, as the workflow does.
func ValidMessageID(id string) error {
	if id == "" {
		return errors.New("message has no id")
	}
	if len(id) > MaxMessageIDLen {
		return fmt.Errorf("message id longer than %d bytes", MaxMessageIDLen)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 || id[i] > 0x7e {
			return fmt.Errorf("message id %q: byte %#x is not printable ASCII", id, id[i])
		}
	}
	return nil
}

// printable checks that s (named what) is at most maxLen bytes of valid,
// printable UTF-8.
func printable(what, s string, maxLen int) error {
	if len(s) > maxLen {
		return fmt.Errorf("%s longer than %d bytes", what, maxLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%s %q: unprintable character %U", what, s, r)
		}
	}
	return nil
}

// ValidWorkflowID accepts a non-empty, printable UTF-8 workflow id of at most
// MaxWorkflowIDLen bytes.
func ValidWorkflowID(id string) error {
	if id == "" {
		return errors.New("missing workflow id")
	}
	if len(id) > MaxWorkflowIDLen {
		return fmt.Errorf("workflow id longer than %d bytes", MaxWorkflowIDLen)
	}
	if !utf8.ValidString(id) {
		return errors.New("workflow id is not valid UTF-8")
	}
	for _, r := range id {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("workflow id %q: unprintable character %U", id, r)
		}
	}
	return nil
}

// DecodeData decodes Ably message data into v, which must decode from a
// JSON object. It accepts what ably-go hands out: a map (realtime
// subscription to an ably-go publisher), a string with encoding "json"
// (ably-js, ably-go REST), or bytes holding JSON text, after undoing
// "base64" and "utf-8" steps of the encoding.
func DecodeData(data any, encoding string, v any) error {
	raw, err := dataJSON(data, encoding)
	if err != nil {
		return err
	}
	if len(raw) > MaxDataBytes {
		return fmt.Errorf("data larger than %d bytes", MaxDataBytes)
	}
	if t := bytes.TrimLeft(raw, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return errors.New("data is not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad JSON: %w", err)
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// dataJSON turns message data into JSON text.
func dataJSON(data any, encoding string) ([]byte, error) {
	var steps []string
	if encoding != "" {
		steps = strings.Split(encoding, "/")
	}
	if len(steps) > maxEncodingSteps {
		return nil, fmt.Errorf("encoding %q has too many steps", encoding)
	}
	isJSON := false
	cur := data
	for i := len(steps) - 1; i >= 0; i-- {
		switch steps[i] {
		case "base64":
			s, ok := cur.(string)
			if !ok {
				return nil, fmt.Errorf("encoding %q: base64 step on %T", encoding, cur)
			}
			if len(s) > 2*MaxDataBytes {
				return nil, fmt.Errorf("data larger than %d bytes", MaxDataBytes)
			}
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, fmt.Errorf("encoding %q: %w", encoding, err)
			}
			cur = b
		case "utf-8":
			b, ok := cur.([]byte)
			if !ok {
				return nil, fmt.Errorf("encoding %q: utf-8 step on %T", encoding, cur)
			}
			cur = string(b)
		case "json":
			if i != 0 {
				return nil, fmt.Errorf("encoding %q: json must be the first step", encoding)
			}
			isJSON = true
		default:
			return nil, fmt.Errorf("unsupported encoding %q", encoding)
		}
	}
	switch d := cur.(type) {
	case nil:
		return nil, errors.New("no data")
	case []byte:
		return d, nil
	case string:
		if !isJSON {
			return nil, errors.New(`data is a string without encoding "json"`)
		}
		return []byte(d), nil
	case map[string]any, map[any]any:
		if isJSON {
			return nil, fmt.Errorf(`encoding "json" on %T data`, cur)
		}
		m, err := normalize(d, 0)
		if err != nil {
			return nil, err
		}
		return json.Marshal(m)
	default:
		return nil, fmt.Errorf("unsupported data type %T", cur)
	}
}

// normalize converts msgpack-style map[any]any trees into JSON-encodable
// values, bounded in depth.
func normalize(v any, depth int) (any, error) {
	if depth > 32 {
		return nil, errors.New("data nested too deeply")
	}
	switch x := v.(type) {
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("map key of type %T", k)
			}
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[ks] = n
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	default:
		return v, nil
	}
}

// AsMap returns v as a map[string]any if it is a map with string keys,
// whichever map type the codec produced.
func AsMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, e := range m {
			ks, ok := k.(string)
			if !ok {
				return nil, false
			}
			out[ks] = e
		}
		return out, true
	}
	return nil, false
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
