package bridge

import (
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/testutil"
)

// An attach that times out (Ably slow to answer) leaves the channel
// SUSPENDED while the connection stays CONNECTED; ably-go re-attaches it
// only on a reconnect, so repair must, or the bridge stays deaf (and its
// /healthz 503) for as long as the connection holds.
func TestRepairReattachesSuspendedChannel(t *testing.T) {
	ac := startAbly(t)
	// A proxy in front of the local server that can drop what the client
	// sends, so that an attach gets no answer.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var drop atomic.Bool
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", ac.Endpoint)
			if err != nil {
				c.Close()
				continue
			}
			go func() { _, _ = io.Copy(c, s); c.Close() }()
			go func() {
				defer s.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					if drop.Load() {
						continue
					}
					if _, err := s.Write(buf[:n]); err != nil {
						return
					}
				}
			}()
		}
	}()
	pac := ac
	pac.Endpoint = ln.Addr().String()
	opts, err := pac.TrustedOptions("hitl:bridge", `{"`+testChannel+`":["subscribe","history"]}`)
	if err != nil {
		t.Fatal(err)
	}
	opts = append(opts, ably.WithLogLevel(ably.LogNone), ably.WithRealtimeRequestTimeout(2*time.Second))
	client := newRealtime(t, opts)
	ch := client.Channels.Get(testChannel)
	status := &Status{}
	status.set(client, ch)
	if err := ch.Attach(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := status.Check(t.Context()); err != nil {
		t.Fatalf("attached: %v", err)
	}
	if err := ch.Detach(t.Context()); err != nil {
		t.Fatal(err)
	}
	log, logs := logBuffer(t)
	r := &runner{log: log, client: client, ch: ch}
	drop.Store(true) // the re-attach gets no answer and times out
	r.repair(t.Context())
	drop.Store(false)
	if st := ch.State(); st != ably.ChannelStateSuspended || client.Connection.State() != ably.ConnectionStateConnected {
		t.Fatalf("after the timed-out attach: channel %s, connection %s; want SUSPENDED on a live connection, or the test shows nothing", st, client.Connection.State())
	}
	// The bridge calls repair on every state change and every RetryEvery.
	testutil.Eventually(t, 20*time.Second, "repair to re-attach the suspended channel", func() bool {
		r.repair(t.Context())
		return ch.State() == ably.ChannelStateAttached
	})
	if err := status.Check(t.Context()); err != nil {
		t.Errorf("re-attached, but unhealthy: %v\n%s", err, logs())
	}
}
