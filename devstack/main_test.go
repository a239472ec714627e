package main

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/hitl/durable-approvals/config"
)

func TestMainErrUsage(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{nil, "no command"},
		{[]string{"fly"}, `unknown command "fly"`},
		{[]string{"help"}, ""},
		{[]string{"up", "-h"}, ""},
		{[]string{"bench", "-h"}, ""},
		{[]string{"bench", "-n", "0"}, "-n 0"},
		{[]string{"ably", "-h"}, ""},
		{[]string{"prod", "-h"}, ""},
		{[]string{"prod", "-workers", "0"}, "-workers 0"},
		{[]string{"ably"}, "key"},
		{[]string{"ably", "-bogus"}, "-bogus"},
		{[]string{"ably", "-key", "a.b:c", "extra"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		err := mainErr(t.Context(), tt.args, config.Env{}, strings.NewReader(""), io.Discard, io.Discard)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("mainErr(%q) = %v, want %q", tt.args, err, tt.wantErr)
		}
		// Each refusal here is bad input: exit status 2.
		if code := config.ExitCode(err); tt.wantErr != "" && code != config.ExitUsage {
			t.Errorf("mainErr(%q) = %v: exit status %d, want %d", tt.args, err, code, config.ExitUsage)
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	removePrograms()
	os.Exit(code)
}
