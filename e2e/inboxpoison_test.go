package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablylocal"
	"github.com/hitl/durable-approvals/internal/authserver/web/browsertest"
)

// maxRecovery bounds how long after a poisoned message a new request must
// show on an open inbox: the page sees its channel loop or fail, detaches,
// attaches afresh after a short backoff and reads the history again.
const maxRecovery = 20 * time.Second

// TestInboxSurvivesDeltaPoison: a user of the lowest role publishes a
// message that only Ably should send (a delta reference in extras, or
// vcdiff-encoded data), on a local Ably server that passes them through
// as Ably might (ablylocal.Config.PassClientDeltaFields; by default it
// refuses them). ably-js on the page then re-attaches for ever from the
// message before the first (the server sends it again each time) and fails
// the channel on the second. The page must say its channel is not live,
// re-establish it, and show the agent's next request in time.
func TestInboxSurvivesDeltaPoison(t *testing.T) {
	s := newStackWith(t, e2ePolicy, func(c *ablylocal.Config) { c.PassClientDeltaFields = true })
	br := browsertest.Start(t)
	base := s.authURL + "/"
	step := s.stepper(t)

	step("login", func(t *testing.T) {
		br.Do(t, "open", map[string]any{"page": "pat"}, nil)
		var got loginResult
		br.Do(t, "login", map[string]any{"page": "pat", "base": base, "user": "pat", "password": users["publisher"].password}, &got)
		if got.Me != "pat" {
			t.Fatalf("login as pat: %+v", got)
		}
	})

	poisons := []struct {
		name string
		msg  func() *ably.Message
	}{
		{"a delta from a message nobody has (ably-js: 40018, re-attach from the message before)", func() *ably.Message {
			return &ably.Message{Name: "poison", Data: "x", Extras: map[string]any{"delta": map[string]any{"from": "nope", "format": "vcdiff"}}}
		}},
		{"vcdiff data without a base (ably-js: 40019, channel failed)", func() *ably.Message {
			return &ably.Message{Name: "poison2", Data: "AAAA", Encoding: "vcdiff"}
		}},
	}
	for i, p := range poisons {
		step(p.name, func(t *testing.T) {
			// A fresh page each time, so that each poison is tried alone.
			br.Do(t, "goto", map[string]any{"page": "pat", "url": base}, nil)
			br.Do(t, "waitReady", map[string]any{"page": "pat", "timeoutMs": 30000}, nil)
			// The loop needs a live message received since the attach.
			wf := fmt.Sprintf("wf-poison-%d", i)
			before, after := fmt.Sprintf("call_before_poison_%d", i), fmt.Sprintf("call_after_poison_%d", i)
			s.publishAsAgent(t, poisonTestRequest(wf, before))
			readCard(t, br, "pat", before)
			br.Do(t, "watchConn", map[string]any{"page": "pat"}, nil)

			s.publishAs("editor", p.msg())
			s.publishAsAgent(t, poisonTestRequest(wf, after))
			start := time.Now()
			if err := br.Try("card", map[string]any{"page": "pat", "toolCallId": after, "timeoutMs": maxRecovery.Milliseconds()}, nil); err != nil {
				var conn struct{ Text string }
				_ = br.Try("text", map[string]any{"page": "pat", "selector": "#conn"}, &conn)
				t.Fatalf("the agent's request published after the poison is not on the page within %s (%v); the page says %q", maxRecovery, err, conn.Text)
			}
			t.Logf("the request after the poison showed %s after it was published", time.Since(start).Round(time.Millisecond))
			br.Do(t, "waitConn", map[string]any{"page": "pat", "state": "connected", "timeoutMs": 10000}, nil)
			var seen struct{ States []string }
			br.Do(t, "connStates", map[string]any{"page": "pat"}, &seen)
			if !slices.ContainsFunc(seen.States, func(s string) bool { return s != "connected" }) {
				t.Errorf("the connection line showed %q: the channel's trouble was never shown", seen.States)
			}
			t.Logf("the connection line showed %s", strings.Join(seen.States, " → "))
			for _, call := range []string{before, after} {
				s.publishAsAgent(t, agentCancelled(wf, call))
			}
		})
	}

	step("no CSP violation or script error on the page", func(t *testing.T) {
		var got struct{ Problems []string }
		br.Do(t, "problems", nil, &got)
		if len(got.Problems) != 0 {
			t.Fatalf("the page reported:\n%s", strings.Join(got.Problems, "\n"))
		}
	})
}

// poisonTestRequest is an agent's request that pat may decide, with a
// digest that matches its arguments.
func poisonTestRequest(workflowID, toolCallID string) *ably.Message {
	args := fmt.Sprintf(`{"title":%q}`, toolCallID)
	sum := sha256.Sum256([]byte(args))
	return agentRequest(workflowID, toolCallID, map[string]any{
		"tool": "publish_blog_post", "arguments": args, "requiredRole": "publisher", "requester": "e2e-tester",
		"argumentsDigest": "sha256:" + hex.EncodeToString(sum[:]),
	})
}
