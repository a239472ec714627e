package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/activities"
	"github.com/hitl/durable-approvals/internal/ablylocal"
	"github.com/hitl/durable-approvals/internal/ablylocal/ablytest"
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
			var logs bytes.Buffer
			stop, err := startKeeper(t.Context(), cfg, nil, pub, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			stop()
			if tc.wantWarn == "" && logs.Len() > 0 {
				t.Errorf("unexpected logs:\n%s", logs.String())
			}
			if tc.wantWarn != "" && !strings.Contains(logs.String(), tc.wantWarn) {
				t.Errorf("logs lack %q:\n%s", tc.wantWarn, logs.String())
			}
		})
	}
}
