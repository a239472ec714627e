package config

import (
	"errors"
	"flag"
	"strings"
	"testing"
)

// A parse error is returned and not printed (the main prints it once);
// the usage is printed for it, as for -h.
func TestNewFlagSet(t *testing.T) {
	tests := []struct {
		name, header string
		args         []string
		wantErr      string // "" for -h
		wantUsage    string
	}{
		{"unknown flag", "usage: prog [flags]", []string{"-bogus"}, "flag provided but not defined: -bogus", "usage: prog [flags]"},
		{"bad value", "", []string{"-n", "x"}, `invalid value "x" for flag -n`, "Usage of prog:"},
		{"help", "usage: prog [flags]", []string{"-h"}, "", "usage: prog [flags]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr strings.Builder
			fs := NewFlagSet("prog", tt.header, &stderr)
			fs.Int("n", 1, "a number")
			err := fs.Parse(tt.args)
			switch {
			case tt.wantErr == "" && !errors.Is(err, flag.ErrHelp):
				t.Fatalf("Parse(%q) = %v, want flag.ErrHelp", tt.args, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Parse(%q) = %v, want %q", tt.args, err, tt.wantErr)
			}
			out := stderr.String()
			if !strings.HasPrefix(out, tt.wantUsage+"\n") || !strings.Contains(out, "-n int") {
				t.Errorf("usage printed = %q, want %q and the flags", out, tt.wantUsage)
			}
			if tt.wantErr != "" && strings.Contains(out, tt.wantErr) {
				t.Errorf("the error was printed too: %q", out)
			}
		})
	}
}
