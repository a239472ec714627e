package workflows

import (
	"strings"
	"testing"

	"go.temporal.io/sdk/workflow"
)

func TestResetRunID(t *testing.T) {
	info := func(run, original string) *workflow.Info {
		return &workflow.Info{WorkflowExecution: workflow.Execution{ID: "wf", RunID: run}, OriginalRunID: original}
	}
	tests := []struct {
		name string
		info *workflow.Info
		want string
	}{
		{"an ordinary run", info("r1", "r1"), ""},
		{"a run made by a reset of r1", info("r2", "r1"), "r2"},
		{"no original run id (the test environment)", info("r1", ""), ""},
		{"no info", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ResetRunID(tt.info); got != tt.want {
				t.Errorf("ResetRunID = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestResetRunMessageIDs: a reset run's messages have ids of their own, so
// Ably does not drop them as the earlier run's duplicates; other runs keep
// the ids they always had.
func TestResetRunMessageIDs(t *testing.T) {
	key := []byte("0123456789abcdef0123")
	req := ApprovalRequestData{WorkflowID: "wf", ToolCallID: "call_1"}
	res := ApprovalResolvedData{WorkflowID: "wf", ToolCallID: "call_1"}
	ign := ApprovalIgnoredData{WorkflowID: "wf", ToolCallID: "call_1", Approver: "alice", AblyMessageID: "m1"}
	id := func(m AgentMessage, err error) AgentMessage {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, run := range []string{"", "run-b"} {
		for name, pair := range map[string][2]AgentMessage{
			"request":  {id(req.Message(key)), id(withRun(req, run).Message(key))},
			"resolved": {id(res.Message(key)), id(withRunResolved(res, run).Message(key))},
			"ignored":  {id(ign.Message(key)), id(withRunIgnored(ign, run).Message(key))},
		} {
			if same := pair[0].ID == pair[1].ID; same != (run == "") {
				t.Errorf("%s of run %q: id %s, the original run's %s", name, run, pair[1].ID, pair[0].ID)
			}
		}
	}
	if got := id(req.Message(key)).ID; got != AgentMessageID(key, "wf", "call_1", msgKindRequest) {
		t.Errorf("an ordinary run's request id = %s, want AgentMessageID's", got)
	}
	// Two resets of one run: each its own ids.
	b, c := id(withRun(req, "run-b").Message(key)), id(withRun(req, "run-c").Message(key))
	if b.ID == c.ID {
		t.Errorf("two reset runs share the request id %s", b.ID)
	}
	// A revision names the first request of its own run.
	rev := withRun(req, "run-b")
	rev.Revision = 2
	if m := id(rev.Message(key)); m.Data.(ApprovalRequestData).Supersedes != b.ID {
		t.Errorf("revision 2 of run-b supersedes %s, want run-b's first request %s", m.Data.(ApprovalRequestData).Supersedes, b.ID)
	}
	for _, bad := range []string{"run b", "run\x00b", strings.Repeat("r", MaxRunIDLen+1), "rün"} {
		if _, err := withRun(req, bad).Message(key); err == nil {
			t.Errorf("runId %q accepted", bad)
		}
	}
}

func withRun(d ApprovalRequestData, run string) ApprovalRequestData {
	d.RunID = run
	return d
}

func withRunResolved(d ApprovalResolvedData, run string) ApprovalResolvedData {
	d.RunID = run
	return d
}

func withRunIgnored(d ApprovalIgnoredData, run string) ApprovalIgnoredData {
	d.RunID = run
	return d
}

// TestReaderRunRules pins how a reader weighs a message's run against the
// run it holds a call by.
func TestReaderRunRules(t *testing.T) {
	tests := []struct {
		name               string
		known, msg         string
		askedAgain, before bool
	}{
		{"the original run, both", "", "", false, false},
		{"a reset run asks for a call of the original run", "", "r1", true, false},
		{"the original run's message about a reset run's call", "r1", "", false, true},
		{"the same reset run", "r1", "r1", false, false},
		{"a reset of a reset run", "r1", "r2", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AskedAgain(tt.known, tt.msg); got != tt.askedAgain {
				t.Errorf("AskedAgain(%q, %q) = %v", tt.known, tt.msg, got)
			}
			if got := FromEarlierRun(tt.known, tt.msg); got != tt.before {
				t.Errorf("FromEarlierRun(%q, %q) = %v", tt.known, tt.msg, got)
			}
		})
	}
}
