package approvercli

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/workflows"
)

// TestPendingResetRuns: a run made by a Temporal reset asks again for a
// call of the run it reset (same ids, its runId); the CLI shows it as a
// new request whatever it held, and passes over the original run's word
// on a call a reset run asks for.
func TestPendingResetRuns(t *testing.T) {
	const agent = "hitl-agent"
	req := func(run string, revision int, expires time.Time) *ably.Message {
		d := reqData("call_1", "wf-1", expires)
		d.RunID, d.Revision = run, revision
		m := requestMsg(t, agent, d)
		m.ID += fmt.Sprint(run, "-", revision)
		return m
	}
	live := t0.Add(time.Hour)
	res := func(run string) *ably.Message {
		data := map[string]any{"toolCallId": "call_1", "workflowId": "wf-1", "tool": "publish_blog_post", "outcome": "approved"}
		if run != "" {
			data["runId"] = run
		}
		return &ably.Message{ID: "res" + run, Name: workflows.MsgApprovalResolved, ClientID: agent, Data: data}
	}
	ignored := func(run string) *ably.Message {
		data := map[string]any{"toolCallId": "call_1", "workflowId": "wf-1", "tool": "publish_blog_post", "approver": "eve", "decision": "approved", "ablyMessageId": "m1", "reason": "insufficient role"}
		if run != "" {
			data["runId"] = run
		}
		return &ably.Message{ID: "ign" + run, Name: workflows.MsgApprovalIgnored, ClientID: agent, Data: data}
	}
	tests := []struct {
		name     string
		msgs     []*ably.Message
		wantLast EventKind
		pending  bool
		run      string // of the pending request
		revision int
		resolved bool // Resolution finds the call
	}{
		{"resolved in the original run, asked again by a reset run", []*ably.Message{req("", 0, live), res(""), req("run-b", 0, live)}, EventRequest, true, "run-b", 0, false},
		{"a higher revision of the original run after the reset run's request", []*ably.Message{req("", 0, live), req("run-b", 0, live), req("", 5, live)}, EventIgnored, true, "run-b", 0, false},
		{"an approval-ignored with a bad run id", []*ably.Message{req("", 0, live), ignored("bad run")}, EventIgnored, true, "", 0, false},
		{"the original run's request again after that", []*ably.Message{req("", 0, live), res(""), req("run-b", 0, live), req("", 0, live)}, EventIgnored, true, "run-b", 0, false},
		{"the original run's resolution does not close the reset run's request", []*ably.Message{req("", 2, live), req("run-b", 0, live), res("")}, EventIgnored, true, "run-b", 0, false},
		{"a reset run's request replaces a higher revision of the original run as new", []*ably.Message{req("", 3, live), req("run-b", 1, live)}, EventRequest, true, "run-b", 1, false},
		{"a revision of the reset run updates its request", []*ably.Message{req("run-b", 0, live), req("run-b", 1, live)}, EventUpdated, true, "run-b", 1, false},
		{"the reset run's own resolution closes it", []*ably.Message{req("", 0, live), res(""), req("run-b", 0, live), res("run-b")}, EventResolved, false, "", 0, true},
		{"the same reset run asks nothing again once resolved", []*ably.Message{req("run-b", 0, live), res("run-b"), req("run-b", 0, live)}, EventIgnored, false, "", 0, true},
		{"a reset of the reset run asks again", []*ably.Message{req("run-b", 0, live), res("run-b"), req("run-c", 0, live)}, EventRequest, true, "run-c", 0, false},
		{"a later reset run's resolution closes the earlier reset run's request", []*ably.Message{req("run-b", 0, live), res("run-c")}, EventResolved, false, "", 0, true},
		{"an expired re-ask keeps the resolution", []*ably.Message{req("", 0, live), res(""), req("run-b", 0, t0.Add(-time.Second))}, EventIgnored, false, "", 0, true},
		{"a notice of the original run is not the reset run's", []*ably.Message{req("run-b", 0, live), ignored("")}, EventIgnored, true, "run-b", 0, false},
		{"a notice of the reset run counts", []*ably.Message{req("run-b", 0, live), ignored("run-b")}, EventNotCounted, true, "run-b", 0, false},
		{"a notice of a reset run whose request has not come yet counts", []*ably.Message{req("", 0, live), ignored("run-b")}, EventNotCounted, true, "", 0, false},
		{"a malformed runId is refused", []*ably.Message{req("", 0, live), res(""), req("run b", 0, live)}, EventIgnored, false, "", 0, true},
		{"ordinary runs as before: a request after the resolution", []*ably.Message{req("", 0, live), res(""), req("", 0, live)}, EventIgnored, false, "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPending(agent, func() time.Time { return t0 })
			var ev Event
			for _, m := range tt.msgs {
				ev = p.Apply(m)
			}
			if ev.Kind != tt.wantLast {
				t.Errorf("last event = %+v, want kind %d", ev, tt.wantLast)
			}
			list := p.List()
			switch {
			case tt.pending && (len(list) != 1 || list[0].RunID != tt.run || list[0].Revision != tt.revision):
				t.Errorf("pending = %+v, want call_1 of run %q at revision %d", list, tt.run, tt.revision)
			case !tt.pending && len(list) != 0:
				t.Errorf("pending = %+v, want none", list)
			}
			if _, ok := p.Resolution("call_1"); ok != tt.resolved {
				t.Errorf("Resolution found = %v, want %v", ok, tt.resolved)
			}
			if len(p.resolved) != len(p.resolvedOrder) {
				t.Errorf("%d resolutions, %d in their order", len(p.resolved), len(p.resolvedOrder))
			}
		})
	}
}

// TestWriteRequestOfResetRun: a request asked again by a run made by a
// reset says so; others say nothing of runs.
func TestWriteRequestOfResetRun(t *testing.T) {
	for _, run := range []string{"", "0193a1b2-reset"} {
		r := Request{ApprovalRequestData: reqData("call_1", "wf-1", t0.Add(time.Hour))}
		r.RunID = run
		var buf bytes.Buffer
		writeRequest(&buf, r, t0)
		const line = "Asked again:   by run 0193a1b2-reset, made by a reset of the workflow"
		if got := strings.Contains(buf.String(), "Asked again"); got != (run != "") {
			t.Errorf("run %q: output says asked again = %v:\n%s", run, got, buf.String())
		}
		if run != "" && !strings.Contains(buf.String(), line) {
			t.Errorf("output lacks %q:\n%s", line, buf.String())
		}
	}
}
