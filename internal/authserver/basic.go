package authserver

import (
	"encoding/base64"
	"strings"
)

// maxAuthHeader bounds the Authorization header value that is decoded.
const maxAuthHeader = 1024

// parseBasic parses an HTTP Basic Authorization header value (RFC 7617):
// the case-insensitive scheme "Basic", one or more spaces, and the standard
// base64 of "user:password". The password may contain colons. ok is false
// for anything else, including an empty user name.
func parseBasic(header string) (user, password string, ok bool) {
	if len(header) > maxAuthHeader {
		return "", "", false
	}
	scheme, rest, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(strings.TrimLeft(rest, " "))
	if err != nil {
		return "", "", false
	}
	user, password, found = strings.Cut(string(raw), ":")
	if !found || user == "" {
		return "", "", false
	}
	return user, password, true
}
