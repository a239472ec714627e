package prod

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/internal/authserver"
	"github.com/hitl/durable-approvals/internal/bridge"
	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// checkUI asserts that the Web UI server lists the pending run when asked
// for runs that wait for a human (the custom search attribute, on
// PostgreSQL's visibility store).
func checkUI(t *testing.T, h *harness, wfID string) {
	t.Helper()
	q := url.QueryEscape(fmt.Sprintf("%s > 0 AND WorkflowId = '%s'", workflows.SAPendingApprovals.GetName(), wfID))
	var list struct {
		Executions []struct {
			Execution struct {
				WorkflowID string `json:"workflowId"`
			} `json:"execution"`
			Status string `json:"status"`
		} `json:"executions"`
	}
	testutil.WaitFor(t, 60*time.Second, "the Web UI to list "+wfID+" as waiting", func() (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.st.UIURL()+"/api/v1/namespaces/default/workflows?query="+q, nil)
		if err != nil {
			return false, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil || resp.StatusCode != http.StatusOK {
			return false, fmt.Errorf("%s: %v %s", resp.Status, err, body)
		}
		if err := json.Unmarshal(body, &list); err != nil {
			return false, err
		}
		return len(list.Executions) == 1 && list.Executions[0].Execution.WorkflowID == wfID, nil
	})
	if got := list.Executions[0].Status; got != "WORKFLOW_EXECUTION_STATUS_RUNNING" {
		t.Fatalf("Web UI shows %s as %s, want running", wfID, got)
	}
}

// checkMetrics scrapes every /metrics endpoint after the guide's scenario
// on a fresh stack: one approval requested and approved, one decision
// forwarded and signed, every bridge saw it once, and the auth server
// counts the logins the test makes.
func checkMetrics(t *testing.T, h *harness) {
	t.Helper()
	workers, bridges := h.st.Workers(), h.st.Bridges()
	approvals := workflows.MetricApprovals + "_total"
	tool := "tool=publish_blog_post"
	for _, c := range []struct {
		event string
		want  float64
	}{
		{workflows.ApprovalEventRequested, 1}, {"approved", 1}, {"rejected", 0}, {"expired", 0}, {workflows.ApprovalEventEscalated, 0},
	} {
		if got := h.sumParts(workers, approvals, "event="+c.event, tool); got != c.want {
			t.Errorf("workers' %s{event=%q} = %v, want %v", approvals, c.event, got, c.want)
		}
	}
	// The Temporal SDK's own metrics, from the worker and the bridge.
	if got := h.sumParts(workers, "temporal_workflow_completed_total", "workflow_type="+workflows.WorkflowName); got != 1 {
		t.Errorf("workers' temporal_workflow_completed_total = %v, want 1", got)
	}
	// The tool runs as an activity or, on the workflow's fast path for a
	// local tool, as a local activity: one execution either way.
	toolRuns := h.sumParts(workers, "temporal_activity_execution_latency_seconds", "activity_type="+workflows.ActivityExecuteTool) +
		h.sumParts(workers, "temporal_local_activity_execution_latency_seconds", "activity_type="+workflows.ActivityExecuteTool)
	if toolRuns != 1 {
		t.Errorf("workers' ExecuteTool (local) activity execution latency count = %v, want 1", toolRuns)
	}
	if got := h.sumParts(bridges, "temporal_request_total", "operation=SignalWorkflowExecution"); got < 1 {
		t.Errorf("bridges' temporal_request_total{operation=SignalWorkflowExecution} = %v, want at least 1", got)
	}
	counts := bridgeCountsOnce(h, bridges, "each bridge to handle the decision", func(_ string, c bridgeCount) bool { return c.forwarded+c.notPending >= 1 })
	var forwarded, signed float64
	for _, b := range bridges {
		c := counts[b]
		if c.forwarded+c.notPending != 1 {
			t.Errorf("%s: forwarded %v + not pending %v, want the one decision once", b, c.forwarded, c.notPending)
		}
		if dropped := sum(h.metrics(b), bridge.MetricDropped+"_total"); dropped != c.notPending {
			t.Errorf("%s dropped %v decisions, %v of them not pending: want no other drop", b, dropped, c.notPending)
		}
		forwarded += c.forwarded
		signed += c.signed
	}
	if forwarded < 1 || signed != forwarded {
		t.Errorf("bridges forwarded %v and signed %v decisions, want at least 1 and the same", forwarded, signed)
	}

	// The auth server: two logins and one wrong password, counted exactly.
	logins, failed := authserver.MetricLogins+"_total", authserver.MetricFailedLogins+"_total"
	before := h.metrics("authserver")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 2 {
		if _, _, err := h.token(ctx, "publisher", ""); err != nil {
			t.Fatalf("login: %v", err)
		}
	}
	if _, code, _ := h.token(ctx, "publisher", "not-the-password-at-all"); code != http.StatusUnauthorized {
		t.Fatalf("login with a wrong password: status %d, want 401", code)
	}
	after := h.metrics("authserver")
	if got := sum(after, logins) - sum(before, logins); got != 2 {
		t.Errorf("%s went up by %v, want 2", logins, got)
	}
	if got := sum(after, failed, "reason="+authserver.FailReasonBadCredentials) - sum(before, failed, "reason="+authserver.FailReasonBadCredentials); got != 1 {
		t.Errorf("%s{reason=bad_credentials} went up by %v, want 1", failed, got)
	}

	// The Temporal server's own Prometheus endpoint.
	server := h.scrape(h.st.TemporalMetricsURL())
	if len(server) < 10 {
		t.Errorf("the Temporal server exports %d metric families, want its usual hundreds", len(server))
	}
}

// checkTrace follows the decision of c through the trace files: the span
// of the bridge's SignalWorkflow, the worker's HandleSignal and the tool's
// RunActivity:ExecuteTool are in one trace.
func checkTrace(t *testing.T, h *harness, c call) {
	t.Helper()
	signals := map[string]bool{} // trace ids of the bridges' signals to c's run
	for _, s := range h.spans("bridge-") {
		if s.Name == "SignalWorkflow:"+workflows.DecisionSignal && s.attr("temporalWorkflowID") == c.wfID {
			signals[s.SpanContext.TraceID] = true
		}
	}
	if len(signals) == 0 {
		t.Fatalf("no bridge trace has a SignalWorkflow span for %s", c.wfID)
	}
	var tool, handle *span
	worker := h.spans("worker-")
	for i, s := range worker {
		if s.attr("temporalWorkflowID") != c.wfID {
			continue
		}
		switch s.Name {
		case "RunActivity:" + workflows.ActivityExecuteTool:
			tool = &worker[i]
		case "HandleSignal:" + workflows.DecisionSignal:
			if signals[s.SpanContext.TraceID] {
				handle = &worker[i]
			}
		}
	}
	if tool == nil {
		t.Fatalf("no worker span RunActivity:%s for %s", workflows.ActivityExecuteTool, c.wfID)
	}
	if handle == nil {
		t.Fatalf("no worker HandleSignal span in the trace of the bridge's signal for %s", c.wfID)
	}
	if !signals[tool.SpanContext.TraceID] {
		t.Fatalf("the tool activity's span is in trace %s, not in the decision's (%v)", tool.SpanContext.TraceID, signals)
	}
	t.Logf("trace %s: bridge SignalWorkflow -> %s HandleSignal -> %s RunActivity:ExecuteTool", tool.SpanContext.TraceID, handle.file, tool.file)
}
