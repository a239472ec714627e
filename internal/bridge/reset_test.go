package bridge

import (
	"strings"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/workflows"
)

// TestGuideApprovalOfAnEditTheRunNoLongerHas: the bridge holds a request
// showing edited arguments (the replaced run's revision 1), while the run,
// reset to before the edit, asks for the first arguments and has not
// announced them yet. A guide client's approval names no digest: it was
// shown the edit, so it must not approve the first arguments. The bridge
// asks the workflow (the slow path) and drops it; while the run still has
// the edit, the workflow judges it.
func TestGuideApprovalOfAnEditTheRunNoLongerHas(t *testing.T) {
	const original, edit = `{"title":"x"}`, `{"title":"edited"}`
	tests := []struct {
		name       string
		runDigest  string // of the arguments the workflow asks for
		d          decision
		wantSignal bool
		wantLog    string
	}{
		{"a guide approval of the edit, the run reset to before it", workflows.ArgumentsDigest(original),
			decision{who: "alice", decision: workflows.DecisionApproved}, false, "saw other arguments"},
		{"a guide approval of the edit the run still has (the workflow judges it)", workflows.ArgumentsDigest(edit),
			decision{who: "alice", decision: workflows.DecisionApproved}, true, "decision forwarded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeTemporal()
			view := publishView("publisher")
			view.Pending[0].ArgumentsDigest = tt.runDigest
			view.RunID = "run-b"
			f.addWorkflow("wf-1", view, "call_abc123")
			log, logs := logBuffer(t)
			h := fastHandler(f, log)
			now := time.Unix(1_700_000_000, 0)
			h.Now = func() time.Time { return now }
			h.requests = newRequests(workflows.DefaultAgentClientID, 100)
			m := requestFrom(workflows.DefaultAgentClientID, "call_abc123", "wf-1", now.Add(time.Hour))
			data := m.Data.(map[string]any)
			data["revision"], data["arguments"], data["argumentsDigest"] = 1, edit, workflows.ArgumentsDigest(edit)
			data["editedBy"] = map[string]any{"clientId": "carol", "role": "admin", "at": now.Format(time.RFC3339)}
			h.requests.apply(m)
			if err := h.Handle(t.Context(), tt.d.msg(0)); err != nil {
				t.Fatal(err)
			}
			if got := len(f.sent()) == 1; got != tt.wantSignal {
				t.Errorf("signalled = %v, want %v\n%s", got, tt.wantSignal, logs())
			}
			if !strings.Contains(logs(), tt.wantLog) {
				t.Errorf("logs lack %q:\n%s", tt.wantLog, logs())
			}
		})
	}
}
