package approvercli

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// stallProxy forwards loopback TCP connections to target; while held, what
// the clients send waits in it (a network that stalls, not one that
// drops: the bytes arrive once it is released).
type stallProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	release chan struct{} // nil while not held
	open    []net.Conn    // every connection, closed when the test ends
}

func startStallProxy(t *testing.T, target string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, target: target}
	var conns sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		p.resume()
		p.mu.Lock()
		for _, c := range p.open {
			c.Close()
		}
		p.mu.Unlock()
		conns.Wait()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				p.serve(c)
			}()
		}
	}()
	return p
}

func (p *stallProxy) addr() string { return p.ln.Addr().String() }

func (p *stallProxy) serve(c net.Conn) {
	defer c.Close()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer s.Close()
	p.mu.Lock()
	p.open = append(p.open, c, s)
	p.mu.Unlock()
	go func() {
		_, _ = io.Copy(c, s)
		c.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			p.wait()
			if _, werr := s.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *stallProxy) wait() {
	p.mu.Lock()
	ch := p.release
	p.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

func (p *stallProxy) hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.release == nil {
		p.release = make(chan struct{})
	}
}

func (p *stallProxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.release != nil {
		close(p.release)
		p.release = nil
	}
}

// TestWatchUnconfirmedDecisionIsNotAskedAgain: the network stalls while
// the approver's "y" is on its way. The publish outlives the timeout, but
// the approval is in flight (and ably-go keeps it to send again on a
// resumed connection): it reaches the channel once the network is back.
// The screen must not say that sending failed and ask again, as if
// nothing went out: a "n" typed then would follow an approval that counts
// first, and the tool would run although the approver's last word was a
// rejection.
func TestWatchUnconfirmedDecisionIsNotAskedAgain(t *testing.T) {
	e := startEnv(t)
	agent := e.rest(t, workflows.DefaultAgentClientID)
	publishRequest(t, agent, "call_stall", "wf-1", time.Now().Add(10*time.Minute))
	proxy := startStallProxy(t, e.ably.Endpoint)
	cfg := e.cliConfig(t, nil)
	cfg.Ably.Endpoint = proxy.addr()
	cfg.Timeout = 2 * time.Second
	in, out, cancel, done := startWatch(t, cfg)
	defer cancel()
	waitOutput(t, out, PromptDecision, 1)

	proxy.hold()
	if _, err := io.WriteString(in, "y\n"); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, out, "not confirmed", 1)
	proxy.resume()
	testutil.Eventually(t, 15*time.Second, "the approval on the channel once the network is back", func() bool { return len(responses(t, agent)) == 1 })
	if s := out.String(); strings.Count(s, PromptDecision) != 1 || strings.Contains(s, "Failed to send") || !strings.Contains(s, "may still reach the agent") {
		t.Fatalf("want the decision said to be unconfirmed, not failed, and not asked about again:\n%s", s)
	}
	checkResponse(t, wantResponses(t, agent, 1)[0], "call_stall", "wf-1", "approved", "")
	cancel()
	waitReturn(t, done, 10*time.Second, "watch", "after cancel")
}

// TestRespondUnconfirmed: a publish that Ably has not acknowledged in time
// is ErrUnconfirmed (it may still arrive), not a decision that failed.
func TestRespondUnconfirmed(t *testing.T) {
	e := startEnv(t)
	agent := e.rest(t, workflows.DefaultAgentClientID)
	proxy := startStallProxy(t, e.ably.Endpoint)
	cfg := e.cliConfig(t, nil)
	cfg.Ably.Endpoint = proxy.addr()
	cfg.Timeout = time.Second
	s, err := open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	proxy.hold()
	_, err = s.respond(t.Context(), "call_1", "wf-1", "", workflows.DecisionRejected, "no", "")
	if !errors.Is(err, ErrUnconfirmed) || !strings.Contains(err.Error(), "may still reach the agent") {
		t.Fatalf("respond = %v, want ErrUnconfirmed", err)
	}
	proxy.resume()
	testutil.Eventually(t, 15*time.Second, "the rejection on the channel once the network is back", func() bool { return len(responses(t, agent)) == 1 })
}
