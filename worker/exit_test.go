package main

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/ablylocal"
	"github.com/hitl/durable-approvals/internal/ablylocal/ablytest"
	"github.com/hitl/durable-approvals/internal/testutil"
)

// TestExitStatus: bad input on the command line, in the environment or in
// the policy file exits with status 2, as the bridge's does (approver,
// config.ExitUsage); a failure at run time with status 1.
func TestExitStatus(t *testing.T) {
	policy := filepath.Join(testutil.ModuleRoot(t), "config", "policy.json")
	ably := ablytest.Start(t, ablylocal.Config{})
	for _, tt := range []struct {
		name string
		args []string
		env  config.Env
		code int
	}{
		{"an unknown flag", []string{"-bogus"}, nil, config.ExitUsage},
		{"a negative HITL_LEDGER_KEEP", nil, config.Env{"HITL_LEDGER_KEEP": "-5m"}, config.ExitUsage},
		{"a malformed OPENAI_BASE_URL", nil, config.Env{"OPENAI_BASE_URL": "ftp://x"}, config.ExitUsage},
		{"a policy file that does not exist", nil, config.Env{"HITL_POLICY_FILE": filepath.Join(t.TempDir(), "none.json")}, config.ExitUsage},
		{"an Ably key Ably refuses", nil, config.Env{"HITL_POLICY_FILE": policy, "ABLY_ENDPOINT": ably.Conn.Endpoint,
			"ABLY_API_KEY": ablytest.KeyName + ":not-the-secret"}, config.ExitError},
		// Said before the Ably key check, which waits 10 s for an Ably
		// that does not answer.
		// Said, naming the setting, before anything is contacted.
		{"a BLOG_DIR that is a file", nil, config.Env{"HITL_POLICY_FILE": policy, "BLOG_DIR": policy}, config.ExitUsage},
		{"a trace file that cannot be opened", nil, config.Env{"HITL_POLICY_FILE": policy, "ABLY_ENDPOINT": testutil.SilentServer(t),
			"HITL_TRACE_FILE": filepath.Join(t.TempDir(), "no-such-dir", "trace.jsonl")}, config.ExitUsage},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := baseEnv(t)
			env["BLOG_DIR"] = filepath.Join(t.TempDir(), "posts")
			env["TEMPORAL_ADDRESS"] = "127.0.0.1:1" // never reached
			for k, v := range tt.env {
				env[k] = v
			}
			start := time.Now()
			err := mainErr(t.Context(), tt.args, env, io.Discard)
			if code := config.ExitCode(err); code != tt.code {
				t.Errorf("exit status %d (%v), want %d", code, err, tt.code)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("the error took %s: bad input is said before anything is contacted", d)
			}
		})
	}
}

// A flag's parse error is printed once, by main, as the worker's one
// error line; loadConfig prints only the usage.
func TestFlagErrorNotPrinted(t *testing.T) {
	for _, args := range [][]string{{"-bogus"}, {"-workflow-cache", "x"}, {"-log-level", "loud"}} {
		t.Run(args[0], func(t *testing.T) {
			var stderr strings.Builder
			_, err := loadConfig(args, baseEnv(t), &stderr)
			testutil.UsageOnly(t, stderr.String(), err, "usage: worker")
		})
	}
}
