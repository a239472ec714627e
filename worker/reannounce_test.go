package main

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/activities"
	"github.com/hitl/durable-approvals/internal/ablylocal"
	"github.com/hitl/durable-approvals/internal/ablylocal/ablytest"
	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// TestStartKeeper: off when asked, off with a warning when the key may
// not read the channel's history, and on (and stopped) otherwise.
func TestStartKeeper(t *testing.T) {
	tests := []struct {
		name       string
		every      time.Duration
		capability string // the key's; empty: every right
		wantWarn   string
	}{
		{name: "off", every: 0},
		{name: "a key without history", every: time.Minute, capability: `{"*":["publish"]}`, wantWarn: "may not read the channel's history"},
		{name: "on", every: time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := ablytest.Start(t, ablylocal.Config{Keys: []ablylocal.Key{{Name: ablytest.KeyName, Secret: ablytest.KeySecret, Capability: tc.capability}}})
			cfg := Config{Ably: srv.Conn, AgentClientID: workflows.DefaultAgentClientID, Channel: workflows.DefaultChannel, ReannounceEvery: tc.every}
			pub, err := activities.NewAblyPublisher(cfg.Ably, cfg.AgentClientID)
			if err != nil {
				t.Fatal(err)
			}
			logs := &testutil.SyncBuffer{}
			stop, err := startKeeper(t.Context(), cfg, nil, pub, nil, slog.New(slog.NewTextHandler(logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantWarn != "" {
				// The keeper asks Ably about its key on its own goroutine.
				testutil.Eventually(t, 10*time.Second, "the warning", func() bool { return strings.Contains(logs.String(), tc.wantWarn) })
			}
			stop()
			if tc.wantWarn == "" && logs.String() != "" {
				t.Errorf("unexpected logs:\n%s", logs.String())
			}
		})
	}
}
