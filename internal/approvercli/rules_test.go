package approvercli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/workflows"
)

// ruledReq is an approval-request under a policy with rules.
func ruledReq(mutate func(d *workflows.ApprovalRequestData)) Request {
	d := reqData("call_1", "wf-1", t0.Add(time.Hour))
	d.Roles = []string{"editor", "publisher", "admin"}
	d.Approvals = 2
	if mutate != nil {
		mutate(&d)
	}
	return Request{ApprovalRequestData: d}
}

func TestRefusal(t *testing.T) {
	since := time.Date(2026, 1, 2, 12, 10, 0, 0, time.UTC)
	escalated := func(d *workflows.ApprovalRequestData) {
		d.RequiredRole = "admin"
		d.Escalation = &workflows.EscalationState{Level: 1, PreviousRole: "publisher", Since: since}
	}
	tests := []struct {
		name, client, role, decision string
		edit                         bool
		r                            Request
		want                         string
	}{
		{"plain", "alice", "publisher", "approved", false, ruledReq(nil), ""},
		{"the requester", "bob", "admin", "approved", false,
			ruledReq(func(d *workflows.ApprovalRequestData) { d.DistinctFromRequester = true }),
			"you requested this run: the policy needs another approver"},
		{"the requester without the rule", "bob", "admin", "approved", false, ruledReq(nil), ""},
		{"already approved", "alice", "publisher", "approved", false,
			ruledReq(func(d *workflows.ApprovalRequestData) {
				d.ApprovedBy = []workflows.Approver{{ClientID: "alice", Role: "publisher"}}
			}), "you already approved (1 of 2 approvals)"},
		{"already approved may still edit", "alice", "publisher", "approved", true,
			ruledReq(func(d *workflows.ApprovalRequestData) {
				d.Editable = true
				d.ApprovedBy = []workflows.Approver{{ClientID: "alice", Role: "publisher"}}
			}), ""},
		{"already approved may reject", "alice", "publisher", "rejected", false,
			ruledReq(func(d *workflows.ApprovalRequestData) {
				d.ApprovedBy = []workflows.Approver{{ClientID: "alice", Role: "publisher"}}
			}), ""},
		{"already rejected under a rejection quorum", "alice", "publisher", "rejected", false,
			ruledReq(func(d *workflows.ApprovalRequestData) {
				d.RejectBy = workflows.RejectByQuorum
				d.RejectedBy = []workflows.Approver{{ClientID: "alice", Role: "publisher"}}
			}), "you already rejected (1 of 2 rejections)"},
		{"escalated above the role", "alice", "publisher", "approved", false, ruledReq(escalated),
			"needs admin since 12:10 UTC (escalated from publisher)"},
		{"escalated, an admin", "carol", "admin", "approved", false, ruledReq(escalated), ""},
		{"edit of a policy that is not editable", "alice", "publisher", "approved", true, ruledReq(nil),
			"the policy does not allow edits of publish_blog_post"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := refusal(tt.r, tt.client, tt.role, tt.decision, tt.edit); got != tt.want {
				t.Fatalf("refusal = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWriteRules(t *testing.T) {
	r := ruledReq(func(d *workflows.ApprovalRequestData) {
		d.ApprovedBy = []workflows.Approver{{ClientID: "pat", Role: "publisher"}}
		d.RejectBy = workflows.RejectByQuorum
		d.RequiredRole = "admin"
		d.Escalation = &workflows.EscalationState{Level: 1, PreviousRole: "publisher", Since: t0}
		d.NextEscalation = &workflows.EscalationStep{At: t0.Add(5 * time.Minute), MinRole: "owner"}
		d.DistinctFromRequester = true
		d.EditedBy = &workflows.Approver{ClientID: "pat", Role: "publisher"}
		d.Editable = true
	})
	var b bytes.Buffer
	writeRules(&b, r, t0.Add(time.Minute))
	for _, want := range []string{
		"Approvals:     1 of 2 approvals, by pat (publisher)\n",
		"Rejections:    0 of 2 rejections (a quorum rejects)\n",
		"Escalated:     needs admin since " + t0.UTC().Format("15:04:05 UTC") + " (was publisher; stage 1)\n",
		"Escalates:     to owner at " + t0.Add(5*time.Minute).UTC().Format("15:04:05 UTC") + " (in 4m0s) if still undecided\n",
		"Separation:    the requester cannot decide this call\n",
		"Edited by:     pat (publisher); earlier approvals no longer count\n",
		"Editable:      yes (approver approve call_1 --edit)\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	writeRules(&b, Request{ApprovalRequestData: reqData("call_1", "wf-1", t0.Add(time.Hour))}, t0)
	if b.Len() != 0 {
		t.Errorf("a request without rules prints %q", b.String())
	}
}

// A newer revision of a request replaces the one shown; an older one or a
// copy does not.
func TestPendingRevisions(t *testing.T) {
	p := NewPending("hitl-agent", func() time.Time { return t0 })
	rev := func(n int, role string) *ably.Message {
		d := reqData("call_1", "wf-1", t0.Add(time.Hour))
		d.Revision, d.RequiredRole = n, role
		m := requestMsg(t, "hitl-agent", d)
		m.ID += "-" + string(rune('0'+n))
		return m
	}
	if ev := p.Apply(rev(0, "publisher")); ev.Kind != EventRequest {
		t.Fatalf("first: %+v", ev)
	}
	if ev := p.Apply(rev(2, "admin")); ev.Kind != EventUpdated || ev.Previous.RequiredRole != "publisher" || ev.Request.RequiredRole != "admin" {
		t.Fatalf("revision 2: %+v", ev)
	}
	if ev := p.Apply(rev(1, "publisher")); ev.Kind != EventIgnored || !strings.Contains(ev.Reason, "older") {
		t.Fatalf("revision 1 after 2: %+v", ev)
	}
	if ev := p.Apply(rev(2, "admin")); ev.Kind != EventIgnored || ev.Reason != "duplicate" {
		t.Fatalf("copy of revision 2: %+v", ev)
	}
	if got := p.List(); len(got) != 1 || got[0].Revision != 2 {
		t.Fatalf("list = %+v", got)
	}
}

// ExternalEditor runs the user's editor command on a temporary file.
func TestExternalEditor(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "edit.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nsed -i 's/Hello/Hello, edited/' \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	e := EditorFromEnv(func(k string) string {
		if k == "EDITOR" {
			return script
		}
		return ""
	}, nil, io.Discard, io.Discard)
	got, err := e.Edit(t.Context(), `{"title": "Hello"}`)
	if err != nil || got != `{"title": "Hello, edited"}` {
		t.Fatalf("Edit = %q, %v", got, err)
	}
	failing := ExternalEditor{Command: "false"}
	if _, err := failing.Edit(t.Context(), "{}"); err == nil {
		t.Fatal("a failing editor's text was taken")
	}
}

type fixedEditor string

func (f fixedEditor) Edit(context.Context, string) (string, error) { return string(f), nil }

// approve --edit and --arguments publish the edit with the digest of the
// arguments shown, in the shape the bridge accepts; refusals send nothing.
func TestDecideWithEdits(t *testing.T) {
	e := startEnv(t) // alice is a publisher
	agent := e.rest(t, workflows.DefaultAgentClientID)
	args := `{"title":"Introducing our new API"}`
	publish := func(tc string, mutate func(d *workflows.ApprovalRequestData)) {
		d := workflows.ApprovalRequestData{
			Tool: "publish_blog_post", Arguments: args, ArgumentsDigest: workflows.ArgumentsDigest(args), ToolCallID: tc, WorkflowID: "wf-" + tc,
			RequiredRole: "publisher", Requester: "bob", RequestedAt: time.Now().UTC(), ExpiresAt: time.Now().Add(10 * time.Minute),
			Roles: []string{"editor", "publisher", "admin"}, CallRules: workflows.CallRules{Editable: true, Approvals: 2},
		}
		if mutate != nil {
			mutate(&d)
		}
		if err := agent.PublishMultiple(t.Context(), []*ably.Message{{Name: workflows.MsgApprovalRequest, Data: d}}); err != nil {
			t.Fatal(err)
		}
	}
	publish("call_edit", nil)
	publish("call_args", nil)
	publish("call_same", nil)
	publish("call_fixed", func(d *workflows.ApprovalRequestData) { d.Editable = false })
	publish("call_mine", func(d *workflows.ApprovalRequestData) { d.Requester, d.DistinctFromRequester = "alice", true })
	publish("call_twice", func(d *workflows.ApprovalRequestData) {
		d.ApprovedBy = []workflows.Approver{{ClientID: "alice", Role: "publisher"}}
	})
	publish("call_esc", func(d *workflows.ApprovalRequestData) {
		d.RequiredRole = "admin"
		d.Escalation = &workflows.EscalationState{Level: 1, PreviousRole: "publisher", Since: time.Date(2026, 1, 2, 12, 10, 0, 0, time.UTC)}
	})
	publish("call_nodigest", func(d *workflows.ApprovalRequestData) { d.ArgumentsDigest = "" })
	publish("call_dup", nil)
	publish("call_dup", func(d *workflows.ApprovalRequestData) { d.WorkflowID = "wf-other" })
	cfg := e.cliConfig(t, nil)

	var out bytes.Buffer
	if err := Decide(t.Context(), cfg, DecideArgs{ToolCallID: "call_edit", Decision: "approved", Edit: true,
		Editor: fixedEditor("{\n  \"title\": \"Introducing our new API (beta)\"\n}\n")}, &out); err != nil {
		t.Fatalf("approve --edit: %v", err)
	}
	if err := Decide(t.Context(), cfg, DecideArgs{ToolCallID: "call_args", Decision: "approved", Arguments: `{"title":"API v2"}`}, &out); err != nil {
		t.Fatalf("approve --arguments: %v", err)
	}
	if err := Decide(t.Context(), cfg, DecideArgs{ToolCallID: "call_same", Decision: "approved", Arguments: `{ "title" : "Introducing our new API" }`}, &out); err != nil {
		t.Fatalf("approve --arguments unchanged: %v", err)
	}
	if !strings.Contains(out.String(), "The arguments are unchanged: approving them as shown.") {
		t.Errorf("output %q", out.String())
	}
	rs := wantResponses(t, agent, 3)
	wantArgs := map[string]string{"call_edit": `{"title":"Introducing our new API (beta)"}`, "call_args": `{"title":"API v2"}`, "call_same": ""}
	for _, m := range rs {
		r := readSent(t, m)
		if r.Arguments != wantArgs[r.ToolCallID] || r.ArgumentsDigest != workflows.ArgumentsDigest(args) || r.Decision != "approved" {
			t.Errorf("response %+v, want arguments %q and the digest of the arguments shown", r, wantArgs[r.ToolCallID])
		}
	}

	for _, tt := range []struct {
		name string
		a    DecideArgs
		want string
	}{
		{"not editable", DecideArgs{ToolCallID: "call_fixed", Decision: "approved", Arguments: `{"title":"x"}`}, "the policy does not allow edits of publish_blog_post"},
		{"the requester", DecideArgs{ToolCallID: "call_mine", Decision: "approved"}, "you requested this run"},
		{"twice", DecideArgs{ToolCallID: "call_twice", Decision: "approved"}, "you already approved (1 of 2 approvals)"},
		{"escalated", DecideArgs{ToolCallID: "call_esc", Decision: "approved"}, "needs admin since 12:10 UTC"},
		// An edit names the digest of what it edits.
		{"edit without a digest", DecideArgs{ToolCallID: "call_nodigest", Decision: "approved", Arguments: `{"title":"x"}`}, "names no argumentsDigest"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := Decide(t.Context(), cfg, tt.a, io.Discard)
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrRefused containing %q", err, tt.want)
			}
		})
	}
	// Pending in two workflows: which one is meant is not guessed, not
	// even with --force.
	if err := Decide(t.Context(), cfg, DecideArgs{ToolCallID: "call_dup", Decision: "approved", Force: true}, io.Discard); err == nil || !strings.Contains(err.Error(), "pending in several workflows") {
		t.Errorf("a tool call pending in two workflows: %v, want a refusal to guess", err)
	}
	if n := len(responses(t, agent)); n != 3 {
		t.Fatalf("refused decisions were published: %d responses", n)
	}
}

func TestDecideArgsValidateEdits(t *testing.T) {
	for _, tt := range []struct {
		name string
		a    DecideArgs
		want string
	}{
		{"reject with arguments", DecideArgs{Decision: "rejected", Reason: "x", Arguments: `{}`}, "not for a rejection"},
		{"both", DecideArgs{Decision: "approved", Edit: true, Editor: fixedEditor("{}"), Arguments: `{}`}, "not both"},
		{"not JSON", DecideArgs{Decision: "approved", Arguments: `{title}`}, "not valid JSON"},
		{"not an object", DecideArgs{Decision: "approved", Arguments: `["x"]`}, "not a JSON object"},
		{"half a surrogate pair", DecideArgs{Decision: "approved", Arguments: `{"title":"\ud800 API"}`}, "half a UTF-16 surrogate pair"},
		{"with force", DecideArgs{Decision: "approved", Arguments: `{}`, Force: true}, "not with --force"},
		{"too long", DecideArgs{Decision: "approved", Arguments: `{"t":"` + strings.Repeat("x", workflows.MaxEditedArgumentsLen) + `"}`}, "longer than"},
		// The web edit box refuses these before sending; the agent would
		// answer "not counted" (and after three, nothing).
		{"duplicate key", DecideArgs{Decision: "approved", Arguments: `{"title":"x","title":"y"}`}, `duplicate key "title"`},
		{"keys that differ in case", DecideArgs{Decision: "approved", Arguments: `{"title":"x","Title":"y"}`}, "the agent refuses such an edit"},
		{"lookalike keys", DecideArgs{Decision: "approved", Arguments: `{"tags":{"caf\u00e9":1,"cafe\u0301":2}}`}, `keys "caf\u00e9" and "cafe\u0301" look the same`},
		// "Zoë" typed on a Latin-1 terminal: Ably's JSON would carry it as
		// "Zo\ufffd", a name the approver never wrote.
		{"arguments not UTF-8", DecideArgs{Decision: "approved", Arguments: "{\"customer\":\"Zo\xeb\"}"}, "not valid UTF-8"},
		{"reason not UTF-8", DecideArgs{Decision: "rejected", Reason: "Zo\xeb asked"}, "reason is not valid UTF-8"},
		{"reason too long", DecideArgs{Decision: "rejected", Reason: strings.Repeat("r", workflows.MaxReasonLen+1)}, "reason longer than"},
		{"edit without an editor", DecideArgs{Decision: "approved", Edit: true}, "no editor"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.a.ToolCallID = "call_1"
			if err := tt.a.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want containing %q", err, tt.want)
			}
		})
	}
}

// The editor is given JSON that shows every character as itself or as an
// escape, and that saved unchanged approves the arguments as they are:
// the quoted form the terminal shows for such arguments is not JSON.
func TestEditableArgs(t *testing.T) {
	for _, tt := range []struct{ name, args string }{
		{"plain", `{"title":"Hello","n":1.5e3}`},
		{"bidi override", "{\"name\":\"a\u202eb\"}"},
		{"no-break and zero-width space", "{\"name\":\"Jean\u00a0Dupont\u200b\"}"},
		{"line separator in a key", "{\"a\u2028b\":[\"x\"]}"},
		{"astral format character", "{\"tag\":\"\U000E0041\"}"},
		{"emoji stays", "{\"mood\":\"\U0001F600\"}"},
		{"invisible yet printable", "{\"ta\u034fg\":\"\u2764\ufe0f\"}"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			text := editableArgs(tt.args)
			for _, r := range text {
				if r != '\n' && (!unicode.IsPrint(r) || unicode.In(r, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point)) {
					t.Fatalf("editableArgs(%q) = %q: holds %U raw", tt.args, text, r)
				}
			}
			if strings.Contains(tt.args, "\U0001F600") && !strings.Contains(text, "\U0001F600") {
				t.Errorf("a printable character was escaped: %q", text)
			}
			got, err := editedArguments(text)
			if err != nil {
				t.Fatalf("the editor's text saved unchanged: %v\n%s", err, text)
			}
			a, errA := workflows.CanonicalArguments(got, nil)
			b, errB := workflows.CanonicalArguments(tt.args, nil)
			if errA != nil || errB != nil || a != b {
				t.Fatalf("saved unchanged: canonical %q (%v), want %q (%v)", a, errA, b, errB)
			}
			args, err := edit(t.Context(), DecideArgs{Edit: true, Editor: echoEditor{}}, Request{ApprovalRequestData: workflows.ApprovalRequestData{Arguments: tt.args}})
			if err != nil || args != "" {
				t.Fatalf("edit saved unchanged = %q, %v; want a plain approval", args, err)
			}
		})
	}
}

// echoEditor saves the text it is given unchanged.
type echoEditor struct{}

func (echoEditor) Edit(_ context.Context, text string) (string, error) { return text, nil }

func TestWithdrawn(t *testing.T) {
	alice := []workflows.Approver{{ClientID: "alice", Role: "publisher"}}
	tests := []struct {
		name          string
		before, after []workflows.Approver
		want          string
	}{
		{"taken back", alice, nil, "; your rejection no longer counts"},
		{"still there", alice, alice, ""},
		{"never there", nil, nil, ""},
	}
	for _, tt := range tests {
		if got := withdrawn(tt.before, tt.after, "alice", "rejection"); got != tt.want {
			t.Errorf("%s: withdrawn = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestTakeBack(t *testing.T) {
	alice := []workflows.Approver{{ClientID: "alice", Role: "publisher"}}
	req := func(approvals int, rejectBy string) Request {
		d := workflows.ApprovalRequestData{ToolCallID: "call_1"}
		d.Approvals, d.ApprovedBy, d.RejectBy = approvals, alice, rejectBy
		return Request{ApprovalRequestData: d}
	}
	tests := []struct {
		name string
		r    Request
		want string
	}{
		{"quorum reached: nothing to take back", req(1, ""), ""},
		{"rejectBy any", req(2, ""), "; `approver reject call_1` rejects it"},
		{"rejectBy quorum", req(2, workflows.RejectByQuorum), "; `approver reject call_1` withdraws your approval"},
	}
	for _, tt := range tests {
		if got := takeBack(tt.r); got != tt.want {
			t.Errorf("%s: takeBack = %q, want %q", tt.name, got, tt.want)
		}
	}
}
