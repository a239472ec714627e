// Package strictjson decodes configuration documents that people write by
// hand (the approval policy, the users file) so that what a reviewer reads
// is what the program gets.
//
// encoding/json alone takes the last of two equal keys and matches a key to
// a field whatever its case, so {"minRole":"admin","minRole":"none"} and
// {"minRole":"admin","MINROLE":"none"} both read as "none". Decode refuses
// both, as well as unknown fields, trailing data, and text that it would
// read as U+FFFD: bytes that are not UTF-8, and a \u escape of half a UTF-16
// surrogate pair. DecodeMessage reads messages another program wrote (Ably
// message data) with the same key checks, so that no reader in another
// language reads a message otherwise than this program does.
package strictjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"strings"
	"unicode"
)

// MaxDepth bounds how deeply objects and arrays may nest.
const MaxDepth = 32

// Decode decodes data, exactly one JSON value, into v (a pointer) strictly:
// no object may have two keys equal under Unicode case folding, a key of a
// struct's object must be one of its fields' JSON names exactly, and
// nothing may follow the value. Errors name where the problem is, as a
// dotted path ("tools.delete_post"). Embedded structs' fields and maps
// keyed by anything but strings are not supported (refused).
func Decode(data []byte, v any) error {
	return decode(data, v, checker{})
}

// DecodeMessage is Decode for a message another program wrote, which may
// carry fields this one does not know (a newer client's): a key that is
// none of a struct's fields is skipped, value and all (nothing is decoded
// from it), but one that names a field in another case is still an error
// (an embedded struct's fields count as the embedding struct's, as
// encoding/json decodes them), as are two keys equal under case folding
// and trailing data. Its text is
// taken as encoding/json takes it: a byte that is not UTF-8, or half a
// surrogate pair (a reason cut inside a character), reads as U+FFFD.
func DecodeMessage(data []byte, v any) error {
	return decode(data, v, checker{open: true})
}

func decode(data []byte, v any, c checker) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errors.New("strictjson: Decode needs a non-nil pointer")
	}
	if !c.open {
		if err := checkText(data); err != nil {
			return err
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // a number too large for a float64 is still one token
	if err := c.checkValue(dec, rv.Type().Elem(), "", 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	dec = json.NewDecoder(bytes.NewReader(data))
	if !c.open {
		dec.DisallowUnknownFields()
	}
	return dec.Decode(v)
}

// checker checks a document's keys; open skips unknown fields.
type checker struct{ open bool }

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// checkValue reads one JSON value from dec that is to be decoded into a
// value of type t (nil: any), checking its keys.
func (c checker) checkValue(dec *json.Decoder, t reflect.Type, path string, depth int) error {
	if depth > MaxDepth {
		return fmt.Errorf("%snested deeper than %d", at(path), MaxDepth)
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && (reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler)) {
		t = nil // its own decoding: keys are still checked for duplicates
	}
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%s%w", at(path), err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil // a scalar: its type is encoding/json's to check
	}
	switch d {
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := c.checkValue(dec, elem, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return err
			}
		}
	case '{':
		var fields map[string]reflect.Type
		var elem reflect.Type
		switch {
		case t != nil && t.Kind() == reflect.Struct:
			fields = fieldTypes(t, c.open)
		case t != nil && t.Kind() == reflect.Map:
			if t.Key().Kind() != reflect.String {
				// {"1":…,"01":…} are one int key: not compared here.
				return fmt.Errorf("%sstrictjson: maps keyed by %s are not supported", at(path), t.Key())
			}
			elem = t.Elem()
		}
		seen := map[string]string{} // folded key → key as written
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return fmt.Errorf("%s%w", at(path), err)
			}
			key, _ := kt.(string) // object keys are strings, or Token errs
			folded := Fold(key)
			if other, dup := seen[folded]; dup {
				if other == key {
					return fmt.Errorf("%sduplicate key %q", at(path), key)
				}
				return fmt.Errorf("%skeys %q and %q differ only in case", at(path), other, key)
			}
			seen[folded] = key
			vt := elem
			if fields != nil {
				ft, exact := fields[key]
				if !exact {
					for name := range fields {
						if strings.EqualFold(name, key) {
							return fmt.Errorf("%skey %q: write it %q", at(path), key, name)
						}
					}
					if !c.open {
						return fmt.Errorf("%sunknown field %q", at(path), key)
					}
					// Nothing is decoded from it: whatever keys it
					// holds, no reader reads it otherwise than this one.
					if err := skipValue(dec); err != nil {
						return fmt.Errorf("%s%w", at(join(path, key)), err)
					}
					continue
				}
				vt = ft
			}
			if err := c.checkValue(dec, vt, join(path, key), depth+1); err != nil {
				return err
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing ] or }
		return fmt.Errorf("%s%w", at(path), err)
	}
	return nil
}

// skipValue reads one JSON value from dec without looking at it.
func skipValue(dec *json.Decoder) error {
	for open := 0; ; {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			open++
		case json.Delim('}'), json.Delim(']'):
			open--
		}
		if open == 0 {
			return nil
		}
	}
}

// fieldTypes maps the JSON names of struct type t's fields, as
// encoding/json names them, to their types. With promote, the fields of an
// embedded struct without a JSON name are t's, as encoding/json decodes
// them (a shallower field of the same name hides a deeper one); without,
// an embedded struct counts as a field of its type's name (Decode refuses
// its fields as unknown: the documents it reads do not use them).
func fieldTypes(t reflect.Type, promote bool) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	seen := map[reflect.Type]bool{}
	for level := []reflect.Type{t}; len(level) > 0; {
		var next []reflect.Type
		found := map[string]reflect.Type{} // this level's: a shallower one hides them
		for _, st := range level {
			if seen[st] {
				continue
			}
			seen[st] = true
			for f := range st.Fields() {
				tag := f.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, _, _ := strings.Cut(tag, ",") // `json:"-,"` names the field "-"
				if ft := f.Type; promote && f.Anonymous && name == "" {
					if ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					if ft.Kind() == reflect.Struct {
						next = append(next, ft)
						continue
					}
				}
				if !f.IsExported() {
					continue
				}
				if name == "" {
					name = f.Name
				}
				if _, hidden := fields[name]; !hidden {
					found[name] = f.Type
				}
			}
		}
		maps.Copy(fields, found)
		level = next
	}
	return fields
}

// Fold maps s to one representative of its Unicode case folding class
// (strings.EqualFold's notion: two strings are equal under it when their
// Folds are equal), so that keys can be compared through a map.
func Fold(s string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, s)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func at(path string) string {
	if path == "" {
		return ""
	}
	return path + ": "
}
