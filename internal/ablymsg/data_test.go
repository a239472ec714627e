package ablymsg

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/hitl/durable-approvals/internal/strictjson"
	"github.com/hitl/durable-approvals/workflows"
)

type decision struct {
	Decision string `json:"decision"`
}

func TestDecodeData(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString([]byte(`{"decision":"approved"}`))
	tests := []struct {
		name     string
		data     any
		encoding string
		want     string
		wantErr  string
	}{
		{name: "map", data: map[string]any{"decision": "approved"}, want: "approved"},
		{name: "msgpack map", data: map[any]any{"decision": "approved"}, want: "approved"},
		{name: "json string", data: `{"decision":"approved"}`, encoding: "json", want: "approved"},
		{name: "bytes", data: []byte(`{"decision":"approved"}`), want: "approved"},
		{name: "json over base64", data: b64, encoding: "json/base64", want: "approved"},
		{name: "json over utf-8 over base64", data: b64, encoding: "json/utf-8/base64", want: "approved"},
		{name: "string without json", data: `{"decision":"approved"}`, wantErr: `without encoding "json"`},
		{name: "no data", data: nil, wantErr: "no data"},
		{name: "array", data: `[1]`, encoding: "json", wantErr: "not a JSON object"},
		{name: "trailing", data: `{"decision":"a"}{}`, encoding: "json", wantErr: "trailing data"},
		{name: "unknown encoding", data: "x", encoding: "cipher+aes-128-cbc", wantErr: "unsupported encoding"},
		{name: "json not first", data: "x", encoding: "base64/json", wantErr: "json must be the first step"},
		{name: "too many steps", data: "x", encoding: "json/utf-8/base64/base64/base64", wantErr: "too many steps"},
		{name: "json on a map", data: map[string]any{}, encoding: "json", wantErr: `encoding "json" on`},
		{name: "too large", data: `{"decision":"` + strings.Repeat("x", workflows.MaxMessageDataLen) + `"}`, encoding: "json", wantErr: "data larger than"},
		{name: "non-string key", data: map[any]any{1: "x"}, wantErr: "map key of type int"},
		{name: "number", data: 42, wantErr: "unsupported data type int"},
		{name: "four steps", data: base64.StdEncoding.EncodeToString([]byte(b64)), encoding: "json/base64/utf-8/base64", want: "approved"},
		{name: "at the size limit", data: sized(workflows.MaxMessageDataLen), encoding: "json", want: "approved"},
		{name: "one byte past it", data: sized(workflows.MaxMessageDataLen + 1), encoding: "json", wantErr: "data larger than"},
		{name: "at the size limit, base64", data: base64.StdEncoding.EncodeToString([]byte(sized(workflows.MaxMessageDataLen))), encoding: "json/base64", want: "approved"},
		// Text too long to be data within the limit is refused before it
		// is decoded (it is not even base64 here).
		{name: "base64 text too long", data: strings.Repeat("!", 2*workflows.MaxMessageDataLen+1), encoding: "json/base64", wantErr: "data larger than"},
		// ably-go's msgpack codec hands out maps within maps and arrays as
		// map[any]any: each becomes an object.
		{name: "msgpack maps nested", data: map[any]any{"decision": "approved", "m": map[any]any{"k": []any{map[any]any{"a": 1}}}}, want: "approved"},
		{name: "msgpack map in a map", data: map[string]any{"decision": "approved", "m": map[any]any{"k": 1}}, want: "approved"},
		{name: "nested to the bound", data: nested(32), want: "approved"},
		{name: "nested past it", data: nested(33), wantErr: "nested too deeply"},
		// A key written twice, or a field's name in another case, is read
		// one way by encoding/json (the last; any case) and another by a
		// JavaScript reader (the last; exact case only): refused.
		{name: "a key written twice", data: `{"decision":"rejected","decision":"approved"}`, encoding: "json", wantErr: `duplicate key "decision"`},
		{name: "a field's name in another case", data: `{"decision":"rejected","DECISION":"approved"}`, encoding: "json", wantErr: `differ only in case`},
		{name: "only in another case", data: `{"Decision":"approved"}`, encoding: "json", wantErr: `key "Decision": write it "decision"`},
		{name: "in another case, from a map", data: map[string]any{"decision": "rejected", "DECISION": "approved"}, wantErr: `key "DECISION": write it "decision"`}, // keys in order
		{name: "a key written twice in a field not known", data: `{"decision":"approved","x":{"a":1,"a":2}}`, encoding: "json", want: "approved"},
		// Fields this program does not know are skipped (a newer client's),
		// and text encoding/json reads as U+FFFD is taken so.
		{name: "fields not known", data: `{"decision":"approved","client":{"name":"guide","v":2},"at":[1,2]}`, encoding: "json", want: "approved"},
		{name: "half a surrogate pair", data: `{"decision":"approved","note":"\ud83d"}`, encoding: "json", want: "approved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d decision
			err := DecodeData(tt.data, tt.encoding, &d)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || d.Decision != tt.want {
				t.Fatalf("DecodeData = %+v, %v; want %q", d, err, tt.want)
			}
		})
	}
}

// sized is a decision of n bytes of JSON text.
func sized(n int) string {
	const head, tail = `{"decision":"approved","pad":"`, `"}`
	return head + strings.Repeat("x", n-len(head)-len(tail)) + tail
}

// nested is a decision whose "n" holds maps n deep in all, the innermost
// holding a number.
func nested(n int) map[any]any {
	var v any = 1
	for range n - 1 {
		v = map[any]any{"n": v}
	}
	return map[any]any{"decision": "approved", "n": v}
}

func TestAsMap(t *testing.T) {
	if m, ok := AsMap(map[any]any{"a": 1}); !ok || m["a"] != 1 {
		t.Errorf("AsMap(map[any]any) = %v, %v", m, ok)
	}
	if _, ok := AsMap(map[any]any{1: 1}); ok {
		t.Error("AsMap accepted a non-string key")
	}
	if _, ok := AsMap("x"); ok {
		t.Error("AsMap accepted a string")
	}
}

// FuzzDecodeData feeds arbitrary data and encodings through the decoder: it
// must never panic, and what it accepts is a bounded JSON object.
func FuzzDecodeData(f *testing.F) {
	f.Add(`{"decision":"approved"}`, "json")
	f.Add(`eyJkZWNpc2lvbiI6ImFwcHJvdmVkIn0=`, "json/base64")
	f.Add(`eyJkZWNpc2lvbiI6ImFwcHJvdmVkIn0=`, "json/utf-8/base64")
	f.Add(`{"a":{"b":[1,2,{"c":null}]}}`, "json")
	f.Fuzz(func(t *testing.T, data, encoding string) {
		var v map[string]any
		if err := DecodeData(data, encoding, &v); err != nil {
			return
		}
		if v == nil {
			t.Fatalf("accepted %q (%q) without an object", data, encoding)
		}
		if len(data) > 2*workflows.MaxMessageDataLen+8 {
			t.Fatalf("accepted %d bytes", len(data))
		}
	})
}

// FuzzDecodeDataAgreesWithJSON checks the decoder against encoding/json, the
// reference every other reader of the channel follows (ably-js parses with
// JSON.parse): JSON text, as a string with encoding "json" or as bytes,
// is accepted exactly when it is one valid JSON object within the size
// limit, and then decodes to what json.Unmarshal gives. A message that
// other readers cannot parse must not count on the trusted side.
func FuzzDecodeDataAgreesWithJSON(f *testing.F) {
	f.Add(`{"decision":"approved"}`)
	f.Add(` {"decision":"rejected","reason":"no"} ` + "\n")
	f.Add(`{"decision":"a"}{}`)
	f.Add(`{"a":{"b":[1,2,{"c":null}]}}`)
	f.Add(`[1]`)
	f.Add(`{"tool":"t","arguments":"{\"a\":\"\\u0007\"}","toolCallId":"c","workflowId":"w"}`)
	f.Add(`{"decision":"rejected","DECISION":"approved"}`)
	f.Add(`{"a":[{"k":1,"k":2}]}`)
	f.Add(`{"a":` + strings.Repeat("[", strictjson.MaxDepth) + `1` + strings.Repeat("]", strictjson.MaxDepth) + `}`)
	f.Add(`{"a":` + strings.Repeat("[", strictjson.MaxDepth-1) + `1` + strings.Repeat("]", strictjson.MaxDepth-1) + `}`)
	f.Fuzz(func(t *testing.T, text string) {
		// A valid object, unless two of its keys are equal under case
		// folding, or it nests deeper than strictjson allows.
		want := json.Valid([]byte(text)) && len(text) <= workflows.MaxMessageDataLen &&
			bytes.HasPrefix(bytes.TrimLeft([]byte(text), " \t\r\n"), []byte("{")) &&
			!foldedTwiceOrDeep(text)
		var ref map[string]any
		if want {
			if err := json.Unmarshal([]byte(text), &ref); err != nil {
				t.Fatalf("json.Unmarshal of valid object %q: %v", text, err)
			}
		}
		for _, in := range []struct {
			data     any
			encoding string
		}{{text, "json"}, {[]byte(text), ""}} {
			var got map[string]any
			err := DecodeData(in.data, in.encoding, &got)
			if (err == nil) != want {
				t.Fatalf("DecodeData(%q, %q) = %v; encoding/json says valid object: %v", text, in.encoding, err, want)
			}
			if err == nil && !reflect.DeepEqual(got, ref) {
				t.Fatalf("DecodeData(%q) = %v, json.Unmarshal = %v", text, got, ref)
			}
		}
	})
}

// foldedTwiceOrDeep reports whether the valid JSON text has an object with
// two keys equal under case folding, or nests deeper than
// strictjson.MaxDepth (the top-level value at depth 0).
func foldedTwiceOrDeep(text string) bool {
	dec := json.NewDecoder(strings.NewReader(text))
	var objects []map[string]bool // nil for an array
	expectKey := func() bool { return len(objects) > 0 && objects[len(objects)-1] != nil }
	for key := true; ; {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(objects) > strictjson.MaxDepth {
				return true
			}
			var keys map[string]bool
			if tok == json.Delim('{') {
				keys = map[string]bool{}
			}
			objects = append(objects, keys)
			key = true
			continue
		case json.Delim('}'), json.Delim(']'):
			objects = objects[:len(objects)-1]
		default:
			if k, ok := tok.(string); ok && expectKey() && key {
				f := strictjson.Fold(k)
				if objects[len(objects)-1][f] {
					return true
				}
				objects[len(objects)-1][f] = true
				key = false
				continue
			}
			if len(objects) > strictjson.MaxDepth {
				return true // a scalar as deep as a container may not be
			}
		}
		key = true // after a value, in an object, a key comes next
	}
}
