package bridge

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/ablylocal"
	"github.com/hitl/durable-approvals/internal/ablylocal/ablytest"
	"github.com/hitl/durable-approvals/internal/testutil"
)

// Status is healthy only while the bridge is attached: with the right key
// once the channel is attached; with a key Ably refuses, never, saying
// why; before Run, "not started".
func TestStatus(t *testing.T) {
	if err := (&Status{}).Check(t.Context()); err == nil || !strings.Contains(err.Error(), "not started") {
		t.Fatalf("zero Status: %v, want not started", err)
	}
	tests := []struct {
		name    string
		wrong   bool
		wantErr string // "" = healthy
	}{
		{name: "right key"},
		{name: "wrong secret", wrong: true, wantErr: "ably connection"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ac := startAbly(t)
			if tt.wrong {
				ac.APIKey = testKeyName + ":not-the-secret"
			}
			status, logs := runBridge(t, ac)
			var last error
			testutil.Eventually(t, 15*time.Second, "the bridge's status to settle", func() bool {
				last = status.Check(t.Context())
				if tt.wantErr == "" {
					return last == nil
				}
				return last != nil && strings.Contains(last.Error(), tt.wantErr) && strings.Contains(last.Error(), "ErrorInfo")
			})
			if tt.wantErr != "" {
				t.Logf("status: %v", last)
				testutil.Consistently(t, time.Second, "the bridge to stay unhealthy", func() bool { return status.Check(t.Context()) != nil })
			}
			if t.Failed() {
				t.Logf("bridge logs:\n%s", logs())
			}
		})
	}
}

// TestStatusAblyDown: a bridge that was healthy turns unhealthy, saying
// why, once its Ably connection goes down (README, "What to monitor").
func TestStatusAblyDown(t *testing.T) {
	srv := ablytest.Start(t, ablylocal.Config{})
	status, logs := runBridge(t, srv.Conn)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("bridge logs:\n%s", logs())
		}
	})
	testutil.Eventually(t, 15*time.Second, "the bridge to be healthy", func() bool { return status.Check(t.Context()) == nil })
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	var last error
	testutil.Eventually(t, 15*time.Second, "the bridge to be unhealthy once Ably is gone", func() bool {
		last = status.Check(t.Context())
		return last != nil && strings.Contains(last.Error(), "ably connection")
	})
	t.Logf("status: %v", last)
}

// runBridge runs the bridge on Ably ac (and a fake Temporal) until the
// test ends, and returns its Status and its logs so far.
func runBridge(t *testing.T, ac ablyconn.Config) (*Status, func() string) {
	t.Helper()
	log, logs := logBuffer(t)
	status := &Status{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Ably: ac, Temporal: newFakeTemporal(), Log: log, Signer: testSigner, Status: status,
			AblyOptions: []ably.ClientOption{ably.WithLogLevel(ably.LogNone)}})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return status, logs
}
