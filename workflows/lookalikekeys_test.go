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
		{"full-width letters", `{"slug":"a","tags":{"tag":"x","ｔａｇ":"y"}}`, free, `keys "tag" and "\uff54\uff41\uff47" look the same`},
		{"full folding", `{"slug":"a","tags":{"strasse":"x","STRAßE":"y"}}`, free, `keys "strasse" and "STRA\u00dfE" look the same`},
		{"in an array", `{"slug":"a","lines":[{"a":1},{"ﬁle":1,"file":2}]}`, free, `arguments.lines[1]: keys "\ufb01le" and "file"`},
		{"a schema property in disguise", `{"ｓｌｕｇ":"b","slug":"a"}`, free, `keys "\uff53\uff4c\uff55\uff47" and "slug" look the same`},
		{"only the schema's", `{"ｓｌｕｇ":"b"}`, free, `key "\uff53\uff4c\uff55\uff47" looks like the schema's "slug"`},
		{"no schema", `{"x":{"caf\u00e9":1,"cafe\u0301":2}}`, nil, `arguments.x: keys`},
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
