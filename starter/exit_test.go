package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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
		{"-h", []string{"-h"}, nil, 0},
		{"--help after the prompt", []string{"hi", "--help"}, nil, 0},
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

// TestSignalWhileDialing: Ctrl-C or SIGTERM while Temporal is being
// reached exits 130 or 143, as during the wait, not 1.
func TestSignalWhileDialing(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			accepted := make(chan struct{}, 1)
			go func() {
				var conns []net.Conn
				for {
					c, err := ln.Accept()
					if err != nil {
						for _, c := range conns {
							c.Close()
						}
						return
					}
					conns = append(conns, c)
					select {
					case accepted <- struct{}{}:
					default:
					}
				}
			}()
			env := config.Env{"TEMPORAL_CONFIG_FILE": filepath.Join(t.TempDir(), "none.toml"), "USER": "tester", "TEMPORAL_ADDRESS": ln.Addr().String()}
			ctx, cancel := context.WithCancelCause(t.Context())
			done := make(chan error, 1)
			go func() { done <- mainErr(ctx, []string{"--dial-timeout", "60s", "hi"}, env, io.Discard, io.Discard) }()
			select {
			case <-accepted:
			case <-time.After(30 * time.Second):
				t.Fatal("the starter did not connect within 30 s")
			}
			cancel(config.Interrupted{Signal: sig})
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("the starter still dials 30 s after the signal")
			}
			if code, want := config.ExitCode(err), 128+int(sig); code != want || !strings.Contains(err.Error(), "cannot reach Temporal") {
				t.Errorf("starter = %v (exit status %d), want %d and what it was doing", err, code, want)
			}
			// The signal, not the dial timeout, cut the dial short.
			if strings.Contains(err.Error(), "gave up after") {
				t.Errorf("starter = %v, want no dial timeout named: the signal stopped it", err)
			}
		})
	}
}
