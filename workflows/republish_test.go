package workflows

import (
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

func TestRepublish(t *testing.T) {
	tests := []struct {
		name string
		// down: publishes (each several attempts) that fail retryably
		// before Ably is back.
		down int
		// decideAt, when set, approves the call at that time after start.
		decideAt   time.Duration
		wantOutput string   // prefix
		wantTries  int      // publishes in all
		wantAudit  []string // nil: one denial
		// wantRequested is the reason of the requested entry.
		wantRequested string
	}{
		{
			name: "Ably back before the first retry: published again, then approved",
			down: 1, decideAt: time.Minute,
			wantOutput: "ok:publish_blog_post:call_1", wantTries: 2,
			wantAudit: []string{"requested:call_1", "approved:call_1", "executed:call_1"}, wantRequested: "published at try 1 after the first failed",
		},
		{
			name: "Ably back after three retries",
			down: 4, decideAt: 10 * time.Minute,
			wantOutput: "ok:publish_blog_post:call_1", wantTries: 5,
			wantAudit: []string{"requested:call_1", "approved:call_1", "executed:call_1"}, wantRequested: "published at try 4 after the first failed",
		},
		{
			name: "a decision arrives while the request waits to be published again: it stands, the retries stop",
			down: 1000, decideAt: 5 * time.Second,
			wantOutput: "ok:publish_blog_post:call_1", wantTries: 1,
			wantAudit: []string{"approved:call_1", "executed:call_1"},
		},
		{
			name:       "Ably never back: denied once the tries run out",
			down:       1000,
			wantOutput: "denied: approval request could not be published: ",
			wantTries:  1 + maxRepublishes,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.env.SetTestTimeout(2 * time.Minute)
			h.model = script(calls(publishCall("call_1")), answer("done"))
			h.publishDown = tt.down
			if tt.decideAt > 0 {
				h.decide(tt.decideAt, approve("call_1", "pat", "publisher", "m1"))
			}
			policy := testPolicy(t)
			tp := policy.Tools["publish_blog_post"]
			tp.Timeout = Duration(24 * time.Hour) // longer than every try
			policy.Tools["publish_blog_post"] = tp
			res := h.run(AgentInput{Policy: policy})

			out, _ := h.outputOf(2, "call_1")
			if !strings.HasPrefix(out, tt.wantOutput) {
				t.Errorf("output %q, want %q…", out, tt.wantOutput)
			}
			h.mu.Lock()
			tries := h.publishes
			h.mu.Unlock()
			if tries != tt.wantTries {
				t.Errorf("%d publishes, want %d", tries, tt.wantTries)
			}
			if tt.wantAudit == nil {
				if e, ok := findAudit(res.Audit, AuditDenied, "call_1"); !ok || len(res.Audit) != 1 {
					t.Errorf("audit %v, want one denial", kinds(res.Audit))
				} else if took := e.Time.Sub(testStart); took > time.Hour {
					// The delays double up to republishMaxDelay: the tries
					// take about 40 minutes, not the 11 hours of doubling.
					t.Errorf("denied %s after the start, want within an hour", took)
				}
			} else {
				wantKinds(t, res.Audit, tt.wantAudit...)
			}
			if e, _ := findAudit(res.Audit, AuditRequested, "call_1"); e.Reason != tt.wantRequested {
				t.Errorf("requested entry %+v, want the reason %q", e, tt.wantRequested)
			}
		})
	}
}

// TestRepublishStopsBeforeExpiry: a call that would expire before the next
// try is denied as unpublished at once rather than left to expire.
func TestRepublishStopsBeforeExpiry(t *testing.T) {
	h := newHarness(t)
	h.model = script(calls(publishCall("call_1")), answer("done"))
	h.publishDown = 1000
	policy := testPolicy(t)
	tp := policy.Tools["publish_blog_post"]
	tp.Timeout = Duration(time.Minute)
	policy.Tools["publish_blog_post"] = tp
	res := h.run(AgentInput{Policy: policy})
	// The test environment's clock skips the activity's retry delays, so
	// its last error may be its own deadline rather than Ably's.
	const denied = "denied: approval request could not be published: "
	if out, _ := h.outputOf(2, "call_1"); !strings.HasPrefix(out, denied) {
		t.Errorf("output %q, want %q…", out, denied)
	}
	if e, ok := findAudit(res.Audit, AuditDenied, "call_1"); !ok || len(res.Audit) != 1 {
		t.Errorf("audit %+v, want one denial (found %v)", res.Audit, ok)
	} else if e.Time.Sub(testStart) >= time.Minute {
		t.Errorf("denied %s after start, want before the call's one-minute expiry", e.Time.Sub(testStart))
	}
	if len(h.tools()) != 0 {
		t.Error("the tool ran")
	}
}

// TestRepublishSendsTheCallAsItStands: a call that escalates while Ably is
// out of reach is published, once Ably is back, as it stands then (the
// escalated revision, needing admin), not as it was first asked.
func TestRepublishSendsTheCallAsItStands(t *testing.T) {
	h := newHarness(t)
	h.model = script(calls(publishCall("call_1")), answer("done"))
	h.publishDown = 2
	h.decide(5*time.Minute, approve("call_1", "ada", "admin", "m1"))
	policy := testPolicy(t)
	tp := policy.Tools["publish_blog_post"]
	tp.Timeout = Duration(time.Hour)
	// The first publish fails by about 15 s; the call escalates at 20 s,
	// before any later try.
	tp.Escalate = []EscalationStage{{After: Duration(20 * time.Second), MinRole: "admin"}}
	policy.Tools["publish_blog_post"] = tp
	h.run(AgentInput{Policy: policy})

	reqs, resolved := h.published()
	if len(reqs) == 0 {
		t.Fatal("no approval-request was published")
	}
	for _, r := range reqs {
		if d := r.Data; d.RequiredRole != "admin" || d.Escalation == nil || d.Revision < 1 {
			t.Errorf("a request that reached Ably: role %q, escalation %+v, revision %d; want only the escalated call (admin)", d.RequiredRole, d.Escalation, d.Revision)
		}
	}
	if len(h.tools()) != 1 || len(resolved) == 0 || resolved[len(resolved)-1].Data.Outcome != OutcomeApproved {
		t.Errorf("tools %d, resolutions %+v: want the admin's approval to run the tool once", len(h.tools()), resolved)
	}
}

// TestRepublishGiveUpTellsScreens: when the tries run out, approval-resolved
// says why, as the deny-at-once path does.
func TestRepublishGiveUpTellsScreens(t *testing.T) {
	h := newHarness(t)
	h.env.SetTestTimeout(2 * time.Minute)
	h.model = script(calls(publishCall("call_1")), answer("done"))
	h.publishDown = 1000
	policy := testPolicy(t)
	tp := policy.Tools["publish_blog_post"]
	tp.Timeout = Duration(24 * time.Hour)
	policy.Tools["publish_blog_post"] = tp
	h.run(AgentInput{Policy: policy})
	_, resolved := h.published()
	if len(resolved) != 1 || resolved[0].Data.Outcome != OutcomeCancelled || resolved[0].Data.Reason != "approval request could not be published" {
		t.Errorf("approval-resolved = %+v, want one, cancelled, saying the request could not be published", resolved)
	}
}

// TestRepublishStops pins when the tries stop before they run out: once a
// revision of the request got out (a counted approval made one), and at a
// refusal that will not pass (Ably's 4xx), which denies the call at once as
// a first refusal does.
func TestRepublishStops(t *testing.T) {
	tests := []struct {
		name string
		rule string
		// refuseAt, when set, makes Ably refuse every publish from then on.
		refuseAt   time.Duration
		decisions  []at
		wantTries  int
		wantOutput string // prefix
		wantAudit  []string
	}{
		{
			// alice's approval counts while the first publish fails; the
			// run publishes the call as it stands (revision 1), which gets
			// out, so the retry 10 s later has nothing to do.
			name: "a revision got out",
			rule: `{"minRole":"publisher","timeout":"1h","approvals":2}`,
			decisions: []at{
				{5 * time.Second, approve("call_1", "alice", "publisher", "m1")},
				{time.Minute, approve("call_1", "carol", "admin", "m2")},
			},
			wantTries:  2,
			wantOutput: "ok:publish_blog_post:call_1",
			// The revision is the first request approvers see: it is
			// audited (and counted in the metrics) as requested.
			wantAudit: []string{"counted:call_1", "requested:call_1", "approved:call_1", "executed:call_1"},
		},
		{
			name:       "Ably refuses",
			rule:       `{"minRole":"publisher","timeout":"1h"}`,
			refuseAt:   20 * time.Second,
			wantTries:  2,
			wantOutput: "denied: approval request could not be published: refused",
			wantAudit:  []string{"denied:call_1:approval request could not be published: refused"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.policy = rulesPolicy(t, tt.rule)
			h.model = script(calls(publishCall("call_1")), answer("done"))
			h.publishDown = 1
			if tt.refuseAt > 0 {
				h.env.RegisterDelayedCallback(func() {
					h.mu.Lock()
					defer h.mu.Unlock()
					h.publishErr = temporal.NewNonRetryableApplicationError("refused", "Ably", nil)
				}, tt.refuseAt)
			}
			for _, x := range tt.decisions {
				h.decide(x.after, x.d)
			}
			res := h.run(AgentInput{})

			wantKinds(t, res.Audit, tt.wantAudit...)
			if out, _ := h.outputOf(2, "call_1"); !strings.HasPrefix(out, tt.wantOutput) {
				t.Errorf("output %q, want %q…", out, tt.wantOutput)
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.publishes != tt.wantTries {
				t.Errorf("%d publishes, want %d", h.publishes, tt.wantTries)
			}
		})
	}
}

// TestRepublishAfterARevisionGotOut: in a run whose publishes are
// activities (WorkflowNameV1 before the fast path), a retry of the first
// request is still trying when a counted approval's revision gets out
// (and is audited as requested); the retry then gets out too. The call
// was requested once: one requested entry, one count, where the retry
// recorded and counted a second.
func TestRepublishAfterARevisionGotOut(t *testing.T) {
	h := newHarness(t)
	h.env.RegisterWorkflowWithOptions(AgentWorkflow, workflow.RegisterOptions{Name: WorkflowNameV1})
	h.env.OnGetVersion(changeWorkerPolicy, workflow.DefaultVersion, versionFastPath).Return(versionWorkerPolicy).Maybe()
	h.policy = rulesPolicy(t, `{"minRole":"publisher","timeout":"1h","approvals":2}`)
	h.model = script(calls(publishCall("call_1")), answer("done"))
	// The first publish fails; the retry's (the second) fails until the
	// revision, the third, got out.
	h.publishDown = 2
	h.decide(32*time.Second, approve("call_1", "alice", "publisher", "m1"))
	h.decide(5*time.Minute, approve("call_1", "carol", "admin", "m2"))
	h.env.ExecuteWorkflow(WorkflowNameV1, AgentInput{Prompt: "Publish the blog post called 'Introducing our new API'"})
	var res AgentResult
	if err := h.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	publishes := h.publishes
	h.mu.Unlock()
	if publishes != 3 {
		t.Fatalf("%d publishes, want 3 (the first, its retry, the revision): the test no longer makes the retry outlast the revision", publishes)
	}
	wantKinds(t, res.Audit, "counted:call_1", "requested:call_1", "approved:call_1", "executed:call_1")
	checkApprovalMetrics(t, h.metrics, res.Audit)
}
