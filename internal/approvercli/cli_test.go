package approvercli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/ablylocal"
	"github.com/hitl/durable-approvals/internal/ablylocal/ablytest"
	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

const (
	testKeyName = ablytest.KeyName
	testSecret  = ablytest.KeySecret
	testChannel = workflows.DefaultChannel
)

// env is a local Ably server plus an auth server that knows alice
// (publisher) with password "pw".
type env struct {
	ably   ablyconn.Config
	auth   string
	logins *atomic.Int64           // successful logins at the auth server
	role   *atomic.Pointer[string] // alice's role in the tokens it issues from now on
	// authDown makes the auth server answer 503 (down behind a proxy);
	// authRefuses makes it refuse alice (her password changed).
	authDown, authRefuses *atomic.Bool
}

func startEnv(t *testing.T) env {
	t.Helper()
	return startEnvTTL(t, time.Hour)
}

// startEnvTTL issues approver tokens that live ttl.
func startEnvTTL(t *testing.T, ttl time.Duration) env {
	t.Helper()
	return startEnvWith(t, ttl, ablylocal.Config{})
}

// startEnvWith is startEnvTTL with the local Ably server configured by cfg.
func startEnvWith(t *testing.T, ttl time.Duration, cfg ablylocal.Config) env {
	t.Helper()
	logins := &atomic.Int64{}
	down, refuses := &atomic.Bool{}, &atomic.Bool{}
	role := &atomic.Pointer[string]{}
	publisher := "publisher"
	role.Store(&publisher)
	srv := ablytest.Start(t, cfg)
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "auth server down", http.StatusServiceUnavailable)
			return
		}
		u, p, ok := r.BasicAuth()
		if r.URL.Path != TokenPath || !ok || u != "alice" || p != "pw" || refuses.Load() {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		tok, _, err := userTokenTTL("alice", *role.Load(), ttl)
		logins.Add(1)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/jwt")
		io.WriteString(w, tok)
	}))
	t.Cleanup(auth.Close)
	return env{ably: ablyconn.Config{APIKey: testKeyName + ":" + testSecret, Endpoint: srv.Addr()}, auth: auth.URL, logins: logins, role: role, authDown: down, authRefuses: refuses}
}

func userToken(user, role string) (string, time.Time, error) {
	return userTokenTTL(user, role, time.Hour)
}

func userTokenTTL(user, role string, ttl time.Duration) (string, time.Time, error) {
	return ablytest.ApproverToken(user, testChannel, role, time.Now(), ttl)
}

// cliConfig is alice's approver configuration; the API key is not passed.
func (e env) cliConfig(t *testing.T, now func() time.Time) Config {
	ac := e.ably
	ac.APIKey = ""
	return Config{
		Ably: ac, AuthURL: e.auth, User: "alice", Password: "pw", Now: now,
		Log:         slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		AblyOptions: []ably.ClientOption{ably.WithLogLevel(ably.LogNone)},
		Timeout:     10 * time.Second,
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// rest returns a REST client acting as clientID: the agent signs with the
// key; anyone else gets a user JWT.
func (e env) rest(t *testing.T, clientID string) *ably.RESTChannel {
	t.Helper()
	var opts []ably.ClientOption
	if clientID == workflows.DefaultAgentClientID {
		var err error
		opts, err = e.ably.TrustedOptions(clientID, "")
		if err != nil {
			t.Fatal(err)
		}
	} else {
		opts = append(e.ably.EndpointOptions(), ably.WithAuthCallback(func(context.Context, ably.TokenParams) (ably.Tokener, error) {
			tok, exp, err := userToken(clientID, "admin")
			return &ably.TokenDetails{Token: tok, Expires: exp.UnixMilli(), ClientID: clientID}, err
		}))
	}
	c, err := ably.NewREST(append(opts, ably.WithLogLevel(ably.LogNone))...)
	if err != nil {
		t.Fatal(err)
	}
	return c.Channels.Get(testChannel)
}

// publishRequest publishes an approval-request the way the agent's activity
// does (REST, message id "<wf>:<tc>:request").
func publishRequest(t *testing.T, ch *ably.RESTChannel, tc, wf string, expires time.Time) {
	t.Helper()
	d := workflows.ApprovalRequestData{
		Tool: "publish_blog_post", Arguments: `{"title":"Introducing our new API"}`, ToolCallID: tc, WorkflowID: wf,
		RequiredRole: "publisher", Requester: "bob", RequestedAt: time.Now().UTC(), ExpiresAt: expires,
	}
	m := &ably.Message{
		ID: wf + ":" + tc + ":request", Name: workflows.MsgApprovalRequest, Data: d,
		Extras: map[string]any{"headers": map[string]any{"toolCallId": tc, "workflowId": wf}},
	}
	if err := ch.PublishMultiple(t.Context(), []*ably.Message{m}); err != nil {
		t.Fatalf("publish request: %v", err)
	}
}

func publishResolved(t *testing.T, ch *ably.RESTChannel, d workflows.ApprovalResolvedData) {
	t.Helper()
	m := &ably.Message{ID: d.WorkflowID + ":" + d.ToolCallID + ":resolved", Name: workflows.MsgApprovalResolved, Data: d}
	if err := ch.PublishMultiple(t.Context(), []*ably.Message{m}); err != nil {
		t.Fatalf("publish resolved: %v", err)
	}
}

// responses reads the approval-responses from history, oldest first.
func responses(t *testing.T, ch *ably.RESTChannel) []*ably.Message {
	t.Helper()
	pages, err := ch.History(ably.HistoryWithDirection(ably.Forwards)).Pages(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []*ably.Message
	for i := 0; i < 10 && pages.Next(t.Context()); i++ {
		for _, m := range pages.Items() {
			if m.Name == workflows.MsgApprovalResponse {
				out = append(out, m)
			}
		}
	}
	if err := pages.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// wantResponses returns the approval-responses on the channel, failing
// the test unless there are n.
func wantResponses(t *testing.T, ch *ably.RESTChannel, n int) []*ably.Message {
	t.Helper()
	rs := responses(t, ch)
	if len(rs) != n {
		t.Fatalf("%d responses, want %d", len(rs), n)
	}
	return rs
}

// checkResponse checks a published response against what the CLI was asked
// to send.
func checkResponse(t *testing.T, m *ably.Message, toolCallID, workflowID, decision, reason string) {
	t.Helper()
	r := readSent(t, m)
	if r.ClientID != "alice" || r.Role != "publisher" || r.ToolCallID != toolCallID || r.WorkflowID != workflowID || r.Decision != decision || r.Reason != reason {
		t.Fatalf("response = %+v, want %s/%s %s %q by alice (publisher)", r, workflowID, toolCallID, decision, reason)
	}
	if r.HasWFID != (workflowID != "") {
		t.Fatalf("headers = %v", m.Extras[workflows.ExtrasHeaders])
	}
}

func TestDecide(t *testing.T) {
	e := startEnv(t)
	agent := e.rest(t, workflows.DefaultAgentClientID)
	mallory := e.rest(t, "mallory")
	publishRequest(t, agent, "call_1", "wf-1", time.Now().Add(10*time.Minute))
	publishRequest(t, agent, "call_2", "wf-2", time.Now().Add(10*time.Minute))
	publishRequest(t, mallory, "call_spoof", "wf-evil", time.Now().Add(10*time.Minute))
	publishResolved(t, agent, workflows.ApprovalResolvedData{ToolCallID: "call_2", WorkflowID: "wf-2", Tool: "publish_blog_post", Outcome: "expired"})
	cfg := e.cliConfig(t, nil)

	var out bytes.Buffer
	if err := Decide(t.Context(), cfg, DecideArgs{ToolCallID: "call_1", Decision: "approved"}, &out); err != nil {
		t.Fatalf("approve: %v", err)
	}
	if got := out.String(); !strings.Contains(got, "Decision sent: approved") || strings.Contains(got, "warning") {
		t.Fatalf("output %q", got)
	}
	rs := wantResponses(t, agent, 1)
	checkResponse(t, rs[0], "call_1", "wf-1", "approved", "")

	for _, tt := range []struct {
		name, id, want string
	}{
		{"unknown", "call_404", "(`approver list` shows the pending ones; --force sends anyway)"},
		{"spoofed request", "call_spoof", "--force sends anyway"},
		{"resolved", "call_2", "already resolved (expired)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := Decide(t.Context(), cfg, DecideArgs{ToolCallID: tt.id, Decision: "rejected", Reason: "no", Wait: 200 * time.Millisecond}, io.Discard)
			if !errors.Is(err, ErrUnknownToolCall) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrUnknownToolCall containing %q", err, tt.want)
			}
		})
	}
	if n := len(responses(t, agent)); n != 1 {
		t.Fatalf("refused decisions were published: %d responses", n)
	}

	// --force sends the guide's shape: only headers.toolCallId.
	if err := Decide(t.Context(), cfg, DecideArgs{ToolCallID: "call_404", Decision: "rejected", Reason: "stale", Force: true}, io.Discard); err != nil {
		t.Fatalf("force: %v", err)
	}
	rs = responses(t, agent)
	if len(rs) != 2 {
		t.Fatalf("%d responses, want 2", len(rs))
	}
	checkResponse(t, rs[1], "call_404", "", "rejected", "stale")
	// --force on a call known to be resolved says so.
	var forced bytes.Buffer
	if err := Decide(t.Context(), cfg, DecideArgs{ToolCallID: "call_2", Decision: "rejected", Reason: "late", Force: true}, &forced); err != nil {
		t.Fatalf("force a resolved call: %v", err)
	}
	if !strings.Contains(forced.String(), "warning: tool call call_2 was already resolved (expired); sending anyway (--force): the agent will ignore it.") {
		t.Errorf("force on a resolved call printed:\n%s", forced.String())
	}

	wrong := cfg
	wrong.Password = "nope"
	if err := Decide(t.Context(), wrong, DecideArgs{ToolCallID: "call_1", Decision: "approved"}, io.Discard); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("bad password: err = %v", err)
	}
}

// A script that runs as soon as the workflow lists the approval can beat
// the agent's publish: Decide waits for the live request.
// The decision names the digest of the arguments the approver was shown.
func TestDecideSendsTheArgumentsDigest(t *testing.T) {
	e := startEnv(t)
	agent := e.rest(t, workflows.DefaultAgentClientID)
	args := `{"title":"Introducing our new API"}`
	d := workflows.ApprovalRequestData{
		Tool: "publish_blog_post", Arguments: args, ArgumentsDigest: workflows.ArgumentsDigest(args), ToolCallID: "call_1", WorkflowID: "wf-1",
		RequiredRole: "publisher", Requester: "bob", RequestedAt: time.Now().UTC(), ExpiresAt: time.Now().Add(10 * time.Minute),
	}
	m := &ably.Message{Name: workflows.MsgApprovalRequest, Data: d,
		Extras: map[string]any{"headers": map[string]any{"toolCallId": "call_1", "workflowId": "wf-1"}}}
	if err := agent.PublishMultiple(t.Context(), []*ably.Message{m}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Decide(t.Context(), e.cliConfig(t, nil), DecideArgs{ToolCallID: "call_1", Decision: "approved"}, &out); err != nil {
		t.Fatalf("approve: %v", err)
	}
	rs := wantResponses(t, agent, 1)
	if r := readSent(t, rs[0]); r.ArgumentsDigest != d.ArgumentsDigest {
		t.Fatalf("response = %+v; want the digest %s", r, d.ArgumentsDigest)
	}
}

func TestDecideWaitsForLateRequest(t *testing.T) {
	e := startEnv(t)
	agent := e.rest(t, workflows.DefaultAgentClientID)
	cfg := e.cliConfig(t, nil)
	logs := &testutil.SyncBuffer{}
	cfg.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	out := &testutil.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- Decide(t.Context(), cfg, DecideArgs{ToolCallID: "call_late", Decision: "approved", Wait: 20 * time.Second}, out)
	}()
	testutil.Eventually(t, 15*time.Second, "Decide to wait for the request", func() bool {
		return strings.Contains(logs.String(), "waiting for it")
	})
	publishRequest(t, agent, "call_late", "wf-late", time.Now().Add(10*time.Minute))
	waitReturn(t, done, 15*time.Second, "Decide", "after the request arrived")
	rs := wantResponses(t, agent, 1)
	checkResponse(t, rs[0], "call_late", "wf-late", "approved", "")
}

// An approver whose role is below the required one is refused, and nothing
// is sent: the workflow would only record the decision as ignored. With
// --force it is sent, and the approver is told it will not count.
func TestDecideRefusesInsufficientRole(t *testing.T) {
	e := startEnv(t) // alice is a publisher
	agent := e.rest(t, workflows.DefaultAgentClientID)
	d := workflows.ApprovalRequestData{Tool: "delete_post", Arguments: `{"slug":"x"}`, ToolCallID: "call_del", WorkflowID: "wf-del",
		RequiredRole: "admin", RequestedAt: time.Now().UTC(), ExpiresAt: time.Now().Add(time.Hour)}
	if err := agent.PublishMultiple(t.Context(), []*ably.Message{{Name: workflows.MsgApprovalRequest, Data: d}}); err != nil {
		t.Fatal(err)
	}
	for _, decision := range []string{workflows.DecisionApproved, workflows.DecisionRejected} {
		var out bytes.Buffer
		err := Decide(t.Context(), e.cliConfig(t, nil), DecideArgs{ToolCallID: "call_del", Decision: decision, Reason: "x"}, &out)
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "your role publisher is below the required admin") ||
			!strings.Contains(err.Error(), "nothing was sent (--force sends it anyway)") {
			t.Fatalf("%s by a publisher of an admin's call: %v, want ErrRefused saying the role is below and nothing was sent", decision, err)
		}
		if strings.Contains(out.String(), "Decision sent") {
			t.Fatalf("%s: output %q says it was sent", decision, out.String())
		}
	}
	if n := len(responses(t, agent)); n != 0 {
		t.Fatalf("%d responses after refusals, want 0", n)
	}

	var out bytes.Buffer
	if err := Decide(t.Context(), e.cliConfig(t, nil), DecideArgs{ToolCallID: "call_del", Decision: "approved", Force: true}, &out); err != nil {
		t.Fatalf("approve --force: %v", err)
	}
	want := "warning: your role publisher is below the required admin; sending anyway (--force): the agent will record this and keep waiting\nDecision sent: approved\n"
	if got := out.String(); !strings.Contains(got, "Tool call ID:  call_del") || !strings.HasSuffix(got, want) {
		t.Fatalf("output %q, want the request and then %q", got, want)
	}
	if n := len(responses(t, agent)); n != 1 {
		t.Fatalf("%d responses, want 1", n)
	}
}

func TestList(t *testing.T) {
	e := startEnv(t)
	agent := e.rest(t, workflows.DefaultAgentClientID)
	publishRequest(t, agent, "call_1", "wf-1", time.Now().Add(10*time.Minute))
	publishRequest(t, e.rest(t, "mallory"), "call_spoof", "wf-evil", time.Now().Add(10*time.Minute))
	var out bytes.Buffer
	if err := List(t.Context(), e.cliConfig(t, nil), &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if !strings.Contains(got, "Tool call ID:  call_1") || !strings.Contains(got, "1 pending approval request(s).") {
		t.Fatalf("list output:\n%s", got)
	}
	if strings.Contains(got, "call_spoof") {
		t.Fatalf("spoofed request listed:\n%s", got)
	}
	if strings.Contains(got, "Read only the newest") {
		t.Errorf("the whole history was read, yet the list says it was cut:\n%s", got)
	}
}

// TestHistoryCutIsSaid: an approver may publish on the channel, so a flood
// can push a pending request out of the history the CLI reads; list,
// approve and watch say that they read only part of it.
func TestHistoryCutIsSaid(t *testing.T) {
	e := startEnv(t)
	publishRequest(t, e.rest(t, workflows.DefaultAgentClientID), "call_buried", "wf-1", time.Now().Add(10*time.Minute))
	mallory := e.rest(t, "mallory")
	for _, n := range []int{100, 1} {
		flood := make([]*ably.Message, n)
		for i := range flood {
			flood[i] = &ably.Message{Name: "chatter", Data: "x"}
		}
		if err := mallory.PublishMultiple(t.Context(), flood); err != nil {
			t.Fatal(err)
		}
	}
	const note = "Read only the newest 100 messages of the channel's history, and it has older ones"
	for _, pages := range []int{1, 2} {
		cfg := e.cliConfig(t, nil)
		cfg.HistoryPages = pages
		var out bytes.Buffer
		if err := List(t.Context(), cfg, &out); err != nil {
			t.Fatal(err)
		}
		said := strings.Contains(out.String(), note)
		found := strings.Contains(out.String(), "call_buried")
		if pages == 1 && (!said || found) {
			t.Errorf("one page of 100 after a flood of 101:\n%s\nwant the note and no request", out.String())
		}
		if pages == 2 && (said || !found) {
			t.Errorf("two pages, 102 messages:\n%s\nwant the request and no note", out.String())
		}
	}

	cfg := e.cliConfig(t, nil)
	cfg.HistoryPages = 1
	err := Decide(t.Context(), cfg, DecideArgs{ToolCallID: "call_buried", Decision: workflows.DecisionApproved, Wait: -1}, io.Discard)
	if !errors.Is(err, ErrUnknownToolCall) || !strings.Contains(err.Error(), note) {
		t.Errorf("approve of a request past the history read: %v, want ErrUnknownToolCall naming the cut", err)
	}

	_, out, cancel, done := startWatch(t, cfg)
	waitOutput(t, out, note, 1)
	cancel()
	waitReturn(t, done, 10*time.Second, "watch", "cancelled")
}

func waitOutput(t *testing.T, out *testutil.SyncBuffer, want string, count int) {
	t.Helper()
	testutil.WaitFor(t, 15*time.Second, fmt.Sprintf("%d× %q", count, want), func() (bool, error) {
		return strings.Count(out.String(), want) >= count, fmt.Errorf("output:\n%s", out.String())
	})
}

// startWatch runs Watch with cfg, its input a pipe, until cancel (called
// when the test ends too). It returns the pipe's writing end, the screen,
// cancel, and where Watch's result arrives.
func startWatch(t *testing.T, cfg Config) (*io.PipeWriter, *testutil.SyncBuffer, context.CancelFunc, <-chan error) {
	t.Helper()
	return startWatchTypedAhead(t, cfg, "")
}

// startWatchTypedAhead is startWatch with typedAhead already waiting in the
// input when Watch starts, as keys typed while the command starts, or a
// line piped in, are.
func startWatchTypedAhead(t *testing.T, cfg Config, typedAhead string) (*io.PipeWriter, *testutil.SyncBuffer, context.CancelFunc, <-chan error) {
	t.Helper()
	inR, inW := io.Pipe()
	t.Cleanup(func() { inW.Close() })
	out := &testutil.SyncBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	in := io.MultiReader(strings.NewReader(typedAhead), inR)
	go func() { done <- Watch(ctx, cfg, in, out) }()
	return inW, out, cancel, done
}

// waitReturn waits up to timeout for what (Watch, Decide) to return nil on
// done; when says after what.
func waitReturn(t *testing.T, done <-chan error, timeout time.Duration, what, when string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(timeout):
		t.Fatalf("%s did not return %s", what, when)
	}
}

func TestWatch(t *testing.T) {
	e := startEnv(t)
	agent := e.rest(t, workflows.DefaultAgentClientID)
	// One request is already waiting when the approver starts.
	publishRequest(t, agent, "call_old", "wf-1", time.Now().Add(10*time.Minute))

	inW, out, cancel, done := startWatch(t, e.cliConfig(t, nil))

	waitOutput(t, out, PromptDecision, 1)
	if s := out.String(); !strings.Contains(s, "Tool call ID:  call_old") || !strings.Contains(s, `"title": "Introducing our new API"`) ||
		!strings.Contains(s, "Requested by:  bob") || !strings.Contains(s, "Required role: publisher") || !strings.Contains(s, "Workflow ID:   wf-1") {
		t.Fatalf("request not shown in full:\n%s", s)
	}
	io.WriteString(inW, "y\n")
	waitOutput(t, out, "Decision sent: approved", 1)

	// A spoofed live request is never shown; the agent's is.
	publishRequest(t, e.rest(t, "mallory"), "call_spoof", "wf-evil", time.Now().Add(10*time.Minute))
	publishRequest(t, agent, "call_new", "wf-2", time.Now().Add(10*time.Minute))
	waitOutput(t, out, PromptDecision, 2)
	io.WriteString(inW, "maybe\n")
	waitOutput(t, out, "Please answer y or n.", 1)
	io.WriteString(inW, "n\n")
	waitOutput(t, out, PromptReason, 1)
	io.WriteString(inW, "too risky\n")
	waitOutput(t, out, "Decision sent: rejected", 1)

	publishResolved(t, agent, workflows.ApprovalResolvedData{ToolCallID: "call_new", WorkflowID: "wf-2", Tool: "publish_blog_post", Outcome: "rejected", DecidedBy: "alice", Role: "publisher", Reason: "too risky"})
	waitOutput(t, out, "Resolved: publish_blog_post (call_new) rejected by alice (publisher): too risky", 1)

	cancel()
	waitReturn(t, done, 10*time.Second, "Watch", "after cancel")
	if s := out.String(); strings.Contains(s, "call_spoof") {
		t.Fatalf("spoofed request shown:\n%s", s)
	}
	rs := wantResponses(t, agent, 2)
	checkResponse(t, rs[0], "call_old", "wf-1", "approved", "")
	checkResponse(t, rs[1], "call_new", "wf-2", "rejected", "too risky")
}

// An "n" whose input then ends (echo n | approver watch) is a rejection
// without a reason, which is optional: sent, not dropped with the input.
func TestWatchRejectsWhenInputEndsAtTheReason(t *testing.T) {
	e := startEnv(t)
	agent := e.rest(t, workflows.DefaultAgentClientID)
	publishRequest(t, agent, "call_1", "wf-1", time.Now().Add(10*time.Minute))
	inW, out, _, done := startWatch(t, e.cliConfig(t, nil))
	waitOutput(t, out, PromptDecision, 1)
	io.WriteString(inW, "n\n")
	waitOutput(t, out, PromptReason, 1)
	inW.Close()
	waitReturn(t, done, 15*time.Second, "Watch", "after its input closed")
	if s := out.String(); !strings.Contains(s, "Decision sent: rejected") || !strings.Contains(s, "Input closed; exiting.") {
		t.Fatalf("output:\n%s", s)
	}
	rs := wantResponses(t, agent, 1)
	checkResponse(t, rs[0], "call_1", "wf-1", "rejected", "")
}

// watch -workflow asks only about that workflow's requests: an older one
// of another run (an earlier demo's, left pending) is neither shown first
// nor answered by the approver's "y".
func TestWatchOneWorkflow(t *testing.T) {
	e := startEnv(t)
	agent := e.rest(t, workflows.DefaultAgentClientID)
	publishRequest(t, agent, "call_other", "wf-earlier", time.Now().Add(10*time.Minute))
	publishRequest(t, agent, "call_mine", "wf-mine", time.Now().Add(10*time.Minute))
	cfg := e.cliConfig(t, nil)
	cfg.Workflow = "wf-mine"
	inW, out, cancel, done := startWatch(t, cfg)
	waitOutput(t, out, PromptDecision, 1)
	if s := out.String(); !strings.Contains(s, "Tool call ID:  call_mine") || strings.Contains(s, "call_other") {
		t.Fatalf("want only wf-mine's request:\n%s", s)
	}
	io.WriteString(inW, "y\n")
	waitOutput(t, out, "Decision sent: approved", 1)
	publishRequest(t, agent, "call_later", "wf-later", time.Now().Add(10*time.Minute))
	publishRequest(t, agent, "call_mine2", "wf-mine", time.Now().Add(10*time.Minute))
	waitOutput(t, out, "Tool call ID:  call_mine2", 1)
	cancel()
	waitReturn(t, done, 10*time.Second, "Watch", "after cancel")
	if s := out.String(); strings.Contains(s, "call_other") || strings.Contains(s, "call_later") {
		t.Fatalf("another workflow's request shown:\n%s", s)
	}
	rs := wantResponses(t, agent, 1)
	checkResponse(t, rs[0], "call_mine", "wf-mine", "approved", "")

	cfg.Workflow = "wf\x1b[2Jbad" // not printable: refused
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "-workflow: ") {
		t.Errorf("Validate with workflow %q: %v, want a -workflow error", cfg.Workflow, err)
	}
}

// A line typed while one request is shown (a double Enter, a paste of
// "y\ny\n") answers that request only: the next one, shown after the
// keystroke, is not approved by it.
func TestWatchTypeAheadDoesNotAnswerTheNextRequest(t *testing.T) {
	e := startEnv(t)
	agent := e.rest(t, workflows.DefaultAgentClientID)
	publishRequest(t, agent, "call_1", "wf-1", time.Now().Add(10*time.Minute))
	publishRequest(t, agent, "call_2", "wf-2", time.Now().Add(10*time.Minute))

	inW, out, cancel, done := startWatch(t, e.cliConfig(t, nil))

	waitOutput(t, out, PromptDecision, 1)
	if s := out.String(); !strings.Contains(s, "Tool call ID:  call_1") || strings.Contains(s, "call_2") {
		t.Fatalf("want call_1 alone on the screen:\n%s", s)
	}
	io.WriteString(inW, "y\ny\n") // both typed while only call_1 is shown
	waitOutput(t, out, IgnoredEarlyInput, 1)
	if s := out.String(); strings.Count(s, "Decision sent: approved") != 1 || !strings.Contains(s, "Tool call ID:  call_2") {
		t.Fatalf("want call_1 approved and call_2 shown:\n%s", s)
	}
	// Typed once call_2 is shown, a line answers it.
	io.WriteString(inW, "n\nnot now\n")
	waitOutput(t, out, "Decision sent: rejected", 1)

	cancel()
	waitReturn(t, done, 10*time.Second, "Watch", "after cancel")
	rs := wantResponses(t, agent, 2)
	checkResponse(t, rs[0], "call_1", "wf-1", "approved", "")
	checkResponse(t, rs[1], "call_2", "wf-2", "rejected", "not now")
}

// A line already waiting when watch starts (typed while it connected, or
// piped in: `echo y | approver watch`) was typed before any request was
// shown, so it answers none: the screen says so, and only a line typed
// once the request is shown approves it.
func TestWatchInputWaitingAtStartAnswersNothing(t *testing.T) {
	e := startEnv(t)
	agent := e.rest(t, workflows.DefaultAgentClientID)
	publishRequest(t, agent, "call_1", "wf-1", time.Now().Add(10*time.Minute))

	inW, out, cancel, done := startWatchTypedAhead(t, e.cliConfig(t, nil), "y\ny\n")
	waitOutput(t, out, IgnoredEarlyInput, 1)
	if s := out.String(); strings.Contains(s, "Decision sent") || !strings.Contains(s, "Tool call ID:  call_1") {
		t.Fatalf("want call_1 shown and not answered by the lines waiting at the start:\n%s", s)
	}
	io.WriteString(inW, "y\n")
	waitOutput(t, out, "Decision sent: approved", 1)

	cancel()
	waitReturn(t, done, 10*time.Second, "Watch", "after cancel")
	rs := wantResponses(t, agent, 1)
	checkResponse(t, rs[0], "call_1", "wf-1", "approved", "")
}

func TestWatchExpiry(t *testing.T) {
	e := startEnv(t)
	agent := e.rest(t, workflows.DefaultAgentClientID)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	publishRequest(t, agent, "call_1", "wf-1", now.Add(time.Minute))

	inW, out, cancel, done := startWatch(t, e.cliConfig(t, clock))
	waitOutput(t, out, PromptDecision, 1)
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	waitOutput(t, out, "Expired: publish_blog_post (call_1)", 1)
	// A late answer is not sent; EOF ends the watch.
	io.WriteString(inW, "y\n")
	inW.Close()
	waitOutput(t, out, "Input closed; exiting.", 1)
	waitReturn(t, done, 10*time.Second, "Watch", "after its input closed")
	cancel()
	if n := len(responses(t, agent)); n != 0 {
		t.Fatalf("%d responses after expiry, want 0", n)
	}
}

// The local server asks for a new token halfway through a short token's
// life; the session logs in again through the auth server and keeps
// working past the first token's expiry.
func TestSessionRenewsToken(t *testing.T) {
	const ttl = 4 * time.Second
	e := startEnvTTL(t, ttl)
	start := time.Now()
	s, err := open(t.Context(), e.cliConfig(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	before := e.logins.Load()
	testutil.Eventually(t, 15*time.Second, "a renewal (a login after the first)", func() bool { return e.logins.Load() > before })
	time.Sleep(time.Until(start.Add(ttl + time.Second))) // outlive the first token: a wait for the clock, not a condition
	if _, err := s.respond(t.Context(), "call_1", "wf-1", "", "approved", "", ""); err != nil {
		t.Fatalf("publish after renewal: %v", err)
	}
	if st := s.client.Connection.State(); st != ably.ConnectionStateConnected {
		t.Fatalf("connection %v after renewal", st)
	}
}

// TestWatchOutlivesAuthServerOutage: the auth server is down when the
// watch's token expires. ably-go asks for a token once and, when that
// fails, stays disconnected for good; the session keeps asking, so once
// the auth server is back a request published then is shown. A refusal
// (the password no longer works) ends the watch with a clear error.
func TestWatchOutlivesAuthServerOutage(t *testing.T) {
	const ttl = 3 * time.Second
	e := startEnvTTL(t, ttl)
	cfg := e.cliConfig(t, nil)
	// What the approver reads on stderr, ably-go's own lines included.
	var logs testutil.SyncBuffer
	cfg.Log = slog.New(slog.NewTextHandler(io.MultiWriter(&logs, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg.AblyOptions = nil
	_, out, cancel, done := startWatch(t, cfg)
	defer cancel()
	waitOutput(t, out, "Waiting for approval requests", 1)
	e.authDown.Store(true)
	logins := e.logins.Load()
	time.Sleep(2 * ttl) // the token expires while the auth server is down: a wait for the clock, not a condition
	if e.logins.Load() != logins {
		t.Fatal("a token was issued while the auth server was down")
	}
	e.authDown.Store(false)
	testutil.Eventually(t, 30*time.Second, "a renewal once the auth server is back", func() bool { return e.logins.Load() > logins })
	publishRequest(t, e.rest(t, workflows.DefaultAgentClientID), "call_after_outage", "wf-1", time.Now().Add(10*time.Minute))
	waitOutput(t, out, "call_after_outage", 1)
	// Each failed renewal is one line, saying why and that it tries again:
	// neither ably-go's reports of the same failure nor the reconnection's.
	failed := strings.Count(logs.String(), "cannot renew the Ably token")
	if failed == 0 {
		t.Errorf("no line said the token could not be renewed:\n%s", logs.String())
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "component=ably-go") || strings.Contains(line, "still no Ably connection") {
			t.Errorf("a line repeats a failed renewal (%d said so already): %s", failed, line)
		}
	}

	e.authRefuses.Store(true)
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "refused to renew your token") || !errors.Is(err, ErrLoginRefused) {
			t.Fatalf("watch ended with %v, want the refused renewal", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("watch still running 30 s after the auth server began refusing alice (her tokens live 3 s)")
	}
}

// TestWatchDecisionWhileOffline: a decision typed while the token could not
// be renewed (the auth server down) is refused at once, not held: ably-go
// holds its connection while it asks for a token, and a send that waited
// on it froze the watch (Ctrl-C included) until the auth server came back.
func TestWatchDecisionWhileOffline(t *testing.T) {
	const ttl = 3 * time.Second
	e := startEnvTTL(t, ttl)
	agent := e.rest(t, workflows.DefaultAgentClientID)
	publishRequest(t, agent, "call_offline", "wf-1", time.Now().Add(10*time.Minute))
	in, out, cancel, done := startWatch(t, e.cliConfig(t, nil))
	defer cancel()
	waitOutput(t, out, PromptDecision, 1)
	e.authDown.Store(true)
	time.Sleep(2 * ttl) // the token expires while the auth server is down: a wait for the clock, not a condition
	if _, err := io.WriteString(in, "y\n"); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, out, "Failed to send decision: no connection to Ably", 1)
	cancel()
	waitReturn(t, done, 5*time.Second, "watch", "cancelled while offline")
	e.authDown.Store(false)
	testutil.Consistently(t, 3*time.Second, "no decision sent", func() bool { return len(responses(t, agent)) == 0 })
}

// TestListReckonsOnAblysClock: a computer whose clock is an hour off
// neither hides a pending request as expired nor lists an expired one as
// pending, and the approver is told the clock is off.
func TestListReckonsOnAblysClock(t *testing.T) {
	tests := []struct {
		name    string
		skew    time.Duration // this computer's clock minus the real time
		expires time.Duration // the request's expiry from now
		want    string
		// wantWarn is in the warning about the clock; "": no warning.
		wantWarn string
	}{
		{"clock ahead, request pending", time.Hour, 10 * time.Minute, "1 pending approval request(s).", "clock is 1h0m0s ahead of Ably's"},
		{"clock behind, request expired", -time.Hour, -5 * time.Minute, "No pending approval requests.", "clock is 1h0m0s behind Ably's"},
		{"clock right", 0, 10 * time.Minute, "1 pending approval request(s).", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := startEnv(t)
			publishRequest(t, e.rest(t, workflows.DefaultAgentClientID), "call_1", "wf-1", time.Now().Add(tc.expires))
			cfg := e.cliConfig(t, func() time.Time { return time.Now().Add(tc.skew) })
			var logs bytes.Buffer
			cfg.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
			var out bytes.Buffer
			if err := List(t.Context(), cfg, &out); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("list output lacks %q:\n%s", tc.want, out.String())
			}
			if tc.want != "No pending approval requests." && !regexp.MustCompile(`Time left: +(9m5\ds|10m0s)`).MatchString(out.String()) {
				t.Errorf("time left not reckoned on Ably's clock:\n%s", out.String())
			}
			if tc.wantWarn == "" && strings.Contains(logs.String(), "clock") || !strings.Contains(logs.String(), tc.wantWarn) {
				t.Errorf("clock warning: want %q:\n%s", tc.wantWarn, logs.String())
			}
		})
	}
}

func TestAblyTime(t *testing.T) {
	tests := []struct {
		name   string
		in     time.Time
		wantMs int64
	}{
		{"ably-go v1.4.1: milliseconds in the nanoseconds field", time.Unix(1765000000, 999), 1765000000999},
		{"one millisecond", time.Unix(1765000000, 1), 1765000000001},
		{"on the second", time.Unix(1765000000, 0), 1765000000000},
		{"read right", time.Unix(1765000000, 999_000_000), 1765000000999},
	}
	for _, tc := range tests {
		if got := ablyTime(tc.in).UnixMilli(); got != tc.wantMs {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.wantMs)
		}
	}
}

// TestSessionClockOffsetIsSmall: on a computer whose clock is right, the
// measured offset is within the measurement's own uncertainty, not the up
// to a second too low that ably-go's reading of /time gives (TestAblyTime).
// The session reads this computer's clock (Config.Now) before and after it
// asks Ably's time, both within the window from the first to the last
// reading it makes while it opens; Ably's answer, in whole milliseconds, was
// taken inside that window too, so on one clock the offset is at most half
// the window and a millisecond. The bound holds however slow the machine
// is (a slow open only widens it). The sessions are spread over a second
// (not a wait for a condition): ably-go's error depends on where in the
// second /time is read.
func TestSessionClockOffsetIsSmall(t *testing.T) {
	e := startEnv(t)
	for i := range 8 {
		if i > 0 {
			time.Sleep(125 * time.Millisecond)
		}
		var mu sync.Mutex
		var first, last time.Time
		now := func() time.Time {
			n := time.Now()
			mu.Lock()
			defer mu.Unlock()
			if first.IsZero() {
				first = n
			}
			last = n
			return n
		}
		s, err := open(t.Context(), e.cliConfig(t, now))
		if err != nil {
			t.Fatal(err)
		}
		off := time.Duration(s.clockOffset.Load())
		mu.Lock()
		bound := last.Sub(first)/2 + time.Millisecond
		mu.Unlock()
		s.close()
		if off > bound || off < -bound {
			t.Errorf("session %d: clock offset %s on a right clock, outside ±%s (half the time its clock readings spanned while it opened, and a millisecond)", i, off, bound)
		}
	}
}
