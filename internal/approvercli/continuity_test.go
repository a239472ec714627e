package approvercli

import (
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablylocal"
	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// TestSessionCatchesUpAfterAttachWithoutContinuity: when the channel is
// attached again without continuity (Ably could not resume it, as after a
// connection lost for longer than Ably keeps its state), what was
// published meanwhile is not delivered live; the session reads it from
// the history, as the bridge and the web inbox do. A soak that restarted
// the local Ably server found that the CLI had no such catch-up (the
// local server then replayed all it kept from the channel serial, which
// hid it there). Ably's state change is handed to the listener here, as
// an UPDATE cannot be made to happen; TestWatchCatchesUpAfterResumeWindow
// shows the attach end to end.
func TestSessionCatchesUpAfterAttachWithoutContinuity(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  ably.ChannelStateChange
		catchUp bool
	}{
		{"attached, not resumed", ably.ChannelStateChange{Event: ably.ChannelEventAttached, Current: ably.ChannelStateAttached}, true},
		{"update, not resumed", ably.ChannelStateChange{Event: ably.ChannelEventUpdate, Current: ably.ChannelStateAttached}, true},
		{"attached, resumed", ably.ChannelStateChange{Event: ably.ChannelEventAttached, Current: ably.ChannelStateAttached, Resumed: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startEnv(t)
			s, err := open(t.Context(), e.cliConfig(t, nil))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.close)
			// Stop the live delivery: the request below is one the
			// session missed, as in a gap Ably could not replay.
			s.unsub()
			s.unsub = nil
			publishRequest(t, e.rest(t, workflows.DefaultAgentClientID), "call_missed", "wf-gap", time.Now().Add(10*time.Minute))
			// Attached again (a new attach point, after the request);
			// the local server resumes, so what Ably says of a channel
			// it could not resume is handed to the listener here.
			if err := s.ch.Detach(t.Context()); err != nil {
				t.Fatal(err)
			}
			if err := s.ch.Attach(t.Context()); err != nil {
				t.Fatal(err)
			}
			s.channelChanged(tc.change)
			seen := func() bool {
				for {
					select {
					case m := <-s.events:
						if ev := s.apply(m); ev.Kind == EventRequest && ev.Request.ToolCallID == "call_missed" {
							return true
						}
					default:
						return false
					}
				}
			}
			if tc.catchUp {
				testutil.Eventually(t, 15*time.Second, "the missed request read from the history", seen)
			} else {
				testutil.Consistently(t, time.Second, "no history read after a resumed attach", func() bool { return !seen() })
			}
		})
	}
}

// TestWatchCatchesUpAfterResumeWindow, end to end through ably-go and the
// local Ably server: watch's network is down for longer than Ably keeps a
// channel's messages for a re-attach to replay (about two minutes; here
// the server's ResumeWindow). Meanwhile the request on screen is resolved
// by someone else and a new one is published. On reconnecting, ably-go
// re-attaches from its channel serial, and Ably, which no longer has what
// followed it, attaches without RESUMED (90003) and replays nothing of it.
// Watch must read the gap from the history: say the request on screen was
// resolved and ask about the new one. Before it listened to the channel's
// state it did neither.
func TestWatchCatchesUpAfterResumeWindow(t *testing.T) {
	const window = 300 * time.Millisecond
	e := startEnvWith(t, time.Hour, ablylocal.Config{ResumeWindow: window})
	g := startGate(t, e.ably.Endpoint)
	cfg := e.cliConfig(t, nil)
	cfg.Ably.Endpoint = g.addr()
	cfg.AblyOptions = append(cfg.AblyOptions, ably.WithDisconnectedRetryTimeout(50*time.Millisecond))
	agent := e.rest(t, workflows.DefaultAgentClientID)
	publishRequest(t, agent, "call_old", "wf-1", time.Now().Add(10*time.Minute))

	_, out, _, _ := startWatch(t, cfg)
	waitOutput(t, out, PromptDecision, 1)
	if s := out.String(); !strings.Contains(s, "Tool call ID:  call_old") {
		t.Fatalf("call_old not shown:\n%s", s)
	}

	g.cut()
	publishResolved(t, agent, workflows.ApprovalResolvedData{ToolCallID: "call_old", WorkflowID: "wf-1", Tool: "publish_blog_post", Outcome: "approved", DecidedBy: "carol", Role: "admin"})
	publishRequest(t, agent, "call_gap", "wf-2", time.Now().Add(10*time.Minute))
	published := time.Now()
	testutil.Eventually(t, 10*time.Second, "watch trying to reconnect, the gap older than the resume window", func() bool {
		return g.refused.Load() > 0 && time.Since(published) > window+100*time.Millisecond
	})
	g.open()

	waitOutput(t, out, "Resolved: publish_blog_post (call_old) approved", 1)
	waitOutput(t, out, "Tool call ID:  call_gap", 1)
	waitOutput(t, out, PromptDecision, 2)
}

// gate is a TCP proxy to an address that can be cut, as a network that
// goes down: cut closes every connection through it and refuses new ones
// (counted) until open.
type gate struct {
	ln      net.Listener
	target  string
	refused atomic.Int64

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

func startGate(t *testing.T, target string) *gate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				g.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		g.cut()
		wg.Wait()
	})
	return g
}

func (g *gate) addr() string { return g.ln.Addr().String() }

func (g *gate) serve(c net.Conn) {
	g.mu.Lock()
	if g.down {
		g.mu.Unlock()
		g.refused.Add(1)
		c.Close()
		return
	}
	up, err := net.Dial("tcp", g.target)
	if err != nil {
		g.mu.Unlock()
		c.Close()
		return
	}
	g.conns[c], g.conns[up] = struct{}{}, struct{}{}
	g.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	<-done
	g.mu.Lock()
	delete(g.conns, c)
	delete(g.conns, up)
	g.mu.Unlock()
}

// cut closes every connection through the gate and refuses new ones.
func (g *gate) cut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.down = true
	for c := range g.conns {
		c.Close()
	}
}

// open lets connections through again.
func (g *gate) open() {
	g.mu.Lock()
	g.down = false
	g.mu.Unlock()
}
