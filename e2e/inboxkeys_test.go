package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hitl/durable-approvals/internal/authserver/web/browsertest"
	"github.com/hitl/durable-approvals/internal/testutil"
)

// focusInfo is what the driver says of the element with the focus.
type focusInfo struct {
	Tag, ID, Class, Card string
	InPending            bool
	Described, Invalid   string
}

// liveText is one text a live region of the page took.
type liveText struct{ Where, Text string }

// TestInboxKeyboard uses the web inbox in Chromium as a keyboard and
// screen-reader user would, against the real stack, on requests the
// agent's clientId publishes here (quorum progress and new arguments come
// when the test says): what the live regions say, where the focus goes
// when a card is drawn again, the forms' errors and Escape, the buttons'
// names, and a 320 × 256 window (400 % zoom).
func TestInboxKeyboard(t *testing.T) {
	s := newStack(t, e2ePolicy)
	br := browsertest.Start(t)
	base := s.authURL + "/"
	step := s.stepper(t)

	const wf, older, newer = "wf-inbox-keys", "call_keys_older", "call_keys_newer"
	request := func(call string, revision int, args string, extra map[string]any) {
		sum := sha256.Sum256([]byte(args))
		data := map[string]any{
			"tool": "publish_blog_post", "arguments": args, "argumentsDigest": "sha256:" + hex.EncodeToString(sum[:]),
			"requiredRole": "publisher", "requester": "e2e-tester", "approvals": 2, "editable": true, "revision": revision,
		}
		for k, v := range extra {
			data[k] = v
		}
		s.publishAsAgent(t, agentRequest(wf, call, data))
	}
	live := func(t *testing.T) []liveText {
		var got struct{ Texts []liveText }
		br.Do(t, "liveTexts", map[string]any{"page": "pat"}, &got)
		return got.Texts
	}
	focus := func(t *testing.T) focusInfo {
		var f focusInfo
		br.Do(t, "focus", map[string]any{"page": "pat"}, &f)
		return f
	}
	keys := func(t *testing.T, text string, keys ...string) focusInfo {
		var f focusInfo
		br.Do(t, "keys", map[string]any{"page": "pat", "keys": keys, "text": text}, &f)
		return f
	}
	waitCard := func(t *testing.T, call, what string, ok func(card) bool) card {
		var c card
		testutil.WaitFor(t, 15*time.Second, what, func() (bool, error) {
			c = readCard(t, br, "pat", call)
			return ok(c), nil
		})
		return c
	}

	// In the history before the page opens.
	request(older, 1, `{"title":"Older"}`, nil)

	step("the requests read at load are not announced one by one, a live one is", func(t *testing.T) {
		br.Do(t, "open", map[string]any{"page": "pat", "recordLive": true}, nil)
		br.Do(t, "login", map[string]any{"page": "pat", "base": base, "user": "pat", "password": users["publisher"].password}, nil)
		br.Do(t, "waitReady", map[string]any{"page": "pat", "timeoutMs": 30000}, nil)
		// The expiry's clock time is on the card, not only in the
		// countdown's tooltip, which neither a keyboard nor a touch screen
		// shows.
		if c := readCard(t, br, "pat", older); !regexp.MustCompile(`^(?:[A-Z][a-z]{2} [0-9]{1,2}, [0-9]{4} )?[0-9]{2}:[0-9]{2}:[0-9]{2}$`).MatchString(c.ExpiresAt) {
			t.Errorf("the card's expiry reads %q, want a clock time", c.ExpiresAt)
		}
		var said []string
		for _, l := range live(t) {
			said = append(said, l.Where+": "+l.Text)
		}
		all := strings.Join(said, "\n")
		// The inbox probe: the page said "New request: …" for the requests
		// it read from the history as it opened.
		if strings.Contains(all, "New request") || !strings.Contains(all, "announce: 1 request waits for your decision.") {
			t.Errorf("as the page opened its live regions said:\n%s\nwant no \"New request\", and how many requests wait", all)
		}
		request(newer, 1, `{"title":"Newer"}`, nil)
		readCard(t, br, "pat", newer)
		testutil.WaitFor(t, 5*time.Second, "the live request announced", func() (bool, error) {
			for _, l := range live(t) {
				if l.Where == "announce" && l.Text == "New request: publish_blog_post, needs publisher." {
					return true, nil
				}
			}
			return false, nil
		})
	})

	step("the focus stays on the button when the agent re-announces the request", func(t *testing.T) {
		var f focusInfo
		br.Do(t, "focusButton", map[string]any{"page": "pat", "toolCallId": older, "button": "approve"}, &f)
		if f.Card != older || f.Class != "approve" {
			t.Fatalf("focus on %+v, want the Approve button", f)
		}
		now := time.Now().UTC().Format(time.RFC3339Nano)
		request(older, 2, `{"title":"Older"}`, map[string]any{"approvedBy": []map[string]any{{"clientId": "ada", "role": "admin", "at": now}}})
		waitCard(t, older, "ada's approval counted on the card", func(c card) bool { return strings.Contains(c.Quorum, "by ada") })
		// The inbox probe: the focus fell to the page's body.
		if f := focus(t); f.Card != older || f.Class != "approve" {
			t.Errorf("after the re-announcement the focus is on %+v, want still the Approve button", f)
		}
	})

	step("new arguments under an open reject form keep the focus in the card", func(t *testing.T) {
		br.Do(t, "focusButton", map[string]any{"page": "pat", "toolCallId": older, "button": "reject"}, nil)
		if f := keys(t, "not yet", "Enter"); f.Class != "reason-input" {
			t.Fatalf("Enter on Reject… put the focus on %+v, want the reason field", f)
		}
		// That the reason may be left out is in the field's name, not only
		// in its placeholder, which goes once the user types.
		var form struct{ YAML string }
		br.Do(t, "ariaSnapshot", map[string]any{"page": "pat", "selector": cardSelector(older) + " form.reject-form"}, &form)
		if !strings.Contains(form.YAML, `textbox "Reason for rejecting (optional`) {
			t.Errorf("the reject form as a screen reader gets it:\n%s\nwant the reason named optional", form.YAML)
		}
		live(t) // what was said before
		request(older, 3, `{"title":"Older, edited"}`, nil)
		waitCard(t, older, "the new arguments on the card", func(c card) bool { return strings.Contains(c.Args, "edited") })
		if f := focus(t); f.Card != older || f.Tag != "H3" {
			t.Errorf("after the arguments changed under the open form the focus is on %+v, want the card's title", f)
		}
		// Said once, naming the tool: the card's status line and the
		// page's announcer both said it before.
		var said []string
		for _, l := range live(t) {
			if strings.Contains(l.Text, "arguments") && strings.Contains(l.Text, "changed") {
				said = append(said, l.Where+": "+l.Text)
			}
		}
		if len(said) != 1 || !strings.Contains(said[0], "publish_blog_post") {
			t.Errorf("the change of arguments was said %d times: %q; want once, naming the tool", len(said), said)
		}
	})

	step("a status line is not said again when the request is re-announced unchanged", func(t *testing.T) {
		now := time.Now().UTC().Format(time.RFC3339Nano)
		approved := []map[string]any{{"clientId": "ada", "role": "admin", "at": now}, {"clientId": "pat", "role": "publisher", "at": now}}
		request(newer, 2, `{"title":"Newer"}`, map[string]any{"approvedBy": approved, "approvals": 3})
		waitCard(t, newer, "pat's approval counted", func(c card) bool { return strings.HasPrefix(c.Status, "You approved this request") })
		live(t) // what that said
		request(newer, 3, `{"title":"Newer"}`, map[string]any{"approvedBy": approved, "approvals": 3,
			"nextEscalation": map[string]any{"at": time.Now().Add(5 * time.Minute).UTC().Format(time.RFC3339Nano), "minRole": "admin"}})
		waitCard(t, newer, "the revision shown", func(c card) bool { return c.NextEscalation != "" })
		for _, l := range live(t) {
			if strings.HasPrefix(l.Text, "You approved this request") {
				t.Errorf("the unchanged status was said again: %q (%s)", l.Text, l.Where)
			}
		}
	})

	step("the edit form: Escape asks before it throws an edit away; errors are tied to the box", func(t *testing.T) {
		br.Do(t, "focusButton", map[string]any{"page": "pat", "toolCallId": older, "button": "edit"}, nil)
		if f := keys(t, "", "Enter"); f.Class != "edit-args" {
			t.Fatalf("Enter on Approve with edits… put the focus on %+v, want the arguments box", f)
		}
		if f := keys(t, "", "Escape"); f.Card != older || f.Class != "edit secondary" {
			t.Errorf("Escape on the unchanged box: focus on %+v, want the form closed and the focus on its button", f)
		}
		keys(t, "", "Enter")
		f := keys(t, "x", "End")
		f = keys(t, "", "Escape")
		if f.Class != "edit-args" || !strings.HasPrefix(f.Described, "Press Escape again") {
			t.Errorf("Escape on an edited box: focus on %+v, want the box still open, saying how to throw the edit away", f)
		}
		if f := keys(t, "", "Escape"); f.Class != "edit secondary" {
			t.Errorf("a second Escape: focus on %+v, want the form closed and the focus on its button", f)
		}
		keys(t, "", "Enter")
		keys(t, `{"title": `, "Control+A")
		f = keys(t, "", "Tab", "Enter") // to "Approve edited arguments", and press it
		if f.Class != "edit-args" || f.Invalid != "true" || !strings.HasPrefix(f.Described, "Not valid JSON") {
			t.Errorf("invalid JSON sent: focus on %+v, want the box, marked invalid and described by the error", f)
		}
		keys(t, "", "Escape", "Escape")
	})

	step("the arguments box is named as a group", func(t *testing.T) {
		var got struct{ YAML string }
		br.Do(t, "ariaSnapshot", map[string]any{"page": "pat", "selector": cardSelector(older)}, &got)
		// ARIA forbids a name on an element of no role (a pre): Chromium
		// said it, others need not.
		if !strings.Contains(got.YAML, `group "Arguments"`) {
			t.Errorf("the card as a screen reader gets it:\n%s\nwant the arguments in a group named Arguments", got.YAML)
		}
	})

	step("the full digest is reached from the keyboard, and stays open when the request is re-announced", func(t *testing.T) {
		const args = `{"title":"Older, edited"}`
		sum := sha256.Sum256([]byte(args))
		full := "sha256:" + hex.EncodeToString(sum[:])
		digest := func(t *testing.T) string {
			var got struct{ YAML string }
			br.Do(t, "ariaSnapshot", map[string]any{"page": "pat", "selector": cardSelector(older) + " .fact.digest dd"}, &got)
			return got.YAML
		}
		// The inbox probe: the full digest was only in the short one's
		// tooltip (a title), which no key opens.
		var got struct{ Reached bool }
		br.Do(t, "tabTo", map[string]any{"page": "pat", "from": cardSelector(older) + " h3", "to": cardSelector(older) + " .fact.digest summary", "tabs": 5}, &got)
		if !got.Reached {
			t.Fatalf("Tab from the card's title does not reach the digest's disclosure: the full digest is out of a keyboard's reach")
		}
		if y := digest(t); strings.Contains(y, full) || !strings.Contains(y, shortDigest(full)) {
			t.Errorf("the digest before it is opened:\n%s\nwant the short form only", y)
		}
		keys(t, "", "Enter")
		testutil.WaitFor(t, 5*time.Second, "the full digest shown", func() (bool, error) { return strings.Contains(digest(t), full), nil })
		request(older, 4, args, map[string]any{
			"nextEscalation": map[string]any{"at": time.Now().Add(5 * time.Minute).UTC().Format(time.RFC3339Nano), "minRole": "admin"},
		})
		waitCard(t, older, "the re-announcement shown", func(c card) bool { return c.NextEscalation != "" })
		if y := digest(t); !strings.Contains(y, full) {
			t.Errorf("after the re-announcement the digest reads:\n%s\nwant it still in full", y)
		}
		if f := focus(t); f.Card != older || f.Tag != "SUMMARY" {
			t.Errorf("after the re-announcement the focus is on %+v, want still the digest's disclosure", f)
		}
	})

	step("every button's name holds the words it shows, and tells its card apart", func(t *testing.T) {
		var got struct {
			Buttons []struct{ Text, Name, Card string }
		}
		br.Do(t, "buttonNames", map[string]any{"page": "pat"}, &got)
		if len(got.Buttons) == 0 {
			t.Fatal("no buttons")
		}
		words := func(s string) string { return strings.TrimSpace(strings.NewReplacer("…", "", ":", "").Replace(s)) }
		// Both cards are of publish_blog_post: the names say which post.
		titles := map[string]string{older: "Older, edited", newer: "Newer"}
		cardOf := map[string]string{}
		for _, b := range got.Buttons {
			// WCAG 2.5.3: a speech user says what they see.
			if !strings.Contains(words(b.Name), words(b.Text)) {
				t.Errorf("button %q is named %q", b.Text, b.Name)
			}
			// The inbox probe: both cards' buttons were named "Reject
			// publish_blog_post…", and a screen reader's list of buttons
			// could not tell which card each belongs to.
			if card, ok := cardOf[b.Name]; ok {
				t.Errorf("buttons of %s and %s are both named %q", card, b.Card, b.Name)
			}
			cardOf[b.Name] = b.Card
			if !strings.Contains(b.Name, "title “"+titles[b.Card]+"”") || utf8.RuneCountInString(b.Name) > 80 {
				t.Errorf("button %q of %s is named %q, want its post's title in at most 80 characters", b.Text, b.Card, b.Name)
			}
		}
	})

	step("the skip link's heading is not under the sticky header", func(t *testing.T) {
		for _, size := range [][2]int{{1280, 560}, {660, 560}, {360, 640}} {
			var got struct {
				ID                        string
				Top, Bottom, HeaderBottom float64
				Scrolled                  bool
			}
			br.Do(t, "skipLink", map[string]any{"page": "pat", "width": size[0], "height": size[1]}, &got)
			if got.ID != "pending-title" || got.Top < got.HeaderBottom {
				t.Errorf("%d × %d: the skip link put the focus on #%s at %.0f–%.0f px, the header ends at %.0f px: want the heading below it", size[0], size[1], got.ID, got.Top, got.Bottom, got.HeaderBottom)
			}
		}
	})

	step("a 320 × 256 window (400 % zoom): no sideways scroll, no focus under the header", func(t *testing.T) {
		var got struct {
			Reached         int
			Covered         []string
			ScrollsSideways bool
		}
		br.Do(t, "tabScan", map[string]any{"page": "pat", "width": 320, "height": 256, "tabs": 40}, &got)
		if got.Reached < 8 || len(got.Covered) != 0 || got.ScrollsSideways {
			t.Errorf("tabbing through a 320 × 256 window: %+v; want every control reached in view, none under the header", got)
		}
	})

	step("a request about to expire is announced once", func(t *testing.T) {
		br.Do(t, "layout", map[string]any{"page": "pat", "width": 1280, "height": 800}, nil)
		const call = "call_keys_expiring"
		now := time.Now().UTC()
		live(t)
		s.publishAsAgent(t, agentRequest(wf, call, map[string]any{
			"tool": "delete_post", "arguments": `{"slug":"old"}`, "requiredRole": "publisher",
			"requestedAt": now.Format(time.RFC3339Nano), "expiresAt": now.Add(70 * time.Second).Format(time.RFC3339Nano),
		}))
		// 70 s: the card shows before its last minute (one that comes
		// already red is announced as new, not as expiring).
		readCard(t, br, "pat", call)
		var said []string
		testutil.WaitFor(t, 30*time.Second, "the expiry announced", func() (bool, error) {
			for _, l := range live(t) {
				if l.Where == "announce" {
					said = append(said, l.Text)
				}
			}
			return slices.Contains(said, "delete_post expires in less than a minute."), nil
		})
		// More ticks of the page's countdown: the expiry is said once.
		testutil.Consistently(t, 2*time.Second, "the expiry announced once", func() bool {
			for _, l := range live(t) {
				if l.Where == "announce" {
					said = append(said, l.Text)
				}
			}
			return len(slices.DeleteFunc(slices.Clone(said), func(s string) bool { return !strings.Contains(s, "expires") })) == 1
		})
	})

	step("no CSP violation or script error", func(t *testing.T) {
		var got struct{ Problems []string }
		br.Do(t, "problems", nil, &got)
		if len(got.Problems) != 0 {
			t.Fatalf("the page reported:\n%s", strings.Join(got.Problems, "\n"))
		}
	})
}
