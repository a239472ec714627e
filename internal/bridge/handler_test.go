package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

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
}

type fakeWorkflow struct {
	toolCallIDs []string
	view        workflows.ApprovalsView
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
	f.workflows[id] = fakeWorkflow{toolCallIDs: toolCallIDs, view: view}
}

func (f *fakeTemporal) SignalWorkflow(_ context.Context, workflowID, runID, signalName string, arg any) error {
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

// ListWorkflow understands exactly the query VisibilityQuery builds.
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
	const prefix, suffix = "ApprovalToolCallIDs = '", "' AND ExecutionStatus = 'Running'"
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
		Retry:       Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond, Attempts: 3},
		LookupRetry: Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond, Attempts: 2},
		CallTimeout: time.Second,
	}
}

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
			name: "query failure does not block the signal",
			setup: func(f *fakeTemporal) {
				f.addWorkflow("wf-7", publishView("publisher"), "call_abc123")
				f.queryErr = errors.New("no worker")
			},
			m:          msg(nil),
			wantSignal: "wf-7",
			wantLog:    "role check skipped",
		},
		{
			name:  "header names an unknown workflow",
			setup: func(f *fakeTemporal) {},
			m: msg(func(m *ably.Message) {
				m.Extras["headers"] = map[string]any{"toolCallId": "call_abc123", "workflowId": "nope"}
			}),
			wantLog: "signal failed",
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
				}}
				if sent[0] != want {
					t.Fatalf("signal\n got  %+v\n want %+v", sent[0], want)
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
		{id: "call_abc123", want: "ApprovalToolCallIDs = 'call_abc123' AND ExecutionStatus = 'Running'"},
		{id: "fc_1.2:3@x-y", want: "ApprovalToolCallIDs = 'fc_1.2:3@x-y' AND ExecutionStatus = 'Running'"},
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

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := b.Delay(i); got != w*time.Millisecond {
			t.Errorf("Delay(%d) = %v, want %v", i, got, w*time.Millisecond)
		}
	}
	if got := (Backoff{}).Delay(100); got != 10*time.Second {
		t.Errorf("default cap = %v, want 10s", got)
	}
}

func TestSeenBounded(t *testing.T) {
	s := newSeen(2)
	s.add("a")
	s.add("b")
	s.add("a")
	s.add("c")
	if s.has("a") || !s.has("b") || !s.has("c") {
		t.Fatalf("set = %v, want b and c", s.order)
	}
}
