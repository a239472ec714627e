package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/activities"
	"github.com/hitl/durable-approvals/internal/ablylocal"
	"github.com/hitl/durable-approvals/internal/ablylocal/ablytest"
	"github.com/hitl/durable-approvals/internal/testutil"
)

// TestRunRefusesBadPolicy checks the startup policy checks, which run
// before anything is dialled.
func TestRunRefusesBadPolicy(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, policy string
		want         []string
	}{
		{"tool the worker lacks", write("extra.json", `{"tools":{"publish_blog_post":{"minRole":"publisher"},"rm_rf":{"minRole":"admin"}}}`),
			[]string{"extra.json", "does not implement: rm_rf"}},
		{"invalid policy", write("bad.json", `{"tools":{"publish_blog_post":{"minRole":"owner"}}}`),
			[]string{"bad.json", `minRole "owner"`}},
		{"missing file", filepath.Join(dir, "none.json"), []string{"does not exist"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := baseEnv(t)
			env["HITL_POLICY_FILE"] = tt.policy
			env["BLOG_DIR"] = filepath.Join(t.TempDir(), "posts")
			env["TEMPORAL_ADDRESS"] = "127.0.0.1:1" // never reached
			err := mainErr(t.Context(), nil, env, io.Discard)
			if err == nil {
				t.Fatal("worker started with a bad policy")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestMainErrHelp(t *testing.T) {
	if err := mainErr(t.Context(), []string{"-h"}, baseEnv(t), io.Discard); err != nil {
		t.Errorf("-h: %v", err)
	}
}

// TestRunWaitsForTemporal: a worker started before Temporal waits for it,
// saying so, and a stop while it waits is a clean exit, as for the bridge.
func TestRunWaitsForTemporal(t *testing.T) {
	env := baseEnv(t)
	env["BLOG_DIR"] = filepath.Join(t.TempDir(), "posts")
	env["HITL_POLICY_FILE"] = filepath.Join(testutil.ModuleRoot(t), "config", "policy.json")
	env["TEMPORAL_ADDRESS"] = fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)) // nothing listens
	env["ABLY_ENDPOINT"] = fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))    // nor here: the key check only warns
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	logs := &testutil.SyncBuffer{}
	done := make(chan error, 1)
	go func() { done <- mainErr(ctx, nil, env, logs) }()
	testutil.WaitFor(t, 20*time.Second, "the worker to log that it retries", func() (bool, error) {
		select {
		case err := <-done:
			return false, fmt.Errorf("the worker returned while Temporal was down: %v", err)
		default:
		}
		return strings.Contains(logs.String(), "temporal unreachable, retrying"), nil
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("stopped while waiting for Temporal: %v, want a clean exit", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the worker did not stop within 20 s of being told to")
	}
}

// TestRunRefusesAblyKey: a key Ably refuses would fail every approval
// request, so the worker does not start with it; the error names the key
// but not its secret.
func TestRunRefusesAblyKey(t *testing.T) {
	srv := ablytest.Start(t, ablylocal.Config{})
	env := baseEnv(t)
	env["BLOG_DIR"] = filepath.Join(t.TempDir(), "posts")
	env["HITL_POLICY_FILE"] = filepath.Join(testutil.ModuleRoot(t), "config", "policy.json")
	env["TEMPORAL_ADDRESS"] = "127.0.0.1:1" // never reached
	env["ABLY_ENDPOINT"] = srv.Conn.Endpoint
	env["ABLY_API_KEY"] = ablytest.KeyName + ":not-the-secret"
	err := mainErr(t.Context(), nil, env, io.Discard)
	if !errors.Is(err, activities.ErrKeyRefused) || !strings.Contains(err.Error(), "ABLY_API_KEY, key "+ablytest.KeyName) || strings.Contains(err.Error(), "not-the-secret") {
		t.Fatalf("mainErr = %v, want the key refused, named without its secret", err)
	}
}
