package testutil

import (
	"strings"
	"testing"
)

// UsageOnly checks a flag parse that failed with err and wrote stderr:
// stderr holds the usage (each of want) and not the error, which the
// program's main prints once as its one error line (config.NewFlagSet).
func UsageOnly(t testing.TB, stderr string, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("the parse gave no error")
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr = %q, want the usage (%q)", stderr, w)
		}
	}
	if strings.Contains(stderr, err.Error()) {
		t.Errorf("stderr = %q holds the error %q, which main prints", stderr, err)
	}
}
