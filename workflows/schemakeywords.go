package workflows

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// appliedSchemaKeywords are the JSON Schema keywords CanonicalArguments
// applies (argSchema); annotationKeywords change no check.
var (
	appliedSchemaKeywords = []string{"type", "properties", "required", "additionalProperties", "items"}
	annotationKeywords    = []string{"description", "title", "$schema", "$comment", "$id", "examples", "default", "deprecated", "readOnly", "writeOnly"}
)

// CheckToolSchema reports whether the workflow can read a tool's parameter
// schema: with a schema it cannot read (a list-valued "items", a boolean
// property schema), CanonicalArguments refuses every call of the tool.
func CheckToolSchema(schema []byte) error {
	var s argSchema
	if err := json.Unmarshal(schema, &s); err != nil {
		return fmt.Errorf("the workflow cannot read it, so every call would be denied: %w", err)
	}
	return nil
}

// SchemaKeywordsNotApplied lists, as paths such as
// "properties.amount.minimum", the keywords of a tool's parameter schema
// that the workflow's check of the arguments does not apply: a "minimum",
// an "enum" or a "pattern" reaches the model, which may ignore it, and the
// arguments an approver is shown may break it. A schema-valued
// additionalProperties (applied as true) and a list-valued items are
// listed too. The result is sorted.
func SchemaKeywordsNotApplied(schema []byte) ([]string, error) {
	var v any
	if err := json.Unmarshal(schema, &v); err != nil {
		return nil, fmt.Errorf("parameter schema: %w", err)
	}
	var out []string
	walkSchema(v, "", &out)
	slices.Sort(out)
	return out, nil
}

func walkSchema(v any, at string, out *[]string) {
	s, ok := v.(map[string]any)
	if !ok {
		return
	}
	//workflowcheck:ignore: map order does not matter, the result is sorted
	for k, sub := range s {
		path := k
		if at != "" {
			path = at + "." + k
		}
		switch {
		case slices.Contains(annotationKeywords, k):
		case !slices.Contains(appliedSchemaKeywords, k):
			*out = append(*out, path)
		case k == "properties":
			props, _ := sub.(map[string]any)
			//workflowcheck:ignore: map order does not matter, the result is sorted
			for name, p := range props {
				walkSchema(p, path+"."+strconv.Quote(name), out)
			}
		case k == "items":
			if _, list := sub.([]any); list {
				*out = append(*out, path+" (a list)")
				continue
			}
			walkSchema(sub, path, out)
		case k == "additionalProperties":
			if _, isBool := sub.(bool); !isBool {
				*out = append(*out, path+" (a schema: applied as true)")
			}
		}
	}
}
