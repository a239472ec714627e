package workflows

import (
	"encoding/json"
	"fmt"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// LookalikeKeys reports two keys of one object in a tool call's arguments
// that a reader cannot tell apart although CanonicalArguments accepts them:
// they differ only in Unicode normalisation, with case folded ("café"
// written with U+00E9 and with "e" and U+0301; "ｔａｇ" in full-width
// letters and "tag"), or a key that looks like a schema property only so.
// The approver would see one key twice and could not know which the tool
// reads. The error writes the keys with \u escapes, so that they differ. It returns nil when there is none, and for arguments that
// CanonicalArguments refuses anyway (it says why). The workflow refuses
// such arguments since changeLookalikeKeys.
func LookalikeKeys(args string, schema json.RawMessage) error {
	v, s, err := parseArguments(args, schema)
	if err != nil {
		return nil
	}
	return lookalikeKeys(v, &s, "arguments")
}

// lookalikeKey is key as a reader takes it: compatibility-normalised
// (NFKC) and case-folded (full folding: "ß" is "ss").
func lookalikeKey(key string) string {
	return cases.Fold().String(norm.NFKC.String(key))
}

func lookalikeKeys(v value, s *argSchema, at string) error {
	switch v.kind {
	case kindObject:
		seen := make(map[string]string, len(v.members))
		for _, m := range v.members {
			k := lookalikeKey(m.key)
			if other, ok := seen[k]; ok {
				return fmt.Errorf("%s: keys %+q and %+q look the same (they differ only in Unicode normalisation)", at, other, m.key)
			}
			seen[k] = m.key
		}
		var props map[string]*argSchema
		if s != nil {
			props = s.Properties
		}
		for _, m := range v.members {
			sub, declared := props[m.key]
			if !declared && s != nil {
				for _, name := range s.propertyNames() {
					if lookalikeKey(name) == lookalikeKey(m.key) {
						return fmt.Errorf("%s: key %+q looks like the schema's %q (keys must match exactly)", at, m.key, name)
					}
				}
			}
			if err := lookalikeKeys(m.val, sub, at+"."+m.key); err != nil {
				return err
			}
		}
	case kindArray:
		var items *argSchema
		if s != nil {
			items = s.Items
		}
		for i, e := range v.elems {
			if err := lookalikeKeys(e, items, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	}
	return nil
}
