package activities

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
	"github.com/golang-jwt/jwt/v5"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/ablylocal"
	"github.com/hitl/durable-approvals/internal/ablylocal/ablytest"
	"github.com/hitl/durable-approvals/workflows"
)

const (
	testKeyName   = ablytest.KeyName
	testKeySecret = ablytest.KeySecret
)

// startAbly runs the project's local Ably server on a loopback port.
func startAbly(t *testing.T, keys ...ablylocal.Key) ablyconn.Config {
	t.Helper()
	return ablytest.Start(t, ablylocal.Config{Keys: keys}).Conn
}

// publishActivity runs the publish activity name once, as the run its
// input is about asks for it (checkPublisher refuses other runs).
func publishActivity(t *testing.T, a *Activities, name string, in any) error {
	t.Helper()
	run := ""
	switch in := in.(type) {
	case workflows.ApprovalRequestInput:
		run = in.Data.WorkflowID
	case workflows.ApprovalResolvedInput:
		run = in.Data.WorkflowID
	case workflows.ApprovalIgnoredInput:
		run = in.Data.WorkflowID
	}
	return runActivityAs(t, a, run, name, in)
}

// runActivityAs runs the activity name once, in Temporal's test
// environment, from a workflow whose id is run ("": the environment's
// default): the run the activity sees as its caller.
func runActivityAs(t *testing.T, a *Activities, run, name string, in any) error {
	t.Helper()
	return runWorkflowAs(t, a, run, oneActivityWorkflow, name, in).GetWorkflowError()
}

// oneActivityWorkflow runs the activity name with one attempt.
func oneActivityWorkflow(ctx workflow.Context, name string, in any) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	return workflow.ExecuteActivity(ctx, name, in).Get(ctx, nil)
}

// rawMessage is a message as the REST history endpoint returns it in JSON,
// before any client decodes it.
type rawMessage struct {
	ID       string         `json:"id"`
	Name     string         `json:"name"`
	ClientID string         `json:"clientId"`
	Data     any            `json:"data"`
	Encoding string         `json:"encoding"`
	Extras   map[string]any `json:"extras"`
}

// history reads the channel's history over plain HTTP with a self-signed
// JWT, oldest first, so the test sees the wire encoding.
func history(t *testing.T, cfg ablyconn.Config, channel string) []rawMessage {
	t.Helper()
	tok, _, err := ablyconn.SignToken(testKeyName, testKeySecret, "test-reader", "", nil, time.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + cfg.Endpoint + "/channels/" + url.PathEscape(channel) + "/messages?direction=forwards"
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("history: %s", resp.Status)
	}
	var msgs []rawMessage
	if err := json.NewDecoder(resp.Body).Decode(&msgs); err != nil {
		t.Fatalf("history: %v", err)
	}
	return msgs
}

func TestPublishApprovalMessagesOnLocalAbly(t *testing.T) {
	cfg := startAbly(t)
	pub, err := NewAblyPublisher(cfg, workflows.DefaultAgentClientID)
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := testRegistry(t)
	const channel = "ai:test-approvals"
	d, _ := withTrust(t, Deps{Model: noModel{}, Tools: reg, Publisher: pub, Channel: channel})
	a, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	requested := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	reqIn := workflows.ApprovalRequestInput{Data: workflows.ApprovalRequestData{
		Tool: ToolPublishBlogPost, Arguments: `{"title":"Introducing our new API"}`, ToolCallID: "call_1", WorkflowID: "wf-1",
		RequiredRole: "publisher", Requester: "carol", RequestedAt: requested, ExpiresAt: requested.Add(10 * time.Minute),
	}}
	// A retried activity publishes the same message id again: delivered once.
	for range 2 {
		if err := publishActivity(t, a, workflows.ActivityPublishApprovalRequest, reqIn); err != nil {
			t.Fatal(err)
		}
	}
	resIn := workflows.ApprovalResolvedInput{Data: workflows.ApprovalResolvedData{
		ToolCallID: "call_1", WorkflowID: "wf-1", Tool: ToolPublishBlogPost, Outcome: workflows.OutcomeApproved, DecidedBy: "bob", Role: "publisher",
	}}
	if err := publishActivity(t, a, workflows.ActivityPublishApprovalResolved, resIn); err != nil {
		t.Fatal(err)
	}

	msgs := history(t, cfg, channel)
	if len(msgs) != 2 {
		t.Fatalf("history has %d messages, want 2: %+v", len(msgs), msgs)
	}
	tests := []struct {
		msg      rawMessage
		id, name string
		data     any
	}{
		{msgs[0], workflows.AgentMessageID(testIDKey, "wf-1", "call_1", "request"), workflows.MsgApprovalRequest, reqIn.Data},
		{msgs[1], workflows.AgentMessageID(testIDKey, "wf-1", "call_1", "resolved"), workflows.MsgApprovalResolved, resIn.Data},
	}
	for _, tt := range tests {
		m := tt.msg
		if m.ID != tt.id || m.Name != tt.name || m.ClientID != workflows.DefaultAgentClientID {
			t.Errorf("message = id %q name %q clientId %q, want %q %q %q", m.ID, m.Name, m.ClientID, tt.id, tt.name, workflows.DefaultAgentClientID)
		}
		// Like ably-js: an object travels as a JSON string with encoding "json".
		s, ok := m.Data.(string)
		if m.Encoding != "json" || !ok {
			t.Fatalf("%s: data %T with encoding %q, want a JSON string with encoding json", m.Name, m.Data, m.Encoding)
		}
		want, _ := json.Marshal(tt.data)
		var got, wantMap map[string]any
		_ = json.Unmarshal([]byte(s), &got)
		_ = json.Unmarshal(want, &wantMap)
		if g, w := mustJSON(t, got), mustJSON(t, wantMap); g != w {
			t.Errorf("%s: data = %s, want %s", m.Name, g, w)
		}
		headers, _ := m.Extras["headers"].(map[string]any)
		if headers[workflows.HeaderToolCallID] != "call_1" || headers[workflows.HeaderWorkflowID] != "wf-1" {
			t.Errorf("%s: extras = %v", m.Name, m.Extras)
		}
		if _, ok := m.Extras["userClaim"]; ok {
			t.Errorf("%s: the agent's message carries a userClaim: %v", m.Name, m.Extras)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAblyPublisherErrors(t *testing.T) {
	t.Run("capability denied is not retryable", func(t *testing.T) {
		cfg := startAbly(t, ablylocal.Key{Name: testKeyName, Secret: testKeySecret, Capability: `{"other":["publish"]}`})
		pub, err := NewAblyPublisher(cfg, "hitl-agent")
		if err != nil {
			t.Fatal(err)
		}
		err = pub.Publish(t.Context(), workflows.DefaultChannel, &ably.Message{ID: "w:c:request", Name: workflows.MsgApprovalRequest, Data: map[string]any{"a": 1}})
		if err == nil || !isNonRetryable(err) || errType(err) != workflows.ErrTypeAbly {
			t.Fatalf("err = %v, want a non-retryable AblyError", err)
		}
		var info *ably.ErrorInfo
		if !errors.As(err, &info) || info.Code != 40160 {
			t.Fatalf("err = %v, want Ably's ErrorInfo (40160) as its cause", err)
		}
	})
	t.Run("the publish activities report the failure", func(t *testing.T) {
		// A publish that failed is not reported as done: the run would
		// take the request as announced, and no approver would see it.
		cfg := startAbly(t, ablylocal.Key{Name: testKeyName, Secret: testKeySecret, Capability: `{"other":["publish"]}`})
		pub, err := NewAblyPublisher(cfg, workflows.DefaultAgentClientID)
		if err != nil {
			t.Fatal(err)
		}
		reg, _ := testRegistry(t)
		d, _ := withTrust(t, Deps{Model: noModel{}, Tools: reg, Publisher: pub})
		a, err := New(d)
		if err != nil {
			t.Fatal(err)
		}
		ins := map[string]any{
			workflows.ActivityPublishApprovalRequest: workflows.ApprovalRequestInput{Data: workflows.ApprovalRequestData{
				Tool: ToolPublishBlogPost, Arguments: `{"title":"T"}`, ToolCallID: "call_1", WorkflowID: "wf-1", RequiredRole: "publisher"}},
			workflows.ActivityPublishApprovalResolved: workflows.ApprovalResolvedInput{Data: workflows.ApprovalResolvedData{
				ToolCallID: "call_1", WorkflowID: "wf-1", Tool: ToolPublishBlogPost, Outcome: workflows.OutcomeApproved, DecidedBy: "ada", Role: "admin"}},
			workflows.ActivityPublishApprovalIgnored: workflows.ApprovalIgnoredInput{Data: workflows.ApprovalIgnoredData{
				ToolCallID: "call_1", WorkflowID: "wf-1"}},
		}
		for name, in := range ins {
			if err := publishActivity(t, a, name, in); err == nil || !isNonRetryable(err) || errType(err) != workflows.ErrTypeAbly {
				t.Errorf("%s = %v, want the publish's non-retryable AblyError", name, err)
			}
		}
	})
	t.Run("a key Ably refuses is not retryable", func(t *testing.T) {
		cfg := startAbly(t)
		cfg.APIKey = testKeyName + ":not-the-secret" // the key Ably knows, with another secret
		pub, err := NewAblyPublisher(cfg, "hitl-agent")
		if err != nil {
			t.Fatal(err)
		}
		err = pub.Publish(t.Context(), workflows.DefaultChannel, &ably.Message{ID: "w:c:request", Name: workflows.MsgApprovalRequest, Data: map[string]any{"a": 1}})
		if err == nil || !isNonRetryable(err) || !strings.Contains(err.Error(), "key is refused") {
			t.Fatalf("err = %v, want a non-retryable error saying the key is refused", err)
		}
	})
	t.Run("a token error while this machine's clock is off is retryable", func(t *testing.T) {
		// Ably refuses the publish's token (40142) and the key check's
		// token request as not current (40104): the clock, not the key.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			code, msg := 40142, "token expired"
			if strings.HasSuffix(r.URL.Path, "/requestToken") {
				code, msg = 40104, "Timestamp not current"
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":{"code":%d,"statusCode":401,"message":%q}}`, code, msg)
		}))
		t.Cleanup(srv.Close)
		cfg := ablyconn.Config{APIKey: testKeyName + ":" + testKeySecret, Endpoint: strings.TrimPrefix(srv.URL, "http://")}
		pub, err := NewAblyPublisher(cfg, "hitl-agent")
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.CheckKey(t.Context(), workflows.DefaultChannel); err == nil || errors.Is(err, ErrKeyRefused) {
			t.Fatalf("CheckKey = %v, want an error that is not a refusal", err)
		}
		err = pub.Publish(t.Context(), workflows.DefaultChannel, &ably.Message{ID: "w:c:request", Name: workflows.MsgApprovalRequest, Data: map[string]any{"a": 1}})
		if err == nil || isNonRetryable(err) {
			t.Fatalf("err = %v, want a retryable error", err)
		}
	})
	t.Run("a rate limit is retryable", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"error":{"code":42911,"statusCode":429,"message":"Rate limit exceeded"}}`)
		}))
		t.Cleanup(srv.Close)
		cfg := ablyconn.Config{APIKey: testKeyName + ":" + testKeySecret, Endpoint: strings.TrimPrefix(srv.URL, "http://")}
		pub, err := NewAblyPublisher(cfg, "hitl-agent")
		if err != nil {
			t.Fatal(err)
		}
		err = pub.Publish(t.Context(), workflows.DefaultChannel, &ably.Message{ID: "w:c:request", Name: workflows.MsgApprovalRequest, Data: map[string]any{"a": 1}})
		if err == nil || isNonRetryable(err) {
			t.Fatalf("err = %v, want a retryable error", err)
		}
	})
	t.Run("unreachable server is retryable", func(t *testing.T) {
		pub := unreachablePublisher(t)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		err := pub.Publish(ctx, workflows.DefaultChannel, &ably.Message{Name: "x", Data: "y"})
		if err == nil || isNonRetryable(err) {
			t.Fatalf("err = %v, want a retryable error", err)
		}
	})
	t.Run("more channels than the bound", func(t *testing.T) {
		pub := unreachablePublisher(t)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		publish := func(i int) error {
			return pub.Publish(ctx, fmt.Sprintf("ai:channel-%d", i), &ably.Message{Name: "x", Data: "y"})
		}
		for i := range maxPublisherChannels {
			if err := publish(i); err == nil || isNonRetryable(err) {
				t.Fatalf("channel %d: err = %v, want the unreachable server's retryable error", i, err)
			}
		}
		if err := publish(maxPublisherChannels); err == nil || !isNonRetryable(err) || !strings.Contains(err.Error(), "more than 16 channels") {
			t.Fatalf("channel %d: err = %v, want a non-retryable error saying there are too many channels", maxPublisherChannels, err)
		}
	})
	t.Run("config errors", func(t *testing.T) {
		if _, err := NewAblyPublisher(ablyconn.Config{Endpoint: "127.0.0.1:1"}, "hitl-agent"); err == nil || !strings.Contains(err.Error(), "ABLY_API_KEY") {
			t.Errorf("no key: err = %v", err)
		}
		if _, err := NewAblyPublisher(ablyconn.Config{APIKey: "app.key:s", Endpoint: "127.0.0.1:1"}, ""); err == nil {
			t.Error("no clientId: no error")
		}
	})
}

func TestPublishApprovalRequiresIDs(t *testing.T) {
	a := newTestActivities(t, noModel{}, nil) // nopPublisher fails the test if reached
	err := publishActivity(t, a, workflows.ActivityPublishApprovalRequest, workflows.ApprovalRequestInput{Data: workflows.ApprovalRequestData{Tool: "x", ToolCallID: "c"}})
	if err == nil || !isNonRetryable(err) || errType(err) != workflows.ErrTypeBadRequest {
		t.Fatalf("err = %v, want a non-retryable BadRequestError", err)
	}
	// Asked for by the run it is about, a message that cannot be built
	// (no call id) is not published, and not reported as published.
	ins := map[string]any{
		workflows.ActivityPublishApprovalRequest:  workflows.ApprovalRequestInput{Data: workflows.ApprovalRequestData{Tool: "x", WorkflowID: "wf-1"}},
		workflows.ActivityPublishApprovalResolved: workflows.ApprovalResolvedInput{Data: workflows.ApprovalResolvedData{Tool: "x", WorkflowID: "wf-1"}},
		workflows.ActivityPublishApprovalIgnored:  workflows.ApprovalIgnoredInput{Data: workflows.ApprovalIgnoredData{WorkflowID: "wf-1"}},
	}
	for name, in := range ins {
		if err := publishActivity(t, a, name, in); err == nil || !isNonRetryable(err) || errType(err) != workflows.ErrTypeBadRequest {
			t.Errorf("%s without a call id = %v, want a non-retryable BadRequestError", name, err)
		}
	}
}

// authRecorder records the bearer tokens a client sends.
type authRecorder struct {
	mu     sync.Mutex
	tokens []string
}

func (r *authRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok {
		// ably-go sends the token base64-encoded.
		if b, err := base64.StdEncoding.DecodeString(tok); err == nil {
			tok = string(b)
		}
		r.mu.Lock()
		r.tokens = append(r.tokens, tok)
		r.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(req)
}

func (r *authRecorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.tokens)
}

func TestAblyPublisherLeastPrivilege(t *testing.T) {
	cfg := startAbly(t)
	rec := &authRecorder{}
	pub, err := NewAblyPublisher(cfg, workflows.DefaultAgentClientID, ably.WithHTTPClient(&http.Client{Transport: rec, Timeout: 10 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	const channel = "ai:least-privilege"
	if err := pub.Publish(t.Context(), channel, &ably.Message{ID: "w:c:request", Name: workflows.MsgApprovalRequest, Data: map[string]any{"a": 1}}); err != nil {
		t.Fatalf("publish on %s: %v", channel, err)
	}
	tokens := rec.all()
	if len(tokens) == 0 {
		t.Fatal("no bearer token was sent")
	}
	want, err := ablyconn.ChannelCapability(channel, "publish")
	if err != nil {
		t.Fatal(err)
	}
	if want != `{"ai:least-privilege":["publish"]}` {
		t.Fatalf("the publish capability = %s", want)
	}
	for _, tok := range tokens {
		claims := jwt.MapClaims{}
		if _, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte(testKeySecret), nil },
			jwt.WithValidMethods([]string{"HS256"})); err != nil {
			t.Fatalf("token: %v", err)
		}
		if claims["x-ably-capability"] != want || claims["x-ably-clientId"] != workflows.DefaultAgentClientID {
			t.Errorf("token claims = %v, want capability %s and clientId %s", claims, want, workflows.DefaultAgentClientID)
		}
	}
	// The token of one channel does not reach another: a second channel
	// gets its own client and token.
	if err := pub.Publish(t.Context(), "ai:other", &ably.Message{ID: "w:c2:request", Name: workflows.MsgApprovalRequest, Data: map[string]any{"a": 2}}); err != nil {
		t.Fatalf("publish on ai:other: %v", err)
	}
	last := rec.all()
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(last[len(last)-1], claims, func(*jwt.Token) (any, error) { return []byte(testKeySecret), nil }); err != nil {
		t.Fatal(err)
	}
	if claims["x-ably-capability"] != `{"ai:other":["publish"]}` {
		t.Errorf("second channel capability = %v", claims["x-ably-capability"])
	}
}

// Attack 8 of the security review: an approver who saw a request published
// the agent's next message id first ("<wf>:<call>:resolved"), and Ably's
// idempotency swallowed the agent's real approval-resolved. The agent's ids
// are keyed hashes now: the pre-published id takes nothing away.
func TestAgentMessageIDsCannotBePrePublished(t *testing.T) {
	cfg := startAbly(t)
	const channel = "ai:test-approvals"
	for _, guess := range []string{"wf-1:call_1:resolved", "wf-1:call_1:request"} {
		approver, err := ably.NewREST(ablytest.ApproverOptions(cfg, "mallory", channel, "editor")...)
		if err != nil {
			t.Fatal(err)
		}
		err = approver.Channels.Get(channel).PublishMultiple(t.Context(), []*ably.Message{{
			ID: guess, Name: workflows.MsgApprovalResolved, Data: map[string]any{"toolCallId": "call_1", "workflowId": "wf-1", "outcome": "approved"},
		}})
		if err != nil {
			t.Fatalf("approver's publish of %s: %v", guess, err)
		}
	}
	pub, err := NewAblyPublisher(cfg, workflows.DefaultAgentClientID)
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := testRegistry(t)
	d, _ := withTrust(t, Deps{Model: noModel{}, Tools: reg, Publisher: pub, Channel: channel})
	a, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	resIn := workflows.ApprovalResolvedInput{Data: workflows.ApprovalResolvedData{
		ToolCallID: "call_1", WorkflowID: "wf-1", Tool: ToolPublishBlogPost, Outcome: workflows.OutcomeRejected, DecidedBy: "ada", Role: "admin",
	}}
	if err := publishActivity(t, a, workflows.ActivityPublishApprovalResolved, resIn); err != nil {
		t.Fatal(err)
	}
	var fromAgent []rawMessage
	for _, m := range history(t, cfg, channel) {
		if m.ClientID == workflows.DefaultAgentClientID {
			fromAgent = append(fromAgent, m)
		}
	}
	if len(fromAgent) != 1 || fromAgent[0].Name != workflows.MsgApprovalResolved {
		t.Fatalf("the agent's approval-resolved is not in the history (messages from the agent: %+v)", fromAgent)
	}
}

// TestAblyPublisherCheckKey: the worker's start-up check of its key, against
// the local Ably server under the real auth rules.
func TestAblyPublisherCheckKey(t *testing.T) {
	good := ablylocal.Key{Name: testKeyName, Secret: testKeySecret}
	cfg := startAbly(t, good, ablylocal.Key{Name: "app.elsewhere", Secret: "elsewhere-secret", Capability: `{"other":["publish"]}`})
	for _, tt := range []struct {
		name, key string
		refused   bool // wantErr is ErrKeyRefused
		wantErr   bool
	}{
		{"the key", testKeyName + ":" + testKeySecret, false, false},
		{"wrong secret", testKeyName + ":not-the-secret", true, true},
		{"unknown key", "app.unknown:whatever-secret", true, true},
		{"no publish on the channel", "app.elsewhere:elsewhere-secret", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			c.APIKey = tt.key
			pub, err := NewAblyPublisher(c, workflows.DefaultAgentClientID)
			if err != nil {
				t.Fatal(err)
			}
			err = pub.CheckKey(t.Context(), workflows.DefaultChannel)
			if (err != nil) != tt.wantErr || errors.Is(err, ErrKeyRefused) != tt.refused {
				t.Fatalf("CheckKey = %v, want error %v, refused %v", err, tt.wantErr, tt.refused)
			}
			if err != nil && (strings.Contains(err.Error(), "secret") && strings.Contains(err.Error(), tt.key)) {
				t.Errorf("the error shows the key's secret: %v", err)
			}
		})
	}
	t.Run("Ably unreachable is not a refusal", func(t *testing.T) {
		pub, err := NewAblyPublisher(ablyconn.Config{APIKey: testKeyName + ":" + testKeySecret, Endpoint: "127.0.0.1:1"}, workflows.DefaultAgentClientID)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if err := pub.CheckKey(ctx, workflows.DefaultChannel); err == nil || errors.Is(err, ErrKeyRefused) {
			t.Fatalf("CheckKey = %v, want an error that is not a refusal", err)
		}
	})
}

// TestAblyPublisherConcurrent: activities publish at once through one
// AblyPublisher. An ably-go REST client is not safe for that (getting a
// channel, and getting or renewing its token, write to it: -race tells),
// so each publish has a client to itself; every message arrives.
func TestAblyPublisherConcurrent(t *testing.T) {
	cfg := startAbly(t)
	pub, err := NewAblyPublisher(cfg, workflows.DefaultAgentClientID)
	if err != nil {
		t.Fatal(err)
	}
	const channel, publishers, each = "ai:concurrent", 8, 12
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := range each {
				m := &ably.Message{ID: fmt.Sprintf("m-%d-%d", p, i), Name: "n", Data: "x"}
				if err := pub.Publish(t.Context(), channel, m); err != nil {
					t.Errorf("publish %s: %v", m.ID, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := len(history(t, cfg, channel)); got != publishers*each {
		t.Errorf("%d messages on the channel, want %d", got, publishers*each)
	}
}

// unreachablePublisher is an agent's publisher for an Ably endpoint where
// nothing listens (port 1).
func unreachablePublisher(t *testing.T) *AblyPublisher {
	t.Helper()
	pub, err := NewAblyPublisher(ablyconn.Config{APIKey: testKeyName + ":" + testKeySecret, Endpoint: "127.0.0.1:1"}, "hitl-agent")
	if err != nil {
		t.Fatal(err)
	}
	return pub
}
