package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/sdk/v1"

	"github.com/hitl/durable-approvals/internal/testutil"
)

// uiGet fetches a path of the Temporal Web UI's HTTP API (the API its pages
// are drawn from) and decodes the JSON answer.
func uiGet(ctx context.Context, s *stack, path string, v any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", s.temporal.UIPort, path), nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("%s: %s", resp.Status, body)
	}
	return resp.StatusCode, json.Unmarshal(body, v)
}

type uiPayload struct {
	Data string `json:"data"`
}

func (p uiPayload) text(t *testing.T) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(p.Data)
	if err != nil {
		t.Fatalf("payload data: %v", err)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("payload %s: %v", raw, err)
	}
	return s
}

// checkWebUI asserts that the Web UI lists the pending run, shows its
// summary, and that the run's current details (the UI's "Current Details"
// panel, fetched by the UI with the __temporal_workflow_metadata query) say
// which tool waits for which role, with which arguments, until when.
func checkWebUI(t *testing.T, s *stack, id, prompt, tool, role string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	var list struct {
		Executions []struct {
			Execution struct {
				WorkflowID string `json:"workflowId"`
			} `json:"execution"`
			Status string `json:"status"`
		} `json:"executions"`
	}
	q := url.QueryEscape(fmt.Sprintf("WorkflowId = %q", id))
	// The UI server's gRPC connection may still be backing off from a
	// dial made before the frontend was up: poll.
	testutil.WaitFor(t, 60*time.Second, "the Web UI to list "+id, func() (bool, error) {
		_, err := uiGet(ctx, s, "/api/v1/namespaces/default/workflows?query="+q, &list)
		return err == nil && len(list.Executions) == 1, err
	})
	if got := list.Executions[0]; got.Execution.WorkflowID != id || got.Status != "WORKFLOW_EXECUTION_STATUS_RUNNING" {
		t.Fatalf("Web UI list = %+v, want %s running", got, id)
	}

	var desc struct {
		ExecutionConfig struct {
			UserMetadata struct {
				Summary uiPayload `json:"summary"`
				Details uiPayload `json:"details"`
			} `json:"userMetadata"`
		} `json:"executionConfig"`
	}
	if _, err := uiGet(ctx, s, "/api/v1/namespaces/default/workflows/"+url.PathEscape(id), &desc); err != nil {
		t.Fatalf("Web UI workflow page data: %v", err)
	}
	if got := desc.ExecutionConfig.UserMetadata.Summary.text(t); !strings.Contains(got, prompt) {
		t.Fatalf("Web UI summary = %q, want the prompt %q", got, prompt)
	}

	resp, err := s.tc.QueryWorkflow(ctx, id, "", "__temporal_workflow_metadata")
	if err != nil {
		t.Fatalf("metadata query: %v", err)
	}
	var md sdk.WorkflowMetadata
	if err := resp.Get(&md); err != nil {
		t.Fatalf("metadata: %v", err)
	}
	details := md.GetCurrentDetails()
	for _, want := range []string{tool, role, "title"} {
		if !strings.Contains(details, want) {
			t.Fatalf("current details lack %q:\n%s", want, details)
		}
	}
	t.Logf("Web UI current details of %s:\n%s", id, details)
}
