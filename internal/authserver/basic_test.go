package authserver

import (
	"encoding/base64"
	"strings"
	"testing"
)

// parseBasic reads the Authorization header of every CLI login, from
// anyone: what RFC 7567 allows is accepted, and nothing looser.
func TestParseBasic(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	tests := []struct {
		name     string
		header   string
		wantUser string
		wantPW   string
		wantOK   bool
	}{
		{"plain", "Basic " + b64([]byte("alice:pw")), "alice", "pw", true},
		{"scheme in any case", "bAsIc " + b64([]byte("alice:pw")), "alice", "pw", true},
		{"several spaces", "Basic   " + b64([]byte("alice:pw")), "alice", "pw", true},
		{"colons in the password", "Basic " + b64([]byte("carol:a:b")), "carol", "a:b", true},
		{"empty password", "Basic " + b64([]byte("alice:")), "alice", "", true},
		{"no colon", "Basic " + b64([]byte("alice")), "", "", false},
		{"empty user", "Basic " + b64([]byte(":pw")), "", "", false},
		{"other scheme", "Bearer " + b64([]byte("alice:pw")), "", "", false},
		{"scheme only", "Basic", "", "", false},
		{"not base64", "Basic !!!", "", "", false},
		// "YWxpY2U6cHc=" with the padding bits of its last character set:
		// a lax decoder reads "alice:pw" from it, a second spelling of the
		// same credentials.
		{"non-canonical base64", "Basic YWxpY2U6cHd=", "", "", false},
		{"no padding", "Basic YWxpY2U6cHc", "", "", false},
		{"at the size bound", "Basic " + b64([]byte("alice:"+strings.Repeat("p", 756))), "alice", strings.Repeat("p", 756), true},
		{"over the size bound", "Basic " + b64([]byte("alice:"+strings.Repeat("p", 757))), "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, pw, ok := parseBasic(tt.header)
			if user != tt.wantUser || pw != tt.wantPW || ok != tt.wantOK {
				t.Fatalf("parseBasic(%.40q…) = %q, %q, %v; want %q, %q, %v", tt.header, user, pw, ok, tt.wantUser, tt.wantPW, tt.wantOK)
			}
		})
	}
}
