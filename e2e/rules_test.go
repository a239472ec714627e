package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/internal/authserver/web/browsertest"
	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// rulesPolicy gates publishing by two distinct publishers other than the
// requester, who may edit the arguments; a deletion escalates to an admin
// when no publisher decided within three seconds.
const rulesPolicy = `{
  "roles": ["editor", "publisher", "admin"],
  "tools": {
    "publish_blog_post": {"minRole": "publisher", "timeout": "5m", "approvals": 2, "distinctFromRequester": true, "editable": true},
    "search_posts": {"minRole": "none"},
    "delete_post": {"minRole": "publisher", "timeout": "5m", "escalate": [{"after": "3s", "minRole": "admin"}]}
  }
}`

// TestApprovalRules drives the policy rules beyond one approver over the
// real processes: the Temporal dev server, the local Ably server, the
// worker, the bridge, the approver CLI and guide-shaped clients.
func TestApprovalRules(t *testing.T) {
	s := newStack(t, rulesPolicy)
	step := s.stepper(t)

	step("two of M publishers, the requester's own approval ignored", func(t *testing.T) {
		id := s.startRunAs(users["publisher"].name, "Publish the blog post called 'Quorum rules'")
		p := s.waitPending(id, 1)[0]
		if p.Approvals != 2 {
			t.Fatalf("pending = %+v, want 2 approvals needed", p)
		}
		// The CLI refuses the requester's approval outright ...
		out, err := s.cli("publisher", "approve", p.ToolCallID)
		if err == nil || !strings.Contains(out, "you requested this run") {
			t.Fatalf("the requester's CLI approval: err %v, output:\n%s", err, out)
		}
		// ... and a guide client's is ignored by the workflow.
		s.guideResponse("publisher", p.ToolCallID, workflows.DecisionApproved, nil)
		s.waitAudit(id, "the requester's ignored approval", func(e workflows.AuditEntry) bool {
			return e.Kind == workflows.AuditIgnored && e.Actor == users["publisher"].name && strings.HasPrefix(e.Reason, "you requested this run")
		})
		// One other publisher: 1 of 2, nothing runs.
		if out, err := s.cli("publisher2", "approve", p.ToolCallID); err != nil {
			t.Fatalf("first approval: %v\n%s", err, out)
		}
		s.waitAudit(id, "the first approval counted", func(e workflows.AuditEntry) bool {
			return e.Kind == workflows.AuditCounted && e.Actor == users["publisher2"].name && strings.HasPrefix(e.Reason, "1 of 2 approvals")
		})
		// The same publisher again: refused by the CLI, ignored by the
		// workflow when sent by a guide client.
		if out, err := s.cli("publisher2", "approve", p.ToolCallID); err == nil || !strings.Contains(out, "you already approved") {
			t.Fatalf("second approval by the same publisher: err %v, output:\n%s", err, out)
		}
		s.guideResponse("publisher2", p.ToolCallID, workflows.DecisionApproved, nil)
		s.waitAudit(id, "the duplicate approval ignored", func(e workflows.AuditEntry) bool {
			return e.Kind == workflows.AuditIgnored && e.Actor == users["publisher2"].name && e.Reason == "you already approved"
		})
		if n := len(postsWith(t, s, "Quorum rules")); n != 0 {
			t.Fatalf("published after one approval (%d posts)", n)
		}
		listed, err := s.cli("publisher3", "list")
		if err != nil || !strings.Contains(listed, "1 of 2 approvals, by "+users["publisher2"].name+" (publisher)") {
			t.Fatalf("approver list does not show the quorum progress: %v\n%s", err, listed)
		}
		// A second, different publisher, with the guide's client (a plain
		// {decision} and only headers.toolCallId): the call runs.
		s.guideResponse("publisher3", p.ToolCallID, workflows.DecisionApproved, nil)
		res := s.result(id)
		assertRanOnce(t, s, res, p.ToolCallID, "Quorum rules")
		e := findEntry(t, res.Audit, workflows.AuditApproved, p.ToolCallID)
		want := "2 of 2 approvals: " + users["publisher2"].name + " (publisher), " + users["publisher3"].name + " (publisher)"
		if e.Reason != want {
			t.Fatalf("approved entry = %+v, want reason %q", e, want)
		}
	})

	step("an edited title is what gets published", func(t *testing.T) {
		id := s.startRun("Publish the blog post called 'Draft title'")
		p := s.waitPending(id, 1)[0]
		// The editor is a real program run by approve --edit.
		script := filepath.Join(t.TempDir(), "edit.sh")
		if err := os.WriteFile(script, []byte("#!/bin/sh\nsed -i 's/Draft title/Final title/' \"$1\"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := s.cliEnv("publisher2", []string{"EDITOR=" + script, "VISUAL="}, "approve", p.ToolCallID, "--edit")
		if err != nil || !strings.Contains(out, "with edited arguments") {
			t.Fatalf("approve --edit: %v\n%s", err, out)
		}
		s.waitAudit(id, "the edit", func(e workflows.AuditEntry) bool {
			return e.Kind == workflows.AuditEdited && e.Actor == users["publisher2"].name && strings.Contains(e.Arguments, "Final title") &&
				strings.Contains(e.Original, "Draft title")
		})
		// The second approver must see the edited revision before deciding.
		var listed string
		testutil.WaitFor(t, 60*time.Second, "approver list to show the edit", func() (bool, error) {
			var err error
			listed, err = s.cli("publisher3", "list")
			return err == nil && strings.Contains(listed, "Edited by:     "+users["publisher2"].name), nil
		})
		// An edited call is approved by the Digest of the edit listed.
		if out, err := s.cli("publisher3", "approve", p.ToolCallID, "--digest", testutil.ListedDigest(t, listed, p.ToolCallID)); err != nil {
			t.Fatalf("approval of the edit: %v\n%s", err, out)
		}
		res := s.result(id)
		assertRanOnce(t, s, res, p.ToolCallID, "Final title")
		if n := len(postsWith(t, s, "Draft title")); n != 0 {
			t.Fatalf("the original title was published (%d posts)", n)
		}
		if !strings.Contains(res.Answer, "edited the arguments") || !strings.Contains(res.Answer, "Final title") {
			t.Fatalf("the model's answer does not mention the edit: %q", res.Answer)
		}
	})

	step("the web inbox approves with edits and the CLI completes the quorum", func(t *testing.T) {
		br := browsertest.Start(t)
		br.Do(t, "open", map[string]any{"page": "ada"}, nil)
		var login loginResult
		br.Do(t, "login", map[string]any{"page": "ada", "base": s.authURL + "/", "user": "ada", "password": users["admin"].password}, &login)
		if login.Me != "ada" {
			t.Fatalf("login: %+v", login)
		}
		br.Do(t, "waitReady", map[string]any{"page": "ada", "timeoutMs": 30000}, nil)
		id := s.startRun("Publish the blog post called 'Inbox draft'")
		p := s.waitPending(id, 1)[0]
		if c := readCard(t, br, "ada", p.ToolCallID); c.Quorum != "0 of 2 approvals" || c.Editable == "" {
			t.Errorf("ada's card: quorum %q, editable %q; want 0 of 2 and editable", c.Quorum, c.Editable)
		}
		var edit struct{ Errors []string }
		br.Do(t, "editAndApprove", map[string]any{"page": "ada", "toolCallId": p.ToolCallID, "attempts": []string{"{\"title\": \"Inbox final\"}"}}, &edit)
		if len(edit.Errors) != 0 {
			t.Fatalf("edit refused by the page: %q", edit.Errors)
		}
		s.waitAudit(id, "the inbox's edit", func(e workflows.AuditEntry) bool {
			return e.Kind == workflows.AuditEdited && e.Actor == "ada" && e.Arguments == `{"title":"Inbox final"}`
		})
		var listed string
		testutil.WaitFor(t, 60*time.Second, "approver list to show the edit", func() (bool, error) {
			var err error
			listed, err = s.cli("publisher3", "list")
			return err == nil && strings.Contains(listed, "Edited by:     ada"), nil
		})
		// An edited call is approved by the Digest of the edit listed.
		if out, err := s.cli("publisher3", "approve", p.ToolCallID, "--digest", testutil.ListedDigest(t, listed, p.ToolCallID)); err != nil {
			t.Fatalf("approval of the edit: %v\n%s", err, out)
		}
		res := s.result(id)
		assertRanOnce(t, s, res, p.ToolCallID, "Inbox final")
		if n := len(postsWith(t, s, "Inbox draft")); n != 0 {
			t.Fatalf("the original title was published (%d posts)", n)
		}

		// An approver whose approval is counted can still reject or
		// edit: the page no longer offers Approve, and (rejectBy any) a
		// rejection rejects the call at once.
		id = s.startRun("Publish the blog post called 'Second thoughts'")
		p = s.waitPending(id, 1)[0]
		br.Do(t, "press", map[string]any{"page": "ada", "toolCallId": p.ToolCallID, "button": "approve"}, nil)
		s.waitAudit(id, "ada's approval counted", func(e workflows.AuditEntry) bool {
			return e.Kind == workflows.AuditCounted && e.Actor == "ada" && strings.HasPrefix(e.Reason, "1 of 2 approvals")
		})
		const wantStatus = "You approved this request; it waits for more approvals. Rejecting it rejects it at once. Approving it with edits restarts the count on the edited arguments."
		var c card
		testutil.WaitFor(t, 30*time.Second, "ada's card to offer edits and Reject… after her counted approval", func() (bool, error) {
			c = readCard(t, br, "ada", p.ToolCallID)
			return c.Status == wantStatus && slices.Equal(c.Buttons, []string{"Approve with edits…", "Reject…"}), nil
		})
		if !strings.HasSuffix(c.Quorum, " — including you") {
			t.Errorf("ada's card: quorum %q", c.Quorum)
		}
		// An edit the workflow refuses (the title must be a string): the
		// agent's approval-ignored notice reaches the card, and her counted
		// approval stands.
		br.Do(t, "editAndApprove", map[string]any{"page": "ada", "toolCallId": p.ToolCallID, "attempts": []string{`{"title": 5}`}}, &edit)
		if len(edit.Errors) != 0 {
			t.Fatalf("edit refused by the page: %q", edit.Errors)
		}
		s.waitAudit(id, "ada's refused edit", func(e workflows.AuditEntry) bool {
			return e.Kind == workflows.AuditIgnored && e.Actor == "ada" && strings.HasPrefix(e.Reason, "edited arguments refused")
		})
		testutil.WaitFor(t, 30*time.Second, "the agent's notice on ada's card", func() (bool, error) {
			c = readCard(t, br, "ada", p.ToolCallID)
			return strings.HasPrefix(c.Status, "The agent did not count your decision on publish_blog_post: edited arguments refused") && slices.Equal(c.Buttons, []string{"Approve with edits…", "Reject…"}), nil
		})
		br.Do(t, "rejectByKeyboard", map[string]any{"page": "ada", "toolCallId": p.ToolCallID, "reason": "second thoughts"}, nil)
		res = s.result(id)
		if e := findEntry(t, res.Audit, workflows.AuditRejected, p.ToolCallID); e.Actor != "ada" || e.Reason != "second thoughts" {
			t.Errorf("rejected entry = %+v, want ada's with her reason", e)
		}
		if got := count(res.Audit, workflows.AuditExecuted, p.ToolCallID); got != 0 {
			t.Errorf("executed entries = %d, want none", got)
		}
	})

	step("an unanswered call escalates to admin and an admin approves it", func(t *testing.T) {
		id := s.startRun("Delete the post 'quorum-rules'")
		p := s.waitPending(id, 1)[0]
		if p.RequiredRole != "publisher" || p.NextEscalation == nil || p.NextEscalation.MinRole != "admin" {
			t.Fatalf("pending = %+v, want publisher now and admin next", p)
		}
		s.waitAudit(id, "the escalation", func(e workflows.AuditEntry) bool {
			return e.Kind == workflows.AuditEscalated && e.ToolCallID == p.ToolCallID && e.Role == "admin"
		})
		// The CLI must have seen the escalated revision to refuse.
		testutil.WaitFor(t, 60*time.Second, "approver list to show the escalation", func() (bool, error) {
			listed, err := s.cli("publisher", "list")
			return err == nil && strings.Contains(listed, "Escalated:     needs admin since"), nil
		})
		out, err := s.cli("publisher", "approve", p.ToolCallID)
		if err == nil || !strings.Contains(out, "needs admin since") {
			t.Fatalf("a publisher's approval after the escalation: err %v, output:\n%s", err, out)
		}
		s.guideResponse("publisher", p.ToolCallID, workflows.DecisionApproved, nil)
		s.waitAudit(id, "the publisher's ignored approval", func(e workflows.AuditEntry) bool {
			return e.Kind == workflows.AuditIgnored && e.Actor == users["publisher"].name && strings.HasPrefix(e.Reason, "needs admin since")
		})
		if out, err := s.cli("admin", "approve", p.ToolCallID); err != nil {
			t.Fatalf("admin approval: %v\n%s", err, out)
		}
		res := s.result(id)
		e := findEntry(t, res.Audit, workflows.AuditApproved, p.ToolCallID)
		if e.Actor != users["admin"].name || e.Role != "admin" {
			t.Fatalf("approved entry = %+v, want the admin", e)
		}
		if got := count(res.Audit, workflows.AuditExecuted, p.ToolCallID); got != 1 {
			t.Fatalf("executed entries = %d, want 1\n%s", got, dump(res.Audit))
		}
		if n := len(postsWith(t, s, "Quorum rules")); n != 0 {
			t.Fatalf("the post is still there after the approved deletion (%d)", n)
		}
	})
}

// findEntry returns the audit entry of kind for the tool call, or fails.
func findEntry(t *testing.T, audit []workflows.AuditEntry, kind, toolCallID string) workflows.AuditEntry {
	t.Helper()
	for _, e := range audit {
		if e.Kind == kind && e.ToolCallID == toolCallID {
			return e
		}
	}
	t.Fatalf("no %s entry for %s in\n%s", kind, toolCallID, dump(audit))
	return workflows.AuditEntry{}
}
