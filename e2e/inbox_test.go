package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/ablymsg"
	"github.com/hitl/durable-approvals/internal/authserver"
	"github.com/hitl/durable-approvals/internal/authserver/web/browsertest"
	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// EnvInboxScreenshot, when set, is where TestInbox saves its screenshot of
// the inbox with a pending request (`make screenshot` points it at the
// README's image); otherwise it goes to a temporary directory.
const envInboxScreenshot = "HITL_INBOX_SCREENSHOT"

// maxPropagation is the functional bound on UI propagation: when one
// approver decides, the request leaves every other open page within it.
// It is measured in the browser, from the click on one page to the card's
// removal on the other (both Date.now in one Chromium), through the whole
// path: ably-js publish, bridge, Temporal signal, workflow, the agent's
// approval-resolved, ably-js on the other page.
const maxPropagation = time.Second

// card is what the driver reads from a request's card.
type card struct {
	Tool, Needs, Requester, RequiredRole string
	ExpiresAt                            string
	Quorum, Escalation, Digest, Editable string
	DigestFull                           string
	EditedBy, NextEscalation, Rules      string
	Rejections                           string
	Args, ArgsWarning, Countdown         string
	ReadOnly, Status                     string
	Buttons                              []string
}

// TestInbox drives the web inbox in Debian's Chromium (headless, through
// playwright-core) against the real stack: Temporal dev server, local Ably
// server, auth server, worker, bridge.
func TestInbox(t *testing.T) {
	s := newStack(t, e2ePolicy)
	br := browsertest.Start(t)
	base := s.authURL + "/"
	step := s.stepper(t)
	pageOf := map[string]string{"publisher": "pat", "admin": "ada", "editor": "erin"}
	approvers := []string{"pat", "ada", "erin"}

	// A request published under an approver's clientId before any page
	// opens: the pages must not take it from the history.
	s.publishAs("editor", spoofedRequest("call_spoofed_history", "wf-spoofed"))

	step("a wrong password is refused", func(t *testing.T) {
		br.Do(t, "open", map[string]any{"page": "intruder"}, nil)
		var got loginResult
		br.Do(t, "login", map[string]any{"page": "intruder", "base": base, "user": "pat", "password": "not-pats-password"}, &got)
		if got.Status != http.StatusUnauthorized || got.Error != "Wrong user name or password." || got.Me != "" {
			t.Fatalf("wrong password: %+v, want 401, the login form again with its message", got)
		}
		if got.hasCookie("hitl-session") {
			t.Fatal("a wrong password got a session cookie")
		}
		br.Do(t, "close", map[string]any{"page": "intruder"}, nil)
	})

	step("login", func(t *testing.T) {
		for role, name := range pageOf {
			br.Do(t, "open", map[string]any{"page": name}, nil)
			var got loginResult
			br.Do(t, "login", map[string]any{"page": name, "base": base, "user": name, "password": users[role].password}, &got)
			if got.Status != http.StatusSeeOther || got.Me != name || got.Error != "" {
				t.Fatalf("login as %s: %+v, want 303 to the inbox", name, got)
			}
			c, ok := got.cookie("hitl-session")
			if !ok || !c.HTTPOnly || c.SameSite != "Strict" || c.Secure {
				t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, not Secure on loopback", c)
			}
		}
		for _, name := range approvers {
			var ready struct{ Conn string }
			br.Do(t, "waitReady", map[string]any{"page": name, "timeoutMs": 30000}, &ready)
			if ready.Conn != "Live" {
				t.Errorf("%s: connection shows %q, want Live", name, ready.Conn)
			}
		}
	})

	var first workflows.PendingApproval
	var firstRun string
	step("a pending request is shown; spoofed ones are not", func(t *testing.T) {
		// A second spoof, live, after the pages loaded; it is on the
		// channel before the real request, so once the real card shows
		// the page has seen (and hidden) both.
		s.publishAs("editor", spoofedRequest("call_spoofed_live", "wf-spoofed"))
		firstRun = s.startRun("Publish the blog post called 'Inbox approves'")
		first = s.waitPending(firstRun, 1)[0]
		for _, name := range approvers {
			c := readCard(t, br, name, first.ToolCallID)
			if c.Tool != "publish_blog_post" || c.Requester != "e2e-tester" || c.RequiredRole != "publisher" || c.Needs != "needs publisher" {
				t.Errorf("%s: card %+v, want publish_blog_post by e2e-tester needing publisher", name, c)
			}
			if want := "{\n  \"title\": \"Inbox approves\"\n}"; c.Args != want {
				t.Errorf("%s: arguments %q, want them pretty-printed: %q", name, c.Args, want)
			}
			if !regexp.MustCompile(`^[0-9] min [0-9]{2} s left$`).MatchString(c.Countdown) {
				t.Errorf("%s: countdown %q, want minutes and seconds left", name, c.Countdown)
			}
			if c.Quorum != "" || c.Escalation != "" || c.Editable != "" {
				t.Errorf("%s: a request without quorum, escalation or edits shows %+v", name, c)
			}
			if want := shortDigest(first.ArgumentsDigest); c.Digest != want || c.DigestFull != first.ArgumentsDigest {
				t.Errorf("%s: digest %q, in full %q; want %q, in full %q (the workflow's)", name, c.Digest, c.DigestFull, want, first.ArgumentsDigest)
			}
			var n struct{ N int }
			br.Do(t, "count", map[string]any{"page": name, "selector": `li.card[data-tool-call-id^="call_spoofed"]`}, &n)
			if n.N != 0 {
				t.Errorf("%s: %d spoofed requests shown", name, n.N)
			}
		}
		for _, name := range []string{"pat", "ada"} {
			if c := readCard(t, br, name, first.ToolCallID); !slices.Equal(c.Buttons, []string{"Approve", "Reject…"}) || c.ReadOnly != "" {
				t.Errorf("%s: buttons %q, read-only %q; want Approve and Reject…", name, c.Buttons, c.ReadOnly)
			}
		}
		var tick struct{ First, Then string }
		br.Do(t, "textChanges", map[string]any{"page": "pat", "selector": cardSelector(first.ToolCallID) + " .countdown", "timeoutMs": 5000}, &tick)
		t.Logf("countdown ticks: %q → %q", tick.First, tick.Then)
	})

	step("an editor's page shows the publisher-only request read-only", func(t *testing.T) {
		c := readCard(t, br, "erin", first.ToolCallID)
		if len(c.Buttons) != 0 || c.ReadOnly != "Read-only: you cannot decide this request, because it needs publisher or higher; you are editor." {
			t.Fatalf("erin: buttons %q, read-only %q", c.Buttons, c.ReadOnly)
		}
		// The tab's title counts what its user can decide (the inbox probe:
		// an editor's tab announced requests only a publisher may decide).
		var erin, pat struct{ Title string }
		br.Do(t, "title", map[string]any{"page": "erin"}, &erin)
		br.Do(t, "title", map[string]any{"page": "pat"}, &pat)
		if erin.Title != "Inbox · Approval inbox" || !strings.HasPrefix(pat.Title, "(") {
			t.Errorf("titles: erin %q, pat %q; want no count for erin, a count for pat", erin.Title, pat.Title)
		}
	})

	step("a computer whose clock runs 6 minutes ahead still shows the 5-minute request, with Ably's countdown", func(t *testing.T) {
		br.Do(t, "open", map[string]any{"page": "fast-clock", "clockSkewMs": (6 * time.Minute).Milliseconds()}, nil)
		t.Cleanup(func() { _ = br.Try("close", map[string]any{"page": "fast-clock"}, nil) })
		br.Do(t, "login", map[string]any{"page": "fast-clock", "base": base, "user": "ada", "password": users["admin"].password}, nil)
		br.Do(t, "waitReady", map[string]any{"page": "fast-clock", "timeoutMs": 30000}, nil)
		c := readCard(t, br, "fast-clock", first.ToolCallID)
		right := readCard(t, br, "ada", first.ToolCallID)
		minutes := func(countdown string) string { return strings.SplitN(countdown, " min", 2)[0] }
		if c.Countdown == "" || minutes(c.Countdown) != minutes(right.Countdown) {
			t.Errorf("countdown on the fast clock %q, on a right one %q: want the same minutes", c.Countdown, right.Countdown)
		}
		br.Do(t, "close", map[string]any{"page": "fast-clock"}, nil)
	})

	step("no inline script or style: the CSP holds and blocks an injected handler", func(t *testing.T) {
		for _, name := range approvers {
			var got struct {
				InlineScripts, Handlers, Styles int
				Scripts                         []string
			}
			br.Do(t, "inlineCode", map[string]any{"page": name}, &got)
			if got.InlineScripts != 0 || got.Handlers != 0 || got.Styles != 0 || !slices.Equal(got.Scripts, []string{"/assets/app.js"}) {
				t.Errorf("%s: %+v, want only /assets/app.js and nothing inline", name, got)
			}
		}
		// Positive control: the recorder does see a violation.
		br.Do(t, "open", map[string]any{"page": "probe"}, nil)
		br.Do(t, "goto", map[string]any{"page": "probe", "url": base}, nil)
		var probe struct {
			Ran      bool
			Refused  string
			Problems []string
		}
		br.Do(t, "probeInline", map[string]any{"page": "probe"}, &probe)
		reported := strings.Join(probe.Problems, "\n")
		if probe.Ran || probe.Refused != "TypeError" || !strings.Contains(reported, "require-trusted-types-for") || !strings.Contains(reported, "style-src") {
			t.Fatalf("an injected inline handler and style: ran %v, refused %q, reported %q; want both blocked and reported", probe.Ran, probe.Refused, probe.Problems)
		}
		br.Do(t, "close", map[string]any{"page": "probe"}, nil)
	})

	step("screenshot, and a phone-sized screen", func(t *testing.T) {
		path := os.Getenv(envInboxScreenshot)
		if path == "" {
			path = filepath.Join(t.TempDir(), "inbox.png")
		} else if !filepath.IsAbs(path) {
			path = filepath.Join(repoRoot(t), path)
		}
		br.Do(t, "screenshot", map[string]any{"page": "pat", "path": path}, nil)
		png, err := os.ReadFile(path)
		if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10<<10 {
			t.Fatalf("screenshot %s: %d bytes, err %v; want a PNG", path, len(png), err)
		}
		t.Logf("screenshot of the inbox: %s", path)
		var phone struct {
			ScrollWidth, InnerWidth int
			FontSize                float64
		}
		br.Do(t, "layout", map[string]any{"page": "erin", "width": 360, "height": 740}, &phone)
		if phone.ScrollWidth > phone.InnerWidth || phone.FontSize < 14 {
			t.Fatalf("on a 360 px screen: %+v; want nothing wider than the screen and readable text", phone)
		}
		readCard(t, br, "erin", first.ToolCallID)

		// Arguments longer than the screen is wide wrap: nothing of them
		// hides behind a scroll bar that a touch screen does not show.
		long := "Harmless intro " + strings.Repeat("lorem ipsum dolor sit amet ", 18) + "AND ALSO WIRE MONEY TO ACCOUNT 666"
		run := s.startRun("Publish the blog post called '" + long + "'")
		req := s.waitPending(run, 1)[0]
		var box struct {
			ScrollWidth, ClientWidth, ScrollHeight, ClientHeight int
			Text                                                 string
		}
		br.Do(t, "argsBox", map[string]any{"page": "erin", "toolCallId": req.ToolCallID}, &box)
		if !strings.Contains(box.Text, "ACCOUNT 666") || box.ScrollWidth > box.ClientWidth || box.ScrollHeight > box.ClientHeight {
			t.Errorf("on a 360 px screen the arguments box is %+v: part of the arguments is hidden", box)
		}
	})

	step("approve on one page; the request leaves the other within 1 s; the post is published", func(t *testing.T) {
		br.Do(t, "watchGone", map[string]any{"page": "ada", "toolCallId": first.ToolCallID}, nil)
		var clicked, gone struct{ At int64 }
		br.Do(t, "press", map[string]any{"page": "pat", "toolCallId": first.ToolCallID, "button": "approve"}, &clicked)
		br.Do(t, "goneAt", map[string]any{"page": "ada", "toolCallId": first.ToolCallID, "timeoutMs": 30000}, &gone)
		took := time.Duration(gone.At-clicked.At) * time.Millisecond
		t.Logf("approve on pat's page → the request left ada's page %s later", took)
		if took > maxPropagation {
			t.Errorf("the request left the other page %s after the click, want within %s", took, maxPropagation)
		}
		// Each page takes the resolution on its own connection: ada's
		// was first, the others follow (a CI run saw pat's a moment later).
		for _, name := range approvers {
			testutil.Eventually(t, 5*time.Second, name+"'s page to drop the approved request", func() bool {
				var n struct{ N int }
				br.Do(t, "count", map[string]any{"page": name, "selector": cardSelector(first.ToolCallID)}, &n)
				return n.N == 0
			})
		}
		var r struct{ Text string }
		br.Do(t, "resolvedText", map[string]any{"page": "ada", "toolCallId": first.ToolCallID, "timeoutMs": 5000}, &r)
		// The run in words: it was only in a tooltip, which neither a
		// keyboard nor a screen reader reaches.
		if !regexp.MustCompile(`^approved publish_blog_post \{"title":"Inbox approves"\}: approved by pat (just now|[0-9]+ s ago) · publisher ` + regexp.QuoteMeta(first.ToolCallID) + ` \(run ` + regexp.QuoteMeta(firstRun) + `\)$`).MatchString(r.Text) {
			t.Errorf("ada's resolved line %q, want approved by pat … ago, the call and its run", r.Text)
		}
		var live struct{ First, Then string }
		br.Do(t, "textChanges", map[string]any{"page": "ada", "selector": resolvedSelector(first.ToolCallID) + " .summary", "timeoutMs": 5000}, &live)
		if !strings.Contains(live.Then, "s ago") {
			t.Errorf("the resolution's age went %q → %q, want it counting", live.First, live.Then)
		}
		res := s.result(firstRun)
		assertRanOnce(t, s, res, first.ToolCallID, "Inbox approves")
		e := s.waitAudit(firstRun, "pat's approval", func(e workflows.AuditEntry) bool {
			return e.Kind == workflows.AuditApproved && e.ToolCallID == first.ToolCallID
		})
		if e.Actor != "pat" || e.Role != "publisher" {
			t.Errorf("approved by %s (%s), want pat (publisher): the page published with pat's own token", e.Actor, e.Role)
		}
	})

	step("reject with a reason, by keyboard, reaches the model's answer", func(t *testing.T) {
		const reason = "Not before the launch review"
		id := s.startRun("Publish the blog post called 'Inbox rejects'")
		p := s.waitPending(id, 1)[0]
		readCard(t, br, "pat", p.ToolCallID)
		var got struct{ Status string }
		br.Do(t, "rejectByKeyboard", map[string]any{"page": "pat", "toolCallId": p.ToolCallID, "reason": reason}, &got)
		if !strings.HasPrefix(got.Status, "Rejection sent as pat.") {
			t.Errorf("status after rejecting: %q", got.Status)
		}
		res := s.result(id)
		if !strings.Contains(res.Answer, reason) {
			t.Fatalf("the model's answer %q does not carry the reason %q", res.Answer, reason)
		}
		if n := len(postsWith(t, s, "Inbox rejects")); n != 0 {
			t.Fatalf("%d posts published after a rejection", n)
		}
		var r struct{ Text string }
		br.Do(t, "resolvedText", map[string]any{"page": "erin", "toolCallId": p.ToolCallID, "timeoutMs": 5000}, &r)
		if !strings.Contains(r.Text, "rejected by pat") || !strings.Contains(r.Text, reason) {
			t.Errorf("erin's resolved line %q, want rejected by pat with the reason", r.Text)
		}
		// The inbox probe: the focus fell to the page's body once the
		// buttons went; it stays on the list for the keyboard's next move.
		br.Do(t, "resolvedText", map[string]any{"page": "pat", "toolCallId": p.ToolCallID, "timeoutMs": 5000}, &r)
		var focus struct {
			Tag, ID   string
			InPending bool
		}
		br.Do(t, "focus", map[string]any{"page": "pat"}, &focus)
		if focus.Tag == "BODY" || !focus.InPending {
			t.Errorf("after the keyboard rejection the focus is on %s#%s, want the pending list", focus.Tag, focus.ID)
		}
	})

	step("quorum, escalation, digest and edits show when the request carries them", func(t *testing.T) {
		// Issues 9 and 11 add these fields; until the workflow sends them,
		// the agent's clientId publishes such a request here directly.
		args := `{"title":"Draft"}`
		sum := sha256.Sum256([]byte(args))
		digest := "sha256:" + hex.EncodeToString(sum[:])
		now := time.Now().UTC()
		const wf, call = "wf-inbox-synthetic", "call_synthetic_1"
		responses := s.observe(t)
		s.publishAsAgent(t, agentRequest(wf, call, map[string]any{
			"tool": "publish_blog_post", "arguments": args, "requiredRole": "admin", "requester": "e2e-tester",
			"argumentsDigest": digest, "approvals": 2, "editable": true,
			"approvedBy":            []map[string]any{{"clientId": "pat", "role": "publisher", "at": now.Add(-time.Minute).Format(time.RFC3339Nano)}},
			"escalation":            map[string]any{"level": 1, "previousRole": "publisher", "since": now.Format(time.RFC3339Nano)},
			"distinctFromRequester": true, "rejectBy": "quorum",
			"rejectedBy": []map[string]any{{"clientId": "erin", "role": "editor", "at": now.Format(time.RFC3339Nano)}},
			"editedBy":   map[string]any{"clientId": "ada", "role": "admin", "at": now.Format(time.RFC3339Nano)},
		}))
		pat := readCard(t, br, "pat", call)
		if pat.Quorum != "1 of 2 approvals, by pat (publisher) — including you" {
			t.Errorf("pat: quorum %q", pat.Quorum)
		}
		if !strings.HasPrefix(pat.Escalation, "escalated to admin since ") || !strings.HasSuffix(pat.Escalation, "(level 1; was publisher)") {
			t.Errorf("pat: escalation %q", pat.Escalation)
		}
		if pat.Digest != shortDigest(digest) {
			t.Errorf("pat: digest %q", pat.Digest)
		}
		if !strings.HasPrefix(pat.EditedBy, "ada (admin) at ") || !strings.HasSuffix(pat.EditedBy, ": the arguments below are this approver's edit, not the agent's") {
			t.Errorf("pat: edited by %q, want who edited the arguments", pat.EditedBy)
		}
		if pat.Rules != "the requester's own decision does not count; a rejection needs 2 approvers too" || pat.Rejections != "1 of 2, by erin (editor)" {
			t.Errorf("pat: rules %q, rejections %q", pat.Rules, pat.Rejections)
		}
		if len(pat.Buttons) != 0 || !strings.Contains(pat.ReadOnly, "it needs admin or higher; you are publisher") {
			t.Errorf("pat after the escalation: buttons %q, read-only %q", pat.Buttons, pat.ReadOnly)
		}
		ada := readCard(t, br, "ada", call)
		if !slices.Equal(ada.Buttons, []string{"Approve", "Approve with edits…", "Reject…"}) || ada.Editable == "" {
			t.Errorf("ada: buttons %q, editable %q; want the edit button", ada.Buttons, ada.Editable)
		}

		// A resolution published by an approver does not remove it; a
		// second agent request, published after, shows that the page has
		// read (and ignored) the forged one.
		s.publishAs("editor", &ably.Message{Name: workflows.MsgApprovalResolved,
			Data:   map[string]any{"toolCallId": call, "workflowId": wf, "tool": "publish_blog_post", "outcome": "approved", "decidedBy": "erin"},
			Extras: map[string]any{workflows.ExtrasHeaders: map[string]any{workflows.HeaderToolCallID: call, workflows.HeaderWorkflowID: wf}}})
		// An agent request whose digest is not that of its arguments is not
		// shown either: a decision on it would name arguments nobody saw.
		s.publishAsAgent(t, agentRequest(wf, "call_synthetic_bad", map[string]any{
			"tool": "publish_blog_post", "arguments": `{"title":"Shown"}`, "argumentsDigest": digest, "requiredRole": "publisher",
		}))
		s.publishAsAgent(t, agentRequest(wf, "call_synthetic_2", map[string]any{
			"tool": "search_posts", "arguments": `{}`, "requiredRole": "publisher",
			"nextEscalation": map[string]any{"at": now.Add(5 * time.Minute).Format(time.RFC3339Nano), "minRole": "admin"},
		}))
		// A time of day, with the date before it when the five minutes
		// cross midnight (text.js formatClock; a CI run at 23:56 saw it).
		if c := readCard(t, br, "ada", "call_synthetic_2"); !regexp.MustCompile(`^to admin at (?:[A-Z][a-z]{2} [0-9]{1,2}, [0-9]{4} )?[0-9]{2}:[0-9]{2}:[0-9]{2}, if still undecided: then only admin or higher can decide$`).MatchString(c.NextEscalation) {
			t.Errorf("ada: next escalation %q, want when and to whom", c.NextEscalation)
		}
		readCard(t, br, "ada", call)
		var bad struct{ N int }
		br.Do(t, "count", map[string]any{"page": "ada", "selector": cardSelector("call_synthetic_bad")}, &bad)
		if bad.N != 0 {
			t.Error("a request whose digest does not match its arguments is shown")
		}

		var edit struct {
			Errors []string
			Status string
		}
		br.Do(t, "editAndApprove", map[string]any{"page": "ada", "toolCallId": call, "attempts": []string{
			`{"title": "Final`, `{"title": "Draft"}`, `{"title": "Final title", "title": "x"}`, `["Final title"]`,
			"{\n  \"title\": \"Final title\"\n}",
		}}, &edit)
		wantErrors := []string{"Not valid JSON", "You changed nothing", "Each key may appear once", "The arguments must be one JSON object"}
		for i, w := range wantErrors {
			if i >= len(edit.Errors) || !strings.HasPrefix(edit.Errors[i], w) {
				t.Errorf("edit attempt %d: %q, want %q…", i, edit.Errors, w)
			}
		}
		m := responses.next(t, workflows.MsgApprovalResponse)
		if m.ClientID != "ada" || m.Extras[workflows.ExtrasUserClaim] != "admin" {
			t.Errorf("the response came from %q with userClaim %v, want ada's own token (admin)", m.ClientID, m.Extras[workflows.ExtrasUserClaim])
		}
		var data map[string]any
		if err := ablymsg.DecodeData(m.Data, m.Encoding, &data); err != nil {
			t.Fatal(err)
		}
		wantData := map[string]any{"decision": "approved", "arguments": `{"title":"Final title"}`, "argumentsDigest": digest}
		if fmt.Sprint(data) != fmt.Sprint(wantData) {
			t.Errorf("approval-response data %v, want %v", data, wantData)
		}
		headers, _ := ablymsg.AsMap(m.Extras[workflows.ExtrasHeaders])
		if headers[workflows.HeaderToolCallID] != call || headers[workflows.HeaderWorkflowID] != wf {
			t.Errorf("approval-response headers %v", headers)
		}

		s.publishAsAgent(t, &ably.Message{Name: workflows.MsgApprovalResolved,
			Data: map[string]any{"toolCallId": call, "workflowId": wf, "tool": "publish_blog_post", "outcome": "approved", "decidedBy": "ada", "role": "admin",
				"approvedBy": []map[string]any{{"clientId": "pat", "role": "publisher"}, {"clientId": "ada", "role": "admin"}}},
			Extras: map[string]any{workflows.ExtrasHeaders: map[string]any{workflows.HeaderToolCallID: call, workflows.HeaderWorkflowID: wf}}})
		s.publishAsAgent(t, agentCancelled(wf, "call_synthetic_2"))
		for _, name := range approvers {
			var r struct{ Text string }
			br.Do(t, "resolvedText", map[string]any{"page": name, "toolCallId": "call_synthetic_2", "timeoutMs": 10000}, &r)
			br.Do(t, "resolvedText", map[string]any{"page": name, "toolCallId": call, "timeoutMs": 10000}, &r)
			if !strings.HasPrefix(r.Text, `approved publish_blog_post {"title":"Draft"}: approved by pat (publisher), ada (admin) `) || strings.Contains(r.Text, "· admin") {
				t.Errorf("%s: the quorum's resolution reads %q, want the arguments and both approvers with their roles (not the last one's role alone)", name, r.Text)
			}
			var n struct{ N int }
			br.Do(t, "count", map[string]any{"page": name, "selector": `li.card[data-tool-call-id^="call_synthetic"]`}, &n)
			if n.N != 0 {
				t.Errorf("%s: %d synthetic cards left after their resolution", name, n.N)
			}
		}
	})

	step("offline and reconnecting is shown", func(t *testing.T) {
		br.Do(t, "offline", map[string]any{"page": "erin", "offline": true}, nil)
		var got struct{ Text string }
		br.Do(t, "waitConn", map[string]any{"page": "erin", "state": "disconnected", "timeoutMs": 30000}, &got)
		if !strings.HasPrefix(got.Text, "Offline — reconnecting…") {
			t.Errorf("offline: %q", got.Text)
		}
		br.Do(t, "offline", map[string]any{"page": "erin", "offline": false}, nil)
		br.Do(t, "waitConn", map[string]any{"page": "erin", "state": "connected", "timeoutMs": 60000}, &got)
	})

	// The inbox probe: a decision clicked while the page was offline showed
	// "Sending…" and went out 41 s later, when the connection came back
	// (ably-js queued it). The CLI refuses such a decision at once; now the
	// page does too, and nothing is sent later.
	step("a decision while offline is refused, not held and sent later", func(t *testing.T) {
		const wf, call = "wf-inbox-offline", "call_offline_1"
		responses := s.observe(t)
		s.publishAsAgent(t, agentRequest(wf, call, map[string]any{
			"tool": "publish_blog_post", "arguments": `{"title":"Offline"}`, "requiredRole": "publisher",
		}))
		readCard(t, br, "pat", call)
		br.Do(t, "offline", map[string]any{"page": "pat", "offline": true}, nil)
		defer br.Do(t, "offline", map[string]any{"page": "pat", "offline": false}, nil) // also when the step fails
		br.Do(t, "waitConn", map[string]any{"page": "pat", "state": "disconnected", "timeoutMs": 30000}, nil)
		br.Do(t, "press", map[string]any{"page": "pat", "toolCallId": call, "button": "approve"}, nil)
		errSel := cardSelector(call) + ` .status[data-kind="error"]`
		br.Do(t, "waitSelector", map[string]any{"page": "pat", "selector": errSel, "timeoutMs": 10000}, nil)
		var st struct{ Text string }
		br.Do(t, "text", map[string]any{"page": "pat", "selector": errSel}, &st)
		if !strings.Contains(st.Text, "no connection to Ably") || !strings.Contains(st.Text, "not sent") {
			t.Errorf("status after an offline approval: %q, want that it was not sent", st.Text)
		}
		if c := readCard(t, br, "pat", call); !slices.Contains(c.Buttons, "Approve") {
			t.Errorf("buttons after the refused decision: %q, want them back", c.Buttons)
		}
		br.Do(t, "offline", map[string]any{"page": "pat", "offline": false}, nil)
		br.Do(t, "waitConn", map[string]any{"page": "pat", "state": "connected", "timeoutMs": 60000}, nil)
		responses.none(t, workflows.MsgApprovalResponse, 3*time.Second)
		s.publishAsAgent(t, agentCancelled(wf, call))
	})

	// The inbox probe: another approver's edit arrived while pat's approval
	// was on its way; the bridge dropped the approval (it named the old
	// arguments), but pat's card said "Approval sent" beside the new ones.
	step("a decision overtaken by new arguments says it does not count for them", func(t *testing.T) {
		const wf, call = "wf-inbox-stale", "call_stale_1"
		br.Do(t, "openTab", map[string]any{"page": "pat-slow", "of": "pat"}, nil)
		defer br.Do(t, "close", map[string]any{"page": "pat-slow"}, nil)
		br.Do(t, "holdAcks", map[string]any{"page": "pat-slow", "ms": 3000}, nil)
		br.Do(t, "goto", map[string]any{"page": "pat-slow", "url": base}, nil)
		br.Do(t, "waitReady", map[string]any{"page": "pat-slow", "timeoutMs": 30000}, nil)
		s.publishAsAgent(t, revisedRequest(wf, call, 0, `{"title":"Before"}`))
		readCard(t, br, "pat-slow", call)
		br.Do(t, "press", map[string]any{"page": "pat-slow", "toolCallId": call, "button": "approve"}, nil)
		s.publishAsAgent(t, revisedRequest(wf, call, 1, `{"title":"After"}`)) // while Ably's ACK of the approval is held
		warnSel := cardSelector(call) + ` .status[data-kind="warn"]`
		if err := br.Try("waitSelector", map[string]any{"page": "pat-slow", "selector": cardSelector(call) + ` .status[data-kind="ok"]`, "timeoutMs": 6000}, nil); err == nil {
			var st struct{ Text string }
			br.Do(t, "text", map[string]any{"page": "pat-slow", "selector": cardSelector(call) + " .status"}, &st)
			t.Fatalf("the card says %q beside arguments pat did not approve", st.Text)
		}
		var st struct{ Text string }
		br.Do(t, "text", map[string]any{"page": "pat-slow", "selector": warnSel}, &st)
		if !strings.Contains(st.Text, "does not count for the new ones") {
			t.Errorf("status %q, want that the decision does not count for the new arguments", st.Text)
		}
		if c := readCard(t, br, "pat-slow", call); c.Args == "" || !strings.Contains(c.Args, "After") || !slices.Contains(c.Buttons, "Approve") {
			t.Errorf("card after the overtaken approval: args %q, buttons %q; want the new arguments and the buttons back", c.Args, c.Buttons)
		}
		s.publishAsAgent(t, agentCancelled(wf, call))
	})

	// The last session's note: a publish ably-js failed because Ably ended
	// the connection under it with an error of its own (a connection-level
	// ERROR, a 4xxxx or 5xxxx) said "Could not send your decision" and
	// offered the buttons again, though the approval had reached Ably and
	// counts: only codes 80000 to 80099 read as a lost connection.
	step("a decision whose connection Ably ended before its ACK may still count", func(t *testing.T) {
		const wf, call = "wf-inbox-connfailed", "call_connfailed_1"
		br.Do(t, "openTab", map[string]any{"page": "pat-lost", "of": "pat"}, nil)
		defer br.Do(t, "close", map[string]any{"page": "pat-lost"}, nil)
		br.Do(t, "errorOnAck", map[string]any{"page": "pat-lost", "code": 50000, "statusCode": 500, "message": "Internal error"}, nil)
		br.Do(t, "goto", map[string]any{"page": "pat-lost", "url": base}, nil)
		br.Do(t, "waitReady", map[string]any{"page": "pat-lost", "timeoutMs": 30000}, nil)
		responses := s.observe(t)
		s.publishAsAgent(t, agentRequest(wf, call, map[string]any{
			"tool": "publish_blog_post", "arguments": `{"title":"Connection failed"}`, "requiredRole": "publisher",
		}))
		readCard(t, br, "pat-lost", call)
		br.Do(t, "press", map[string]any{"page": "pat-lost", "toolCallId": call, "button": "approve"}, nil)
		if m := responses.next(t, workflows.MsgApprovalResponse); m.ClientID != "pat" {
			t.Fatalf("approval-response from %q, want pat's", m.ClientID)
		}
		status := cardSelector(call) + " .status"
		either := status + `[data-kind="warn"]:has-text("Not confirmed"), ` + status + `[data-kind="error"]`
		br.Do(t, "waitSelector", map[string]any{"page": "pat-lost", "selector": either, "timeoutMs": 30000}, nil)
		c := readCard(t, br, "pat-lost", call)
		if !strings.HasPrefix(c.Status, "Not confirmed:") || !strings.Contains(c.Status, "may still count") {
			t.Errorf("status %q, want that the decision is not confirmed and may still count", c.Status)
		}
		if len(c.Buttons) != 0 {
			t.Errorf("buttons %q right after an approval that reached Ably, want none", c.Buttons)
		}
		s.publishAsAgent(t, agentCancelled(wf, call))
	})

	// The last session's note: an unconfirmed decision said "may still
	// count" even when the arguments had changed under it meanwhile, where
	// a confirmed one says it does not count for the new ones.
	step("an unconfirmed decision overtaken by new arguments says it does not count for them", func(t *testing.T) {
		const wf, call = "wf-inbox-connfailed-edit", "call_connfailed_edit_1"
		br.Do(t, "openTab", map[string]any{"page": "pat-lost2", "of": "pat"}, nil)
		defer br.Do(t, "close", map[string]any{"page": "pat-lost2"}, nil)
		br.Do(t, "errorOnAck", map[string]any{"page": "pat-lost2", "code": 50000, "statusCode": 500, "message": "Internal error", "hold": true}, nil)
		br.Do(t, "goto", map[string]any{"page": "pat-lost2", "url": base}, nil)
		br.Do(t, "waitReady", map[string]any{"page": "pat-lost2", "timeoutMs": 30000}, nil)
		s.publishAsAgent(t, revisedRequest(wf, call, 0, `{"title":"Before"}`))
		readCard(t, br, "pat-lost2", call)
		br.Do(t, "press", map[string]any{"page": "pat-lost2", "toolCallId": call, "button": "approve"}, nil)
		s.publishAsAgent(t, revisedRequest(wf, call, 1, `{"title":"After"}`))
		br.Do(t, "waitSelector", map[string]any{"page": "pat-lost2", "selector": cardSelector(call) + ` pre.args:has-text("After")`, "timeoutMs": 30000}, nil)
		br.Do(t, "releaseAckError", map[string]any{"page": "pat-lost2"}, nil) // the connection fails under the approval only now
		status := cardSelector(call) + " .status"
		either := status + `[data-kind="warn"]:has-text("does not count"), ` + status + `[data-kind="warn"]:has-text("Not confirmed"), ` + status + `[data-kind="error"]`
		br.Do(t, "waitSelector", map[string]any{"page": "pat-lost2", "selector": either, "timeoutMs": 30000}, nil)
		c := readCard(t, br, "pat-lost2", call)
		if !strings.Contains(c.Status, "does not count for the new ones") {
			t.Errorf("status %q, want that the decision does not count for the new arguments", c.Status)
		}
		if !strings.Contains(c.Args, "After") || !slices.Contains(c.Buttons, "Approve") {
			t.Errorf("card: args %q, buttons %q; want the new arguments and the buttons back", c.Args, c.Buttons)
		}
		s.publishAsAgent(t, agentCancelled(wf, call))
	})

	// The inbox probe: a decision the agent refused (an edit of the wrong
	// type) left the card at "sent" and then "may still be counting it".
	// The agent now says so (approval-ignored, to the approver); the page
	// shows it on the card and offers the buttons again. Another
	// approver's notice is not shown.
	step("a decision the agent did not count says why", func(t *testing.T) {
		const wf, call = "wf-inbox-notcounted", "call_notcounted_1"
		s.publishAsAgent(t, agentRequest(wf, call, map[string]any{
			"tool": "publish_blog_post", "arguments": `{"title":"Counted?"}`, "requiredRole": "publisher",
		}))
		readCard(t, br, "pat", call)
		readCard(t, br, "ada", call)
		responses := s.observe(t)
		br.Do(t, "press", map[string]any{"page": "pat", "toolCallId": call, "button": "approve"}, nil)
		resp := responses.next(t, workflows.MsgApprovalResponse)
		if !strings.HasPrefix(resp.ID, "web-") {
			t.Errorf("pat's response has id %q, want the page's own", resp.ID)
		}
		notice := func(approver, id, reason string) *ably.Message {
			return &ably.Message{Name: workflows.MsgApprovalIgnored,
				Data: map[string]any{"toolCallId": call, "workflowId": wf, "tool": "publish_blog_post", "approver": approver,
					"decision": "approved", "ablyMessageId": id, "reason": reason},
				Extras: map[string]any{workflows.ExtrasHeaders: map[string]any{workflows.HeaderToolCallID: call, workflows.HeaderWorkflowID: wf}}}
		}
		// About another of pat's messages (an older decision), and to ada:
		// neither is pat's card's business.
		s.publishAsAgent(t, notice("pat", "web-older:0", "about an older decision"))
		s.publishAsAgent(t, notice("ada", resp.ID, "to ada"))
		s.publishAsAgent(t, notice("pat", resp.ID, "edited arguments refused: title: want string, got number"))
		errSel := cardSelector(call) + ` .status[data-kind="error"]`
		br.Do(t, "waitSelector", map[string]any{"page": "pat", "selector": errSel, "timeoutMs": 10000}, nil)
		var st struct{ Text string }
		br.Do(t, "text", map[string]any{"page": "pat", "selector": errSel}, &st)
		if st.Text != "The agent did not count your decision on publish_blog_post: edited arguments refused: title: want string, got number. You can decide again." {
			t.Errorf("pat's card: %q", st.Text)
		}
		if c := readCard(t, br, "ada", call); c.Status != "" {
			t.Errorf("ada's card shows pat's notice: %q", c.Status)
		}
		s.publishAsAgent(t, agentCancelled(wf, call))
	})

	// The user probe: on a call whose policy keeps the requester out, the
	// requester's page offered Approve, and said "You can decide again"
	// after the agent refused it; the CLI refuses to send such a decision.
	step("the requester's page is read-only on a call that needs another approver", func(t *testing.T) {
		const wf, call = "wf-inbox-own", "call_own_1"
		s.publishAsAgent(t, agentRequest(wf, call, map[string]any{
			"tool": "publish_blog_post", "arguments": `{"title":"My own"}`, "requiredRole": "publisher",
			"requester": "pat", "distinctFromRequester": true,
		}))
		pat := readCard(t, br, "pat", call)
		if len(pat.Buttons) != 0 || pat.ReadOnly != "Read-only: you cannot decide this request, because you requested this run, and its policy needs another approver." {
			t.Errorf("the requester's card: buttons %q, read-only %q", pat.Buttons, pat.ReadOnly)
		}
		if ada := readCard(t, br, "ada", call); !slices.Contains(ada.Buttons, "Approve") {
			t.Errorf("another approver's card: buttons %q, want Approve", ada.Buttons)
		}
		s.publishAsAgent(t, agentCancelled(wf, call))
	})

	// The user probe: a page opened after an edit said "The arguments
	// changed: review them again before deciding." on the edited request
	// (the history's revisions read as a change under the user's eyes),
	// and the approver whose edit was counted read it about their own
	// edit, in place of "You approved this request".
	step("an edit is called a change only where the earlier arguments were shown, and not to its editor", func(t *testing.T) {
		const wf, call = "wf-inbox-edited", "call_edited_1"
		digestOf := func(args string) string {
			sum := sha256.Sum256([]byte(args))
			return "sha256:" + hex.EncodeToString(sum[:])
		}
		request := func(revision int, args string, extra map[string]any) *ably.Message {
			data := map[string]any{
				"tool": "publish_blog_post", "arguments": args, "argumentsDigest": digestOf(args), "requiredRole": "publisher",
				"approvals": 2, "editable": true, "revision": revision,
			}
			maps.Copy(data, extra)
			return agentRequest(wf, call, data)
		}
		const before, after = `{"title":"Before"}`, `{"title":"After"}`
		s.publishAsAgent(t, request(0, before, nil))
		readCard(t, br, "pat", call)
		readCard(t, br, "ada", call)
		br.Do(t, "editAndApprove", map[string]any{"page": "ada", "toolCallId": call, "attempts": []string{after}}, nil)
		at := time.Now().UTC().Format(time.RFC3339Nano)
		s.publishAsAgent(t, request(1, after, map[string]any{
			"editedBy":   map[string]any{"clientId": "ada", "role": "admin", "at": at},
			"approvedBy": []map[string]any{{"clientId": "ada", "role": "admin", "at": at}},
		}))
		shows := func(page string) card {
			t.Helper()
			var c card
			testutil.Eventually(t, 15*time.Second, page+"'s card to show the edit", func() bool {
				c = readCard(t, br, page, call)
				return strings.Contains(c.Args, "After")
			})
			return c
		}
		if c := shows("pat"); c.Status != "The arguments of publish_blog_post changed: review them again before deciding." {
			t.Errorf("pat, who was shown the arguments before the edit: status %q, want that they changed", c.Status)
		}
		if c := shows("ada"); !strings.HasPrefix(c.Status, "You approved this request; it waits for more approvals.") {
			t.Errorf("ada, whose edit was counted: status %q, want that she approved it", c.Status)
		}
		br.Do(t, "openTab", map[string]any{"page": "pat-later", "of": "pat"}, nil)
		defer br.Do(t, "close", map[string]any{"page": "pat-later"}, nil)
		br.Do(t, "goto", map[string]any{"page": "pat-later", "url": base}, nil)
		br.Do(t, "waitReady", map[string]any{"page": "pat-later", "timeoutMs": 30000}, nil)
		if c := shows("pat-later"); c.Status != "" || !slices.Contains(c.Buttons, "Approve") {
			t.Errorf("a page opened after the edit: status %q, buttons %q; want no change to review, and Approve", c.Status, c.Buttons)
		}
		s.publishAsAgent(t, agentCancelled(wf, call))
	})

	// The inbox probe: the edit box drew a bidi override's line reversed and
	// hid a zero-width space, where the card marks both. Now the box has
	// them as JSON \u escapes, as the CLI's editor does.
	step("the edit box shows hidden characters as escapes", func(t *testing.T) {
		const wf, call = "wf-inbox-hidden", "call_hidden_1"
		s.publishAsAgent(t, agentRequest(wf, call, map[string]any{
			"tool": "publish_blog_post", "arguments": "{\"title\":\"Safe\u202etxt.exe\u200b zero width\"}", "requiredRole": "publisher",
			"editable": true,
		}))
		readCard(t, br, "pat", call)
		var box struct{ Value string }
		br.Do(t, "editBox", map[string]any{"page": "pat", "toolCallId": call}, &box)
		if want := `"title": "Safe\u202etxt.exe\u200b zero width"`; !strings.Contains(box.Value, want) || strings.ContainsAny(box.Value, "\u202e\u200b") {
			t.Errorf("edit box %q, want %s with the escapes and no raw hidden character", box.Value, want)
		}
		// Saved as the box has it, escapes and all, nothing changed (the
		// review found it sent as an edit of different bytes).
		var edit struct{ Errors []string }
		br.Do(t, "editAndApprove", map[string]any{"page": "pat", "toolCallId": call, "attempts": []string{box.Value, `{"title":"Safe"}`}}, &edit)
		if len(edit.Errors) != 1 || !strings.HasPrefix(edit.Errors[0], "You changed nothing") {
			t.Errorf("saving the box unchanged: %q, want You changed nothing", edit.Errors)
		}
		s.publishAsAgent(t, agentCancelled(wf, call))
	})

	// A link whose a is Cyrillic (U+0430) reads as paypal.com: the card
	// says which letters are of another script.
	step("a word that mixes lookalike scripts is pointed out", func(t *testing.T) {
		const wf, call = "wf-inbox-lookalike", "call_lookalike_1"
		s.publishAsAgent(t, agentRequest(wf, call, map[string]any{
			"tool": "publish_blog_post", "arguments": "{\"title\":\"Pay here: https://p\u0430ypal.com\"}", "requiredRole": "publisher",
		}))
		c := readCard(t, br, "pat", call)
		if want := "Some words mix letters of scripts that look alike: \"p\u0430ypal\" (\u0430 U+0430 Cyrillic)"; !strings.HasPrefix(c.ArgsWarning, want) {
			t.Errorf("arguments warning %q, want it to start %q", c.ArgsWarning, want)
		}
		s.publishAsAgent(t, agentCancelled(wf, call))
	})

	// "Zalgo" text: dozens of combining marks on one letter, which a
	// browser paints over the lines around it.
	step("a pile of combining marks is cut and marked", func(t *testing.T) {
		const wf, call = "wf-inbox-zalgo", "call_zalgo_1"
		s.publishAsAgent(t, agentRequest(wf, call, map[string]any{
			"tool": "publish_blog_post", "arguments": "{\"title\":\"Ok" + strings.Repeat("\u0336", 45) + "\"}", "requiredRole": "publisher",
		}))
		c := readCard(t, br, "pat", call)
		if want := "Ok" + strings.Repeat("\u0336", 5) + "⟨+40 marks⟩"; !strings.Contains(c.Args, want) {
			t.Errorf("arguments %q, want %q in them", c.Args, want)
		}
		s.publishAsAgent(t, agentCancelled(wf, call))
	})

	step("a forged cross-site POST is refused", func(t *testing.T) {
		evil := evilSite(t, s.authURL)
		for _, f := range []struct{ page, target string }{
			{"/logout", s.authURL + authserver.LogoutPath},
			{"/login", s.authURL + authserver.LoginPath},
			{"/token", s.authURL + authserver.TokenPath},
		} {
			var got struct{ Status int }
			br.Do(t, "forge", map[string]any{"page": "pat", "url": evil + f.page, "target": f.target}, &got)
			if got.Status != http.StatusForbidden {
				t.Errorf("forged POST %s from %s: %d, want 403", f.target, evil, got.Status)
			}
		}
		// pat is still pat, still signed in.
		br.Do(t, "goto", map[string]any{"page": "pat", "url": base}, nil)
		br.Do(t, "waitReady", map[string]any{"page": "pat", "timeoutMs": 30000}, nil)
		var me struct{ Text string }
		br.Do(t, "text", map[string]any{"page": "pat", "selector": "#me"}, &me)
		if me.Text != "pat" {
			t.Fatalf("after the forged requests the inbox is %q's, want pat's", me.Text)
		}
	})

	// A page whose history read failed said "could not read the channel
	// history" until a reload, and never showed the requests published
	// before it opened (historyretry.js reads it again).
	step("a history read that fails is read again, and the requests it holds are shown", func(t *testing.T) {
		const wf, call = "wf-inbox-history", "call_history_retry_1"
		s.publishAsAgent(t, agentRequest(wf, call, map[string]any{
			"tool": "publish_blog_post", "arguments": `{"title":"History"}`, "requiredRole": "publisher",
		}))
		br.Do(t, "openTab", map[string]any{"page": "pat-history", "of": "pat"}, nil)
		defer br.Do(t, "close", map[string]any{"page": "pat-history"}, nil)
		br.Do(t, "failHistory", map[string]any{"page": "pat-history", "times": 2}, nil)
		br.Do(t, "goto", map[string]any{"page": "pat-history", "url": base}, nil)
		var failing struct{ Text string }
		br.Do(t, "waitConn", map[string]any{"page": "pat-history", "state": "failed", "timeoutMs": 15000}, &failing)
		if !strings.Contains(failing.Text, "could not read the channel history") || !strings.Contains(failing.Text, "reading it again") {
			t.Errorf("while the history read fails the page says %q, want that it reads it again", failing.Text)
		}
		readCard(t, br, "pat-history", call)
		br.Do(t, "waitConn", map[string]any{"page": "pat-history", "state": "connected", "timeoutMs": 15000}, nil)
		var reads struct{ Failed, Passed int }
		br.Do(t, "historyReads", map[string]any{"page": "pat-history"}, &reads)
		if reads.Failed != 2 || reads.Passed < 1 {
			t.Errorf("history reads: %d failed, %d passed; want 2 failed, then one that passed", reads.Failed, reads.Passed)
		}
		s.publishAsAgent(t, agentCancelled(wf, call))
	})

	step("logout, which ends the other tabs of the browser at once, for good", func(t *testing.T) {
		run := s.startRun("Publish the blog post called 'Signed out elsewhere'")
		req := s.waitPending(run, 1)[0]
		br.Do(t, "openTab", map[string]any{"page": "pat-tab", "of": "pat"}, nil)
		br.Do(t, "goto", map[string]any{"page": "pat-tab", "url": base}, nil)
		br.Do(t, "waitReady", map[string]any{"page": "pat-tab", "timeoutMs": 30000}, nil)
		if c := readCard(t, br, "pat-tab", req.ToolCallID); !slices.Contains(c.Buttons, "Approve") {
			t.Fatalf("pat's second tab: buttons %q, want Approve", c.Buttons)
		}

		br.Do(t, "click", map[string]any{"page": "pat", "selector": "#logout-form button"}, nil)
		if err := br.Try("waitSelector", map[string]any{"page": "pat", "selector": "#login-form", "timeoutMs": 15000}, nil); err != nil {
			t.Fatalf("after Sign out the login form is not shown: %v", err)
		}
		var got struct{ Text string }
		br.Do(t, "waitConn", map[string]any{"page": "pat-tab", "state": "signed-out", "timeoutMs": 5000}, &got)
		// It stays so: the closing connection does not paint over it.
		testutil.Consistently(t, 2*time.Second, "pat's other tab to stay signed out, with no button", func() bool {
			var conn struct{ Text string }
			br.Do(t, "text", map[string]any{"page": "pat-tab", "selector": "#conn"}, &conn)
			c := readCard(t, br, "pat-tab", req.ToolCallID)
			return conn.Text == "Signed out: your session ended. Sign in again" && len(c.Buttons) == 0 &&
				c.ReadOnly == "Read-only: you cannot decide this request, because you are signed out (sign in again to decide)."
		})
		// The header no longer says "Signed in as pat" beside a Sign out button.
		var header struct{ Text string }
		br.Do(t, "text", map[string]any{"page": "pat-tab", "selector": "#signed-in"}, &header)
		var logout struct{ N int }
		br.Do(t, "count", map[string]any{"page": "pat-tab", "selector": "#logout-form:visible"}, &logout)
		if header.Text != "Signed out" || logout.N != 0 {
			t.Errorf("pat's signed-out tab: header %q, %d visible Sign out button(s)", header.Text, logout.N)
		}
		br.Do(t, "close", map[string]any{"page": "pat-tab"}, nil)
	})

	step("a channel flooded past the history the page reads says so", func(t *testing.T) {
		// An approver may publish on the channel; 1,100 messages push the
		// pending requests out of the 1,000 the page reads at load.
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		for range 11 {
			batch := make([]*ably.Message, 100)
			for i := range batch {
				batch[i] = &ably.Message{Name: "chatter", Data: "x"}
			}
			if err := s.approverREST("editor").Channels.Get(channel).PublishMultiple(ctx, batch); err != nil {
				t.Fatal(err)
			}
		}
		br.Do(t, "goto", map[string]any{"page": "erin", "url": base}, nil)
		br.Do(t, "waitReady", map[string]any{"page": "erin", "timeoutMs": 30000}, nil)
		var cut struct{ Text string }
		br.Do(t, "text", map[string]any{"page": "erin", "selector": "#history-cut"}, &cut)
		if !strings.HasPrefix(cut.Text, "Only the newest 1000 messages of the channel were read, and it has older ones") {
			t.Errorf("after a flood the page says %q, want that it read only part of the history", cut.Text)
		}
		// The inbox probe: the list under that warning said "Nothing is
		// waiting for a decision." while requests waited unseen.
		var n struct{ N int }
		br.Do(t, "count", map[string]any{"page": "erin", "selector": "li.card"}, &n)
		var empty struct{ Text string }
		br.Do(t, "text", map[string]any{"page": "erin", "selector": "#empty"}, &empty)
		if n.N != 0 || empty.Text != "No request waits among the messages read (see above)." {
			t.Errorf("after a flood: %d cards, the empty list says %q", n.N, empty.Text)
		}
	})

	step("no CSP violation or script error on any page", func(t *testing.T) {
		var got struct{ Problems []string }
		br.Do(t, "problems", nil, &got)
		if len(got.Problems) != 0 {
			t.Fatalf("the pages reported:\n%s", strings.Join(got.Problems, "\n"))
		}
	})
}

// loginResult is what the driver's login returns.
type loginResult struct {
	Status    int
	Error, Me string
	Cookies   []cookieInfo
}

// cookieInfo is a cookie as the browser holds it.
type cookieInfo struct {
	Name     string
	HTTPOnly bool `json:"httpOnly"`
	SameSite string
	Secure   bool
}

func (r loginResult) cookie(name string) (cookieInfo, bool) {
	for _, c := range r.Cookies {
		if c.Name == name {
			return c, true
		}
	}
	return cookieInfo{}, false
}

func (r loginResult) hasCookie(name string) bool {
	_, ok := r.cookie(name)
	return ok
}

// shortDigest is how a card shows a digest: the algorithm and 16 hex
// digits; "" for none.
func shortDigest(d string) string {
	if d == "" {
		return ""
	}
	return d[:min(len(d), len("sha256:")+16)] + "…"
}

func cardSelector(toolCallID string) string {
	return fmt.Sprintf("li.card[data-tool-call-id=%q]", toolCallID)
}

func resolvedSelector(toolCallID string) string {
	return fmt.Sprintf("li.resolved-item[data-tool-call-id=%q]", toolCallID)
}

// readCard waits for a request's card on a page and reads it.
func readCard(t *testing.T, br *browsertest.Driver, page, toolCallID string) card {
	t.Helper()
	var c card
	br.Do(t, "card", map[string]any{"page": page, "toolCallId": toolCallID, "timeoutMs": 30000}, &c)
	return c
}

// revisedRequest is the agent's approval-request of publish_blog_post for
// call of run wf, at revision with args.
func revisedRequest(wf, call string, revision int, args string) *ably.Message {
	return agentRequest(wf, call, map[string]any{
		"tool": "publish_blog_post", "arguments": args, "requiredRole": "publisher", "revision": revision,
	})
}

// spoofedRequest is an approval-request as an approver could publish it.
func spoofedRequest(toolCallID, workflowID string) *ably.Message {
	return agentRequest(workflowID, toolCallID, map[string]any{
		"tool": "delete_post", "arguments": `{"slug":"everything"}`, "requiredRole": "editor", "requester": "spoofer",
		"requestedAt": time.Now().UTC().Format(time.RFC3339Nano), "expiresAt": time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano),
	})
}

// agentRequest is an approval-request message with the contract's
// headers; data gets the ids, and unless it has them, requestedAt now and
// expiresAt ten minutes later.
func agentRequest(workflowID, toolCallID string, data map[string]any) *ably.Message {
	data["toolCallId"], data["workflowId"] = toolCallID, workflowID
	if _, ok := data["requestedAt"]; !ok {
		now := time.Now().UTC()
		data["requestedAt"], data["expiresAt"] = now.Format(time.RFC3339Nano), now.Add(10*time.Minute).Format(time.RFC3339Nano)
	}
	return &ably.Message{Name: workflows.MsgApprovalRequest, Data: data,
		Extras: map[string]any{workflows.ExtrasHeaders: map[string]any{workflows.HeaderToolCallID: toolCallID, workflows.HeaderWorkflowID: workflowID}}}
}

// agentCancelled is the agent's approval-resolved that ends a synthetic
// request when its step is over.
func agentCancelled(workflowID, toolCallID string) *ably.Message {
	return &ably.Message{Name: workflows.MsgApprovalResolved,
		Data:   map[string]any{"toolCallId": toolCallID, "workflowId": workflowID, "tool": "publish_blog_post", "outcome": "cancelled", "reason": "test over"},
		Extras: map[string]any{workflows.ExtrasHeaders: map[string]any{workflows.HeaderToolCallID: toolCallID, workflows.HeaderWorkflowID: workflowID}}}
}

// publishAsAgent publishes m under the agent's clientId, with a token
// signed by the stack's key as the worker's are.
func (s *stack) publishAsAgent(t *testing.T, m *ably.Message) {
	t.Helper()
	s.publishWith(t, func(context.Context) (string, error) {
		tok, _, err := ablyconn.SignToken(ablyKeyName, ablyKeySecret, workflows.DefaultAgentClientID,
			fmt.Sprintf(`{%q:["publish"]}`, channel), nil, time.Now(), time.Hour)
		return tok, err
	}, m)
}

func (s *stack) publishWith(t *testing.T, token func(context.Context) (string, error), m *ably.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := ablyconn.Config{Endpoint: s.ably.Addr(), TLS: false}
	rest, err := ably.NewREST(append(cfg.EndpointOptions(), ably.WithAuthCallback(func(ctx context.Context, _ ably.TokenParams) (ably.Tokener, error) {
		tok, err := token(ctx)
		return ably.TokenString(tok), err
	}))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := rest.Channels.Get(channel).PublishMultiple(ctx, []*ably.Message{m}); err != nil {
		t.Fatalf("publish %s: %v", m.Name, err)
	}
}

// observer collects the channel's messages from the time it attached.
type observer struct {
	msgs chan *ably.Message
}

// observe subscribes to the channel as a trusted observer.
func (s *stack) observe(t *testing.T) *observer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := ablyconn.Config{Endpoint: s.ably.Addr(), TLS: false}
	opts := append(cfg.EndpointOptions(), ably.WithAuthCallback(func(context.Context, ably.TokenParams) (ably.Tokener, error) {
		tok, _, err := ablyconn.SignToken(ablyKeyName, ablyKeySecret, "e2e-observer", fmt.Sprintf(`{%q:["subscribe"]}`, channel), nil, time.Now(), time.Hour)
		return ably.TokenString(tok), err
	}))
	rt, err := ablyconn.NewRealtime(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	o := &observer{msgs: make(chan *ably.Message, 256)}
	unsub, err := rt.Channels.Get(channel).SubscribeAll(ctx, func(m *ably.Message) {
		select {
		case o.msgs <- m:
		default: // never block ably-go; the test fails on the missing message
		}
	})
	if err != nil {
		t.Fatalf("observe: %v", err)
	}
	t.Cleanup(unsub)
	return o
}

// next returns the next message called name.
func (o *observer) next(t *testing.T, name string) *ably.Message {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case m := <-o.msgs:
			if m.Name == name {
				return m
			}
		case <-deadline:
			t.Fatalf("no %s on the channel within 30 s", name)
			return nil
		}
	}
}

// none fails if a message called name arrives within d.
func (o *observer) none(t *testing.T, name string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m := <-o.msgs:
			if m.Name == name {
				t.Fatalf("a %s from %q arrived, want none", name, m.ClientID)
			}
		case <-deadline:
			return
		}
	}
}

// evilSite serves an attacker's pages on another site (localhost, while
// the inbox is 127.0.0.1): each sends a request to the auth server on its
// own as soon as it loads, with the victim's browser.
func evilSite(t *testing.T, authURL string) string {
	t.Helper()
	form := func(action string, fields map[string]string) string {
		var b strings.Builder
		fmt.Fprintf(&b, `<!doctype html><form id="f" method="post" action="%s">`, action)
		for k, v := range fields {
			fmt.Fprintf(&b, `<input type="hidden" name="%s" value="%s">`, k, v)
		}
		b.WriteString(`</form><script>document.getElementById('f').submit()</script>`)
		return b.String()
	}
	pages := map[string]string{
		"/logout": form(authURL+authserver.LogoutPath, map[string]string{"csrf": "guessed"}),
		"/login":  form(authURL+authserver.LoginPath, map[string]string{"csrf": "guessed", "name": "erin", "password": users["editor"].password}),
		"/token": `<!doctype html><script>fetch(` + jsString(authURL+authserver.TokenPath) +
			`, {method: 'POST', credentials: 'include', mode: 'no-cors', headers: {'Content-Type': 'text/plain'}, body: 'x'})</script>`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return "http://localhost:" + port
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
