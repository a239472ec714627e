package ablylocal

import (
	"errors"
	"fmt"
	"strings"
)

// Key is an Ably API key the server accepts.
type Key struct {
	// Name is "appId.keyId".
	Name string
	// Secret signs JWTs and authenticates Basic auth.
	Secret string
	// Capability is the key's capability JSON; empty means all rights
	// ({"*":["*"]}).
	Capability string
}

// ParseKey parses "APP.KEY:SECRET" or "APP.KEY:SECRET=<capability JSON>".
func ParseKey(s string) (Key, error) {
	s = strings.TrimSpace(s)
	name, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Key{}, errors.New("ably key: want appId.keyId:secret")
	}
	app, id, ok := strings.Cut(name, ".")
	if !ok || app == "" || id == "" || strings.ContainsAny(name, " /\t") {
		return Key{}, errors.New("ably key: want appId.keyId:secret")
	}
	k := Key{Name: name, Secret: rest}
	// A capability starts at "={"; secrets may contain "=" themselves.
	if i := strings.Index(rest, "={"); i >= 0 {
		k.Secret, k.Capability = rest[:i], rest[i+1:]
	}
	if k.Secret == "" {
		return Key{}, errors.New("ably key: empty secret")
	}
	if k.Capability != "" {
		if _, err := parseCapability(k.Capability); err != nil {
			return Key{}, fmt.Errorf("ably key %s: capability: %w", k.Name, err)
		}
	}
	return k, nil
}
