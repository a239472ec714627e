package e2e

import (
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/internal/ablylocal"
	"github.com/hitl/durable-approvals/internal/authserver/web/browsertest"
	"github.com/hitl/durable-approvals/workflows"
)

// unconfirmedStateTTL is the connectionStateTtl the local Ably server
// gives its clients in this test: ably-js suspends a connection it could
// not get back within it (Ably's is 2 min), and only then fails the
// messages it still holds for Ably's acknowledgement.
const unconfirmedStateTTL = 3 * time.Second

// TestInboxUnconfirmedDecision: pat approves on the page while the
// connection to Ably goes bad under the publish. The approval reaches Ably
// (and the agent, which runs the tool), but Ably's acknowledgement never
// comes back: a proxy between the browser and the local Ably server holds
// what the server sends, then the connection drops and every reconnection
// is refused, until ably-js suspends the connection and fails the publish
// (80002, "Connection to server unavailable"). The card must say the
// decision is not confirmed and may count, and not offer the buttons again
// at once ("Could not send your decision" with the buttons would have pat
// decide again on a call that his first decision already approved). The
// decision counts once: one approval-response on the channel, the tool run
// once, and nothing sent again when the page is back.
func TestInboxUnconfirmedDecision(t *testing.T) {
	s := newStackWith(t, e2ePolicy, func(c *ablylocal.Config) { c.ConnectionStateTTL = unconfirmedStateTTL })
	proxy := startStallProxy(t, s.ably.Addr())
	base := s.serveAuth(t, proxy.addr()) + "/" // its page reaches Ably through the proxy
	br := browsertest.Start(t)
	step := s.stepper(t)
	const title = "Unconfirmed approval"

	step("login through the proxy", func(t *testing.T) {
		br.Do(t, "open", map[string]any{"page": "pat"}, nil)
		var got loginResult
		br.Do(t, "login", map[string]any{"page": "pat", "base": base, "user": "pat", "password": users["publisher"].password}, &got)
		if got.Me != "pat" {
			t.Fatalf("login as pat: %+v", got)
		}
		br.Do(t, "waitReady", map[string]any{"page": "pat", "timeoutMs": 30000}, nil)
	})

	var wfID string
	var call string
	var responses *observer
	step("the approval reaches Ably, whose acknowledgement does not come back before the connection drops", func(t *testing.T) {
		wfID = s.startRun("Publish the blog post called '" + title + "'")
		call = s.waitPending(wfID, 1)[0].ToolCallID
		if c := readCard(t, br, "pat", call); !slices.Equal(c.Buttons, []string{"Approve", "Reject…"}) {
			t.Fatalf("buttons %q before the approval, want Approve and Reject…", c.Buttons)
		}
		responses = s.observe(t) // on the local Ably server, not through the proxy
		br.Do(t, "watchConn", map[string]any{"page": "pat"}, nil)

		proxy.stall()
		br.Do(t, "press", map[string]any{"page": "pat", "toolCallId": call, "button": "approve"}, nil)
		m := responses.next(t, workflows.MsgApprovalResponse)
		if m.ClientID != "pat" || !strings.HasPrefix(m.ID, "web-") {
			t.Fatalf("approval-response from %q with id %q, want pat's from the page", m.ClientID, m.ID)
		}
		t.Logf("pat's approval %s is on Ably; its ACK is held by the proxy", m.ID)
		proxy.cut()
	})

	step("the card says the decision is not confirmed and may count, without the buttons", func(t *testing.T) {
		status := cardSelector(call) + " .status"
		// Either outcome ends the wait: the warning, or the error that the
		// page showed before it knew of unconfirmed decisions.
		either := status + `[data-kind="warn"]:has-text("Not confirmed"), ` + status + `[data-kind="error"]`
		start := time.Now()
		if err := br.Try("waitSelector", map[string]any{"page": "pat", "selector": either, "timeoutMs": 30000}, nil); err != nil {
			c := readCard(t, br, "pat", call)
			t.Fatalf("the failed publish never showed on the card (%v): status %q, buttons %q", err, c.Status, c.Buttons)
		}
		t.Logf("the card changed %s after the connection dropped (ably-js connectionStateTtl %s); %d reconnection(s) refused meanwhile",
			time.Since(start).Round(time.Millisecond), unconfirmedStateTTL, proxy.refusedCount())
		var seen struct{ States []string }
		br.Do(t, "connStates", map[string]any{"page": "pat"}, &seen)
		t.Logf("the connection line showed %s", strings.Join(seen.States, " → "))
		if !slices.Contains(seen.States, "suspended") {
			t.Errorf("the connection line showed %q, want suspended: ably-js fails a held publish when it suspends the connection", seen.States)
		}
		c := readCard(t, br, "pat", call)
		t.Logf("card status: %q; buttons %q", c.Status, c.Buttons)
		if !strings.HasPrefix(c.Status, "Not confirmed:") || !strings.Contains(c.Status, "may still count") || strings.Contains(c.Status, "Could not send") {
			t.Errorf("status %q, want that the decision is not confirmed and may still count", c.Status)
		}
		if len(c.Buttons) != 0 {
			t.Errorf("buttons %q right after an unconfirmed approval, want none: a decision that may count is not to be made again at once", c.Buttons)
		}
	})

	step("the approval counts once: the tool runs once, and nothing is sent again once the page is back", func(t *testing.T) {
		res := s.result(wfID)
		assertRanOnce(t, s, res, call, title)
		if e := s.waitAudit(wfID, "pat's approval", func(e workflows.AuditEntry) bool {
			return e.Kind == workflows.AuditApproved && e.ToolCallID == call
		}); e.Actor != "pat" {
			t.Errorf("approved by %q, want pat", e.Actor)
		}

		proxy.restore()
		// ably-js tries a suspended connection again after 30 s, or at
		// once when the browser says it is back online.
		br.Do(t, "offline", map[string]any{"page": "pat", "offline": true}, nil)
		br.Do(t, "offline", map[string]any{"page": "pat", "offline": false}, nil)
		br.Do(t, "waitConn", map[string]any{"page": "pat", "state": "connected", "timeoutMs": 30000}, nil)
		var r struct{ Text string }
		br.Do(t, "resolvedText", map[string]any{"page": "pat", "toolCallId": call, "timeoutMs": 30000}, &r)
		if !strings.Contains(r.Text, "approved by pat") {
			t.Errorf("resolved line %q, want approved by pat", r.Text)
		}
		var n struct{ N int }
		br.Do(t, "count", map[string]any{"page": "pat", "selector": cardSelector(call)}, &n)
		if n.N != 0 {
			t.Errorf("the approved request is still on the page")
		}
		responses.none(t, workflows.MsgApprovalResponse, 2*time.Second)
	})

	step("no CSP violation or script error on the page", func(t *testing.T) {
		var got struct{ Problems []string }
		br.Do(t, "problems", nil, &got)
		if len(got.Problems) != 0 {
			t.Fatalf("the page reported:\n%s", strings.Join(got.Problems, "\n"))
		}
	})
}

// stallProxy is a loopback TCP proxy in front of one server (the local
// Ably server), for a browser whose connection goes bad under it. stall
// holds everything the server sends (its ACKs among it) while what the
// browser sends still goes through; cut closes every connection, drops
// what was held, and closes each new connection at once (the network is
// down); restore lets everything through again.
type stallProxy struct {
	ln       net.Listener
	upstream string
	wg       sync.WaitGroup

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	flowing chan struct{} // closed while the server's bytes pass
	down    bool
	refused int
}

func startStallProxy(t *testing.T, upstream string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, upstream: upstream, conns: map[net.Conn]struct{}{}, flowing: make(chan struct{})}
	close(p.flowing)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		p.closeAll()
		p.wg.Wait()
	})
	return p
}

func (p *stallProxy) addr() string { return p.ln.Addr().String() }

func (p *stallProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.refused++
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(c)
	}
}

func (p *stallProxy) serve(client net.Conn) {
	defer p.wg.Done()
	server, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
	if err != nil {
		_ = client.Close()
		return
	}
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		_ = client.Close()
		_ = server.Close()
		return
	}
	p.conns[client], p.conns[server] = struct{}{}, struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, client)
		delete(p.conns, server)
		p.mu.Unlock()
		_ = client.Close()
		_ = server.Close()
	}()

	up := make(chan struct{})
	go func() {
		defer close(up)
		_, _ = io.Copy(server, client)
		_ = server.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			p.mu.Lock()
			gate := p.flowing
			p.mu.Unlock()
			<-gate // held while stalled; a cut closes client first
			if _, werr := client.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	_ = client.Close()
	<-up
}

// stall holds what the server sends from now on.
func (p *stallProxy) stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.flowing:
		p.flowing = make(chan struct{})
	default: // stalled already
	}
}

// cut closes every connection, dropping what stall held, and refuses new
// ones until restore.
func (p *stallProxy) cut() {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
	p.closeAll()
}

func (p *stallProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
	select {
	case <-p.flowing:
	default:
		close(p.flowing) // the held writes fail on their closed connections
	}
}

// restore passes connections and the server's bytes again.
func (p *stallProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// refusedCount is how many connections came while the proxy was cut.
func (p *stallProxy) refusedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refused
}
