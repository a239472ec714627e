package reannounce

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hitl/durable-approvals/workflows"
)

// fakeClient answers the calls Temporal makes, from memory: the listing
// in pages, each run's first run id and each workflow id's current run
// (describe), and each run's approvals view (query). Any other call
// panics (the embedded nil client.Client).
type fakeClient struct {
	client.Client
	pages     [][]*workflowpb.WorkflowExecutionInfo
	first     map[string]string // run id -> its first run id
	current   map[string]*workflowpb.WorkflowExecutionInfo
	views     map[string]workflows.ApprovalsView // workflow id -> its approvals query
	describes int
}

func (f *fakeClient) ListWorkflow(_ context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	i := 0
	if len(req.GetNextPageToken()) > 0 {
		i = int(req.GetNextPageToken()[0])
	}
	resp := &workflowservice.ListWorkflowExecutionsResponse{Executions: f.pages[i]}
	if i+1 < len(f.pages) {
		resp.NextPageToken = []byte{byte(i + 1)}
	}
	return resp, nil
}

func (f *fakeClient) DescribeWorkflowExecution(_ context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	f.describes++
	if runID != "" {
		return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{FirstRunId: f.first[runID]}}, nil
	}
	switch info := f.current[workflowID]; {
	case workflowID == "wf-unreachable":
		return nil, serviceerror.NewUnavailable("unreachable")
	case info == nil:
		return nil, serviceerror.NewNotFound("workflow not found")
	default:
		return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: info}, nil
	}
}

func (f *fakeClient) QueryWorkflowWithOptions(_ context.Context, req *client.QueryWorkflowWithOptionsRequest) (*client.QueryWorkflowWithOptionsResponse, error) {
	p, err := converter.GetDefaultDataConverter().ToPayloads(f.views[req.WorkflowID])
	if err != nil {
		return nil, err
	}
	return &client.QueryWorkflowWithOptionsResponse{QueryResult: encodedValue{p}}, nil
}

func (f *fakeClient) GetWorkflowHistory(context.Context, string, string, bool, enumspb.HistoryEventFilterType) client.HistoryEventIterator {
	return noEvents{}
}

// encodedValue is a query result.
type encodedValue struct{ p *commonpb.Payloads }

func (v encodedValue) HasValue() bool { return v.p != nil }
func (v encodedValue) Get(ptr any) error {
	return converter.GetDefaultDataConverter().FromPayloads(v.p, ptr)
}

// noEvents is a run history that cannot be read.
type noEvents struct{}

func (noEvents) HasNext() bool                          { return false }
func (noEvents) Next() (*historypb.HistoryEvent, error) { return nil, errors.New("no events") }

// execution is a listed run with PendingApprovals n (n < 0: without it).
func execution(t *testing.T, wf, run string, n int64) *workflowpb.WorkflowExecutionInfo {
	t.Helper()
	info := &workflowpb.WorkflowExecutionInfo{Execution: &commonpb.WorkflowExecution{WorkflowId: wf, RunId: run}}
	if n >= 0 {
		p, err := converter.GetDefaultDataConverter().ToPayload(n)
		if err != nil {
			t.Fatal(err)
		}
		info.SearchAttributes = &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{workflows.SAPendingApprovals.GetName(): p}}
	}
	return info
}

// TestTemporalPendingRuns: the listing is read page after page up to max
// runs, saying when there were more; a run's pending count is its
// PendingApprovals, at least 1 (the query matched it).
func TestTemporalPendingRuns(t *testing.T) {
	fc := &fakeClient{pages: [][]*workflowpb.WorkflowExecutionInfo{
		{execution(t, "wf-1", "run-1", 3), execution(t, "wf-2", "run-2", -1)},
		{execution(t, "wf-3", "run-3", 0)},
	}}
	tp := NewTemporal(fc, "default")
	tests := []struct {
		max      int
		wantRuns string
		wantMore bool
	}{
		{max: 10, wantRuns: "wf-1:3 wf-2:1 wf-3:1"},
		{max: 3, wantRuns: "wf-1:3 wf-2:1 wf-3:1"},
		{max: 2, wantRuns: "wf-1:3 wf-2:1", wantMore: true},
	}
	for _, tc := range tests {
		runs, more, err := tp.PendingRuns(t.Context(), tc.max)
		var got []string
		for _, r := range runs {
			got = append(got, fmt.Sprintf("%s:%d", r.WorkflowID, r.Pending))
		}
		if err != nil || strings.Join(got, " ") != tc.wantRuns || more != tc.wantMore {
			t.Errorf("PendingRuns(%d) = %q, %v, %v; want %q, %v", tc.max, got, more, err, tc.wantRuns, tc.wantMore)
		}
	}
	// All re-announces the first ones and says there were more.
	fc.views = map[string]workflows.ApprovalsView{}
	if _, err := All(t.Context(), tp, bytes.Repeat([]byte{7}, workflows.MinMessageIDKeyLen), testChannel, &recordingPublisher{}, 2); err == nil || !strings.Contains(err.Error(), "more than 2 runs") {
		t.Errorf("All of 2 runs when 3 wait: %v; want it to say there were more", err)
	}
}

// TestTemporalRuns: a run made by a reset is told by its first run id,
// described once; its requests carry the RunID its approvals view names;
// a workflow id Temporal does not know has no current run, and a describe
// that fails is an error.
func TestTemporalRuns(t *testing.T) {
	closedAt := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	now := closedAt.Truncate(time.Second)
	fc := &fakeClient{
		first: map[string]string{"run-a": "run-a", "run-b": "run-a"},
		current: map[string]*workflowpb.WorkflowExecutionInfo{"wf-1": {
			Execution: &commonpb.WorkflowExecution{WorkflowId: "wf-1", RunId: "run-b"},
			Status:    enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, CloseTime: timestamppb.New(closedAt),
		}},
		views: map[string]workflows.ApprovalsView{"wf-1": {RunID: "run-b", Roles: []string{"publisher"}, Pending: []workflows.PendingApproval{{
			ToolCallID: "call_1", Tool: "publish_blog_post", Arguments: `{}`, RequiredRole: "publisher", RequestedAt: now, ExpiresAt: now.Add(time.Hour),
		}}}},
	}
	tp := NewTemporal(fc, "default")
	ctx := t.Context()
	for range 2 {
		if id := tp.ResetRunID(ctx, PendingRun{WorkflowID: "wf-1", RunID: "run-b"}); id != "run-b" {
			t.Errorf("ResetRunID of a reset run = %q, want its run id", id)
		}
	}
	if id := tp.ResetRunID(ctx, PendingRun{WorkflowID: "wf-0", RunID: "run-a"}); id != "" {
		t.Errorf("ResetRunID of a first run = %q", id)
	}
	if fc.describes != 2 {
		t.Errorf("%d describes for two runs, one asked twice; want each run described once", fc.describes)
	}
	reqs, err := tp.Requests(ctx, PendingRun{WorkflowID: "wf-1", RunID: "run-b"})
	if err != nil || len(reqs) != 1 || reqs[0].RunID != "run-b" || reqs[0].ToolCallID != "call_1" {
		t.Errorf("Requests of the reset run = %+v, %v; want call_1 with RunID run-b", reqs, err)
	}
	tests := []struct {
		wf      string
		want    RunState
		wantErr bool
	}{
		{wf: "wf-1", want: RunState{RunID: "run-b", Status: enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, CloseTime: closedAt}},
		{wf: "wf-unknown"},
		{wf: "wf-unreachable", wantErr: true},
	}
	for _, tc := range tests {
		st, err := tp.CurrentRun(ctx, tc.wf)
		if (err != nil) != tc.wantErr || st.RunID != tc.want.RunID || st.Status != tc.want.Status || !st.CloseTime.Equal(tc.want.CloseTime) {
			t.Errorf("CurrentRun(%s) = %+v, %v; want %+v (error %v)", tc.wf, st, err, tc.want, tc.wantErr)
		}
	}
}
