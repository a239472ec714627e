package devstack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/temporaltest"
	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// startDevServer runs the dev server with args(cfg), as Up does, waits
// until its frontend answers (at most a minute), and returns it and its
// stop. A server that exits first fails the test with its log's end; when
// it exited because another process took one of its ports between the pick
// and the bind, it is started again on new ports (set in cfg), twice at
// most. (A CI run saw it refuse connections for its whole minute.)
func startDevServer(t *testing.T, cfg *Config, args func(Config) []string) (*proc, func()) {
	t.Helper()
	logPath := filepath.Join(cfg.LogDir(), "temporal.log")
	for attempt := 1; ; attempt++ {
		p, err := startProc("temporal", temporaltest.CLI(t), args(*cfg), os.Environ(), cfg.Root, logPath, true)
		if err != nil {
			t.Fatal(err)
		}
		tc, err := dialTemporal(t.Context(), *cfg, p.Exited(), time.Minute)
		if err == nil {
			tc.Close()
			return p, func() {
				if err := p.Stop(20 * time.Second); err != nil {
					t.Errorf("stop dev server: %v", err)
				}
			}
		}
		_ = p.Stop(20 * time.Second)
		tail := logTail(logPath, 4096)
		if attempt < 3 && strings.Contains(tail, "address already in use") {
			// Another process took one of its ports between the pick
			// and the bind (tests of other packages pick theirs too).
			t.Logf("dev server, attempt %d: %v; a port was taken, starting it on others", attempt, err)
			cfg.Ports.Temporal, cfg.Ports.UI = testutil.FreePort(t), testutil.FreePort(t)
			continue
		}
		t.Fatalf("dev server not up: %v; its log ends:\n%s", err, tail)
	}
}

// logTail returns at most the last n bytes of the file at path.
func logTail(path string, n int64) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if int64(len(b)) > n {
		b = b[int64(len(b))-n:]
	}
	return string(b)
}

// customAttributes lists the namespace's custom search attributes, after
// ensureSearchAttributes when ensure is set.
func customAttributes(t *testing.T, ctx context.Context, cfg Config, ensure bool) map[string]string {
	t.Helper()
	tc, err := dialTemporal(ctx, cfg, nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if ensure {
		if _, err := ensureSearchAttributes(ctx, tc, cfg.Namespace, "delete "+cfg.DBFile()+" to start afresh"); err != nil {
			t.Fatalf("ensureSearchAttributes: %v", err)
		}
	}
	list, err := tc.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: cfg.Namespace})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for name, typ := range list.GetCustomAttributes() {
		out[name] = typ.String()
	}
	return out
}

// TestDevServerRestartKeepsSearchAttributes runs the pinned dev server the
// way Up does: on a new SQLite file, again on the same file (the flags must
// not break a restart), and on a file created without the search
// attributes (ensureSearchAttributes adds them).
func TestDevServerRestartKeepsSearchAttributes(t *testing.T) {
	ctx := t.Context()
	cfg := testConfig(t, config.Env{})
	cfg.Ports.Temporal, cfg.Ports.UI = testutil.FreePort(t), testutil.FreePort(t)
	if err := os.MkdirAll(cfg.LogDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"ApprovalToolCallIDs": "KeywordList", "PendingApprovals": "Int"}
	check := func(step string, got map[string]string) {
		t.Helper()
		for name, typ := range want {
			if !strings.Contains(got[name], typ) {
				t.Errorf("%s: search attribute %s = %q, want %s (all: %v)", step, name, got[name], typ, got)
			}
		}
	}

	_, stop := startDevServer(t, &cfg, temporalArgs)
	check("new database, flags only", customAttributes(t, ctx, cfg, false))
	stop()
	if _, err := os.Stat(cfg.DBFile()); err != nil {
		t.Fatalf("no SQLite file after the first run: %v", err)
	}

	p, stop := startDevServer(t, &cfg, temporalArgs)
	check("restart on the same database", customAttributes(t, ctx, cfg, true))
	select {
	case <-p.Exited():
		t.Fatalf("dev server exited on restart: %v", p.Err())
	default:
	}
	stop()

	bare := testConfig(t, config.Env{})
	bare.Ports = cfg.Ports
	if err := os.MkdirAll(bare.LogDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	withoutAttributes := func(c Config) []string {
		args := temporalArgs(c)
		for i := slices.Index(args, "--search-attribute"); i >= 0; i = slices.Index(args, "--search-attribute") {
			args = slices.Delete(args, i, i+2)
		}
		return args
	}
	p, _ = startDevServer(t, &bare, withoutAttributes)
	if got := customAttributes(t, ctx, bare, false); got["ApprovalToolCallIDs"] != "" {
		t.Fatalf("a database made without the flags has the attributes: %v", got)
	}
	// As Up does: add the attributes, which restarts the server (with
	// Up's flags).
	st := &Stack{cfg: bare, temporal: p}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("stop dev server: %v", err)
		}
	})
	if err := st.dialTemporal(ctx); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := st.ensureSearchAttributes(ctx, &out, temporaltest.CLI(t), "start afresh"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "restarting the Temporal dev server") {
		t.Errorf("the server was not restarted after the attributes were added: %q", out.String())
	}
	check("database made without the attributes", customAttributes(t, ctx, bare, false))
	upsertAndFind(t, ctx, bare)
}

// upsertAndFind runs a workflow on cfg's server that upserts the
// workflow's search attributes, and finds it by them in visibility: after
// Stack.ensureSearchAttributes added them and restarted the server, the
// first upsert is taken, although the stack turns the CLI's forced refresh
// of the search attributes' cache off (temporalArgs).
func upsertAndFind(t *testing.T, ctx context.Context, cfg Config) {
	t.Helper()
	tc, err := dialTemporal(ctx, cfg, nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	const queue, callID = "devstack-test-upsert", "call-added-while-running"
	w := worker.New(tc, queue, worker.Options{})
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context) error {
		return workflow.UpsertTypedSearchAttributes(ctx,
			workflows.SAToolCallIDs.ValueSet([]string{callID}), workflows.SAPendingApprovals.ValueSet(1))
	}, workflow.RegisterOptions{Name: "UpsertProbe"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	run, err := tc.ExecuteWorkflow(rctx, client.StartWorkflowOptions{ID: "devstack-test-upsert", TaskQueue: queue}, "UpsertProbe")
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(rctx, nil); err != nil {
		t.Fatalf("the upserting workflow: %v", err)
	}
	it := tc.GetWorkflowHistory(rctx, run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED {
			t.Fatalf("the server refused the upsert at first: %v", e.GetWorkflowTaskFailedEventAttributes())
		}
	}
	q := fmt.Sprintf("%s = '%s' AND %s = 1", workflows.SAToolCallIDs.GetName(), callID, workflows.SAPendingApprovals.GetName())
	testutil.WaitFor(t, 30*time.Second, "the run found by its search attributes", func() (bool, error) {
		resp, err := tc.CountWorkflow(rctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: cfg.Namespace, Query: q})
		return err == nil && resp.GetCount() == 1, err
	})
}

func TestDialTemporalGivesUp(t *testing.T) {
	cfg := testConfig(t, config.Env{})
	cfg.Ports.Temporal = testutil.FreePort(t)
	start := time.Now()
	_, err := dialTemporal(t.Context(), cfg, nil, 500*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "not healthy after") {
		t.Fatalf("dialTemporal = %v, want a timeout", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("gave up after %s", d)
	}
}
