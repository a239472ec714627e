package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/workflows"
)

// The e2e policy: publish_blog_post waits long enough for any scenario;
// delete_post expires fast so the expiry scenario is quick.
const e2ePolicy = `{
  "roles": ["editor", "publisher", "admin"],
  "tools": {
    "publish_blog_post": {"minRole": "publisher", "timeout": "5m"},
    "search_posts": {"minRole": "none"},
    "delete_post": {"minRole": "admin", "timeout": "4s"}
  }
}`

// TestEndToEnd runs the scenarios against one stack, in order.
func TestEndToEnd(t *testing.T) {
	s := newStack(t, e2ePolicy)
	step := s.stepper(t)

	step("publisher approves and the post is published once", func(t *testing.T) {
		id := s.startRun("Publish the blog post called 'Introducing our new API'")
		p := s.waitPending(id, 1)[0]
		if p.Tool != "publish_blog_post" || p.RequiredRole != "publisher" {
			t.Fatalf("pending = %+v, want publish_blog_post needing publisher", p)
		}
		checkWebUI(t, s, id, "Introducing our new API", "publish_blog_post", "publisher")
		if out, err := s.cli("publisher", "approve", p.ToolCallID, "--reason", "looks good"); err != nil {
			t.Fatalf("approver approve: %v\n%s", err, out)
		}
		res := s.result(id)
		assertRanOnce(t, s, res, p.ToolCallID, "Introducing our new API")
		if got := count(res.Audit, workflows.AuditApproved, p.ToolCallID); got != 1 {
			t.Fatalf("approved entries = %d, want 1\n%s", got, dump(res.Audit))
		}
		if !strings.Contains(res.Answer, "[scripted model]") {
			t.Fatalf("answer = %q, want the scripted model's answer", res.Answer)
		}
	})

	step("editor is insufficient and the call stays pending", func(t *testing.T) {
		id := s.startRun("Publish the blog post called 'Editor tries'")
		p := s.waitPending(id, 1)[0]
		// The CLI refuses (the role is below); --force sends it, as a
		// client that does not check would.
		if out, err := s.cli("editor", "approve", p.ToolCallID); err == nil || !strings.Contains(out, "below the required publisher") {
			t.Fatalf("approver approve as an editor: %v, want a refusal\n%s", err, out)
		}
		// The agent says it did not count it, and why (approval-ignored):
		// the command prints that and fails.
		if out, err := s.cli("editor", "approve", "--force", p.ToolCallID); err == nil ||
			!strings.Contains(out, "Not counted: publish_blog_post ("+p.ToolCallID+"): the agent did not count your decision: insufficient role") {
			t.Fatalf("approver approve --force as an editor: %v, want the agent's word that it did not count\n%s", err, out)
		}
		e := s.waitAudit(id, "an ignored editor decision", func(e workflows.AuditEntry) bool {
			return e.Kind == workflows.AuditIgnored && e.ToolCallID == p.ToolCallID && e.Role == "editor"
		})
		if !strings.Contains(e.Reason, "insufficient") || e.Actor != users["editor"].name {
			t.Fatalf("ignored entry = %+v, want actor %s and an insufficient-role reason", e, users["editor"].name)
		}
		if still := s.waitPending(id, 1)[0]; still.ToolCallID != p.ToolCallID {
			t.Fatalf("pending = %+v, want %s still pending", still, p.ToolCallID)
		}
		if len(postsWith(t, s, "Editor tries")) != 0 {
			t.Fatal("the post was published after an editor's approval")
		}
		// End the run: an admin rejects.
		if out, err := s.cli("admin", "reject", p.ToolCallID, "--reason", "cleanup"); err != nil {
			t.Fatalf("approver reject: %v\n%s", err, out)
		}
		s.result(id)
	})

	step("admin rejects and the tool never runs", func(t *testing.T) {
		id := s.startRun("Publish the blog post called 'Rejected post'")
		p := s.waitPending(id, 1)[0]
		if out, err := s.cli("admin", "reject", p.ToolCallID, "--reason", "not this week"); err != nil {
			t.Fatalf("approver reject: %v\n%s", err, out)
		}
		res := s.result(id)
		if got := count(res.Audit, workflows.AuditRejected, p.ToolCallID); got != 1 {
			t.Fatalf("rejected entries = %d, want 1\n%s", got, dump(res.Audit))
		}
		if got := count(res.Audit, workflows.AuditExecuted, p.ToolCallID); got != 0 {
			t.Fatalf("executed entries = %d, want 0", got)
		}
		if n := len(postsWith(t, s, "Rejected post")); n != 0 {
			t.Fatalf("%d posts published after a rejection", n)
		}
	})

	step("no one answers and the call expires", func(t *testing.T) {
		id := s.startRun("Delete the post called 'old-news'")
		p := s.waitPending(id, 1)[0]
		if p.Tool != "delete_post" {
			t.Fatalf("pending = %+v, want delete_post", p)
		}
		res := s.result(id)
		if got := count(res.Audit, workflows.AuditExpired, p.ToolCallID); got != 1 {
			t.Fatalf("expired entries = %d, want 1\n%s", got, dump(res.Audit))
		}
		if got := count(res.Audit, workflows.AuditExecuted, p.ToolCallID); got != 0 {
			t.Fatalf("executed entries = %d, want 0", got)
		}
	})

	step("a forged userClaim gains nothing", func(t *testing.T) {
		id := s.startRun("Publish the blog post called 'Forged claim'")
		p := s.waitPending(id, 1)[0]
		s.guideResponse("editor", p.ToolCallID, workflows.DecisionApproved, map[string]any{"userClaim": "admin"})
		e := s.waitAudit(id, "the forged decision, ignored", func(e workflows.AuditEntry) bool {
			return e.Kind == workflows.AuditIgnored && e.ToolCallID == p.ToolCallID
		})
		if e.Role != "editor" {
			t.Fatalf("ignored entry role = %q, want editor (from the JWT, not the forged extras)", e.Role)
		}
		s.waitPending(id, 1)
		if n := len(postsWith(t, s, "Forged claim")); n != 0 {
			t.Fatalf("%d posts published after a forged approval", n)
		}
		if out, err := s.cli("admin", "reject", p.ToolCallID, "--reason", "cleanup"); err != nil {
			t.Fatalf("approver reject: %v\n%s", err, out)
		}
		s.result(id)
	})

	for _, viaREST := range []bool{false, true} {
		shape := "data as a map (ably-go realtime)"
		if viaREST {
			shape = "data as a JSON string with encoding json (REST, as ably-js sends it)"
		}
		step("a guide-shaped response with only headers.toolCallId is routed: "+shape, func(t *testing.T) {
			title := fmt.Sprintf("Guide shaped %v", viaREST)
			id := s.startRun("Publish the blog post called '" + title + "'")
			p := s.waitPending(id, 1)[0]
			s.publishResponse(viaREST, "publisher", p.ToolCallID, workflows.DecisionApproved, nil)
			res := s.result(id)
			assertRanOnce(t, s, res, p.ToolCallID, title)
		})
	}

	step("a response published while the bridge is down is applied once", func(t *testing.T) {
		id := s.startRun("Publish the blog post called 'Bridge was down'")
		p := s.waitPending(id, 1)[0]
		s.bridge.stop(syscall.SIGTERM, 20*time.Second)
		if out, err := s.cli("publisher", "approve", p.ToolCallID); err != nil {
			t.Fatalf("approver approve: %v\n%s", err, out)
		}
		if v, err := s.approvals(id); err != nil || len(v.Pending) != 1 {
			t.Fatalf("with the bridge down: pending = %v, err = %v; want still pending", v.Pending, err)
		}
		s.startBridge()
		res := s.result(id)
		assertRanOnce(t, s, res, p.ToolCallID, "Bridge was down")
		if got := count(res.Audit, workflows.AuditApproved, p.ToolCallID); got != 1 {
			t.Fatalf("approved entries = %d, want 1\n%s", got, dump(res.Audit))
		}
	})

	step("the worker is killed while an approval is pending", func(t *testing.T) {
		id := s.startRun("Publish the blog post called 'Survives SIGKILL'")
		p := s.waitPending(id, 1)[0]
		s.worker.kill()
		if out, err := s.cli("publisher", "approve", p.ToolCallID); err != nil {
			t.Fatalf("approver approve: %v\n%s", err, out)
		}
		s.startWorker()
		res := s.result(id)
		assertRanOnce(t, s, res, p.ToolCallID, "Survives SIGKILL")
	})

	step("the Temporal server restarts while an approval is pending", func(t *testing.T) {
		id := s.startRun("Publish the blog post called 'Survives a server restart'")
		p := s.waitPending(id, 1)[0]
		s.temporal.restart(s.root)
		s.waitPending(id, 1)
		if out, err := s.cli("publisher", "approve", p.ToolCallID); err != nil {
			t.Fatalf("approver approve: %v\n%s", err, out)
		}
		res := s.result(id)
		assertRanOnce(t, s, res, p.ToolCallID, "Survives a server restart")
	})

	resetSteps(s, step)
	terminatedSteps(s, step)
}

// assertRanOnce checks that the tool call ran exactly once: one executed
// audit entry and one published post with the title.
func assertRanOnce(t *testing.T, s *stack, res workflows.AgentResult, toolCallID, title string) {
	t.Helper()
	if got := count(res.Audit, workflows.AuditExecuted, toolCallID); got != 1 {
		t.Fatalf("executed entries for %s = %d, want 1\n%s", toolCallID, got, dump(res.Audit))
	}
	if got := postsWith(t, s, title); len(got) != 1 {
		t.Fatalf("posts titled %q = %v, want exactly one", title, got)
	}
}

// postsWith lists the published posts whose text contains title.
func postsWith(t *testing.T, s *stack, title string) []string {
	t.Helper()
	var out []string
	for _, name := range s.posts() {
		b, err := os.ReadFile(filepath.Join(s.blogDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), title) {
			out = append(out, name)
		}
	}
	return out
}
