package web_test

import (
	"fmt"
	"os"
	"regexp"
	"testing"

	"github.com/hitl/durable-approvals/workflows"
)

// app/src/contract.js mirrors the wire names of package workflows; this pins
// every value to its Go constant, so a rename in Go fails here.
func TestContractMirrorsWorkflows(t *testing.T) {
	src, err := os.ReadFile("app/src/contract.js")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^export const ([A-Z_]+) = ('[^']*'|[0-9]+);$`)
	got := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		got[m[1]] = m[2]
	}
	want := map[string]string{
		"MSG_REQUEST":          quote(workflows.MsgApprovalRequest),
		"MSG_RESPONSE":         quote(workflows.MsgApprovalResponse),
		"MSG_RESOLVED":         quote(workflows.MsgApprovalResolved),
		"MSG_IGNORED":          quote(workflows.MsgApprovalIgnored),
		"EXTRAS_HEADERS":       quote(workflows.ExtrasHeaders),
		"HEADER_TOOL_CALL_ID":  quote(workflows.HeaderToolCallID),
		"HEADER_WORKFLOW_ID":   quote(workflows.HeaderWorkflowID),
		"DECISION_APPROVED":    quote(workflows.DecisionApproved),
		"DECISION_REJECTED":    quote(workflows.DecisionRejected),
		"OUTCOME_APPROVED":     quote(workflows.OutcomeApproved),
		"OUTCOME_REJECTED":     quote(workflows.OutcomeRejected),
		"OUTCOME_EXPIRED":      quote(workflows.OutcomeExpired),
		"OUTCOME_CANCELLED":    quote(workflows.OutcomeCancelled),
		"MAX_TOOL_CALL_ID_LEN": fmt.Sprint(workflows.MaxToolCallIDLen),
		"MAX_WORKFLOW_ID_LEN":  fmt.Sprint(workflows.MaxWorkflowIDLen),
		"MAX_REASON_LEN":       fmt.Sprint(workflows.MaxReasonLen),
		"MAX_RUN_ID_LEN":       fmt.Sprint(workflows.MaxRunIDLen),
	}
	for name, w := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("app/src/contract.js lacks %s (want %s)", name, w)
		} else if g != w {
			t.Errorf("app/src/contract.js: %s = %s, want %s", name, g, w)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("app/src/contract.js exports %s, which this test does not pin to workflows", name)
		}
	}
}

func quote(s string) string { return "'" + s + "'" }
