package devstack

import (
	"io"
	"strings"
	"testing"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/testutil"
)

// A flag's parse error is printed once, by main, as devstack's one error
// line; the commands print only their usage.
func TestFlagErrorNotPrinted(t *testing.T) {
	cwd := mustAbs(t, ".")
	tests := []struct {
		name  string
		parse func(stderr io.Writer) error
	}{
		{"up", func(stderr io.Writer) error {
			_, err := parseConfig("up", []string{"-bogus"}, config.Env{}, cwd, stderr)
			return err
		}},
		{"env, a bad port", func(stderr io.Writer) error {
			_, err := parseConfig("env", []string{"-auth-port", "x"}, config.Env{}, cwd, stderr)
			return err
		}},
		{"prod", func(stderr io.Writer) error {
			_, err := parseProdConfig([]string{"-bogus"}, config.Env{}, cwd, stderr)
			return err
		}},
		{"bench", func(stderr io.Writer) error {
			return RunBench(t.Context(), []string{"-bogus"}, config.Env{}, io.Discard, stderr)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr strings.Builder
			err := tt.parse(&stderr)
			testutil.UsageOnly(t, stderr.String(), err, "devstack", "-root")
		})
	}
}
