package authserver

import (
	_ "embed"
	"strings"
	"sync"
)

// commonPasswordsFile is the list of common passwords refused for new
// passwords: one lower-case password a line, '#' starts a comment line.
//
//go:embed commonpasswords.txt
var commonPasswordsFile string

// commonPasswords parses commonPasswordsFile once.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := map[string]struct{}{}
	for line := range strings.Lines(commonPasswordsFile) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		set[strings.ToLower(line)] = struct{}{}
	}
	return set
})

// isCommonPassword reports whether password is on the embedded list,
// ignoring case.
func isCommonPassword(password string) bool {
	_, ok := commonPasswords()[strings.ToLower(password)]
	return ok
}
