package strictjson

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	v, err := time.ParseDuration(strings.Trim(string(b), `"`))
	*d = duration(v)
	return err
}

type stage struct {
	After   duration `json:"after"`
	MinRole string   `json:"minRole"`
}

type rule struct {
	MinRole  string   `json:"minRole"`
	Timeout  duration `json:"timeout,omitempty"`
	Escalate []stage  `json:"escalate,omitempty"`
	Ignored  string   `json:"-"`
	Plain    bool
}

type doc struct {
	Roles []string        `json:"roles"`
	Tools map[string]rule `json:"tools"`
	Extra *struct {
		Note string `json:"note"`
	} `json:"extra,omitempty"`
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name, in, wantErr string
	}{
		{name: "valid", in: `{"roles":["a"],"tools":{"t":{"minRole":"a","timeout":"5m","escalate":[{"after":"1m","minRole":"b"}],"Plain":true}},"extra":{"note":"x"}}`},
		{name: "same key in a map", in: `{"tools":{"t":{"minRole":"a"},"t":{"minRole":"none"}}}`, wantErr: `tools: duplicate key "t"`},
		{name: "map keys that differ only in case", in: `{"tools":{"t":{"minRole":"a"},"T":{"minRole":"none"}}}`, wantErr: `tools: keys "t" and "T" differ only in case`},
		{name: "same field twice", in: `{"tools":{"t":{"minRole":"a","minRole":"none"}}}`, wantErr: `tools.t: duplicate key "minRole"`},
		{name: "field and its other case", in: `{"tools":{"t":{"minRole":"a","MINROLE":"none"}}}`, wantErr: `tools.t: keys "minRole" and "MINROLE" differ only in case`},
		{name: "field by the long s", in: `{"roleſ":["a"]}`, wantErr: `key "roleſ": write it "roles"`},
		{name: "field in another case alone", in: `{"tools":{"t":{"MINROLE":"none"}}}`, wantErr: `tools.t: key "MINROLE": write it "minRole"`},
		{name: "top-level field in another case", in: `{"tools":{"t":{"minRole":"a"}},"Tools":{"t":{"minRole":"none"}}}`, wantErr: `keys "tools" and "Tools" differ only in case`},
		{name: "unknown field", in: `{"tools":{"t":{"maxRole":"a"}}}`, wantErr: `tools.t: unknown field "maxRole"`},
		{name: "ignored field is unknown", in: `{"tools":{"t":{"Ignored":"a"}}}`, wantErr: `tools.t: unknown field "Ignored"`},
		{name: "in an array of structs", in: `{"tools":{"t":{"escalate":[{"after":"1m"},{"after":"2m","after":"3m"}]}}}`, wantErr: `tools.t.escalate[1]: duplicate key "after"`},
		{name: "in a pointer to a struct", in: `{"extra":{"Note":"x"}}`, wantErr: `extra: key "Note": write it "note"`},
		{name: "trailing data", in: `{"roles":[]} {}`, wantErr: "trailing data"},
		{name: "trailing garbage", in: `{}A`, wantErr: "trailing data"},
		{name: "trailing white space", in: "{} \n"},
		{name: "truncated", in: `{"roles":[`, wantErr: "EOF"},
		{name: "wrong type", in: `{"roles":"a"}`, wantErr: "cannot unmarshal"},
		// encoding/json reads a byte that is not UTF-8 as U+FFFD.
		{name: "not UTF-8 in a value", in: "{\"roles\":[\"admin\xff\"]}", wantErr: "not valid UTF-8 at byte 16"},
		{name: "not UTF-8 in keys", in: "{\"tools\":{\"t\xfe\":{},\"t\xff\":{}}}", wantErr: "not valid UTF-8 at byte 12"},
		{name: "a truncated sequence", in: "{\"roles\":[\"\xc3\"]}", wantErr: "not valid UTF-8 at byte 11"},
		{name: "UTF-8", in: `{"roles":["rédacteur","編集者","👩‍💻"]}`},
		// encoding/json reads half a surrogate pair as U+FFFD too.
		{name: "a high surrogate alone", in: `{"roles":["admin\ud800"]}`, wantErr: `\ud800 at byte 16: half a UTF-16 surrogate pair`},
		{name: "a low surrogate alone", in: `{"roles":["\uDC00"]}`, wantErr: `\uDC00 at byte 11`},
		{name: "a high surrogate before another escape", in: `{"roles":["\ud800\u0041"]}`, wantErr: `\ud800 at byte 11`},
		{name: "a high surrogate at the end", in: `{"roles":["\ud800`, wantErr: `\ud800 at byte 11`},
		{name: "two high surrogates", in: `{"roles":["\ud83d\ud83d"]}`, wantErr: `\ud83d at byte 11`},
		{name: "two low surrogates", in: `{"roles":["\udc00\udc00"]}`, wantErr: `\udc00 at byte 11`},
		{name: "a high surrogate before a character past the low ones", in: `{"roles":["\ud800\ue000"]}`, wantErr: `\ud800 at byte 11`},
		{name: "a high surrogate before text like an escape", in: `{"roles":["\ud800xudc00"]}`, wantErr: `\ud800 at byte 11`},
		{name: "a surrogate pair", in: `{"roles":["\ud83d\ude00","\uD83D\uDE00x"]}`},
		{name: "in a key", in: `{"tools":{"t\udfff":{}}}`, wantErr: `\udfff at byte 12`},
		{name: "escapes that are no surrogate", in: `{"roles":["\\ud800","\"\ud800\"","\u00e9\n\u0022"]}`, wantErr: `\ud800 at byte 23`},
		{name: "an escaped backslash before u", in: `{"roles":["\\ud800","x\\\\udc00"]}`},
		{name: "too deep", in: `{"extra":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, wantErr: "nested deeper than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d doc
			err := Decode([]byte(tt.in), &d)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Decode: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Decode error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestDecodeValid(t *testing.T) {
	var d doc
	if err := Decode([]byte(`{"roles":["a","b"],"tools":{"t":{"minRole":"b","timeout":"5m","Plain":true}}}`), &d); err != nil {
		t.Fatal(err)
	}
	if got := d.Tools["t"]; got.MinRole != "b" || time.Duration(got.Timeout) != 5*time.Minute || !got.Plain || len(d.Roles) != 2 {
		t.Fatalf("decoded %+v", d)
	}
	if err := Decode([]byte(`{}`), d); err == nil {
		t.Fatal("Decode into a non-pointer: no error")
	}
}

// Fold stands for strings.EqualFold where keys are compared through a map
// (here and in workflows.CanonicalArguments): they must agree on every
// pair of strings.
func FuzzFold(f *testing.F) {
	for _, p := range [][2]string{{"title", "TITLE"}, {"slug", "ſlug"}, {"K", "\u212a"}, {"ß", "ss"}, {"σ", "ς"}, {"a", "b"}} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if !utf8.ValidString(a) || !utf8.ValidString(b) {
			return
		}
		if got, want := Fold(a) == Fold(b), strings.EqualFold(a, b); got != want {
			t.Fatalf("Fold(%q) == Fold(%q) is %v, strings.EqualFold is %v", a, b, got, want)
		}
	})
}

// FuzzDecode: whatever Decode accepts, encoding/json decodes the same way.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"roles":["a"],"tools":{"t":{"minRole":"a","timeout":"5m"}}}`))
	f.Add([]byte(`{"tools":{"t":{"minRole":"a","MINROLE":"none"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var d doc
		if err := Decode(data, &d); err != nil {
			return
		}
		var plain doc
		if err := json.Unmarshal(data, &plain); err != nil {
			t.Fatalf("Decode accepted what encoding/json refuses: %v", err)
		}
		if !reflect.DeepEqual(d, plain) {
			t.Fatalf("Decode gave %+v, encoding/json %+v", d, plain)
		}
	})
}

func TestDecodeEdges(t *testing.T) {
	var n struct {
		N   json.Number     `json:"n"`
		Raw json.RawMessage `json:"raw"`
	}
	if err := Decode([]byte(`{"n":1e400,"raw":{"a":1e999}}`), &n); err != nil || n.N != "1e400" {
		t.Fatalf("Decode = %v, %+v", err, n)
	}
	var m map[int]string
	if err := Decode([]byte(`{"1":"a","01":"b"}`), &m); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Fatalf("a map keyed by int: %v, want it refused", err)
	}
}

// FuzzNoReplacementChar: what Decode accepts decodes to no U+FFFD that
// the text did not write (as the character or its escape).
func FuzzNoReplacementChar(f *testing.F) {
	f.Add([]byte(`{"a":["\ud83d\ude00","\u00e9"]}`))
	f.Add([]byte(`{"\ud800":"x"}`))
	f.Add([]byte("{\"a\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if Decode(data, &v) != nil || strings.Contains(strings.ToLower(string(data)), "fffd") || strings.ContainsRune(string(data), utf8.RuneError) {
			return
		}
		var walk func(any)
		walk = func(x any) {
			switch x := x.(type) {
			case string:
				if strings.ContainsRune(x, utf8.RuneError) {
					t.Fatalf("Decode(%q) read %q", data, x)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			case map[string]any:
				for k, e := range x {
					walk(k)
					walk(e)
				}
			}
		}
		walk(v)
	})
}
