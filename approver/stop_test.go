package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/testutil"
)

// TestBridgeStoppedWhileWaitingForTemporal: a bridge stopped while it
// waits for Temporal exits 0 and says so in one line, as the worker does
// ("worker stopped before Temporal answered"); it stopped without a word
// after its retry warnings (a lifecycle probe).
func TestBridgeStoppedWhileWaitingForTemporal(t *testing.T) {
	env := config.Env{
		"ABLY_API_KEY": "a.b:c", "ABLY_ENDPOINT": fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)),
		"HITL_DECISION_SIGNING_KEY": testSigningKey,
		"TEMPORAL_CONFIG_FILE":      filepath.Join(t.TempDir(), "none.toml"),
		"TEMPORAL_ADDRESS":          fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)), // nothing listens
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stderr testutil.SyncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"bridge"}, env, strings.NewReader(""), &stderr, &stderr) }()
	testutil.Eventually(t, 20*time.Second, "the bridge to say it waits for Temporal", func() bool {
		return strings.Contains(stderr.String(), "temporal unreachable, retrying")
	})
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit %d, want %d:\n%s", code, exitOK, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the bridge did not stop within 20 s of being told to")
	}
	if !strings.Contains(stderr.String(), "bridge stopped before Temporal answered") {
		t.Errorf("no line that the bridge stopped:\n%s", stderr.String())
	}
}
