// Package ablymsg owns how the project's programs read and build Ably
// messages, whatever the client library hands out: message data as a map,
// a JSON string with encoding "json", or bytes (DecodeData, AsMap); the
// channel history published before the attach point (HistoryUntilAttach);
// and the ably.Message of an agent message the workflows package describes
// (Agent). The bridge, the approver CLI, the activities and the dev stack
// share it, so neither the trusted nor the untrusted side imports the
// other.
//
// It holds no policy: which messages to trust is the caller's decision.
package ablymsg

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/hitl/durable-approvals/internal/strictjson"
	"github.com/hitl/durable-approvals/workflows"
)

// maxEncodingSteps bounds the steps of a message's encoding.
const maxEncodingSteps = 4

// DecodeData decodes Ably message data into v, which must decode from a
// JSON object with no key written twice or in another case than its
// field's (strictjson.DecodeMessage). It accepts what ably-go hands out: a map (realtime
// subscription to an ably-go publisher), a string with encoding "json"
// (ably-js, ably-go REST), or bytes holding JSON text, after undoing
// "base64" and "utf-8" steps of the encoding.
func DecodeData(data any, encoding string, v any) error {
	raw, err := dataJSON(data, encoding)
	if err != nil {
		return err
	}
	if len(raw) > workflows.MaxMessageDataLen {
		return fmt.Errorf("data larger than %d bytes", workflows.MaxMessageDataLen)
	}
	if t := bytes.TrimLeft(raw, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return errors.New("data is not a JSON object")
	}
	// Read as strictjson reads a message, not as encoding/json alone,
	// which takes the last of two keys and a key in any case as a field:
	// {"decision":"rejected","DECISION":"approved"} read as approved by
	// the bridge, and as rejected by a JavaScript reader (the inbox, the
	// guide's client). Such a message is refused; fields this program
	// does not know are skipped.
	if err := strictjson.DecodeMessage(raw, v); err != nil {
		return fmt.Errorf("bad JSON: %w", err)
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
			if len(s) > 2*workflows.MaxMessageDataLen {
				return nil, fmt.Errorf("data larger than %d bytes", workflows.MaxMessageDataLen)
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
