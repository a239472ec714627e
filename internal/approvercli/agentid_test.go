package approvercli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/workflows"
)

// With a configured agent clientId (HITL_AGENT_CLIENT_ID), the CLI trusts
// requests under that id only, not under the default one.
func TestListTrustsTheConfiguredAgent(t *testing.T) {
	e := startEnv(t)
	publishRequest(t, e.rest(t, "my-agent"), "call_mine", "wf-1", time.Now().Add(10*time.Minute))
	publishRequest(t, e.rest(t, workflows.DefaultAgentClientID), "call_default", "wf-2", time.Now().Add(10*time.Minute))
	cfg := e.cliConfig(t, nil)
	cfg.AgentClientID = "my-agent"
	var out bytes.Buffer
	if err := List(t.Context(), cfg, &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if !strings.Contains(got, "Tool call ID:  call_mine") || strings.Contains(got, "call_default") {
		t.Fatalf("list with agent clientId my-agent:\n%s", got)
	}
}
