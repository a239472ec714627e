package workflows

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/hitl/durable-approvals/internal/strictjson"
)

// LookalikeKeys reports two keys of one object in a tool call's arguments
// that a reader cannot tell apart although they are different strings:
// keys equal once written in the one composed form Unicode gives canonically
// equivalent text (NFC: "café" with U+00E9 and with "e" and U+0301), with
// invisible characters (format characters, variation selectors and the
// other default-ignorable code points) left out and case folded as
// CanonicalArguments folds it; or a key that is equal so to a schema
// property and is not that property. The approver would see one key twice,
// or the schema's key, and could not know which the tool reads. The error
// writes the keys with \u escapes, so that they differ.
//
// Keys that only look alike (Latin "a" and Cyrillic "а", "m2" and "m²") are
// not its business: they are different text, which the approver CLI and
// the web inbox show as it is.
//
// Callers ask it about arguments CanonicalArguments accepted (it does not
// apply the schema); the workflow refuses such arguments since
// changeLookalikeKeys.
func LookalikeKeys(args string, schema json.RawMessage) error {
	v, s, err := parseArguments(args, schema)
	if err != nil {
		return nil // CanonicalArguments says why
	}
	return lookalikeKeys(v, &s, "arguments")
}

// canonicalAndLookalikes is CanonicalArguments and LookalikeKeys from one
// parse of the arguments: canon and err are CanonicalArguments' answer,
// lookalike LookalikeKeys'.
func canonicalAndLookalikes(args string, schema json.RawMessage) (canon string, lookalike, err error) {
	v, s, err := parseArguments(args, schema)
	if err != nil {
		return "", nil, err
	}
	lookalike = lookalikeKeys(v, &s, "arguments")
	canon, err = canonicalForm(v, &s)
	return canon, lookalike, err
}

// lookalikeKey is key as a reader takes it: NFC, without invisible
// characters, case folded (strictjson.Fold).
func lookalikeKey(key string) string {
	return strictjson.Fold(strings.Map(func(r rune) rune {
		if unicode.In(r, unicode.Cf, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point) {
			return -1
		}
		return r
	}, norm.NFC.String(key)))
}

func lookalikeKeys(v value, s *argSchema, at string) error {
	switch v.kind {
	case kindObject:
		var props map[string]*argSchema
		declared := map[string]string{}
		if s != nil {
			props = s.Properties
			for _, name := range s.propertyNames() { // sorted: the same answer on every replay
				declared[lookalikeKey(name)] = name
			}
		}
		seen := make(map[string]string, len(v.members))
		for _, m := range v.members {
			k := lookalikeKey(m.key)
			if other, ok := seen[k]; ok {
				return fmt.Errorf("%s: keys %+q and %+q look the same (they differ only in Unicode normalisation, invisible characters or case)", at, other, m.key)
			}
			seen[k] = m.key
			if name, ok := declared[k]; ok && name != m.key {
				return fmt.Errorf("%s: key %+q looks like the schema's %q (keys must match exactly)", at, m.key, name)
			}
			if err := lookalikeKeys(m.val, props[m.key], at+"."+m.key); err != nil {
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
