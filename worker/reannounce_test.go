package main

import (
	"log/slog"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/activities"
	"github.com/hitl/durable-approvals/internal/ablyconn"
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
		wantDebug  string // logged once the key was checked and found good
	}{
		{name: "off", every: 0},
		{name: "a key without history", every: time.Minute, capability: `{"*":["publish"]}`, wantWarn: "may not read the channel's history"},
		{name: "on", every: time.Minute, wantDebug: "keeping pending approval requests in view"},
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
			stop, err := startKeeper(t.Context(), cfg, nil, pub, nil, nil, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
			if err != nil {
				t.Fatal(err)
			}
			// The keeper asks Ably about its key on its own goroutine: wait
			// for its answer before stopping it.
			for _, want := range []string{tc.wantWarn, tc.wantDebug} {
				if want != "" {
					testutil.Eventually(t, 10*time.Second, want, func() bool { return strings.Contains(logs.String(), want) })
				}
			}
			if tc.every == 0 {
				// Nothing starts: no key check, no keeper ticking every 0.
				testutil.Consistently(t, 300*time.Millisecond, "a keeper turned off doing nothing", func() bool { return logs.String() == "" })
			}
			// Operators look for the warning at its level.
			for line := range strings.Lines(logs.String()) {
				if tc.wantWarn != "" && strings.Contains(line, tc.wantWarn) && !strings.Contains(line, "level=WARN") {
					t.Errorf("the warning is not at level WARN: %s", line)
				}
			}
			stop()
			if tc.wantWarn == "" && strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("unexpected warning:\n%s", logs.String())
			}
			if tc.every == 0 && logs.String() != "" {
				t.Errorf("a keeper turned off logged:\n%s", logs.String())
			}
		})
	}
}

// TestStopKeeperWaits: stop returns only once the keeper's work has ended
// (the worker closes the publisher's Ably client and the Temporal client
// after it), even while its key check waits on an Ably endpoint that took
// the connection and never answers.
func TestStopKeeperWaits(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() {
		for {
			select {
			case c := <-accepted:
				c.Close()
			default:
				return
			}
		}
	})
	cfg := Config{Ably: ablyconn.Config{APIKey: ablytest.KeyName + ":" + ablytest.KeySecret, Endpoint: ln.Addr().String()},
		AgentClientID: workflows.DefaultAgentClientID, Channel: workflows.DefaultChannel, ReannounceEvery: time.Minute}
	pub, err := activities.NewAblyPublisher(cfg.Ably, cfg.AgentClientID)
	if err != nil {
		t.Fatal(err)
	}
	stop, err := startKeeper(t.Context(), cfg, nil, pub, nil, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-accepted: // the key check, in flight
		accepted <- c
	case <-time.After(10 * time.Second):
		stop()
		t.Fatal("the keeper did not check its key")
	}
	stop()
	// Its goroutine may still be returning (it said it was done on its
	// way out), but nothing of its work is left running.
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	for _, work := range []string{"ablyconn.Config.CheckKey", "reannounce.(*Keeper).Run"} {
		if strings.Contains(stacks, work) {
			t.Errorf("the keeper's %s outlives stop:\n%s", work, stacks)
		}
	}
}
