package workflows

import (
	"slices"
	"testing"
)

func TestSchemaKeywordsNotApplied(t *testing.T) {
	for _, tt := range []struct {
		name   string
		schema string
		want   []string
	}{
		{"all applied", `{"type":"object","description":"d","properties":{"title":{"type":"string","description":"t"}},"required":["title"],"additionalProperties":false}`, nil},
		{"nested", `{"type":"object","properties":{"amount":{"type":"number","minimum":0},"country":{"type":"string","enum":["DE","FR"]},"lines":{"type":"array","items":{"type":"object","properties":{"sku":{"pattern":"^[A-Z]+$"}}}}}}`,
			[]string{`properties."amount".minimum`, `properties."country".enum`, `properties."lines".items.properties."sku".pattern`}},
		{"top level", `{"type":"object","oneOf":[{}],"additionalProperties":{"type":"string"}}`,
			[]string{"additionalProperties (a schema: applied as true)", "oneOf"}},
		{"tuple items", `{"type":"array","items":[{"type":"string"}]}`, []string{"items (a list)"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SchemaKeywordsNotApplied([]byte(tt.schema))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := SchemaKeywordsNotApplied([]byte(`{`)); err == nil {
		t.Fatal("a schema that is not JSON: no error")
	}
}
