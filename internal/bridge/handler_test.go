package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hitl/durable-approvals/internal/recent"
	"github.com/hitl/durable-approvals/internal/signing"
	"github.com/hitl/durable-approvals/internal/temporalconn"
	"github.com/hitl/durable-approvals/workflows"
)

// fakeTemporal is an in-memory Temporal: a set of running workflows with
// their tool-call ids and approvals view. It records signals.
type fakeTemporal struct {
	mu        sync.Mutex
	workflows map[string]fakeWorkflow // by workflow id
	signals   []sentSignal
	queries   []string
	// signalErrs are returned by successive SignalWorkflow calls.
	signalErrs []error
	listErrs   []error
	queryErr   error
	queryCalls int
	// gate, when set, holds every SignalWorkflow call until it is closed;
	// gated counts the calls it holds.
	gate  chan struct{}
	gated atomic.Int64
}

type fakeWorkflow struct {
	toolCallIDs []string
	view        workflows.ApprovalsView
	started     time.Time
}

type sentSignal struct {
	WorkflowID string
	Name       string
	Decision   workflows.Decision
}

var _ Temporal = (*fakeTemporal)(nil)

func newFakeTemporal() *fakeTemporal { return &fakeTemporal{workflows: map[string]fakeWorkflow{}} }

func (f *fakeTemporal) addWorkflow(id string, view workflows.ApprovalsView, toolCallIDs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.workflows[id] = fakeWorkflow{toolCallIDs: toolCallIDs, view: view, started: time.Now().Add(-time.Hour)}
}

// setStarted sets when workflow id started.
func (f *fakeTemporal) setStarted(id string, t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	wf := f.workflows[id]
	wf.started = t
	f.workflows[id] = wf
}

func (f *fakeTemporal) SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg any) error {
	if f.gate != nil {
		f.gated.Add(1)
		defer f.gated.Add(-1)
		select {
		case <-f.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.signalErrs) > 0 {
		err := f.signalErrs[0]
		f.signalErrs = f.signalErrs[1:]
		if err != nil {
			return err
		}
	}
	if _, ok := f.workflows[workflowID]; !ok {
		return serviceerror.NewNotFound("workflow not found")
	}
	d, ok := arg.(workflows.Decision)
	if !ok || runID != "" {
		return serviceerror.NewInvalidArgument("bad signal")
	}
	f.signals = append(f.signals, sentSignal{WorkflowID: workflowID, Name: signalName, Decision: d})
	return nil
}

// ListWorkflow understands exactly the queries VisibilityQuery and
// workflows.PendingRunsQuery build.
func (f *fakeTemporal) ListWorkflow(_ context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, req.GetQuery())
	if len(f.listErrs) > 0 {
		err := f.listErrs[0]
		f.listErrs = f.listErrs[1:]
		if err != nil {
			return nil, err
		}
	}
	if req.GetQuery() == workflows.PendingRunsQuery() {
		resp := &workflowservice.ListWorkflowExecutionsResponse{}
		for wfID, wf := range f.workflows {
			if len(wf.view.Pending) > 0 {
				resp.Executions = append(resp.Executions, &workflowpb.WorkflowExecutionInfo{
					Execution: &commonpb.WorkflowExecution{WorkflowId: wfID, RunId: "run-" + wfID},
					StartTime: timestamppb.New(wf.started),
				})
			}
		}
		return resp, nil
	}
	const prefix, suffix = "TaskQueue = 'hitl-agent' AND WorkflowType IN ('AgentWorkflowV2', 'AgentWorkflow') AND ApprovalToolCallIDs = '", "' AND ExecutionStatus = 'Running'"
	q := req.GetQuery()
	if !strings.HasPrefix(q, prefix) || !strings.HasSuffix(q, suffix) {
		return nil, serviceerror.NewInvalidArgument("unsupported query " + q)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(q, prefix), suffix)
	resp := &workflowservice.ListWorkflowExecutionsResponse{}
	for wfID, wf := range f.workflows {
		for _, tc := range wf.toolCallIDs {
			if tc == id {
				resp.Executions = append(resp.Executions, &workflowpb.WorkflowExecutionInfo{Execution: &commonpb.WorkflowExecution{WorkflowId: wfID, RunId: "run-" + wfID}})
			}
		}
	}
	return resp, nil
}

func (f *fakeTemporal) QueryWorkflow(_ context.Context, workflowID, _, queryType string, _ ...any) (converter.EncodedValue, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queryCalls++
	if f.queryErr != nil {
		return nil, f.queryErr
	}
	wf, ok := f.workflows[workflowID]
	if !ok {
		return nil, serviceerror.NewNotFound("workflow not found")
	}
	if queryType != workflows.ApprovalsQuery {
		return nil, serviceerror.NewInvalidArgument("unknown query")
	}
	b, err := json.Marshal(wf.view)
	if err != nil {
		return nil, err
	}
	return jsonValue(b), nil
}

func (f *fakeTemporal) sent() []sentSignal {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentSignal(nil), f.signals...)
}

type jsonValue []byte

func (v jsonValue) HasValue() bool    { return len(v) > 0 }
func (v jsonValue) Get(ptr any) error { return json.Unmarshal(v, ptr) }

func publishView(required string) workflows.ApprovalsView {
	return workflows.ApprovalsView{
		Roles:   []string{"editor", "publisher", "admin"},
		Pending: []workflows.PendingApproval{{ToolCallID: "call_abc123", Tool: "publish_blog_post", RequiredRole: required}},
	}
}

// logBuffer returns a JSON slog logger and its output.
func logBuffer(t *testing.T) (*slog.Logger, func() string) {
	t.Helper()
	var mu sync.Mutex
	var buf bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	})
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})), func() string {
		mu.Lock()
		defer mu.Unlock()
		return buf.String()
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func fastHandler(tc Temporal, log *slog.Logger) *Handler {
	return &Handler{
		Temporal:    tc,
		Log:         log,
		Retry:       temporalconn.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond, Attempts: 3},
		CallTimeout: time.Second,
		Signer:      testSigner,
	}
}

// testSigner and testVerifier are one decision key pair (32 bytes of 1).
var testSigner, testVerifier = func() (*signing.Signer, *signing.Verifier) {
	s, v, err := signing.NewPair("test-k1", bytes.NewReader(bytes.Repeat([]byte{1}, 32)))
	if err != nil {
		panic(err)
	}
	return s, v
}()

func TestHandleRouting(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(f *fakeTemporal)
		m          *ably.Message
		wantSignal string // workflow id signalled, "" for none
		wantLog    string
		wantErr    error
	}{
		{
			name:  "workflowId header used without lookup",
			setup: func(f *fakeTemporal) { f.addWorkflow("wf-1", publishView("publisher")) },
			m: msg(func(m *ably.Message) {
				m.Extras["headers"] = map[string]any{"toolCallId": "call_abc123", "workflowId": "wf-1"}
			}),
			wantSignal: "wf-1",
			wantLog:    "approver role sufficient",
		},
		{
			name:       "visibility lookup finds the one workflow",
			setup:      func(f *fakeTemporal) { f.addWorkflow("wf-2", publishView("publisher"), "call_abc123", "call_other") },
			m:          msg(nil),
			wantSignal: "wf-2",
		},
		{
			name:    "no workflow has the tool call",
			setup:   func(f *fakeTemporal) { f.addWorkflow("wf-3", publishView("publisher"), "call_other") },
			m:       msg(nil),
			wantLog: "no running workflow has tool call",
		},
		{
			name:    "visibility lists a run without a workflow id: dropped, not queried",
			setup:   func(f *fakeTemporal) { f.addWorkflow("", publishView("publisher"), "call_abc123") },
			m:       msg(nil),
			wantLog: "visibility returned an execution without id",
		},
		{
			name: "two workflows have the tool call",
			setup: func(f *fakeTemporal) {
				f.addWorkflow("wf-4", publishView("publisher"), "call_abc123")
				f.addWorkflow("wf-5", publishView("publisher"), "call_abc123")
			},
			m:       msg(nil),
			wantLog: "more than one running workflow",
		},
		{
			name:       "insufficient role still forwarded for the audit trail",
			setup:      func(f *fakeTemporal) { f.addWorkflow("wf-6", publishView("admin"), "call_abc123") },
			m:          msg(nil),
			wantSignal: "wf-6",
			wantLog:    "insufficient role: publisher < admin",
		},
		{
			name: "query timeout (no worker) is temporary: not forwarded, kept for a retry",
			setup: func(f *fakeTemporal) {
				f.addWorkflow("wf-7", publishView("publisher"), "call_abc123")
				f.queryErr = context.DeadlineExceeded
			},
			m:       msg(nil),
			wantErr: ErrTemporary,
			wantLog: "not forwarded yet",
		},
		{
			name: "query refused by the workflow: dropped",
			setup: func(f *fakeTemporal) {
				f.addWorkflow("wf-7b", publishView("publisher"), "call_abc123")
				f.queryErr = serviceerror.NewQueryFailed("unknown queryType")
			},
			m:       msg(nil),
			wantLog: "dropping approval-response: cannot tell whether the tool call is pending",
		},
		{
			name:  "header names an unknown workflow",
			setup: func(f *fakeTemporal) {},
			m: msg(func(m *ably.Message) {
				m.Extras["headers"] = map[string]any{"toolCallId": "call_abc123", "workflowId": "nope"}
			}),
			wantLog: "dropping approval-response: cannot tell whether the tool call is pending",
		},
		{
			name: "tool call not pending in the named workflow: dropped",
			setup: func(f *fakeTemporal) {
				f.addWorkflow("wf-busy", workflows.ApprovalsView{Roles: []string{"editor", "publisher", "admin"},
					Pending: []workflows.PendingApproval{{ToolCallID: "call_other", Tool: "publish_blog_post", RequiredRole: "publisher"}}})
			},
			m: msg(func(m *ably.Message) {
				m.Extras["headers"] = map[string]any{"toolCallId": "call_abc123", "workflowId": "wf-busy"}
			}),
			wantLog: "not pending (late or unknown)",
		},
		{
			name: "tool call already decided (nothing pending): dropped",
			setup: func(f *fakeTemporal) {
				f.addWorkflow("wf-done", workflows.ApprovalsView{Roles: []string{"editor", "publisher", "admin"}}, "call_abc123")
			},
			m:       msg(nil),
			wantLog: "not pending (late or unknown)",
		},
		{
			name:    "missing userClaim is dropped before any lookup",
			setup:   func(f *fakeTemporal) { f.addWorkflow("wf-8", publishView("publisher"), "call_abc123") },
			m:       msg(func(m *ably.Message) { delete(m.Extras, "userClaim") }),
			wantLog: "dropping approval-response",
		},
		{
			name: "signal retried after transient errors",
			setup: func(f *fakeTemporal) {
				f.addWorkflow("wf-9", publishView("publisher"), "call_abc123")
				f.signalErrs = []error{serviceerror.NewUnavailable("down"), serviceerror.NewUnavailable("down")}
			},
			m:          msg(nil),
			wantSignal: "wf-9",
			wantLog:    "retrying",
		},
		{
			name: "temporal down: temporary error, nothing dropped",
			setup: func(f *fakeTemporal) {
				f.addWorkflow("wf-10", publishView("publisher"), "call_abc123")
				f.listErrs = []error{serviceerror.NewUnavailable("down"), serviceerror.NewUnavailable("down"), serviceerror.NewUnavailable("down")}
			},
			m:       msg(nil),
			wantErr: ErrTemporary,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeTemporal()
			tt.setup(f)
			log, logs := logBuffer(t)
			err := fastHandler(f, log).Handle(t.Context(), tt.m)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			sent := f.sent()
			if tt.wantSignal == "" {
				if len(sent) != 0 {
					t.Fatalf("signalled %+v, want none", sent)
				}
			} else {
				if len(sent) != 1 {
					t.Fatalf("got %d signals, want 1; logs:\n%s", len(sent), logs())
				}
				want := sentSignal{WorkflowID: tt.wantSignal, Name: workflows.DecisionSignal, Decision: workflows.Decision{
					ToolCallID: "call_abc123", Decision: "approved", ApproverClientID: "alice", ApproverRole: "publisher",
					AblyMessageID: "conn1:0:0", PublishedAt: time.UnixMilli(1_700_000_000_000).UTC(),
					WorkflowID: tt.wantSignal, KeyID: testSigner.KeyID(),
				}}
				got := sent[0]
				if err := testVerifier.Verify(got.Decision); err != nil {
					t.Fatalf("the forwarded decision does not verify: %v", err)
				}
				got.Decision.Signature = ""
				if got != want {
					t.Fatalf("signal\n got  %+v\n want %+v", got, want)
				}
			}
			if tt.wantLog != "" && !strings.Contains(logs(), tt.wantLog) {
				t.Fatalf("logs lack %q:\n%s", tt.wantLog, logs())
			}
		})
	}
}

func TestVisibilityQuery(t *testing.T) {
	tests := []struct {
		id      string
		want    string
		wantErr bool
	}{
		{id: "call_abc123", want: "TaskQueue = 'hitl-agent' AND WorkflowType IN ('AgentWorkflowV2', 'AgentWorkflow') AND ApprovalToolCallIDs = 'call_abc123' AND ExecutionStatus = 'Running'"},
		{id: "fc_1.2:3@x-y", want: "TaskQueue = 'hitl-agent' AND WorkflowType IN ('AgentWorkflowV2', 'AgentWorkflow') AND ApprovalToolCallIDs = 'fc_1.2:3@x-y' AND ExecutionStatus = 'Running'"},
		{id: "x' OR WorkflowId != '", wantErr: true},
		{id: `a\`, wantErr: true},
		{id: "a b", wantErr: true},
		{id: "", wantErr: true},
		{id: "ünïcode", wantErr: true},
	}
	for _, tt := range tests {
		got, err := VisibilityQuery(tt.id)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("VisibilityQuery(%q) = %q, %v; want %q, err %v", tt.id, got, err, tt.want, tt.wantErr)
		}
	}
}

// flood publishes n responses of clientID (message ids <clientID>:i, each
// the approval of call_<i>, see addManyCalls) through h and returns how
// many were signalled. Every other one must be reported
// as rate limited (to be retried), never silently dropped.
func flood(t *testing.T, h *Handler, f *fakeTemporal, clientID string, from, n int) int {
	t.Helper()
	before := len(f.sent())
	limited := 0
	for i := from; i < from+n; i++ {
		m := msgFrom(clientID, i)
		err := h.Handle(t.Context(), m)
		switch {
		case errors.Is(err, ErrRateLimited):
			limited++
		case err != nil:
			t.Fatalf("Handle: %v", err)
		}
	}
	sent := len(f.sent()) - before
	if sent+limited != n {
		t.Fatalf("%d signalled + %d rate limited of %d messages: some were dropped", sent, limited, n)
	}
	return sent
}

func TestHandleRateLimitPerApprover(t *testing.T) {
	f := newFakeTemporal()
	addManyCalls(f, "wf-1", 1003)
	log, logs := logBuffer(t)
	h := fastHandler(f, log)
	now := time.Unix(1_700_000_000, 0)
	h.Now = func() time.Time { return now }

	if got := flood(t, h, f, "mallory", 0, 105); got != 100 {
		t.Fatalf("mallory got %d signals through, want the burst of 100", got)
	}
	if n := strings.Count(logs(), "approver rate limit exceeded"); n != 5 {
		t.Fatalf("%d rate-limit log lines, want 5:\n%s", n, logs())
	}
	// Another approver has a bucket of her own.
	if got := flood(t, h, f, "alice", 0, 1); got != 1 {
		t.Fatalf("alice got %d signals through, want 1", got)
	}
	// 120 a minute: after half a second one more token.
	now = now.Add(500 * time.Millisecond)
	if got := flood(t, h, f, "mallory", 1000, 3); got != 1 {
		t.Fatalf("after 0.5s mallory got %d signals through, want 1", got)
	}
}

func TestHandleRateLimitRefundsTemporaryFailures(t *testing.T) {
	f := newFakeTemporal()
	f.addWorkflow("wf-1", publishView("publisher"), "call_abc123")
	log, _ := logBuffer(t)
	h := fastHandler(f, log)
	h.RateLimit = RateLimit{PerMinute: 1, Burst: 1}
	now := time.Unix(1_700_000_000, 0)
	h.Now = func() time.Time { return now }
	down := serviceerror.NewUnavailable("down")
	f.signalErrs = []error{down, down, down}
	if err := h.Handle(t.Context(), msg(nil)); !errors.Is(err, ErrTemporary) {
		t.Fatalf("err = %v, want temporary", err)
	}
	// The retry of the parked message still has its token.
	if err := h.Handle(t.Context(), msg(nil)); err != nil || len(f.sent()) != 1 {
		t.Fatalf("retry: err %v, %d signals; want 1", err, len(f.sent()))
	}
}

func TestRateLimiterBounded(t *testing.T) {
	l := newRateLimiter(RateLimit{PerMinute: 60, Burst: 2, MaxClients: 3})
	now := time.Unix(0, 0)
	for i := range 10 {
		l.allow(fmt.Sprint("c", i), now)
		if l.len() > 3 {
			t.Fatalf("limiter holds %d buckets, want at most 3", l.len())
		}
	}
	// A bucket that has refilled carries no state and is evicted first.
	l = newRateLimiter(RateLimit{PerMinute: 60, Burst: 1, MaxClients: 2})
	l.allow("a", now)
	l.allow("b", now.Add(500*time.Millisecond))
	later := now.Add(1200 * time.Millisecond) // a is full again, b is not
	l.allow("c", later)
	if l.allow("b", later) {
		t.Fatal("b's empty bucket was evicted instead of a's full one")
	}
}

// TestRecentKeyedByClient: a client that reuses another client's message id
// must not make the bridge skip the other client's message.
func TestRecentKeyedByClient(t *testing.T) {
	f := newFakeTemporal()
	f.addWorkflow("wf-1", publishView("publisher"), "call_abc123")
	log, _ := logBuffer(t)
	b := &runner{cfg: Config{MaxParked: 10}, log: log, handler: fastHandler(f, log), recent: recent.NewSet[string](100)}
	const id = "alice-conn:7:0"
	b.handle(t.Context(), msg(func(m *ably.Message) { m.ClientID = "mallory"; m.Extras["userClaim"] = "editor"; m.ID = id }))
	b.handle(t.Context(), msg(func(m *ably.Message) { m.ClientID = "alice"; m.ID = id }))
	b.handle(t.Context(), msg(func(m *ably.Message) { m.ClientID = "alice"; m.ID = id })) // a real duplicate
	sent := f.sent()
	if len(sent) != 2 || sent[0].Decision.ApproverClientID != "mallory" || sent[1].Decision.ApproverClientID != "alice" {
		t.Fatalf("signals = %+v, want mallory's then alice's, once each", sent)
	}
}

// While the worker is down every parked message would cost a query
// timeout: a retry pass stops at the first failure and keeps the rest.
func TestRetryParkedStopsAtFirstFailure(t *testing.T) {
	f := newFakeTemporal()
	addManyCalls(f, "wf-1", 3)
	log, _ := logBuffer(t)
	b := &runner{cfg: Config{MaxParked: 10}, log: log, handler: fastHandler(f, log), recent: recent.NewSet[string](100)}
	f.queryErr = context.DeadlineExceeded
	for i := range 3 {
		if !b.handle(t.Context(), msgFrom("alice", i)) {
			t.Fatalf("message %d not parked", i)
		}
	}
	f.mu.Lock()
	f.queryCalls = 0
	f.mu.Unlock()
	b.retryParked(t.Context())
	f.mu.Lock()
	calls := f.queryCalls
	f.queryErr = nil // the worker is back
	f.mu.Unlock()
	if calls != 1 || b.parkedLen() != 3 {
		t.Fatalf("retry pass made %d queries and kept %d parked, want 1 and 3", calls, b.parkedLen())
	}
	b.retryParked(t.Context())
	if b.parkedLen() != 0 || len(f.sent()) != 3 {
		t.Fatalf("after recovery: %d parked, %d signals; want 0 and 3", b.parkedLen(), len(f.sent()))
	}
}

// TestRateLimiterEviction: with every bucket taken, a new approver's
// bucket replaces a full one (it carries no state) before any other, and
// otherwise the least recently used one, a use that was refused counting
// too.
func TestRateLimiterEviction(t *testing.T) {
	type take struct {
		key string
		at  time.Duration
		n   int
	}
	tests := []struct {
		name   string
		takes  []take // then "new" arrives at newAt
		newAt  time.Duration
		gone   string
		stayed []string
		max    int // buckets kept, default 2
	}{
		{name: "a full bucket goes first, though used last",
			takes: []take{{"b", 0, 2}, {"a", 500 * time.Millisecond, 1}}, newAt: 1600 * time.Millisecond, gone: "a", stayed: []string{"b"}},
		{name: "none full: the least recently used goes",
			takes: []take{{"a", 0, 2}, {"b", 500 * time.Millisecond, 2}}, newAt: time.Second, gone: "a", stayed: []string{"b"}},
		{name: "none full: a refused use counts as a use",
			takes: []take{{"a", 0, 2}, {"b", 500 * time.Millisecond, 2}, {"a", 800 * time.Millisecond, 1}}, newAt: time.Second, gone: "b", stayed: []string{"a"}},
		{name: "none full, eight buckets: the least recently used goes", max: 8,
			takes: []take{{"h", 0, 2}, {"g", 10 * time.Millisecond, 2}, {"f", 20 * time.Millisecond, 2}, {"e", 30 * time.Millisecond, 2},
				{"d", 40 * time.Millisecond, 2}, {"c", 50 * time.Millisecond, 2}, {"b", 60 * time.Millisecond, 2}, {"a", 70 * time.Millisecond, 2},
				{"h", 80 * time.Millisecond, 1}},
			newAt: 100 * time.Millisecond, gone: "g", stayed: []string{"a", "b", "c", "d", "e", "f", "h"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newRateLimiter(RateLimit{PerMinute: 60, Burst: 2, MaxClients: max(tt.max, 2)})
			start := time.Unix(0, 0)
			for _, tk := range tt.takes {
				for range tk.n {
					l.allow(tk.key, start.Add(tk.at))
				}
			}
			l.allow("new", start.Add(tt.newAt))
			l.mu.Lock()
			defer l.mu.Unlock()
			if _, ok := l.buckets[tt.gone]; ok {
				t.Errorf("%s's bucket kept, want it evicted", tt.gone)
			}
			for _, k := range append(tt.stayed, "new") {
				if _, ok := l.buckets[k]; !ok {
					t.Errorf("%s's bucket evicted, want it kept", k)
				}
			}
		})
	}
}

// TestRateLimitDefaults: the defaults ARCHITECTURE.md states. Signals:
// burst 100, then 120 a minute (the next token 500 ms after the burst,
// not before); messages before any Temporal call: burst 300, then 600 a
// minute (100 ms); buckets of 10,000 approvers.
func TestRateLimitDefaults(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	for _, tt := range []struct {
		name  string
		l     *rateLimiter
		burst int
		every time.Duration
	}{
		{"signals", fastHandler(nil, nil).rate(), 100, 500 * time.Millisecond},
		{"messages before any Temporal call", fastHandler(nil, nil).pre(), 300, 100 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for i := range tt.burst {
				if !tt.l.allow("alice", start) {
					t.Fatalf("refused at %d of the burst of %d", i, tt.burst)
				}
			}
			if tt.l.allow("alice", start) {
				t.Fatalf("allowed past the burst of %d", tt.burst)
			}
			if tt.l.allow("alice", start.Add(tt.every-tt.every/1000)) {
				t.Fatalf("a token %v after the burst, want none before %v", tt.every-tt.every/1000, tt.every)
			}
			if !tt.l.allow("alice", start.Add(tt.every)) {
				t.Fatalf("no token %v after the burst", tt.every)
			}
		})
	}
	t.Run("buckets of 10,000 approvers", func(t *testing.T) {
		l := newRateLimiter(RateLimit{})
		for i := range 10_001 {
			l.allow(fmt.Sprint("approver-", i), start)
		}
		if n := l.len(); n != 10_000 {
			t.Fatalf("%d buckets, want 10000", n)
		}
	})
}

// TestHandledMessageNotHandledAgain: a message this process handled (a
// live one the catch-up reads again from history) is passed over before
// the handler: it costs no rate-limit token and no drop, even after the
// repeat backoff, when the handler would forward the same decision
// again.
func TestHandledMessageNotHandledAgain(t *testing.T) {
	f := newFakeTemporal()
	f.addWorkflow("wf-1", publishView("publisher"), "call_abc123")
	log, _ := logBuffer(t)
	h := fastHandler(f, log)
	now := time.Unix(1_700_000_000, 0)
	h.Now = func() time.Time { return now }
	reader := meterOn(h)
	b := &runner{cfg: Config{MaxParked: 10}, log: log, handler: h, recent: recent.NewSet[string](100)}
	b.handle(t.Context(), msg(nil))
	b.handle(t.Context(), msg(nil)) // read again at once
	now = now.Add(time.Hour)
	b.handle(t.Context(), msg(nil)) // and after the repeat backoff
	if got := len(f.sent()); got != 1 {
		t.Fatalf("%d signals, want 1", got)
	}
	wantCounted(t, reader, MetricDropped, "", 0)
}
