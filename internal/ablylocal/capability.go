package ablylocal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Capability operations the server enforces.
const (
	opPublish   = "publish"
	opSubscribe = "subscribe"
	opPresence  = "presence"
	opHistory   = "history"
	opAll       = "*"
)

// capability maps a resource pattern to the operations it grants.
type capability map[string]map[string]bool

// allRights is the capability of a key without one.
func allRights() capability {
	return capability{"[*]*": {opAll: true}}
}

// parseCapability parses Ably capability JSON: an object whose values are
// arrays of operation strings.
func parseCapability(s string) (capability, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	var raw map[string][]string
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("capability must be a JSON object of string arrays: %w", err)
	}
	// More would report false before a stray ']' or '}': only the end of
	// the input may follow.
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("capability: trailing data")
	}
	if raw == nil {
		return nil, errors.New("capability must be a JSON object")
	}
	c := make(capability, len(raw))
	for res, ops := range raw {
		if res == "" {
			return nil, errors.New("capability: empty resource name")
		}
		set := make(map[string]bool, len(ops))
		for _, op := range ops {
			if op == "" {
				return nil, fmt.Errorf("capability: empty operation for %q", res)
			}
			set[op] = true
		}
		c[res] = set
	}
	return c, nil
}

// allows reports whether any resource matching channel grants op; the
// result is the union over all matching resources.
func (c capability) allows(channel, op string) bool {
	for res, ops := range c {
		if !ops[op] && !ops[opAll] {
			continue
		}
		if matchResource(res, channel) {
			return true
		}
	}
	return false
}

// grant is the effective capability of a credential: every set must allow
// an operation (a token's capability intersected with its key's).
type grant []capability

func (g grant) allows(channel, op string) bool {
	if len(g) == 0 {
		return false
	}
	for _, c := range g {
		if !c.allows(channel, op) {
			return false
		}
	}
	return true
}

// matchResource matches a capability resource against a base channel name
// with Ably's rules: "[*]*" matches everything, "*" replaces whole
// ":"-separated segments (one segment in the middle, one or more at the
// end), and "foo*" is a literal.
func matchResource(pattern, name string) bool {
	if pattern == "[*]*" {
		return true
	}
	if rest, ok := strings.CutPrefix(pattern, "[*]"); ok {
		return matchSegments(rest, name)
	}
	if strings.HasPrefix(pattern, "[") || strings.HasPrefix(name, "[") {
		return pattern == name
	}
	return matchSegments(pattern, name)
}

func matchSegments(pattern, name string) bool {
	ps := strings.Split(pattern, ":")
	ns := strings.Split(name, ":")
	for i, p := range ps {
		if p == "*" {
			if i == len(ps)-1 {
				return len(ns) > i
			}
			if i >= len(ns) {
				return false
			}
			continue
		}
		if i >= len(ns) || ns[i] != p {
			return false
		}
	}
	return len(ns) == len(ps)
}

// specificity ranks a matching pattern for user claims: an exact literal
// beats any wildcard, then more literal segments, then a longer literal
// prefix. Ties are broken by lexical order by the caller.
type specificity struct {
	exact    bool
	literals int
	prefix   int
}

func rankPattern(pattern string) specificity {
	p := strings.TrimPrefix(pattern, "[*]")
	segs := strings.Split(p, ":")
	var s specificity
	s.exact = !strings.HasPrefix(pattern, "[*]")
	prefixDone := false
	for _, seg := range segs {
		if seg == "*" {
			s.exact = false
			prefixDone = true
			continue
		}
		s.literals++
		if !prefixDone {
			s.prefix += len(seg) + 1
		}
	}
	return s
}

// better reports whether pattern a is more specific than b.
func better(a, b string) bool {
	ra, rb := rankPattern(a), rankPattern(b)
	if ra.exact != rb.exact {
		return ra.exact
	}
	if ra.literals != rb.literals {
		return ra.literals > rb.literals
	}
	if ra.prefix != rb.prefix {
		return ra.prefix > rb.prefix
	}
	return a < b
}

// userClaimPrefix names the JWT claims that carry per-channel user claims.
const userClaimPrefix = "ably.channel."

// userClaimFor returns the value of the most specific ably.channel.<pattern>
// claim matching channel, as a string; ok is false when none matches.
func userClaimFor(claims map[string]any, channel string) (string, bool) {
	best := ""
	var bestVal any
	found := false
	for k, v := range claims {
		pattern, ok := strings.CutPrefix(k, userClaimPrefix)
		if !ok || pattern == "" || !matchResource(pattern, channel) {
			continue
		}
		if !found || better(pattern, best) {
			best, bestVal, found = pattern, v, true
		}
	}
	if !found {
		return "", false
	}
	if s, ok := bestVal.(string); ok {
		return s, true
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(bestVal); err != nil {
		return "", false
	}
	return strings.TrimSuffix(buf.String(), "\n"), true
}
