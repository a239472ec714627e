package strictjson

import (
	"encoding/json"
	"strings"
	"testing"
)

// celsius decodes itself from {"c": n}, keys that are not its fields.
type celsius struct{ degrees float64 }

func (c *celsius) UnmarshalJSON(b []byte) error {
	var v struct {
		C float64 `json:"c"`
	}
	err := json.Unmarshal(b, &v)
	c.degrees = v.C
	return err
}

type Inner struct {
	Note string `json:"note"`
}

type shapes struct {
	Pair  [2]stage `json:"pair"`
	Deep  **stage  `json:"deep"`
	Temp  celsius  `json:"temp"`
	Inner          // embedded: not supported, so refused
}

func TestDecodeShapes(t *testing.T) {
	tests := []struct {
		name, in, wantErr string
		exact             bool // wantErr is the whole error
	}{
		{name: "an array's structs", in: `{"pair":[{"minRole":"a"},{"MINROLE":"b"}]}`, wantErr: `pair[1]: key "MINROLE": write it "minRole"`},
		{name: "a pointer to a pointer to a struct", in: `{"deep":{"MINROLE":"b"}}`, wantErr: `deep: key "MINROLE": write it "minRole"`},
		{name: "a pointer to a pointer, valid", in: `{"deep":{"minRole":"b"}}`},
		{name: "a type that decodes itself", in: `{"temp":{"c":21.5}}`},
		{name: "a type that decodes itself, a key twice", in: `{"temp":{"c":1,"c":2}}`, wantErr: `temp: duplicate key "c"`},
		{name: "an embedded struct by its name", in: `{"Inner":{"note":"x"}}`, wantErr: `unknown field "Inner"`},
		{name: "an embedded struct's field", in: `{"note":"x"}`, wantErr: `unknown field "note"`, exact: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s shapes
			err := Decode([]byte(tt.in), &s)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Decode: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Decode error = %v, want it to contain %q", err, tt.wantErr)
			case tt.exact && err.Error() != tt.wantErr:
				t.Fatalf("Decode error = %q, want %q", err, tt.wantErr)
			}
		})
	}
	var s shapes
	if err := Decode([]byte(`{"temp":{"c":21.5},"deep":{"minRole":"b"}}`), &s); err != nil || s.Temp.degrees != 21.5 || (*s.Deep).MinRole != "b" {
		t.Fatalf("Decode = %v, %+v", err, s)
	}
}

// TestDecodeDepth: MaxDepth levels of arrays or objects, and the value in
// the innermost, are taken; one more level is refused.
func TestDecodeDepth(t *testing.T) {
	nest := func(open, close string, n int) string {
		return strings.Repeat(open, n) + "1" + strings.Repeat(close, n)
	}
	for _, c := range []struct{ open, close string }{{"[", "]"}, {`{"a":`, "}"}} {
		var v any
		if err := Decode([]byte(nest(c.open, c.close, MaxDepth)), &v); err != nil {
			t.Errorf("%d levels of %s: %v", MaxDepth, c.open, err)
		}
		if err := Decode([]byte(nest(c.open, c.close, MaxDepth+1)), &v); err == nil || !strings.Contains(err.Error(), "nested deeper than") {
			t.Errorf("%d levels of %s: err = %v, want nested too deep", MaxDepth+1, c.open, err)
		}
	}
}
