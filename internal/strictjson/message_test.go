package strictjson

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// DecodeMessage checks keys as Decode does, but skips fields it does not
// know and takes text as encoding/json takes it.
func TestDecodeMessage(t *testing.T) {
	type response struct {
		Decision string `json:"decision"`
		Reason   string `json:"reason"`
	}
	tests := []struct {
		name    string
		in      string
		want    response
		wantErr string
	}{
		{name: "as written", in: `{"decision":"approved","reason":"ok"}`, want: response{Decision: "approved", Reason: "ok"}},
		{name: "fields not known", in: `{"decision":"approved","client":{"name":"guide"},"at":[1,{"b":2}]}`, want: response{Decision: "approved"}},
		{name: "half a surrogate pair", in: `{"decision":"rejected","reason":"no \ud83d"}`, want: response{Decision: "rejected", Reason: "no \uFFFD"}},
		{name: "a byte not UTF-8", in: "{\"decision\":\"rejected\",\"reason\":\"no \xff\"}", want: response{Decision: "rejected", Reason: "no \uFFFD"}},
		{name: "a key written twice", in: `{"decision":"rejected","decision":"approved"}`, wantErr: `duplicate key "decision"`},
		{name: "in two cases", in: `{"decision":"rejected","DECISION":"approved"}`, wantErr: `keys "decision" and "DECISION" differ only in case`},
		{name: "a field's name in another case", in: `{"Decision":"approved"}`, wantErr: `key "Decision": write it "decision"`},
		{name: "folded like a field's name", in: `{"reaſon":"x","decision":"approved"}`, wantErr: `write it "reason"`},
		// Nothing is decoded from a field not known: its keys are its own
		// business (a guide client's metadata).
		{name: "keys twice inside a field not known", in: `{"decision":"approved","x":{"a":1,"A":2,"a":3,"y":[{"k":1,"k":2}]}}`, want: response{Decision: "approved"}},
		{name: "trailing data", in: `{"decision":"approved"}{}`, wantErr: "trailing data"},
		{name: "nested deep inside a field not known", in: `{"decision":"approved","x":` + strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1) + `}`, want: response{Decision: "approved"}},
		{name: "nested too deeply", in: `[` + strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1) + `]`, wantErr: "nested deeper than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got response
			err := DecodeMessage([]byte(tt.in), &got)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("DecodeMessage = %+v, %v; want %+v", got, err, tt.want)
			}
			// Decode, for files, refuses what DecodeMessage skips or takes.
			if tt.name != "as written" && Decode([]byte(tt.in), &response{}) == nil {
				t.Errorf("Decode took %s", tt.in)
			}
		})
	}
}

// DecodeMessage checks the fields of an embedded struct as encoding/json
// decodes them, at the level of the object that embeds it (the approval
// request's CallRules: revision, approvedBy …): before, they counted as
// fields not known and were skipped by the check, so {"REVISION":5} was
// read as revision 5, where a JavaScript reader reads no revision.
func TestDecodeMessageEmbedded(t *testing.T) {
	type Rules struct {
		Revision int    `json:"revision"`
		Note     string `json:"note"`
	}
	type Deep struct{ Rules }
	type request struct {
		Tool string `json:"tool"`
		Rules
		*Deep        // Rules' fields again, deeper: the shallower ones count
		Note  string `json:"note"` // hides Rules.Note
	}
	tests := []struct {
		name, in, wantErr string
		wantRevision      int
		wantNote          string
	}{
		{name: "as written", in: `{"tool":"t","revision":5,"note":"n"}`, wantRevision: 5, wantNote: "n"},
		{name: "an embedded field in another case", in: `{"tool":"t","REVISION":5}`, wantErr: `key "REVISION": write it "revision"`},
		{name: "folded like an embedded field", in: `{"tool":"t","revision":1,"rEvision":5}`, wantErr: `differ only in case`},
		{name: "fields not known", in: `{"tool":"t","Rules":{"x":1},"other":2}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got request
			err := DecodeMessage([]byte(tt.in), &got)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got.Revision != tt.wantRevision || got.Note != tt.wantNote {
				t.Fatalf("DecodeMessage = %+v, %v; want revision %d, note %q", got, err, tt.wantRevision, tt.wantNote)
			}
		})
	}
	// A struct that embeds itself ends the look (encoding/json's too).
	type node struct {
		*node
		V int `json:"v"`
	}
	var n node
	if err := DecodeMessage([]byte(`{"v":1}`), &n); err != nil || n.V != 1 || n.node != nil {
		t.Fatalf("self-embedding: %+v, %v", n, err)
	}
	if err := DecodeMessage([]byte(`{"V":1}`), &n); err == nil {
		t.Fatal(`self-embedding: {"V":1} taken`)
	}
}

// FuzzDecodeMessage: whatever a message holds, DecodeMessage does not
// panic, and what it takes decodes as encoding/json decodes it.
func FuzzDecodeMessage(f *testing.F) {
	type Rules struct {
		Revision int               `json:"revision"`
		By       []map[string]any  `json:"by"`
		Next     *struct{ At int } `json:"next"`
	}
	type message struct {
		Decision string `json:"decision"`
		Rules
		Extra map[string]string `json:"extra"`
	}
	for _, s := range []string{`{"decision":"approved"}`, `{"decision":"a","revision":2,"by":[{"a":1}],"next":{"At":1}}`, `{"REVISION":1}`, `{"x":{"a":1,"A":2}}`, `{"extra":{"k":"v","K":"w"}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got, want message
		if DecodeMessage([]byte(s), &got) != nil {
			return
		}
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatalf("DecodeMessage took %q, json.Unmarshal: %v", s, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("DecodeMessage(%q) = %+v, json.Unmarshal = %+v", s, got, want)
		}
	})
}
