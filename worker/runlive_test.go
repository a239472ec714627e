package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/internal/ablylocal"
	"github.com/hitl/durable-approvals/internal/ablylocal/ablytest"
	"github.com/hitl/durable-approvals/internal/temporaltest"
	"github.com/hitl/durable-approvals/internal/testutil"
)

// TestRunAgainstTemporal runs the worker against a dev server and the
// local Ably server: it serves /healthz and /metrics on HITL_HEALTH_ADDR
// (and nothing without it), warns at start-up of the tools a webhook
// breaks, and stops cleanly when told to.
func TestRunAgainstTemporal(t *testing.T) {
	// The worker sets the process's soft memory limit: give the tests
	// theirs back.
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	temporal := temporaltest.StartDevServer(t)
	ably := ablytest.Start(t, ablylocal.Config{})
	tests := []struct {
		name         string
		health       bool
		webhook      string
		wantWarnings int // "policy check" lines at level WARN
	}{
		{"health endpoint and a webhook", true, "https://cms.example.com/hooks", 2},
		{"neither", false, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
			env := baseEnv(t)
			env["BLOG_DIR"] = filepath.Join(t.TempDir(), "posts")
			env["HITL_POLICY_FILE"] = filepath.Join(testutil.ModuleRoot(t), "config", "policy.json")
			env["TEMPORAL_ADDRESS"] = temporal.FrontendHostPort()
			env["ABLY_ENDPOINT"] = ably.Conn.Endpoint
			env["ABLY_API_KEY"] = ablytest.KeyName + ":" + ablytest.KeySecret
			env["BLOG_WEBHOOK_URL"] = tt.webhook
			if tt.health {
				env["HITL_HEALTH_ADDR"] = addr
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			logs := &testutil.SyncBuffer{}
			done := make(chan error, 1)
			go func() { done <- mainErr(ctx, nil, env, logs) }()
			testutil.WaitFor(t, 30*time.Second, "the worker to start", func() (bool, error) {
				select {
				case err := <-done:
					return false, fmt.Errorf("the worker returned: %v\n%s", err, logs.String())
				default:
				}
				return strings.Contains(logs.String(), `"msg":"worker starting"`), nil
			})
			for _, path := range []string{"/healthz", "/metrics"} {
				resp, err := http.Get("http://" + addr + path)
				if !tt.health {
					if err == nil {
						resp.Body.Close()
						t.Errorf("GET %s without HITL_HEALTH_ADDR: %s", path, resp.Status)
					}
					continue
				}
				if err != nil {
					t.Errorf("GET %s: %v", path, err)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("GET %s: %s, want 200", path, resp.Status)
				}
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("stopped: %v, want a clean exit", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the worker did not stop within 30 s of being told to")
			}
			warnings := 0
			for line := range strings.Lines(logs.String()) {
				var rec struct{ Level, Msg string }
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("log line %q: %v", line, err)
				}
				if rec.Msg == "policy check" && rec.Level == "WARN" {
					warnings++
				}
			}
			if warnings != tt.wantWarnings {
				t.Errorf("%d policy check warnings, want %d:\n%s", warnings, tt.wantWarnings, logs.String())
			}
			if !strings.Contains(logs.String(), `"msg":"worker stopped"`) {
				t.Errorf("no \"worker stopped\" line:\n%s", logs.String())
			}
		})
	}
}
