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

// newScreen is a watcher over a session without Ably, on a clock at t0,
// for the approver clientID with role; out holds what it printed.
func newScreen(clientID, role string) (*clock, *session, *watcher, *bytes.Buffer) {
	c := &clock{now: t0}
	s := &session{cfg: Config{Now: c.Now}, clientID: clientID, pending: NewPending("hitl-agent", c.Now)}
	s.setRole(role)
	out := &bytes.Buffer{}
	return c, s, newWatcher(s, out), out
}

// The screen logic without Ably: requests resolved or expired while a
// prompt is open are reported on their own line and the screen moves on.
func TestWatcherNotices(t *testing.T) {
	c, s, w, out := newScreen("", "")

	w.onEvent(s.apply(requestMsg(t, "hitl-agent", reqData("call_a", "wf-1", t0.Add(time.Hour)))))
	w.onEvent(s.apply(requestMsg(t, "hitl-agent", reqData("call_b", "wf-2", t0.Add(time.Minute)))))
	if w.current == nil || w.current.ToolCallID != "call_a" {
		t.Fatalf("current = %+v, want call_a", w.current)
	}
	w.onLine(t.Context(), inputLine{text: "n", at: time.Now()}) // now asking for a reason
	out.Reset()

	// call_b expires while call_a's reason is asked: notice, then which
	// request is still asked about, and the reason prompt again (the
	// probe of 2026-12-06 read a bare prompt under a notice about another
	// call as being about that call).
	typedBefore := time.Now()
	c.now = t0.Add(time.Minute)
	w.expire()
	if got, want := out.String(), "\nExpired: publish_blog_post (call_b)\nStill asking about: publish_blog_post (call_a)\n"+PromptReason; got != want {
		t.Fatalf("output %q, want %q", got, want)
	}
	out.Reset()
	// A line typed before that was typed under the notice: ignored.
	w.onLine(t.Context(), inputLine{text: "changed my mind", at: typedBefore})
	if got := out.String(); !strings.Contains(got, IgnoredEarlyInput) || strings.Contains(got, "Decision sent") {
		t.Fatalf("a line typed before the prompt was repeated: output %q", got)
	}
	out.Reset()

	// call_a is resolved by someone else: notice, and the screen goes idle.
	w.onEvent(s.apply(resolvedMsg("hitl-agent", workflows.ApprovalResolvedData{ToolCallID: "call_a", WorkflowID: "wf-1", Tool: "publish_blog_post", Outcome: "approved", DecidedBy: "ada"})))
	if got, want := out.String(), "\nResolved: publish_blog_post (call_a) approved by ada\n"; got != want {
		t.Fatalf("output %q, want %q", got, want)
	}
	if w.current != nil {
		t.Fatalf("still asking about %s", w.current.ToolCallID)
	}
	// Lines typed while nothing is asked are discarded.
	w.onLine(t.Context(), inputLine{text: "y", at: time.Now()})
	if strings.Contains(out.String(), "Decision sent") {
		t.Fatal("a line typed while idle was taken as a decision")
	}
}

// The screen warns, under the request, when the approver's role is below
// the required one.
func TestWatcherRoleWarning(t *testing.T) {
	tests := []struct{ role, want string }{
		{"editor", "Not for you: publish_blog_post (call_a): your role editor is below the required publisher\n"},
		{"publisher", "=\n" + PromptDecision},
		{"admin", "=\n" + PromptDecision},
		{"", "warning: cannot confirm that your role (none) reaches the required publisher"},
	}
	for _, tt := range tests {
		_, s, w, out := newScreen("", tt.role)
		w.onEvent(s.apply(requestMsg(t, "hitl-agent", reqData("call_a", "wf-1", t0.Add(time.Hour)))))
		if !strings.Contains(out.String(), tt.want) {
			t.Errorf("role %q: output lacks %q:\n%s", tt.role, tt.want, out.String())
		}
	}
}

// revisionMsg is revision n of the agent's request for call_a of wf-1, a
// call that needs 2 approvals, changed by mutate (nil: as first published).
func revisionMsg(t *testing.T, n int, mutate func(d *workflows.ApprovalRequestData)) *ably.Message {
	t.Helper()
	d := reqData("call_a", "wf-1", t0.Add(time.Hour))
	d.Approvals, d.Revision = 2, n
	d.ArgumentsDigest = workflows.ArgumentsDigest(d.Arguments)
	if mutate != nil {
		mutate(&d)
	}
	m := requestMsg(t, "hitl-agent", d)
	m.ID += fmt.Sprint("-", n)
	return m
}

// The screen follows revisions of a request: an update of the request shown
// re-shows it; a request this approver already approved, or may no longer
// decide, is not asked about, until an edit restarts the count.
func TestWatcherRevisions(t *testing.T) {
	_, s, w, out := newScreen("alice", "publisher")
	w.onEvent(s.apply(revisionMsg(t, 0, nil)))
	if w.current == nil || !strings.Contains(out.String(), "Approvals:     0 of 2 approvals") {
		t.Fatalf("first revision not shown:\n%s", out.String())
	}
	out.Reset()
	w.onEvent(s.apply(revisionMsg(t, 1, func(d *workflows.ApprovalRequestData) {
		d.ApprovedBy = []workflows.Approver{{ClientID: "pat", Role: "publisher"}}
	})))
	if got := out.String(); !strings.Contains(got, "Updated: publish_blog_post (call_a) changed while shown:") ||
		!strings.Contains(got, "1 of 2 approvals, by pat (publisher)") {
		t.Fatalf("update of the request shown:\n%s", got)
	}
	out.Reset()
	// Approved by alice elsewhere (another terminal): not asked again, and
	// told how to take it back (the probe of 2026-12-06 read "Not for you"
	// as nothing left to do, though a rejection still counts).
	w.onEvent(s.apply(revisionMsg(t, 2, func(d *workflows.ApprovalRequestData) {
		d.ApprovedBy = []workflows.Approver{{ClientID: "pat", Role: "publisher"}, {ClientID: "alice", Role: "publisher"}}
	})))
	if got := out.String(); !strings.Contains(got, "Approved by you: publish_blog_post (call_a): 2 of 2 approvals\n") || w.current != nil {
		t.Fatalf("request already approved by this approver:\n%s", got)
	}
	out.Reset()
	// An edit restarts the count: asked again.
	w.onEvent(s.apply(revisionMsg(t, 3, func(d *workflows.ApprovalRequestData) {
		d.Arguments = `{"title":"Hello, edited"}`
		d.ArgumentsDigest = workflows.ArgumentsDigest(d.Arguments)
		d.EditedBy = &workflows.Approver{ClientID: "pat", Role: "publisher"}
		d.ApprovedBy = []workflows.Approver{{ClientID: "pat", Role: "publisher"}}
	})))
	if got := out.String(); w.current == nil || !strings.Contains(got, "Edited by:     pat (publisher)") || !strings.Contains(got, `"title": "Hello, edited"`) {
		t.Fatalf("edited request not asked again:\n%s", got)
	}
}

// A line typed while a request was on the screen does not answer it once it
// was shown again (an edit, an escalation): the approver has not read the
// new revision. The screen says so once and asks again.
func TestWatcherIgnoresLinesTypedBeforeReshow(t *testing.T) {
	tests := []struct {
		name   string
		role   string
		mutate func(d *workflows.ApprovalRequestData)
	}{
		{"edited", "publisher", func(d *workflows.ApprovalRequestData) {
			d.Arguments = `{"title":"Hello, edited"}`
			d.ArgumentsDigest = workflows.ArgumentsDigest(d.Arguments)
			d.EditedBy = &workflows.Approver{ClientID: "pat", Role: "publisher"}
		}},
		{"escalated", "admin", func(d *workflows.ApprovalRequestData) {
			d.RequiredRole = "admin"
			d.Escalation = &workflows.EscalationState{Level: 1, PreviousRole: "publisher", Since: t0}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, s, w, out := newScreen("alice", tt.role)
			rev := func(n int, mutate func(d *workflows.ApprovalRequestData)) *ably.Message {
				return revisionMsg(t, n, func(d *workflows.ApprovalRequestData) {
					d.Editable = true
					if mutate != nil {
						mutate(d)
					}
				})
			}
			w.onEvent(s.apply(rev(0, nil)))
			if w.current == nil {
				t.Fatalf("first revision not shown:\n%s", out.String())
			}
			w.onEvent(s.apply(rev(1, tt.mutate)))
			if w.current == nil || w.current.Revision != 1 {
				t.Fatalf("revision 1 not shown again:\n%s", out.String())
			}
			out.Reset()

			// Two lines whose newline arrived just before the re-show: one
			// notice, the prompt again, and no decision.
			early := inputLine{text: "n", at: w.shownAt.Add(-time.Nanosecond)}
			w.onLine(t.Context(), early)
			w.onLine(t.Context(), early)
			if got, want := out.String(), "\n"+IgnoredEarlyInput+"\n"+PromptDecision; got != want {
				t.Fatalf("output %q, want %q", got, want)
			}
			if w.stage != stageDecision {
				t.Fatal("a line typed before the re-show was taken as an answer")
			}
			out.Reset()

			// A line typed once it is shown answers it.
			w.onLine(t.Context(), inputLine{text: "n", at: w.shownAt})
			if got := out.String(); got != PromptReason || w.stage != stageReason {
				t.Fatalf("output %q, stage %d: want the reason asked", got, w.stage)
			}
		})
	}
}

// A request listed as Not for you because the approver's role was below
// it is asked about once a renewed token carries a role that reaches it.
func TestWatcherAsksAgainAfterPromotion(t *testing.T) {
	_, s, w, out := newScreen("erin", "editor")
	w.onEvent(s.apply(requestMsg(t, "hitl-agent", reqData("call_a", "wf-1", t0.Add(time.Hour)))))
	if w.current != nil || !strings.Contains(out.String(), "Not for you: publish_blog_post (call_a): your role editor is below the required publisher") {
		t.Fatalf("an editor was asked about a publisher's call:\n%s", out.String())
	}
	w.roleChanged() // same role: nothing
	if w.current != nil {
		t.Fatal("shown again without a new role")
	}
	s.setRole("publisher")
	w.roleChanged()
	if w.current == nil || w.current.ToolCallID != "call_a" || !strings.HasSuffix(out.String(), PromptDecision) {
		t.Fatalf("not asked after the promotion:\n%s", out.String())
	}
}

// A request shown to a publisher whose role goes down before the answer
// (a renewed token says editor) is not sent: the agent would not count it.
func TestWatcherRefusesAfterDemotion(t *testing.T) {
	for _, answer := range []string{"y", "n"} {
		t.Run(answer, func(t *testing.T) {
			_, s, w, out := newScreen("erin", "publisher")
			w.onEvent(s.apply(requestMsg(t, "hitl-agent", reqData("call_a", "wf-1", t0.Add(time.Hour)))))
			if w.current == nil {
				t.Fatalf("a publisher was not asked:\n%s", out.String())
			}
			s.setRole("editor") // the token renewed with a lower role; no re-show yet
			w.onLine(t.Context(), inputLine{text: answer, at: time.Now()})
			if answer == "n" {
				w.onLine(t.Context(), inputLine{text: "not mine", at: time.Now()})
			}
			if !strings.Contains(out.String(), "Not sent: your role editor is below the required publisher") {
				t.Fatalf("a demoted approver's decision was not refused:\n%s", out.String())
			}
		})
	}
}

// A request whose answer was not sent because the approver's role had
// gone down is asked about again once a renewed token brings a role that
// reaches it, as one listed as Not for you is.
func TestWatcherAsksAgainAfterDemotionAndPromotion(t *testing.T) {
	_, s, w, out := newScreen("erin", "publisher")
	w.onEvent(s.apply(requestMsg(t, "hitl-agent", reqData("call_a", "wf-1", t0.Add(time.Hour)))))
	if w.current == nil {
		t.Fatalf("a publisher was not asked:\n%s", out.String())
	}
	s.setRole("editor")
	w.roleChanged() // the tick sees the renewed token while the request is shown
	w.onLine(t.Context(), inputLine{text: "y", at: time.Now()})
	if !strings.Contains(out.String(), "Not sent: your role editor is below the required publisher") {
		t.Fatalf("a demoted approver's decision was not refused:\n%s", out.String())
	}
	out.Reset()
	s.setRole("publisher")
	w.roleChanged()
	if w.current == nil || w.current.ToolCallID != "call_a" || !strings.HasSuffix(out.String(), PromptDecision) {
		t.Fatalf("not asked again after the role came back:\n%s", out.String())
	}
}
