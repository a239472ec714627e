package main

import (
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/testutil"
)

// TestExitStatus: bad input on the command line or in the environment
// exits with status 2, as approver's does (config.ExitUsage); a failure,
// such as a Temporal that does not answer, with status 1.
func TestExitStatus(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		env  config.Env
		code int
	}{
		{"no prompt", nil, nil, config.ExitUsage},
		{"an unknown flag", []string{"-bogus", "hi"}, nil, config.ExitUsage},
		{"a negative --dial-timeout", []string{"--dial-timeout", "-1s", "hi"}, nil, config.ExitUsage},
		{"a malformed TEMPORAL_UI_URL", []string{"hi"}, config.Env{"TEMPORAL_UI_URL": "notaurl"}, config.ExitUsage},
		{"Temporal out of reach", []string{"--dial-timeout", "1s", "hi"},
			config.Env{"TEMPORAL_ADDRESS": fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))}, config.ExitError},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := config.Env{"TEMPORAL_CONFIG_FILE": filepath.Join(t.TempDir(), "none.toml"), "USER": "tester"}
			for k, v := range tt.env {
				env[k] = v
			}
			err := mainErr(t.Context(), tt.args, env, io.Discard, io.Discard)
			if code := config.ExitCode(err); code != tt.code {
				t.Errorf("exit status %d (%v), want %d", code, err, tt.code)
			}
		})
	}
}
