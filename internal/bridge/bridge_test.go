package bridge

import (
	"context"
	"fmt"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
	"go.temporal.io/api/serviceerror"

	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/ablylocal"
	"github.com/hitl/durable-approvals/internal/ablylocal/ablytest"
	"github.com/hitl/durable-approvals/internal/temporalconn"
	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

const (
	testKeyName = ablytest.KeyName
	testSecret  = ablytest.KeySecret
	testChannel = workflows.DefaultChannel
)

// startAbly runs the local Ably server on a loopback port.
func startAbly(t *testing.T) ablyconn.Config {
	t.Helper()
	return ablytest.Start(t, ablylocal.Config{}).Conn
}

// approverOptions authenticate as a human approver whose JWT carries role
// as the channel user claim, as the auth server issues it.
func approverOptions(t *testing.T, ac ablyconn.Config, user, role string) []ably.ClientOption {
	t.Helper()
	return ablytest.ApproverOptions(ac, user, testChannel, role)
}

// publishAs publishes msgs on the test channel as the approver user with
// role, over REST, and waits for Ably to take them.
func publishAs(t *testing.T, ac ablyconn.Config, user, role string, msgs ...*ably.Message) {
	t.Helper()
	c, err := ably.NewREST(approverOptions(t, ac, user, role)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := c.Channels.Get(testChannel).PublishMultiple(ctx, msgs); err != nil {
		t.Fatalf("publish as %s: %v", user, err)
	}
}

// newRealtime is a realtime client with opts, closed when the test ends.
// It returns once the client is connected: ably-go v1.4.1 queues a publish
// made while the connection is still connecting on the channel, and a
// publish that lands in that queue just after the connection's "connected"
// flushed it waits for an attach that a publisher never asks for (a CI run
// hung in TestBridgeSaysWhatItLeavesUnforwarded's publish until the test
// binary's timeout).
func newRealtime(t *testing.T, opts []ably.ClientOption) *ably.Realtime {
	t.Helper()
	c, err := ablyconn.NewRealtime(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	testutil.Eventually(t, 15*time.Second, "the test client connected", func() bool {
		return c.Connection.State() == ably.ConnectionStateConnected
	})
	return c
}

// guideResponse is the approval-response the guide's client publishes:
// data {decision}, extras.headers {toolCallId} — plus a forged userClaim
// that the server must replace.
func guideResponse(toolCallID, decision string) *ably.Message {
	return &ably.Message{
		Name: workflows.MsgApprovalResponse,
		Data: map[string]any{"decision": decision},
		Extras: map[string]any{
			"headers":   map[string]any{"toolCallId": toolCallID},
			"userClaim": "admin",
		},
	}
}

// startBridge runs the bridge until the test ends, checks that it returns
// nil when cancelled, and returns its log.
func startBridge(t *testing.T, ac ablyconn.Config, tc Temporal, configure ...func(*Config)) func() string {
	t.Helper()
	log, logs := logBuffer(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg := Config{
		Ably: ac, Temporal: tc, Log: log, Signer: testSigner,
		Retry:       temporalconn.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond, Attempts: 3},
		AblyOptions: []ably.ClientOption{ably.WithLogLevel(ably.LogNone)},
	}
	for _, c := range configure {
		c(&cfg)
	}
	go func() { done <- Run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v", err)
			}
		case <-time.After(10 * time.Second):
			// Every goroutine's stack, so that a hang is diagnosable from
			// the CI log alone.
			var stacks strings.Builder
			_ = pprof.Lookup("goroutine").WriteTo(&stacks, 2)
			t.Errorf("Run did not return after cancel; goroutines:\n%s", stacks.String())
		}
		if t.Failed() {
			t.Logf("bridge logs:\n%s", logs())
		}
	})
	return logs
}

func checkDecision(t *testing.T, got sentSignal, wfID, approver, role, decision string) {
	t.Helper()
	d := got.Decision
	if got.WorkflowID != wfID || got.Name != workflows.DecisionSignal || d.ToolCallID != "call_abc123" ||
		d.ApproverClientID != approver || d.ApproverRole != role || d.Decision != decision || d.AblyMessageID == "" || d.PublishedAt.IsZero() {
		t.Fatalf("signal = %+v, want workflow %s, approver %s, role %s, decision %s", got, wfID, approver, role, decision)
	}
	if d.WorkflowID != wfID {
		t.Fatalf("decision signed for workflow %q, sent to %q", d.WorkflowID, wfID)
	}
	if err := testVerifier.Verify(d); err != nil {
		t.Fatalf("the forwarded decision does not verify: %v", err)
	}
}

func mustTrusted(t *testing.T, ac ablyconn.Config, clientID string) []ably.ClientOption {
	t.Helper()
	opts, err := ac.TrustedOptions(clientID, "")
	if err != nil {
		t.Fatal(err)
	}
	return append(opts, ably.WithLogLevel(ably.LogNone))
}

func TestBridgeForwardsGuideShapedResponse(t *testing.T) {
	ac := startAbly(t)
	f := newFakeTemporal()
	f.addWorkflow("wf-1", publishView("publisher"), "call_abc123")
	logs := startBridge(t, ac, f)
	testutil.Eventually(t, 15*time.Second, "the bridge's first catch-up", func() bool { return strings.Contains(logs(), "catch-up done") })

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// The agent's key-signed token carries no user claim: dropped.
	agent := newRealtime(t, mustTrusted(t, ac, "hitl-agent"))
	if err := agent.Channels.Get(testChannel).PublishMultiple(ctx, []*ably.Message{guideResponse("call_abc123", "approved")}); err != nil {
		t.Fatalf("agent publish: %v", err)
	}
	// A malformed decision is dropped; the guide-shaped response goes through
	// with the role from alice's JWT, not the forged extras.userClaim.
	alice := newRealtime(t, approverOptions(t, ac, "alice", "publisher"))
	if err := alice.Channels.Get(testChannel).PublishMultiple(ctx, []*ably.Message{
		guideResponse("call_abc123", "maybe"),
		guideResponse("call_abc123", "approved"),
	}); err != nil {
		t.Fatalf("alice publish: %v", err)
	}
	testutil.Eventually(t, 15*time.Second, "one signal", func() bool { return len(f.sent()) >= 1 })
	checkDecision(t, f.sent()[0], "wf-1", "alice", "publisher", "approved")

	// Through REST (ably-js and ably-go REST shape: a JSON string with
	// encoding "json"), with the workflowId header.
	bob, err := ably.NewREST(approverOptions(t, ac, "bob", "editor")...)
	if err != nil {
		t.Fatal(err)
	}
	m := guideResponse("call_abc123", "rejected")
	m.Extras["headers"] = map[string]any{"toolCallId": "call_abc123", "workflowId": "wf-1"}
	if err := bob.Channels.Get(testChannel).PublishMultiple(ctx, []*ably.Message{m}); err != nil {
		t.Fatalf("bob publish: %v", err)
	}
	testutil.Eventually(t, 15*time.Second, "two signals", func() bool { return len(f.sent()) >= 2 })
	// bob's role is too low: forwarded anyway, for the workflow's audit trail.
	checkDecision(t, f.sent()[1], "wf-1", "bob", "editor", "rejected")
	if !strings.Contains(logs(), "insufficient role: editor < publisher") {
		t.Errorf("no role verdict in the log")
	}
	if n := strings.Count(logs(), "dropping approval-response"); n != 2 {
		t.Errorf("dropped %d messages, want 2 (no userClaim, bad decision)", n)
	}
	if got := len(f.sent()); got != 2 {
		t.Errorf("sent %d signals, want 2", got)
	}
}

func TestBridgeCatchesUpAfterDowntime(t *testing.T) {
	ac := startAbly(t)
	f := newFakeTemporal()
	f.addWorkflow("wf-1", publishView("publisher"), "call_abc123")

	// The response is published while no bridge runs.
	publishAs(t, ac, "alice", "admin", guideResponse("call_abc123", "approved"))

	startBridge(t, ac, f)
	testutil.Eventually(t, 15*time.Second, "the caught-up signal", func() bool { return len(f.sent()) >= 1 })
	checkDecision(t, f.sent()[0], "wf-1", "alice", "admin", "approved")
}

// TestBridgeCatchUpReadsBeforeTheOldestRunStart: Temporal's clock and
// Ably's may differ, so the catch-up reads catchUpMargin before the
// oldest waiting run's start: a decision Ably stamped before the run
// started by Temporal's clock is still replayed.
func TestBridgeCatchUpReadsBeforeTheOldestRunStart(t *testing.T) {
	ac := startAbly(t)
	f := newFakeTemporal()
	f.addWorkflow("wf-1", publishView("publisher"), "call_abc123")
	publishAs(t, ac, "alice", "admin", guideResponse("call_abc123", "approved"))
	f.setStarted("wf-1", time.Now().Add(catchUpMargin/2)) // Temporal's clock ahead of Ably's

	startBridge(t, ac, f)
	testutil.Eventually(t, 15*time.Second, "the caught-up signal", func() bool { return len(f.sent()) >= 1 })
	checkDecision(t, f.sent()[0], "wf-1", "alice", "admin", "approved")
}

func TestBridgeParksWhileTemporalIsDown(t *testing.T) {
	ac := startAbly(t)
	f := newFakeTemporal()
	f.addWorkflow("wf-1", publishView("publisher"), "call_abc123")
	down := serviceerror.NewUnavailable("temporal down")
	f.signalErrs = []error{down, down, down} // one Handle call's worth of retries
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	alice := newRealtime(t, approverOptions(t, ac, "alice", "admin"))
	m := guideResponse("call_abc123", "approved")
	m.Extras["headers"] = map[string]any{"toolCallId": "call_abc123", "workflowId": "wf-1"}
	if err := alice.Channels.Get(testChannel).PublishMultiple(ctx, []*ably.Message{m}); err != nil {
		t.Fatalf("publish: %v", err)
	}

	log, logs := logBuffer(t)
	rctx, rcancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Run(rctx, Config{
			Ably: ac, Temporal: f, Log: log, RetryEvery: 50 * time.Millisecond, Signer: testSigner,
			Retry:       temporalconn.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond, Attempts: 3},
			AblyOptions: []ably.ClientOption{ably.WithLogLevel(ably.LogNone)},
		})
	}()
	testutil.Eventually(t, 15*time.Second, "the signal after Temporal is back", func() bool { return len(f.sent()) >= 1 })
	rcancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !strings.Contains(logs(), "parked for retry") {
		t.Errorf("message was not parked:\n%s", logs())
	}
	checkDecision(t, f.sent()[0], "wf-1", "alice", "admin", "approved")
}

// A bridge stopped with a decision it could not forward yet (Temporal
// down: parked) says so as it stops; the decision stays on the channel.
func TestBridgeSaysWhatItLeavesUnforwarded(t *testing.T) {
	ac := startAbly(t)
	f := newFakeTemporal()
	f.addWorkflow("wf-1", publishView("publisher"), "call_abc123")
	down := serviceerror.NewUnavailable("temporal down")
	for range 100 {
		f.signalErrs = append(f.signalErrs, down)
	}
	log, logs := logBuffer(t)
	rctx, rcancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Run(rctx, Config{
			Ably: ac, Temporal: f, Log: log, RetryEvery: time.Hour, Signer: testSigner,
			Retry:       temporalconn.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond, Attempts: 3},
			AblyOptions: []ably.ClientOption{ably.WithLogLevel(ably.LogNone)},
		})
	}()
	testutil.Eventually(t, 15*time.Second, "the bridge's first catch-up", func() bool { return strings.Contains(logs(), "catch-up done") })
	alice := newRealtime(t, approverOptions(t, ac, "alice", "admin"))
	m := guideResponse("call_abc123", "approved")
	m.Extras["headers"] = map[string]any{"toolCallId": "call_abc123", "workflowId": "wf-1"}
	pctx, pcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer pcancel()
	if err := alice.Channels.Get(testChannel).PublishMultiple(pctx, []*ably.Message{m}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	testutil.Eventually(t, 15*time.Second, "the decision parked", func() bool { return strings.Contains(logs(), "parked for retry") })
	rcancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if l := logs(); !strings.Contains(l, "bridge stopping with approval-responses not forwarded yet") || !strings.Contains(l, `"parked":1`) {
		t.Errorf("the stop does not say what it leaves:\n%s", l)
	}
}

// A bridge stopped while Temporal holds its signals (a call under way,
// not parked) counts them among what it leaves unforwarded: the handlers
// the stop cut short once counted themselves done, so the line said fewer
// than it left (a live probe: 3 left, "handling":1).
func TestBridgeCountsWhatTheStopCutShort(t *testing.T) {
	ac := startAbly(t)
	f := newFakeTemporal()
	f.gate = make(chan struct{}) // Temporal takes the calls and answers none
	calls := []string{"call_abc121", "call_abc122", "call_abc123"}
	for i, id := range calls {
		view := publishView("publisher")
		view.Pending[0].ToolCallID = id
		f.addWorkflow(fmt.Sprintf("wf-%d", i), view, id)
	}
	log, logs := logBuffer(t)
	rctx, rcancel := context.WithCancel(t.Context())
	defer rcancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(rctx, Config{
			Ably: ac, Temporal: f, Log: log, RetryEvery: time.Hour, Signer: testSigner, Concurrency: 16,
			AblyOptions: []ably.ClientOption{ably.WithLogLevel(ably.LogNone)},
		})
	}()
	testutil.Eventually(t, 15*time.Second, "the bridge's first catch-up", func() bool { return strings.Contains(logs(), "catch-up done") })
	for i, id := range calls {
		approver := newRealtime(t, approverOptions(t, ac, fmt.Sprintf("approver%d", i), "admin"))
		m := guideResponse(id, "approved")
		m.Extras["headers"] = map[string]any{"toolCallId": id, "workflowId": fmt.Sprintf("wf-%d", i)}
		pctx, pcancel := context.WithTimeout(t.Context(), 10*time.Second)
		err := approver.Channels.Get(testChannel).PublishMultiple(pctx, []*ably.Message{m})
		pcancel()
		if err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	testutil.Eventually(t, 15*time.Second, "every signal held by Temporal", func() bool { return f.gated.Load() == int64(len(calls)) })
	rcancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if l := logs(); !strings.Contains(l, "bridge stopping with approval-responses not forwarded yet") || !strings.Contains(l, fmt.Sprintf(`"handling":%d`, len(calls))) {
		t.Errorf("the stop does not count the %d signals it cut short:\n%s", len(calls), l)
	}
}

func TestBridgeSurvivesDroppedConnection(t *testing.T) {
	srv := ablytest.Start(t, ablylocal.Config{})
	ac := srv.Conn
	f := newFakeTemporal()
	f.addWorkflow("wf-1", publishView("publisher"), "call_abc123")
	logs := startBridge(t, ac, f)
	testutil.Eventually(t, 15*time.Second, "the bridge's first catch-up", func() bool { return strings.Contains(logs(), "catch-up done") })

	srv.DropConnections()
	alice, err := ably.NewREST(approverOptions(t, ac, "alice", "publisher")...)
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.Channels.Get(testChannel).PublishMultiple(t.Context(), []*ably.Message{guideResponse("call_abc123", "approved")}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	testutil.Eventually(t, 15*time.Second, "the signal after the reconnect", func() bool { return len(f.sent()) >= 1 })
	checkDecision(t, f.sent()[0], "wf-1", "alice", "publisher", "approved")
	// Whatever path delivered it (resume or catch-up), it is signalled
	// once: let every catch-up that started finish, then watch for a late
	// duplicate for a second.
	testutil.Eventually(t, 15*time.Second, "the catch-ups to finish", func() bool {
		l := logs()
		return strings.Count(l, "catch-up done") >= strings.Count(l, "catching up")
	})
	testutil.Consistently(t, time.Second, "exactly one signal", func() bool { return len(f.sent()) == 1 })
}

// TestChannelChanged: an attach without continuity asks for a catch-up,
// and so does Ably's UPDATE on a channel that stayed attached when it
// says messages may have been lost (RTL12); a lost channel asks for
// repair; anything else asks for nothing.
func TestChannelChanged(t *testing.T) {
	for _, tt := range []struct {
		name            string
		change          ably.ChannelStateChange
		catchUp, repair bool
	}{
		{"first attach", ably.ChannelStateChange{Event: ably.ChannelEventAttached, Current: ably.ChannelStateAttached}, true, false},
		{"re-attach, resumed", ably.ChannelStateChange{Event: ably.ChannelEventAttached, Current: ably.ChannelStateAttached, Resumed: true}, false, false},
		{"update, continuity lost", ably.ChannelStateChange{Event: ably.ChannelEventUpdate, Current: ably.ChannelStateAttached}, true, false},
		{"update, resumed", ably.ChannelStateChange{Event: ably.ChannelEventUpdate, Current: ably.ChannelStateAttached, Resumed: true}, false, false},
		{"failed", ably.ChannelStateChange{Event: ably.ChannelEventFailed, Current: ably.ChannelStateFailed}, false, true},
		{"detached", ably.ChannelStateChange{Event: ably.ChannelEventDetached, Current: ably.ChannelStateDetached}, false, true},
		{"suspended", ably.ChannelStateChange{Event: ably.ChannelEventSuspended, Current: ably.ChannelStateSuspended}, false, true},
		{"attaching", ably.ChannelStateChange{Event: ably.ChannelEventAttaching, Current: ably.ChannelStateAttaching}, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			log, _ := logBuffer(t)
			b := &runner{log: log, catchUp: make(chan struct{}, 1), fixState: make(chan struct{}, 1)}
			b.channelChanged(tt.change)
			if got := len(b.catchUp) == 1; got != tt.catchUp {
				t.Errorf("catch-up asked = %v, want %v", got, tt.catchUp)
			}
			if got := len(b.fixState) == 1; got != tt.repair {
				t.Errorf("repair asked = %v, want %v", got, tt.repair)
			}
		})
	}
}

// TestReconnectIfFailed: a connection closed (or failed) is connected
// again, since ably-go retries only a disconnected or suspended one; a
// connection that is up is left alone.
func TestReconnectIfFailed(t *testing.T) {
	ac := startAbly(t)
	log, logs := logBuffer(t)
	c := newRealtime(t, mustTrusted(t, ac, workflows.DefaultBridgeClientID))
	b := &runner{log: log, client: c}
	connected := func() bool { return c.Connection.State() == ably.ConnectionStateConnected }
	testutil.Eventually(t, 10*time.Second, "the first connect", connected)
	b.reconnectIfFailed()
	if strings.Contains(logs(), "reconnecting") {
		t.Fatalf("a connected client was told to reconnect:\n%s", logs())
	}
	c.Close()
	testutil.Eventually(t, 10*time.Second, "the close", func() bool { return c.Connection.State() == ably.ConnectionStateClosed })
	b.reconnectIfFailed()
	testutil.Eventually(t, 10*time.Second, "the reconnect", connected)
}

func TestRunRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no key", Config{Temporal: newFakeTemporal(), Ably: ablyconn.Config{Endpoint: "127.0.0.1:1"}}, "ABLY_API_KEY is required"},
		{"no temporal", Config{Ably: ablyconn.Config{APIKey: "a.b:c", Endpoint: "127.0.0.1:1"}}, "no Temporal client"},
		{"page size", Config{Temporal: newFakeTemporal(), Ably: ablyconn.Config{APIKey: "a.b:c", Endpoint: "127.0.0.1:1"}, HistoryPageSize: 5000}, "page size"},
		{"page size just over Ably's limit", Config{Temporal: newFakeTemporal(), Ably: ablyconn.Config{APIKey: "a.b:c", Endpoint: "127.0.0.1:1"}, HistoryPageSize: 1001}, "page size"},
		{"no signing key", Config{Temporal: newFakeTemporal(), Ably: ablyconn.Config{APIKey: "a.b:c", Endpoint: "127.0.0.1:1"}}, "no decision signing key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Refused at once: a configuration taken would run until the
			// timeout and return nil.
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			err := Run(ctx, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

// The reason of a lost connection is logged; a failed dial's reason holds
// the URL, with the bridge's token in its query.
func TestErrStringRedactsToken(t *testing.T) {
	const token = "eyJhbGciOiJIUzI1NiJ9.eyJ4IjoxfQ.c2lnbmF0dXJl"
	c := ablyconn.Config{Endpoint: fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))} // nothing listens
	client, err := ablyconn.NewRealtime(append(c.EndpointOptions(), ably.WithToken(token), ably.WithLogLevel(ably.LogNone))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	var reason *ably.ErrorInfo
	testutil.Eventually(t, 10*time.Second, "the dial to fail", func() bool {
		reason = client.Connection.ErrorReason()
		return reason != nil
	})
	if !strings.Contains(reason.Error(), token) {
		t.Fatalf("ably-go's reason %q does not show the token: the test shows nothing", reason)
	}
	if got := errString(reason); strings.Contains(got, token) || !strings.Contains(got, "access_token=REDACTED") {
		t.Fatalf("errString = %q: want the token redacted", got)
	}
}
