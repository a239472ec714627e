package workflows

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/hitl/durable-approvals/internal/strictjson"
)

// maxArgumentsDepth bounds the nesting of a tool call's arguments.
const maxArgumentsDepth = 32

// CanonicalArguments checks a tool call's arguments (JSON text) against the
// JSON schema of the tool's arguments and returns them in the one canonical
// form that the approver is shown, that ArgumentsDigest covers and that the
// tool runs with: no insignificant white space, object keys sorted, strings
// re-encoded the same way every time, numbers as written.
//
// It refuses what a reader could take two ways: invalid UTF-8, a duplicate
// key (encoding/json keeps the last one), two keys of one object that
// differ only in case or Unicode folding (encoding/json matches field names
// case-insensitively, and "ſlug" folds to "slug"), a key that matches a
// schema property only when folded, and anything the schema does not allow:
// a key outside "properties" where "additionalProperties" is false, a
// missing "required" key, a value of another "type". The top level must be
// an object.
//
// A \u escape of half a UTF-16 surrogate pair (no other half next to it)
// becomes U+FFFD in the canonical form, which is what the approver is shown
// and the tool runs with; an approver's edit that holds one is refused
// (HasLoneSurrogate), since the editor's own client may have kept it.
func CanonicalArguments(args string, schema json.RawMessage) (string, error) {
	v, s, err := parseArguments(args, schema)
	if err != nil {
		return "", err
	}
	return canonicalForm(v, &s)
}

// canonicalForm checks parsed arguments against the schema and encodes
// them canonically (CanonicalArguments after the parse).
func canonicalForm(v value, s *argSchema) (string, error) {
	if v.kind != kindObject {
		return "", errors.New("arguments: not a JSON object")
	}
	if err := s.check(v, "arguments"); err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := v.encode(&b); err != nil {
		return "", fmt.Errorf("arguments: %w", err)
	}
	return b.String(), nil
}

// parseArguments reads arguments and the tool's schema, refusing what
// CanonicalArguments refuses before it applies the schema.
func parseArguments(args string, schema json.RawMessage) (value, argSchema, error) {
	if !utf8.ValidString(args) {
		return value{}, argSchema{}, errors.New("arguments are not valid UTF-8")
	}
	var s argSchema
	if len(schema) > 0 {
		if err := json.Unmarshal(schema, &s); err != nil {
			return value{}, argSchema{}, fmt.Errorf("the tool's schema: %w", err)
		}
	}
	dec := json.NewDecoder(strings.NewReader(args))
	dec.UseNumber()
	v, err := readValue(dec, 0)
	if err != nil {
		return value{}, argSchema{}, fmt.Errorf("arguments: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return value{}, argSchema{}, errors.New("arguments: trailing data after the JSON value")
	}
	return v, s, nil
}

// ArgumentsDigest is the digest of canonical arguments that an
// approval-request carries and a decision names: "sha256:" and the hex
// SHA-256 of the text.
func ArgumentsDigest(canonical string) string {
	h := sha256.Sum256([]byte(canonical))
	return ArgumentsDigestPrefix + hex.EncodeToString(h[:])
}

// argSchema is the part of JSON Schema that CanonicalArguments applies.
type argSchema struct {
	Type                 schemaTypes           `json:"type"`
	Properties           map[string]*argSchema `json:"properties"`
	Required             []string              `json:"required"`
	AdditionalProperties *bool                 `json:"-"`
	Items                *argSchema            `json:"items"`
}

// UnmarshalJSON reads additionalProperties only when it is a boolean (a
// schema there allows additional properties, as true does).
func (s *argSchema) UnmarshalJSON(b []byte) error {
	type plain argSchema
	var raw struct {
		plain
		AdditionalProperties json.RawMessage `json:"additionalProperties"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*s = argSchema(raw.plain)
	var allowed bool
	if json.Unmarshal(raw.AdditionalProperties, &allowed) == nil {
		s.AdditionalProperties = &allowed
	}
	return nil
}

// schemaTypes is a schema's "type": one name or a list of names.
type schemaTypes []string

func (t *schemaTypes) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*t = schemaTypes{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf(`"type" must be a string or a list of strings`)
	}
	*t = many
	return nil
}

// check applies the schema to v; at names the value in errors.
func (s *argSchema) check(v value, at string) error {
	if s == nil {
		return nil
	}
	if len(s.Type) > 0 && !slices.ContainsFunc(s.Type, v.is) {
		return fmt.Errorf("%s: want %s, got %s", at, strings.Join(s.Type, " or "), v.kind)
	}
	switch v.kind {
	case kindObject:
		names := s.propertyNames()
		for _, m := range v.members {
			if _, ok := s.Properties[m.key]; ok {
				if err := s.Properties[m.key].check(m.val, at+"."+m.key); err != nil {
					return err
				}
				continue
			}
			for _, name := range names {
				if strings.EqualFold(m.key, name) {
					return fmt.Errorf("%s: key %q is not the schema's %q (keys must match exactly)", at, m.key, name)
				}
			}
			if s.AdditionalProperties != nil && !*s.AdditionalProperties {
				return fmt.Errorf("%s: key %q is not allowed (allowed: %s)", at, m.key, strings.Join(names, ", "))
			}
		}
		for _, req := range s.Required {
			if !slices.ContainsFunc(v.members, func(m member) bool { return m.key == req }) {
				return fmt.Errorf("%s: %q is required", at, req)
			}
		}
	case kindArray:
		for i, e := range v.elems {
			if err := s.Items.check(e, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// propertyNames returns the schema's property names, sorted, so that
// errors do not depend on map order.
func (s *argSchema) propertyNames() []string {
	names := make([]string, 0, len(s.Properties))
	//workflowcheck:ignore: map order does not matter, the names are sorted below
	for name := range s.Properties {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// value kinds, named as JSON Schema types.
const (
	kindObject  = "object"
	kindArray   = "array"
	kindString  = "string"
	kindNumber  = "number"
	kindBoolean = "boolean"
	kindNull    = "null"
)

// value is a parsed JSON value; objects keep their members in input order.
type value struct {
	kind    string
	members []member // object
	elems   []value  // array
	str     string   // string
	num     json.Number
	boolean bool
}

type member struct {
	key string
	val value
}

// is reports whether v is of the JSON Schema type t.
func (v value) is(t string) bool {
	switch t {
	case "integer":
		return v.kind == kindNumber && !strings.ContainsAny(v.num.String(), ".eE")
	case kindNumber:
		return v.kind == kindNumber
	}
	return v.kind == t
}

// readValue reads one JSON value, refusing duplicate keys and keys of one
// object that are equal under Unicode case folding.
func readValue(dec *json.Decoder, depth int) (value, error) {
	if depth > maxArgumentsDepth {
		return value{}, fmt.Errorf("nested deeper than %d", maxArgumentsDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return value{}, fmt.Errorf("bad JSON: %w", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			v := value{kind: kindObject}
			// One key per case folding (strictjson.Fold is strings.EqualFold's
			// notion), so a duplicate is found without comparing every pair.
			folded := map[string]string{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return value{}, fmt.Errorf("bad JSON: %w", err)
				}
				key, ok := kt.(string)
				if !ok {
					return value{}, fmt.Errorf("bad JSON: key %v", kt)
				}
				if other, ok := folded[strictjson.Fold(key)]; ok {
					if other == key {
						return value{}, fmt.Errorf("duplicate key %q", key)
					}
					return value{}, fmt.Errorf("keys %q and %q differ only in case", other, key)
				}
				folded[strictjson.Fold(key)] = key
				val, err := readValue(dec, depth+1)
				if err != nil {
					return value{}, err
				}
				v.members = append(v.members, member{key, val})
			}
			if _, err := dec.Token(); err != nil {
				return value{}, fmt.Errorf("bad JSON: %w", err)
			}
			return v, nil
		case '[':
			v := value{kind: kindArray}
			for dec.More() {
				e, err := readValue(dec, depth+1)
				if err != nil {
					return value{}, err
				}
				v.elems = append(v.elems, e)
			}
			if _, err := dec.Token(); err != nil {
				return value{}, fmt.Errorf("bad JSON: %w", err)
			}
			return v, nil
		}
		return value{}, fmt.Errorf("bad JSON: unexpected %v", t)
	case string:
		return value{kind: kindString, str: t}, nil
	case json.Number:
		return value{kind: kindNumber, num: t}, nil
	case bool:
		return value{kind: kindBoolean, boolean: t}, nil
	case nil:
		return value{kind: kindNull}, nil
	}
	return value{}, fmt.Errorf("bad JSON: unexpected token %v", tok)
}

// encode writes v canonically: keys sorted, no white space, strings
// without HTML escaping.
func (v value) encode(b *bytes.Buffer) error {
	switch v.kind {
	case kindObject:
		ms := slices.Clone(v.members)
		slices.SortFunc(ms, func(a, b member) int { return strings.Compare(a.key, b.key) })
		b.WriteByte('{')
		for i, m := range ms {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := encodeString(b, m.key); err != nil {
				return err
			}
			b.WriteByte(':')
			if err := m.val.encode(b); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case kindArray:
		b.WriteByte('[')
		for i, e := range v.elems {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := e.encode(b); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case kindString:
		return encodeString(b, v.str)
	case kindNumber:
		b.WriteString(v.num.String())
	case kindBoolean:
		if v.boolean {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	default:
		b.WriteString("null")
	}
	return nil
}

func encodeString(b *bytes.Buffer, s string) error {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return err
	}
	b.Truncate(b.Len() - 1) // Encode ends with a newline
	return nil
}

// HasLoneSurrogate reports whether the JSON text s holds a \u escape of
// half a UTF-16 surrogate pair without the other half right after it
// ("\ud800", "\udc00abc"). encoding/json reads it as U+FFFD; JavaScript's
// JSON.parse keeps the half, so two readers see different strings. A pair
// ("\ud83d\ude00") is one character to both.
func HasLoneSurrogate(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			continue
		}
		if s[i+1] != 'u' {
			i++ // a two-byte escape: \\, \", \n, ...
			continue
		}
		r, ok := hex4(s, i+2)
		if !ok {
			i++ // not JSON: the parser refuses it
			continue
		}
		if !utf16.IsSurrogate(r) {
			i += 5
			continue
		}
		// A half: a character only with the other half right after it.
		if i+8 <= len(s) && s[i+6] == '\\' && s[i+7] == 'u' {
			if lo, ok := hex4(s, i+8); ok && utf16.DecodeRune(r, lo) != utf8.RuneError {
				i += 11
				continue
			}
		}
		return true
	}
	return false
}

// hex4 reads the four hex digits of s at i.
func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	v, err := strconv.ParseUint(s[i:i+4], 16, 16)
	return rune(v), err == nil
}
