package workflows

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestLookalikeKeys(t *testing.T) {
	free := json.RawMessage(`{"type":"object","properties":{"slug":{"type":"string"},"tags":{"type":"object"},"lines":{"type":"array","items":{"type":"object"}}}}`)
	for _, tt := range []struct {
		name, args string
		schema     json.RawMessage
		want       string // "" when none
	}{
		{"plain", `{"slug":"a","tags":{"cafe":"x","café":"y"}}`, free, ""},
		{"NFC and NFD", `{"slug":"a","tags":{"caf\u00e9":"x","cafe\u0301":"y"}}`, free, `arguments.tags: keys "caf\u00e9" and "cafe\u0301" look the same`},
		{"NFD and another case", `{"slug":"a","tags":{"Caf\u00e9":"x","cafe\u0301":"y"}}`, free, `keys "Caf\u00e9" and "cafe\u0301" look the same`},
		{"combining grapheme joiner", `{"slug":"a","tags":{"tag":"x","ta\u034fg":"y"}}`, free, `keys "tag" and "ta\u034fg" look the same`},
		{"variation selector", `{"slug":"a","tags":{"tag":"x","tag\ufe0f":"y"}}`, free, `keys "tag" and "tag\ufe0f" look the same`},
		{"zero-width space", `{"slug":"a","tags":{"tag":"x","t\u200bag":"y"}}`, free, `keys "tag" and "t\u200bag" look the same`},
		{"in an array", `{"slug":"a","lines":[{"a":1},{"caf\u00e9":1,"cafe\u0301":2}]}`, free, `arguments.lines[1]: keys`},
		{"a schema property in disguise", `{"slu\u200bg":"b"}`, free, `key "slu\u200bg" looks like the schema's "slug"`},
		{"no schema", `{"x":{"caf\u00e9":1,"cafe\u0301":2}}`, nil, `arguments.x: keys`},
		// Different text that a reader can tell apart is not refused.
		{"sharp s", `{"slug":"a","tags":{"Maße":"10x20cm","Masse":"2kg"}}`, free, ""},
		{"superscript", `{"slug":"a","tags":{"m2":1,"m²":2}}`, free, ""},
		{"subscript", `{"slug":"a","tags":{"H2O":1,"H₂O":2}}`, free, ""},
		{"full-width", `{"slug":"a","tags":{"tag":1,"ｔａｇ":2}}`, free, ""},
		{"not JSON: CanonicalArguments says why", `{"a":`, free, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := LookalikeKeys(tt.args, tt.schema)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("LookalikeKeys = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("LookalikeKeys = %v, want %q", err, tt.want)
			}
		})
	}
}

// bigArguments are arguments of about MaxEditedArgumentsLen bytes with
// about 2000 keys, some with non-ASCII letters, and a schema of 200
// properties none of them matches.
func bigArguments() (string, json.RawMessage) {
	props := map[string]any{}
	for i := range 200 {
		props["prop"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+string(rune('a'+i/26))] = map[string]any{"type": "string"}
	}
	schema, _ := json.Marshal(map[string]any{"type": "object", "properties": props})
	var args strings.Builder
	args.WriteString("{")
	for i := 0; args.Len() < MaxEditedArgumentsLen-20; i++ {
		if i > 0 {
			args.WriteString(",")
		}
		args.WriteString(`"k` + strings.Repeat("é", i%3) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676)) + `":1`)
	}
	args.WriteString("}")
	return args.String(), schema
}

// Each key is folded once and the schema's names once per object, so a
// large object costs about what CanonicalArguments does.
func BenchmarkLookalikeKeys(b *testing.B) {
	args, schema := bigArguments()
	if _, err := CanonicalArguments(args, schema); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := LookalikeKeys(args, schema); err != nil {
			b.Fatal(err)
		}
	}
}

// The duplicate-key check folds each key once (strictjson.Fold) instead of
// comparing every pair of keys.
func BenchmarkCanonicalArguments(b *testing.B) {
	args, schema := bigArguments()
	for b.Loop() {
		if _, err := CanonicalArguments(args, schema); err != nil {
			b.Fatal(err)
		}
	}
}
