package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/internal/authserver/web/browsertest"
	"github.com/hitl/durable-approvals/internal/devstack"
)

// TestDemoWeb: `devstack demo --web` names the inbox and a login, starts no
// terminal approver, and finishes the run when the decision comes from the
// page (Debian's Chromium through playwright-core).
func TestDemoWeb(t *testing.T) {
	bins := buildPrograms(t)
	s := newE2EStack(t)
	r := startDevstack(t, bins, append(s.args("demo"), "--web")...)
	out := r.out

	hint := regexp.MustCompile(`open (http://127\.0\.0\.1:[0-9]+/) and sign in as pat \(publisher\) with password (\S+)\n`)
	waitFor(t, "the inbox's address and a login", 150*time.Second, r.exited, out, func() bool {
		return hint.MatchString(out.String())
	})
	m := hint.FindStringSubmatch(out.String())
	logins := regexp.MustCompile(`Web inbox: http://127\.0\.0\.1:[0-9]+/  demo approvers: erin \(editor\) \S+, pat \(publisher\) \S+, ada \(admin\) \S+`)
	if !logins.MatchString(out.String()) {
		t.Errorf("no inbox line with the demo approvers:\n%s", out)
	}
	if want := "http://127.0.0.1:" + strconv.Itoa(s.ports.Auth) + "/"; m[1] != want {
		t.Errorf("inbox %s, want %s", m[1], want)
	}

	br := browsertest.Start(t)
	br.Do(t, "open", map[string]any{"page": "pat"}, nil)
	var login struct {
		Status int
		Me     string
	}
	br.Do(t, "login", map[string]any{"page": "pat", "base": m[1], "user": "pat", "password": m[2]}, &login)
	if login.Status != 303 || login.Me != "pat" {
		t.Fatalf("login with the printed password: %+v", login)
	}
	var cards struct{ ToolCallIDs []string }
	br.Do(t, "cards", map[string]any{"page": "pat", "timeoutMs": 120000}, &cards)
	if len(cards.ToolCallIDs) != 1 {
		t.Fatalf("cards %q, want the demo's one request", cards.ToolCallIDs)
	}
	var c struct{ Tool, Args string }
	br.Do(t, "card", map[string]any{"page": "pat", "toolCallId": cards.ToolCallIDs[0], "timeoutMs": 5000}, &c)
	if c.Tool != "publish_blog_post" || !strings.Contains(c.Args, "Introducing our new API") {
		t.Fatalf("card %+v, want the demo's publish_blog_post", c)
	}
	if posts, _ := devstack.ListPosts(s.blogDir()); len(posts) != 0 {
		t.Fatalf("posts before the decision: %q", posts)
	}
	br.Do(t, "press", map[string]any{"page": "pat", "toolCallId": cards.ToolCallIDs[0], "button": "approve"}, nil)

	if err := r.wait(90 * time.Second); err != nil {
		t.Fatalf("demo --web after the decision: %v; output:\n%s", err, out)
	}
	text := out.String()
	if !strings.Contains(text, "=== Run finished ===") || !auditRow("approved", "pat").MatchString(text) {
		t.Fatalf("no result approved by pat printed:\n%s", text)
	}
	if strings.Contains(text, "Approve this action?") || strings.Contains(text, "Starting the approver") {
		t.Errorf("demo --web started the terminal approver:\n%s", text)
	}
	if posts, err := devstack.ListPosts(s.blogDir()); err != nil || len(posts) != 1 || !strings.Contains(text, "Published: ") {
		t.Errorf("posts %q (%v), want the approved one, and the output to say where", posts, err)
	}
}
