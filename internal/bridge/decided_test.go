package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/api/serviceerror"

	"github.com/hitl/durable-approvals/workflows"
)

// decision is one approval-response of the tests below: who decides what,
// naming which digest, with which edited arguments.
type decision struct {
	who, decision, digest, args string
	// at, when set, is when it was published after msg's timestamp.
	at time.Duration
}

// differentApprovals is n approvals of alice, each with other edited
// arguments of those of digest.
func differentApprovals(n int, digest string) []decision {
	out := make([]decision, n)
	for i := range out {
		out[i] = decision{who: "alice", decision: workflows.DecisionApproved, digest: digest, args: fmt.Sprintf(`{"title":"%d"}`, i)}
	}
	return out
}

// spentBudget is the probe's sequence: a rejection, eight pairs of a
// refused edit and a rejection, five more refused edits, then an approval
// and a rejection (edits of the arguments of digest).
func spentBudget(digest string) []decision {
	reject := decision{who: "alice", decision: workflows.DecisionRejected}
	edit := func(i int) decision {
		return decision{who: "alice", decision: workflows.DecisionApproved, digest: digest, args: fmt.Sprintf(`{"bogus%d":1}`, i)}
	}
	out := []decision{reject}
	for i := range 8 {
		out = append(out, edit(i), reject)
	}
	for i := 8; i < 13; i++ {
		out = append(out, edit(i))
	}
	return append(out, decision{who: "alice", decision: workflows.DecisionApproved, digest: digest}, reject)
}

// alternate is n decisions of alice, rejecting and approving in turn.
func alternate(n int) []decision {
	out := make([]decision, n)
	for i := range out {
		out[i] = decision{who: "alice", decision: []string{workflows.DecisionRejected, workflows.DecisionApproved}[i%2]}
	}
	return out
}

func (d decision) msg(i int) *ably.Message {
	return msg(func(m *ably.Message) {
		m.ClientID, m.ID = d.who, fmt.Sprintf("%s-conn:0:%d", d.who, i)
		m.Timestamp += d.at.Milliseconds()
		data := map[string]any{"decision": d.decision}
		if d.digest != "" {
			data["argumentsDigest"] = d.digest
		}
		if d.args != "" {
			data["arguments"] = d.args
		}
		m.Data = data
	})
}

// The workflow ignores an approver's repeat of a decision it counted (a
// second approval of a quorum call, a second rejection under rejectBy
// quorum, the requester's under distinctFromRequester); each signal of it
// only brings the run closer to Temporal's limit of signals per run. The
// bridge forwards each approver's decision on the same arguments once,
// and a different one (another decision, another approver, a new digest
// after an edit, other edited arguments) still goes through.
func TestRepeatDecisionsForwardedOnce(t *testing.T) {
	digest := workflows.ArgumentsDigest(`{"title":"x"}`)
	edited := workflows.ArgumentsDigest(`{"title":"edited"}`)
	approve := decision{who: "alice", decision: workflows.DecisionApproved}
	tests := []struct {
		name string
		// fast: the bridge saw the agent's request (fast path); otherwise
		// it asks Temporal (slow path).
		fast      bool
		decisions []decision
		// editAfter, when > 0, re-announces the call with edited
		// arguments (a new digest) after that many decisions.
		editAfter int
		// revertAfter, when > 0, re-announces the call with its first
		// arguments again (revision 2) after that many decisions.
		revertAfter int
		// waitAfter, when > 0, lets repeatBackoff pass after that many
		// decisions.
		waitAfter int
		want      int // signals
		wantLog   string
	}{
		{name: "the same approval again (fast path)", fast: true, decisions: []decision{approve, approve, approve}, want: 1,
			wantLog: "same decision on these arguments was already forwarded"},
		{name: "the same approval again (slow path)", decisions: []decision{approve, approve, approve}, want: 1},
		{name: "the same rejection again", fast: true,
			decisions: []decision{{who: "alice", decision: "rejected"}, {who: "alice", decision: "rejected"}}, want: 1},
		// The workflow counts each approver's latest decision (rejectBy
		// quorum, changeOneVote): going back to a rejection after an
		// approval is no repeat, although the revision the bridge knows has
		// not moved (a lagging bridge; found by the probe of 2026-12-06,
		// where the dropped rejection left the approval counted and the
		// tool ran).
		{name: "approve after reject, and reject after that, go through", fast: true,
			decisions: []decision{{who: "alice", decision: "rejected"}, approve, approve, {who: "alice", decision: "rejected"}}, want: 3,
			wantLog: "forwarding this approver's decision of the other kind"},
		// alice rejected (40 s), approved (50 s: dropped for want of room
		// in the bridge's buffer, replayed from history later) and
		// rejected again (60 s: a repeat). The replayed approval comes last
		// and is superseded: her later rejection stands (found by the
		// review of 2026-12-06).
		{name: "a decision published before a later one of the other kind is superseded", fast: true,
			decisions: []decision{{who: "alice", decision: "rejected", at: 40 * time.Second}, {who: "alice", decision: "rejected", at: 60 * time.Second},
				{who: "alice", decision: "approved", at: 50 * time.Second}}, want: 1,
			wantLog: "published before a later rejection"},
		// The other way round the older rejection goes on: the workflow
		// judges it (under rejectBy any one rejection rejects, as in order).
		{name: "an older rejection after a later approval goes on", fast: true,
			decisions: []decision{{who: "alice", decision: "approved", at: 40 * time.Second}, {who: "alice", decision: "approved", at: 60 * time.Second},
				{who: "alice", decision: "rejected", at: 50 * time.Second}}, want: 2},
		// 16 different approvals (other edited arguments) fill the
		// approver's entries; a rejection, which withdraws the approval
		// counted under rejectBy quorum, still goes through.
		{name: "a change of kind goes through past the different decisions' bound", fast: true,
			decisions: append(differentApprovals(maxDecisionsPerApprover+2, digest), decision{who: "alice", decision: "rejected"}),
			want:      maxDecisionsPerApprover + 1},
		// Found by the probe of 2026-12-06: 16 changes of kind and 15
		// different decisions (edits the workflow refuses, each followed
		// by a rejection it ignores as a repeat) spent alice's budget; then
		// her approval went through and her last rejection, which
		// withdraws it, was dropped as too many, and the tool ran. A
		// rejection after a forwarded approval always goes.
		{name: "a rejection after a forwarded approval always goes", fast: true,
			decisions: spentBudget(digest), want: len(spentBudget(digest))}, // each is new to the bridge, the last withdraws
		{name: "going back and forth without end is bounded", fast: true,
			decisions: alternate(40), want: 1 + maxDecisionsPerApprover}, // the first, then maxDecisionsPerApprover changes
		{name: "other approvers have their own", fast: true,
			decisions: []decision{approve, {who: "bob", decision: "approved"}, approve, {who: "bob", decision: "approved"}}, want: 2},
		{name: "with the digest, then without (a guide client): once each", fast: true,
			decisions: []decision{{who: "alice", decision: "approved", digest: digest}, approve, approve,
				{who: "alice", decision: "approved", digest: digest}}, want: 2},
		{name: "after an edit the arguments are new: the same approval goes through again", fast: true,
			decisions: []decision{approve, approve, approve, approve}, editAfter: 2, want: 2},
		{name: "an edit back to the first arguments is a new revision: the same approval goes through again", fast: true,
			decisions: []decision{approve, approve, approve, approve}, editAfter: 1, revertAfter: 2, want: 3},
		{name: "the same approval after its backoff goes through again (slow path)",
			decisions: []decision{approve, approve, approve}, waitAfter: 1, want: 2,
			wantLog: "forwarding this approver's same decision again"},
		{name: "a digest that is not the call's is dropped (slow path too)",
			decisions: []decision{{who: "alice", decision: "approved", digest: edited}}, want: 0, wantLog: "saw other arguments"},
		{name: "different edited arguments are different decisions", fast: true,
			decisions: []decision{{who: "alice", decision: "approved", digest: digest, args: `{"title":"a"}`},
				{who: "alice", decision: "approved", digest: digest, args: `{"title":"b"}`},
				{who: "alice", decision: "approved", digest: digest, args: `{"title":"a"}`}}, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeTemporal()
			f.addWorkflow("wf-1", publishView("publisher"), "call_abc123")
			f.workflows["wf-1"].view.Pending[0].ArgumentsDigest = digest
			log, logs := logBuffer(t)
			h := fastHandler(f, log)
			now := time.Unix(1_700_000_000, 0)
			h.Now = func() time.Time { return now }
			if tt.fast {
				h.requests = newRequests(workflows.DefaultAgentClientID, 100)
				h.requests.apply(requestFrom(workflows.DefaultAgentClientID, "call_abc123", "wf-1", now.Add(time.Hour)))
			}
			for i, d := range tt.decisions {
				if tt.editAfter > 0 && i == tt.editAfter {
					m := requestFrom(workflows.DefaultAgentClientID, "call_abc123", "wf-1", now.Add(time.Hour))
					data := m.Data.(map[string]any)
					data["revision"], data["arguments"], data["argumentsDigest"] = 1, `{"title":"edited"}`, edited
					h.requests.apply(m)
				}
				if tt.revertAfter > 0 && i == tt.revertAfter {
					m := requestFrom(workflows.DefaultAgentClientID, "call_abc123", "wf-1", now.Add(time.Hour))
					m.Data.(map[string]any)["revision"] = 2
					h.requests.apply(m)
				}
				if tt.waitAfter > 0 && i == tt.waitAfter {
					now = now.Add(repeatBackoff)
				}
				if err := h.Handle(t.Context(), d.msg(i)); err != nil {
					t.Fatalf("decision %d: %v", i, err)
				}
			}
			if got := len(f.sent()); got != tt.want {
				t.Fatalf("%d signals, want %d:\n%s", got, tt.want, logs())
			}
			if tt.wantLog != "" && !strings.Contains(logs(), tt.wantLog) {
				t.Errorf("logs lack %q:\n%s", tt.wantLog, logs())
			}
		})
	}
}

// The review's case: one approver sends an approval of a quorum call every
// half second for an hour. At the rate limit alone that was 7,300 signals
// into the run, most of Temporal's 10,000 per run, after which no approver
// could decide it; now it is six (the repeat backoff), and the second
// approver's decision still reaches the run.
func TestApproverCannotFillARunWithRepeats(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	f := newFakeTemporal()
	view := publishView("publisher")
	view.Pending[0].Approvals = 2
	f.addWorkflow("wf-1", view, "call_abc123")
	quiet, _ := logBuffer(t)
	h := fastHandler(f, quiet)
	h.Now = func() time.Time { return now }
	h.requests = newRequests(workflows.DefaultAgentClientID, 100)
	req := requestFrom(workflows.DefaultAgentClientID, "call_abc123", "wf-1", now.Add(24*time.Hour))
	req.Data.(map[string]any)["approvals"] = 2
	h.requests.apply(req)
	approve := decision{who: "alice", decision: workflows.DecisionApproved}
	for i := range 7200 {
		if err := h.Handle(t.Context(), approve.msg(i)); err != nil {
			t.Fatalf("decision %d: %v", i, err)
		}
		now = now.Add(500 * time.Millisecond)
	}
	// Forwarded at 0, 1, 3, 7, 15 and 31 minutes (repeatBackoff, doubling).
	if got := len(f.sent()); got != 6 {
		t.Fatalf("%d signals for one approver's hour of the same approval, want 6", got)
	}
	if err := h.Handle(t.Context(), decision{who: "bob", decision: workflows.DecisionApproved}.msg(0)); err != nil {
		t.Fatal(err)
	}
	if sent := f.sent(); len(sent) != 7 || sent[6].Decision.ApproverClientID != "bob" {
		t.Fatalf("signals = %+v, want alice's and bob's", sent)
	}
}

// Varying the edited arguments makes each decision new; each approver
// gets maxDecisionsPerApprover different ones per call, so that no
// approver alone can fill a run that way either.
func TestDifferentDecisionsPerApproverAndCallBounded(t *testing.T) {
	f := newFakeTemporal()
	f.addWorkflow("wf-1", publishView("publisher"), "call_abc123")
	log, logs := logBuffer(t)
	h := fastHandler(f, log)
	digest := workflows.ArgumentsDigest(`{"title":"x"}`)
	for i := range maxDecisionsPerApprover + 5 {
		d := decision{who: "alice", decision: "approved", digest: digest, args: fmt.Sprintf(`{"title":"v%d"}`, i)}
		if err := h.Handle(t.Context(), d.msg(i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(f.sent()); got != maxDecisionsPerApprover {
		t.Fatalf("%d signals, want %d", got, maxDecisionsPerApprover)
	}
	if n := strings.Count(logs(), "too many different decisions for this call"); n != 5 {
		t.Errorf("%d drops logged, want 5", n)
	}
	if err := h.Handle(t.Context(), decision{who: "bob", decision: "approved"}.msg(0)); err != nil || len(f.sent()) != maxDecisionsPerApprover+1 {
		t.Fatalf("bob's approval: %v, %d signals; want it forwarded", err, len(f.sent()))
	}
}

func TestDecidedBounded(t *testing.T) {
	d := newDecided(2, 2)
	now := time.Unix(1_700_000_000, 0)
	call := func(i int) decidedKey { return hashFields("alice", "wf-1", fmt.Sprint("call_", i)) }
	dec := func(s string) decidedKey { return hashFields(s) }
	d.add(call(0), dec("approved"), "approved", time.Time{}, now)
	d.add(call(0), dec("approved"), "approved", time.Time{}, now)
	d.add(call(0), dec("rejected"), "rejected", time.Time{}, now)
	if got := d.check(call(0), dec("rejected"), "rejected", time.Time{}, now); got != decisionRepeat {
		t.Fatalf("check(rejected) = %v, want a repeat of the latest", got)
	}
	if got := d.check(call(0), dec("approved"), "approved", time.Time{}, now); got != decisionBack {
		t.Fatalf("check(approved) after a rejection = %v, want a decision gone back to", got)
	}
	for range 2 { // perCall switches
		d.add(call(0), dec("approved"), "approved", time.Time{}, now)
		d.add(call(0), dec("rejected"), "rejected", time.Time{}, now)
	}
	if got := d.check(call(0), dec("approved"), "approved", time.Time{}, now); got != decisionRepeat {
		t.Fatalf("check(approved) after %d switches = %v, want a repeat", 2, got)
	}
	if got := d.check(call(0), dec("other"), "other", time.Time{}, now); got != decisionTooMany {
		t.Fatalf("a third decision = %v, want too many", got)
	}
	d.add(call(1), dec("approved"), "approved", time.Time{}, now)
	d.add(call(2), dec("approved"), "approved", time.Time{}, now)
	if d.len() != 2 {
		t.Fatalf("%d calls kept, want 2", d.len())
	}
	if got := d.check(call(0), dec("approved"), "approved", time.Time{}, now); got != decisionNew {
		t.Fatalf("the oldest call was not evicted: %v", got)
	}
	if got := d.check(call(2), dec("approved"), "approved", time.Time{}, now); got != decisionRepeat {
		t.Fatalf("the newest call was evicted: %v", got)
	}
	if hashFields("ab", "c") == hashFields("a", "bc") {
		t.Fatal("field boundaries do not count in the key")
	}
}

// The same decision goes through again once its backoff has passed, which
// doubles with each forward: the workflow may have ignored it for a reason
// that passes, and then only a repeat decides the call.
func TestDecidedRepeatBackoff(t *testing.T) {
	d := newDecided(10, 2)
	start := time.Unix(1_700_000_000, 0)
	call, dec := hashFields("alice", "wf-1", "call_1"), hashFields("approved")
	var forwarded []time.Duration
	for at := time.Duration(0); at <= 30*24*time.Hour; at += 30 * time.Second {
		if v := d.check(call, dec, "approved", time.Time{}, start.Add(at)); v == decisionNew || v == decisionAgain {
			d.add(call, dec, "approved", time.Time{}, start.Add(at))
			forwarded = append(forwarded, at)
		}
	}
	want := []time.Duration{0}
	for next, shift := time.Duration(0), 0; ; shift++ {
		next += repeatBackoff << min(shift, maxRepeatShift)
		if next > 30*24*time.Hour {
			break
		}
		want = append(want, next)
	}
	if !slices.Equal(forwarded, want) {
		t.Fatalf("forwarded at %v, want %v", forwarded, want)
	}
	if len(forwarded) > 17 {
		t.Fatalf("%d forwards of one decision in 30 days, want at most 17", len(forwarded))
	}
}

// Temporal refuses every signal to a run past
// history.maximumSignalsPerExecution. That run can no longer be decided:
// the bridge says so at error level, names the run and counts it.
func TestSignalLimitReported(t *testing.T) {
	f := newFakeTemporal()
	f.addWorkflow("wf-1", publishView("publisher"), "call_abc123")
	f.signalErrs = []error{serviceerror.NewInvalidArgument("exceeded workflow execution limit for signal events")}
	log, logs := logBuffer(t)
	h := fastHandler(f, log)
	reader := sdkmetric.NewManualReader()
	h.Meter = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test")
	if err := h.Handle(t.Context(), msg(nil)); err != nil {
		t.Fatalf("Handle: %v (the refusal is permanent: retrying cannot help)", err)
	}
	var line string
	for l := range strings.SplitSeq(logs(), "\n") {
		if strings.Contains(l, "limit of signals per run") {
			line = l
		}
	}
	for _, want := range []string{`"level":"ERROR"`, `"workflowId":"wf-1"`, "can no longer be approved"} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %s: %q\nall logs:\n%s", want, line, logs())
		}
	}
	if got := counted(t, reader, MetricDropped, DropReasonSignalLimit); got != 1 {
		t.Errorf("%s{reason=%q} = %d, want 1", MetricDropped, DropReasonSignalLimit, got)
	}
	if got := counted(t, reader, MetricDropped, DropReasonSignalFailed); got != 0 {
		t.Errorf("also counted as %s", DropReasonSignalFailed)
	}
}

// TestRepeatMemoryKeys pins what makes two decisions the same in the
// bridge's repeat memory (decided): the approver, the workflow, the call
// and the run it asks in; the decision, and the digest the call had; and
// when a decision is superseded, only an approval published before a
// later rejection, and only when its publish time is known.
func TestRepeatMemoryKeys(t *testing.T) {
	digest := workflows.ArgumentsDigest(`{"title":"x"}`)
	edited := workflows.ArgumentsDigest(`{"title":"edited"}`)
	approve := decision{who: "alice", decision: workflows.DecisionApproved}
	reject := decision{who: "alice", decision: workflows.DecisionRejected}
	at := func(d decision, after time.Duration) decision { d.at = after; return d }
	// request is the agent's approval-request of call_abc123 in wfID;
	// mutate adjusts its data.
	request := func(wfID string, mutate func(d map[string]any)) *ably.Message {
		m := requestFrom(workflows.DefaultAgentClientID, "call_abc123", wfID, time.Unix(1_700_000_000, 0).Add(time.Hour))
		if mutate != nil {
			mutate(m.Data.(map[string]any))
		}
		return m
	}
	type step struct {
		agent    *ably.Message                    // the agent's message the bridge sees first, if any
		view     func(v *workflows.ApprovalsView) // changes the run's view in Temporal first, if set
		wait     time.Duration                    // the clock moves on this much first
		d        decision
		workflow string // the response's workflowId header ("" for none)
		noTime   bool   // the response carries no publish time
	}
	tests := []struct {
		name  string
		runs  []string // runs waiting on call_abc123, each announced by the agent
		slow  bool     // the agent's requests did not reach the bridge: it asks Temporal
		steps []step
		want  int // signals
	}{
		{name: "a rejection forwarded in between does not lengthen the approval's backoff", runs: []string{"wf-1"},
			steps: []step{{d: reject}, {d: approve}, {d: approve, wait: repeatBackoff}}, want: 3},
		// The first decision forwarded for the call sets its newest
		// publish time too.
		{name: "an approval published before the first, forwarded, rejection is superseded", runs: []string{"wf-1"},
			steps: []step{{d: at(reject, time.Minute)}, {d: at(approve, 30*time.Second)}}, want: 1},
		{name: "an approval without a publish time is never superseded", runs: []string{"wf-1"},
			steps: []step{{d: at(reject, time.Minute)}, {d: approve, noTime: true}}, want: 2},
		{name: "an approval published before a later approval is not superseded", runs: []string{"wf-1"},
			steps: []step{{d: at(decision{who: "alice", decision: workflows.DecisionApproved, digest: digest}, time.Minute)},
				{d: at(decision{who: "alice", decision: workflows.DecisionApproved, digest: digest, args: `{"title":"y"}`}, 30*time.Second)}}, want: 2},
		{name: "a rejection published before a later rejection is not superseded", runs: []string{"wf-1"},
			steps: []step{{d: at(reject, time.Minute)}, {d: at(decision{who: "alice", decision: workflows.DecisionRejected, digest: digest}, 30*time.Second)}}, want: 2},
		// A run whose requests carry no revision (an older workflow
		// version) shows an edit by its digest alone.
		{name: "an edit that leaves the revision: the same approval goes through again", runs: []string{"wf-1"},
			steps: []step{{d: approve}, {agent: request("wf-1", func(d map[string]any) {
				d["arguments"], d["argumentsDigest"] = `{"title":"edited"}`, edited
			}), d: approve}}, want: 2},
		// The repeat memory is per run: a run made by a reset asks anew.
		{name: "asked again by a reset run: the same approval goes through again", runs: []string{"wf-1"},
			steps: []step{{d: approve}, {agent: request("wf-1", func(d map[string]any) { d["runId"] = "run-b" }), d: approve}}, want: 2},
		// Without the agent's requests the bridge takes the call's revision
		// and run from the run's approvals query.
		{name: "a new revision in the run's view: the same approval goes through again (slow path)", runs: []string{"wf-1"}, slow: true,
			steps: []step{{d: approve}, {view: func(v *workflows.ApprovalsView) { v.Pending[0].Revision = 1 }, d: approve}}, want: 2},
		{name: "a reset run in the run's view: the same approval goes through again (slow path)", runs: []string{"wf-1"}, slow: true,
			steps: []step{{d: approve}, {view: func(v *workflows.ApprovalsView) { v.RunID = "run-b" }, d: approve}}, want: 2},
		{name: "the same call id in two runs: each run gets the approval", runs: []string{"wf-1", "wf-2"},
			steps: []step{{d: approve, workflow: "wf-1"}, {d: approve, workflow: "wf-2"}}, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeTemporal()
			log, logs := logBuffer(t)
			h := fastHandler(f, log)
			now := time.Unix(1_700_000_000, 0)
			h.Now = func() time.Time { return now }
			h.requests = newRequests(workflows.DefaultAgentClientID, 100)
			for _, wf := range tt.runs {
				f.addWorkflow(wf, publishView("publisher"), "call_abc123")
				f.workflows[wf].view.Pending[0].ArgumentsDigest = digest
				if !tt.slow {
					h.requests.apply(request(wf, nil))
				}
			}
			for i, s := range tt.steps {
				if s.agent != nil {
					h.requests.apply(s.agent)
				}
				if s.view != nil {
					f.mu.Lock()
					wf := f.workflows["wf-1"]
					s.view(&wf.view)
					f.workflows["wf-1"] = wf
					f.mu.Unlock()
				}
				now = now.Add(s.wait)
				m := s.d.msg(i)
				if s.noTime {
					m.Timestamp = 0
				}
				if s.workflow != "" {
					m.Extras["headers"] = map[string]any{"toolCallId": "call_abc123", "workflowId": s.workflow}
				}
				if err := h.Handle(t.Context(), m); err != nil {
					t.Fatalf("decision %d: %v", i, err)
				}
			}
			if got := len(f.sent()); got != tt.want {
				t.Fatalf("%d signals, want %d:\n%s", got, tt.want, logs())
			}
		})
	}
}

// TestBackoffCapped: the wait before the same decision goes through again
// starts at repeatBackoff, doubles with each forward, and stops growing
// at repeatBackoff << 14 (about 11 days).
func TestBackoffCapped(t *testing.T) {
	for _, tt := range []struct {
		sent int
		want time.Duration
	}{
		{0, time.Minute}, {1, time.Minute}, {2, 2 * time.Minute}, {3, 4 * time.Minute},
		{15, 16384 * time.Minute}, {16, 16384 * time.Minute}, {1000, 16384 * time.Minute},
	} {
		if got := backoff(tt.sent); got != tt.want {
			t.Errorf("backoff(%d) = %v, want %v", tt.sent, got, tt.want)
		}
	}
}

// TestDecidedKeepsTwentyThousandCalls: the handler remembers the
// decisions of the newest 20,000 (approver, workflow, call) entries, as
// ARCHITECTURE.md says; the oldest is forgotten first.
func TestDecidedKeepsTwentyThousandCalls(t *testing.T) {
	h := fastHandler(newFakeTemporal(), nil)
	now := time.Unix(1_700_000_000, 0)
	dec := hashFields(workflows.DecisionApproved)
	call := func(i int) decidedKey { return hashFields("alice", "wf-1", fmt.Sprint("call_", i), "") }
	for i := range 20_001 {
		h.decided().add(call(i), dec, workflows.DecisionApproved, time.Time{}, now)
	}
	if n := h.decided().len(); n != 20_000 {
		t.Fatalf("%d calls kept, want 20000", n)
	}
	if got := h.decided().check(call(0), dec, workflows.DecisionApproved, time.Time{}, now); got != decisionNew {
		t.Errorf("the oldest call is still remembered: %v", got)
	}
	if got := h.decided().check(call(1), dec, workflows.DecisionApproved, time.Time{}, now); got != decisionRepeat {
		t.Errorf("the second oldest call was forgotten: %v", got)
	}
}

// TestSignalRefusals: how the bridge takes each refusal of a signal. A
// refusal that can never pass (the run refuses all signals, a bad
// argument, a workflow or namespace Temporal does not know, a permission
// the bridge lacks) drops the response under its reason; a call that ran
// out of time is retried at once.
func TestSignalRefusals(t *testing.T) {
	tests := []struct {
		name        string
		errs        []error // of the successive signal calls
		wantErr     error
		wantSignals int
		wantReason  string // MetricDropped reason, "" for none
	}{
		{name: "the run's limit of signals", errs: []error{serviceerror.NewInvalidArgument("exceeded workflow execution limit for signal events")},
			wantReason: DropReasonSignalLimit},
		{name: "another invalid argument", errs: []error{serviceerror.NewInvalidArgument("bad signal input")}, wantReason: DropReasonSignalFailed},
		{name: "no such namespace", errs: []error{serviceerror.NewNamespaceNotFound("hitl")}, wantReason: DropReasonSignalFailed},
		{name: "permission denied", errs: []error{serviceerror.NewPermissionDenied("no signal right", "")}, wantReason: DropReasonSignalFailed},
		{name: "a call out of time is retried", errs: []error{context.DeadlineExceeded}, wantSignals: 1},
		{name: "an unexpected error is temporary", errs: []error{errors.New("boom")}, wantErr: ErrTemporary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeTemporal()
			f.addWorkflow("wf-1", publishView("publisher"), "call_abc123")
			f.signalErrs = tt.errs
			log, logs := logBuffer(t)
			h := fastHandler(f, log)
			reader := meterOn(h)
			if err := h.Handle(t.Context(), msg(nil)); !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Handle = %v, want %v", err, tt.wantErr)
			}
			if got := len(f.sent()); got != tt.wantSignals {
				t.Fatalf("%d signals, want %d:\n%s", got, tt.wantSignals, logs())
			}
			for _, reason := range []string{DropReasonSignalLimit, DropReasonSignalFailed} {
				want := int64(0)
				if reason == tt.wantReason {
					want = 1
				}
				wantCounted(t, reader, MetricDropped, reason, want)
			}
		})
	}
}
