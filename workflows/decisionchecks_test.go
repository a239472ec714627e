package workflows

import (
	"fmt"
	"testing"
	"time"

	"go.temporal.io/sdk/workflow"
)

// The checks of changeDecisionChecks (versions.go): each case is a way a
// decision was applied although it should not have been, with the audit it
// gives now.
func TestDecisionChecks(t *testing.T) {
	const edit = `{"title":"Something the second approver never saw"}`
	editDigest := ArgumentsDigest(edit)
	quorumWithEdits := `{"minRole":"publisher","timeout":"10m","approvals":2,"editable":true}`
	publishedAt := func(d Decision, at time.Time) Decision {
		d.PublishedAt = at
		return d
	}
	tests := []struct {
		name      string
		rule      string // publish_blog_post's policy; "" for the team's
		decisions func(h *harness)
		wantArgs  string // the arguments the tool ran with; "" if it did not run
		wantBy    string
		wantAudit []string
	}{
		{
			name: "an approval without a digest does not count toward an edit",
			rule: quorumWithEdits,
			decisions: func(h *harness) {
				h.decide(time.Minute, edited("mallory", "publisher", "m1", edit, originalDigest))
				h.decide(2*time.Minute, approve("call_1", "bob", "publisher", "m2"))
				d := approve("call_1", "carol", "admin", "m3")
				d.ArgumentsDigest = editDigest
				h.decide(3*time.Minute, d)
			},
			wantArgs: edit,
			wantBy:   "mallory,carol",
			wantAudit: []string{"requested:call_1", "edited:call_1", "counted:call_1",
				"ignored:call_1:the arguments were edited by mallory: an approval must name the digest of the arguments it approves (argumentsDigest)",
				"approved:call_1", "executed:call_1"},
		},
		{
			name: "an approval without a digest counts when nobody edited",
			rule: quorumWithEdits,
			decisions: func(h *harness) {
				h.decide(time.Minute, approve("call_1", "alice", "publisher", "m1"))
				h.decide(2*time.Minute, approve("call_1", "bob", "publisher", "m2"))
			},
			wantArgs:  `{"title":"Introducing our new API"}`,
			wantBy:    "alice,bob",
			wantAudit: []string{"requested:call_1", "counted:call_1", "approved:call_1", "executed:call_1"},
		},
		{
			name: "an unsigned copy does not make the signed decision a duplicate",
			decisions: func(h *harness) {
				h.decideRaw(time.Minute, approve("call_1", "alice", "publisher", "conn:8:0"))
				h.decide(2*time.Minute, approve("call_1", "alice", "publisher", "conn:8:0"))
			},
			wantArgs: `{"title":"Introducing our new API"}`,
			wantBy:   "alice",
			wantAudit: []string{"requested:call_1",
				"ignored:call_1:unsigned: the approver bridge signs every decision it forwards",
				"approved:call_1", "executed:call_1"},
		},
		{
			name: "a copy whose signature fails does not make the signed decision a duplicate",
			decisions: func(h *harness) {
				bad := h.sign(approve("call_1", "alice", "publisher", "conn:8:0"))
				bad.KeyID = "rotated-key"
				h.decideRaw(time.Minute, bad)
				h.decide(2*time.Minute, approve("call_1", "alice", "publisher", "conn:8:0"))
			},
			wantArgs: `{"title":"Introducing our new API"}`,
			wantBy:   "alice",
			wantAudit: []string{"requested:call_1",
				`ignored:call_1:signature: unknown key "rotated-key"`,
				"approved:call_1", "executed:call_1"},
		},
		{
			name: "a copy of a verified decision is a duplicate",
			rule: quorumWithEdits,
			decisions: func(h *harness) {
				h.decide(time.Minute, approve("call_1", "alice", "publisher", "m1"))
				h.decide(2*time.Minute, approve("call_1", "alice", "publisher", "m1"))
				h.decide(3*time.Minute, approve("call_1", "bob", "publisher", "m2"))
			},
			wantArgs: `{"title":"Introducing our new API"}`,
			wantBy:   "alice,bob",
			wantAudit: []string{"requested:call_1", "counted:call_1", "ignored:call_1:duplicate",
				"approved:call_1", "executed:call_1"},
		},
		{
			name: "two copies sent at once count once (the second waits for the first's verification)",
			rule: quorumWithEdits,
			decisions: func(h *harness) {
				h.decide(time.Minute, approve("call_1", "alice", "publisher", "m1"))
				h.decide(time.Minute, approve("call_1", "alice", "publisher", "m1"))
				h.decide(3*time.Minute, approve("call_1", "bob", "publisher", "m2"))
			},
			wantArgs: `{"title":"Introducing our new API"}`,
			wantBy:   "alice,bob",
			wantAudit: []string{"requested:call_1", "counted:call_1", "ignored:call_1:duplicate",
				"approved:call_1", "executed:call_1"},
		},
		{
			name: "a decision published a day before the run started is an earlier run's",
			decisions: func(h *harness) {
				h.decide(time.Minute, publishedAt(approve("call_1", "alice", "publisher", "old-1"), testStart.Add(-24*time.Hour)))
				h.decide(2*time.Minute, publishedAt(approve("call_1", "carol", "admin", "m2"), testStart.Add(2*time.Minute)))
			},
			wantArgs: `{"title":"Introducing our new API"}`,
			wantBy:   "carol",
			wantAudit: []string{"requested:call_1",
				"ignored:call_1:published before this run started: an earlier run's decision",
				"approved:call_1", "executed:call_1"},
		},
		{
			name: "a decision published within MaxClockSkew before the start counts",
			decisions: func(h *harness) {
				h.decide(time.Minute, publishedAt(approve("call_1", "alice", "publisher", "m1"), testStart.Add(-MaxClockSkew+time.Second)))
			},
			wantArgs:  `{"title":"Introducing our new API"}`,
			wantBy:    "alice",
			wantAudit: []string{"requested:call_1", "approved:call_1", "executed:call_1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.policy = testPolicy(t)
			if tt.rule != "" {
				h.policy = rulesPolicy(t, tt.rule)
			}
			h.model = script(calls(publishCall("call_1")), answer("done"))
			tt.decisions(h)
			res := h.run(AgentInput{Prompt: "publish", Requester: "requester"})
			wantKinds(t, res.Audit, tt.wantAudit...)
			tools := h.tools()
			if len(tools) != 1 {
				t.Fatalf("the tool ran %d times, want once", len(tools))
			}
			if tools[0].Arguments != tt.wantArgs || tools[0].ApprovedBy != tt.wantBy {
				t.Errorf("the tool ran with %s approved by %q, want %s approved by %q", tools[0].Arguments, tools[0].ApprovedBy, tt.wantArgs, tt.wantBy)
			}
		})
	}
}

// TestUnverifiedCopyBeforeTheFastPath: changeDecisionChecks' third rule in
// a run started before the fast path (WorkflowNameV1 at DefaultVersion,
// whose policy is its input's, or at versionWorkerPolicy; publishes and
// tools are activities). An unsigned copy of alice's decision, sent first
// (by a bridge not yet upgraded while the workers were, or by anyone with
// signal access), must not make the signed decision the upgraded bridge
// forwards, with the same Ably message id, a duplicate: the call would
// wait for its expiry, alice's approval lost and no word to her.
func TestUnverifiedCopyBeforeTheFastPath(t *testing.T) {
	for _, v := range []workflow.Version{workflow.DefaultVersion, versionWorkerPolicy} {
		t.Run(fmt.Sprintf("worker-policy %d", v), func(t *testing.T) {
			h := newHarness(t)
			h.env.RegisterWorkflowWithOptions(AgentWorkflow, workflow.RegisterOptions{Name: WorkflowNameV1})
			h.env.OnGetVersion(changeWorkerPolicy, workflow.DefaultVersion, versionFastPath).Return(v).Maybe()
			h.policy = testPolicy(t)
			in := AgentInput{Prompt: "Publish the blog post called 'Introducing our new API'", Requester: "requester"}
			if v == workflow.DefaultVersion {
				in.Policy = h.policy
			}
			h.model = script(calls(publishCall("call_1")), answer("done"))
			h.decideRaw(time.Minute, approve("call_1", "alice", "publisher", "conn:8:0"))
			h.decide(2*time.Minute, approve("call_1", "alice", "publisher", "conn:8:0"))
			h.env.ExecuteWorkflow(WorkflowNameV1, in)
			var res AgentResult
			if err := h.env.GetWorkflowResult(&res); err != nil {
				t.Fatal(err)
			}
			wantKinds(t, res.Audit, "requested:call_1",
				"ignored:call_1:unsigned: the approver bridge signs every decision it forwards",
				"approved:call_1", "executed:call_1")
			if tools := h.tools(); len(tools) != 1 || tools[0].ApprovedBy != "alice" {
				t.Fatalf("the tool ran %d times (%+v), want once approved by alice", len(tools), tools)
			}
		})
	}
}
