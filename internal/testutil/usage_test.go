package testutil

import (
	"errors"
	"strings"
	"testing"
)

func TestUsageOnly(t *testing.T) {
	err := errors.New(`flag provided but not defined: -bogus`)
	for _, tt := range []struct {
		name, stderr string
		want         []string
		errs         []string // what the failures say
	}{
		{"the usage only", "usage: worker\n  -log-level string", []string{"usage: worker"}, nil},
		{"the error printed too", err.Error() + "\nusage: worker", []string{"usage: worker"}, []string{"holds the error"}},
		{"no usage", "", []string{"usage: worker", "-log-level"}, []string{"want the usage (\"usage: worker\")", "want the usage (\"-log-level\")"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeTB{TB: t}
			UsageOnly(f, tt.stderr, err, tt.want...)
			if len(f.errors) != len(tt.errs) {
				t.Fatalf("failures %q, want %d", f.errors, len(tt.errs))
			}
			for i, want := range tt.errs {
				if !strings.Contains(f.errors[i], want) {
					t.Errorf("failure %q, want %q", f.errors[i], want)
				}
			}
		})
	}
	t.Run("no error", func(t *testing.T) {
		f := &fakeTB{TB: t}
		func() {
			defer func() {
				if r := recover(); r != f {
					t.Fatalf("recover() = %v, want the fake's Fatalf", r)
				}
			}()
			UsageOnly(f, "usage: worker", nil, "usage: worker")
		}()
		if f.failed != "the parse gave no error" {
			t.Errorf("failure = %q", f.failed)
		}
	})
}
