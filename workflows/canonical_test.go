package workflows

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

const publishSchema = `{"type":"object","properties":{"title":{"type":"string"},"body":{"type":"string"}},"required":["title"],"additionalProperties":false}`

func TestCanonicalArguments(t *testing.T) {
	tests := []struct {
		name    string
		args    string
		schema  string
		want    string
		wantErr string
	}{
		{name: "sorted and compact", args: "{ \"title\" : \"Hi\",\n \"body\": \"x\" }", schema: publishSchema, want: `{"body":"x","title":"Hi"}`},
		{name: "escapes are normalised", args: `{"title":"\u0041 <b> \u00e9"}`, schema: publishSchema, want: `{"title":"A <b> é"}`},
		{name: "numbers as written", args: `{"n":1.50,"m":[1,2e3,{"z":null,"a":true}]}`, schema: `{"type":"object"}`, want: `{"m":[1,2e3,{"a":true,"z":null}],"n":1.50}`},
		{name: "no schema allows any object", args: `{"b":1,"a":2}`, want: `{"a":2,"b":1}`},
		// The review's reproductions: what the approver would see is not
		// what encoding/json hands the tool.
		{name: "duplicate key", args: `{"title":"Quarterly update","title":"We are shutting down"}`, schema: publishSchema, wantErr: `duplicate key "title"`},
		{name: "key in other case", args: `{"title":"Quarterly update","body":"b","TITLE":"We are shutting down"}`, schema: publishSchema, wantErr: `keys "title" and "TITLE" differ only in case`},
		{name: "long s folds to s", args: `{"slug":"old-draft","ſlug":"introducing-our-new-api"}`, schema: `{"type":"object","properties":{"slug":{"type":"string"}},"required":["slug"],"additionalProperties":false}`, wantErr: `differ only in case`},
		{name: "folded name alone", args: `{"ſlug":"introducing-our-new-api"}`, schema: `{"type":"object","properties":{"slug":{"type":"string"}},"required":["slug"],"additionalProperties":false}`, wantErr: `key "ſlug" is not the schema's "slug"`},
		{name: "case alone", args: `{"Title":"x"}`, schema: publishSchema, wantErr: `key "Title" is not the schema's "title"`},
		{name: "unknown field", args: `{"title":"x","author":"y"}`, schema: publishSchema, wantErr: `key "author" is not allowed (allowed: body, title)`},
		{name: "additional allowed", args: `{"title":"x","author":"y"}`, schema: `{"type":"object","properties":{"title":{"type":"string"}},"additionalProperties":true}`, want: `{"author":"y","title":"x"}`},
		{name: "missing required", args: `{"body":"x"}`, schema: publishSchema, wantErr: `"title" is required`},
		{name: "wrong type", args: `{"title":7}`, schema: publishSchema, wantErr: `arguments.title: want string, got number`},
		{name: "integer", args: `{"n":1.5}`, schema: `{"type":"object","properties":{"n":{"type":"integer"}}}`, wantErr: `want integer`},
		{name: "type list", args: `{"n":null}`, schema: `{"type":"object","properties":{"n":{"type":["string","null"]}}}`, want: `{"n":null}`},
		{name: "nested duplicate", args: `{"a":{"x":1,"x":2}}`, wantErr: `duplicate key "x"`},
		{name: "array items", args: `{"tags":["a",3]}`, schema: `{"type":"object","properties":{"tags":{"type":"array","items":{"type":"string"}}}}`, wantErr: `arguments.tags[1]: want string`},
		{name: "not an object", args: `["title"]`, schema: publishSchema, wantErr: "not a JSON object"},
		{name: "trailing data", args: `{"title":"x"}{}`, schema: publishSchema, wantErr: "trailing data"},
		{name: "bad JSON", args: `{"title":`, schema: publishSchema, wantErr: "bad JSON"},
		{name: "invalid UTF-8", args: "{\"title\":\"\xff\"}", schema: publishSchema, wantErr: "not valid UTF-8"},
		{name: "too deep", args: strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40), wantErr: "nested deeper than"},
		{name: "bad schema", args: `{}`, schema: `{"type":1}`, wantErr: "the tool's schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CanonicalArguments(tt.args, json.RawMessage(tt.schema))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("CanonicalArguments = %q, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("CanonicalArguments = %q, %v; want %q", got, err, tt.want)
			}
			again, err := CanonicalArguments(got, json.RawMessage(tt.schema))
			if err != nil || again != got {
				t.Fatalf("canonical form is not a fixed point: %q -> %q, %v", got, again, err)
			}
		})
	}
}

func TestArgumentsDigest(t *testing.T) {
	// sha256 of {"title":"Hi"}, computed with sha256sum.
	const want = "sha256:fe8d9af81ed1922c5cd8db58035514e6f0ade6452f4a986c4906177adb3a9c25"
	got := ArgumentsDigest(`{"title":"Hi"}`)
	if got != want {
		t.Fatalf("digest = %q, want %q", got, want)
	}
	if got == ArgumentsDigest(`{"title":"Hi "}`) {
		t.Fatal("different arguments, same digest")
	}
}

// FuzzCanonicalArguments: whatever the model sends, what is accepted is a
// fixed point, decodes to the same value with encoding/json, and has no
// two keys that encoding/json could confuse.
func FuzzCanonicalArguments(f *testing.F) {
	f.Add(`{"title":"Quarterly update","body":"x"}`)
	f.Add(`{"title":"a","TITLE":"b"}`)
	f.Add(`{"slug":"a","ſlug":"b"}`)
	f.Add(`{"title":"\u00e9\ud83d\ude00","body":"<&>"}`)
	f.Add(`{"title":"x","body":"y","n":[1,{"a":2}]}`)
	f.Fuzz(func(t *testing.T, args string) {
		schema := json.RawMessage(`{"type":"object","properties":{"title":{"type":"string"},"body":{"type":"string"}},"required":["title"]}`)
		got, err := CanonicalArguments(args, schema)
		if err != nil {
			return
		}
		again, err := CanonicalArguments(got, schema)
		if err != nil || again != got {
			t.Fatalf("not a fixed point: %q -> %q, %v", got, again, err)
		}
		var a, b any
		if err := json.Unmarshal([]byte(args), &a); err != nil {
			t.Fatalf("accepted %q that encoding/json refuses: %v", args, err)
		}
		if err := json.Unmarshal([]byte(got), &b); err != nil {
			t.Fatalf("canonical %q does not decode: %v", got, err)
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			t.Fatalf("canonical form changed the value: %s vs %s", ja, jb)
		}
		var tool struct{ Title, Body string }
		if err := json.Unmarshal([]byte(got), &tool); err != nil {
			return
		}
		if m, ok := b.(map[string]any); ok && m["title"] != tool.Title {
			t.Fatalf("the tool would read title %q, the approver sees %v", tool.Title, m["title"])
		}
		// Lookalike keys are the same question on the same bytes: the
		// canonical form has them exactly when the input does.
		if (LookalikeKeys(args, schema) == nil) != (LookalikeKeys(got, schema) == nil) {
			t.Fatalf("LookalikeKeys differs between %q and its canonical form %q", args, got)
		}
	})
}

func TestHasLoneSurrogate(t *testing.T) {
	tests := []struct {
		json string
		want bool
	}{
		{`{"title":"plain"}`, false},
		{`{"title":"\ud83d\ude00"}`, false},      // a pair: one character
		{`{"title":"\uD83D\uDE00 x"}`, false},    // upper-case hex
		{`{"title":"\u00e9\u4e2d"}`, false},      // not surrogates
		{`{"title":"\ud800"}`, true},             // a high half alone
		{`{"title":"\ud800abc"}`, true},          // followed by text
		{`{"title":"\udc00"}`, true},             // a low half alone
		{`{"title":"\ude00\ud83d"}`, true},       // halves in the wrong order
		{`{"title":"\ud83d\ud83d\ude00"}`, true}, // a high half before a pair
		{`{"title":"\ud83d\u0041"}`, true},       // a high half before another escape
		{`{"title":"\\ud800"}`, false},           // an escaped backslash, then text
		{`{"title":"\\\ud800"}`, true},           // an escaped backslash, then a half
		{`{"title":"\ud80"}`, false},             // not JSON: the parser refuses it
		{`\ud800`, true},
		{`\`, false},
		{``, false},
	}
	for _, tt := range tests {
		if got := HasLoneSurrogate(tt.json); got != tt.want {
			t.Errorf("HasLoneSurrogate(%s) = %v, want %v", tt.json, got, tt.want)
		}
	}
}

// FuzzHasLoneSurrogate checks HasLoneSurrogate against what it stands
// for: JSON text that encoding/json decodes to a string holding U+FFFD
// where the text itself has none (raw or escaped) came from a lone half.
func FuzzHasLoneSurrogate(f *testing.F) {
	for _, s := range []string{`"\ud800"`, `"\ud83d\ude00"`, `"\\ud800"`, `"\udc00\ud800"`, `"x"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var v string
		if !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError) || strings.Contains(strings.ToLower(s), "ufffd") ||
			json.Unmarshal([]byte(s), &v) != nil {
			return // U+FFFD written in the text, or not a JSON string
		}
		replaced := strings.ContainsRune(v, utf8.RuneError)
		if got := HasLoneSurrogate(s); got != replaced {
			t.Errorf("HasLoneSurrogate(%q) = %v, but encoding/json reads %q", s, got, v)
		}
	})
}
