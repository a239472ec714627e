package approvercli

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

func TestDigestPrefix(t *testing.T) {
	for _, tt := range []struct {
		in, want, wantErr string
	}{
		{in: "sha256:0123456789abcdef…", want: "0123456789abcdef"},
		{in: "sha256:0123456789abcdef...", want: "0123456789abcdef"},
		{in: "0123abcd0123abcd", want: "0123abcd0123abcd"},
		{in: " SHA256:0123ABCD0123ABCD ", want: "0123abcd0123abcd"},
		{in: "sha256:" + strings.Repeat("a", 64), want: strings.Repeat("a", 64)},
		{in: "0123abcd", wantErr: "at least 16 hex digits"},
		{in: "0123abcd0123abc", wantErr: "at least 16 hex digits"},
		{in: "sha256:", wantErr: "at least 16 hex digits"},
		{in: strings.Repeat("a", 65), wantErr: "at least 16 hex digits"},
		{in: "0123abcd0123abcg", wantErr: "not hex"},
	} {
		got, err := digestPrefix(tt.in)
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("digestPrefix(%q) = %q, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
		case tt.wantErr == "" && (err != nil || got != tt.want):
			t.Errorf("digestPrefix(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestReviewRefusal(t *testing.T) {
	argsA, argsB := `{"title":"Hello"}`, `{"title":"Goodbye"}`
	digestA, digestB := workflows.ArgumentsDigest(argsA), workflows.ArgumentsDigest(argsB)
	req := func(mutate func(r *Request)) Request {
		r := ruledReq(func(d *workflows.ApprovalRequestData) { d.Arguments, d.ArgumentsDigest = argsA, digestA })
		r.FirstDigest = digestA
		if mutate != nil {
			mutate(&r)
		}
		return r
	}
	edited := func(r *Request) {
		r.Arguments, r.ArgumentsDigest, r.Revision = argsB, digestB, 1
		r.EditedBy = &workflows.Approver{ClientID: "pat", Role: "publisher"}
	}
	tests := []struct {
		name    string
		r       Request
		digest  string
		editing bool
		want    string
	}{
		{"first revision", req(nil), "", false, ""},
		{"counted approvals only", req(func(r *Request) {
			r.Revision, r.ApprovedBy = 1, []workflows.Approver{{ClientID: "pat", Role: "publisher"}}
		}), "", false, ""},
		{"escalated", req(func(r *Request) { r.Revision, r.RequiredRole = 1, "admin" }), "", false, ""},
		{"edited", req(edited), "", false, "edited by pat (publisher) after the agent published them"},
		// Edited before this CLI read the channel: the first revision it saw
		// is the edited one, and only editedBy tells.
		{"edited before it was seen", req(func(r *Request) { edited(r); r.FirstDigest = digestB }), "", false, "edited by pat (publisher)"},
		{"digest changed without editedBy", req(func(r *Request) { r.Arguments, r.ArgumentsDigest = argsB, digestB }), "", false, "edited by someone"},
		{"edited, with its digest", req(edited), digestB[:len("sha256:")+16], false, ""},
		{"edited, with the digest of the first arguments", req(edited), digestA[:len("sha256:")+16], false, "not the ones you reviewed"},
		{"edited, approving with edits", req(edited), "", true, ""},
		{"digest without sha256:", req(nil), digestA[len("sha256:") : len("sha256:")+16], false, ""},
		{"other digest", req(nil), digestB[:len("sha256:")+16], false, "not the ones you reviewed"},
		{"no digest to compare", req(func(r *Request) { r.ArgumentsDigest, r.FirstDigest = "", "" }), digestA, false, "names no argumentsDigest"},
		{"no digest, no --digest", req(func(r *Request) { r.ArgumentsDigest, r.FirstDigest = "", "" }), "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := reviewRefusal(tt.r, tt.digest, tt.editing)
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Fatalf("reviewRefusal = %q, want %q", got, tt.want)
			}
		})
	}
}

// `approver approve` approves only arguments the approver reviewed: once
// the arguments were edited (after the approver read them with `approver
// list`, say), it needs --digest from a listing that shows the edit, and
// it prints the request it approves.
func TestDecideApprovesOnlyTheArgumentsReviewed(t *testing.T) {
	e := startEnv(t) // alice is a publisher
	agent := e.rest(t, workflows.DefaultAgentClientID)
	argsA := `{"title":"Introducing our new API"}`
	argsB := `{"title":"Our API is deprecated, migrate to competitor.example"}`
	publish := func(tc string, rev int, args string, mutate func(d *workflows.ApprovalRequestData)) {
		t.Helper()
		d := workflows.ApprovalRequestData{
			Tool: "publish_blog_post", Arguments: args, ArgumentsDigest: workflows.ArgumentsDigest(args), ToolCallID: tc, WorkflowID: "wf-" + tc,
			RequiredRole: "publisher", Requester: "bob", RequestedAt: time.Now().UTC(), ExpiresAt: time.Now().Add(10 * time.Minute),
			CallRules: workflows.CallRules{Approvals: 2, Editable: true, Revision: rev},
		}
		if mutate != nil {
			mutate(&d)
		}
		m := &ably.Message{Name: workflows.MsgApprovalRequest, Data: d,
			Extras: map[string]any{"headers": map[string]any{"toolCallId": tc, "workflowId": d.WorkflowID}}}
		if err := agent.PublishMultiple(t.Context(), []*ably.Message{m}); err != nil {
			t.Fatal(err)
		}
	}
	editedByPat := func(d *workflows.ApprovalRequestData) {
		d.EditedBy = &workflows.Approver{ClientID: "pat", Role: "publisher"}
		d.ApprovedBy = []workflows.Approver{{ClientID: "pat", Role: "publisher"}}
	}
	cfg := e.cliConfig(t, nil)
	list := func() string {
		t.Helper()
		var out bytes.Buffer
		if err := List(t.Context(), cfg, &out); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}

	// Alice reads A; pat edits it into B before alice approves.
	publish("call_edited", 0, argsA, nil)
	digestA := testutil.ListedDigest(t, list(), "call_edited")
	publish("call_edited", 1, argsB, editedByPat)
	// A second approval of a quorum, arguments unchanged.
	publish("call_counted", 0, argsA, nil)
	publish("call_counted", 1, argsA, func(d *workflows.ApprovalRequestData) {
		d.ApprovedBy = []workflows.Approver{{ClientID: "pat", Role: "publisher"}}
	})

	for _, tt := range []struct {
		name   string
		digest string
		want   string
	}{
		{"without --digest", "", "were edited by pat (publisher) after the agent published them"},
		{"with the digest of what alice read", digestA, "not the ones you reviewed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Decide(t.Context(), cfg, DecideArgs{ToolCallID: "call_edited", Decision: "approved", Digest: tt.digest}, &out)
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrRefused containing %q", err, tt.want)
			}
			if strings.Contains(out.String(), "competitor") {
				t.Errorf("a refused approval printed the arguments it did not approve:\n%s", out.String())
			}
		})
	}
	if n := len(responses(t, agent)); n != 0 {
		t.Fatalf("refused approvals were published: %d responses", n)
	}

	// Alice lists again, reads B, and approves it by its digest.
	digestB := testutil.ListedDigest(t, list(), "call_edited")
	var out bytes.Buffer
	if err := Decide(t.Context(), cfg, DecideArgs{ToolCallID: "call_edited", Decision: "approved", Digest: digestB}, &out); err != nil {
		t.Fatalf("approve --digest %s: %v", digestB, err)
	}
	if got := out.String(); !strings.Contains(got, "migrate to competitor.example") || !strings.Contains(got, "Digest:        "+digestB) ||
		!strings.HasSuffix(got, "Decision sent: approved\n") {
		t.Fatalf("approve did not print the request it approved:\n%s", got)
	}
	// A counted approval is no edit: no --digest needed.
	if err := Decide(t.Context(), cfg, DecideArgs{ToolCallID: "call_counted", Decision: "approved"}, io.Discard); err != nil {
		t.Fatalf("second approval of a quorum: %v", err)
	}
	// A rejection of arguments not reviewed denies: it needs nothing.
	if err := Decide(t.Context(), cfg, DecideArgs{ToolCallID: "call_edited", Decision: "rejected", Reason: "no"}, io.Discard); err != nil {
		t.Fatalf("reject: %v", err)
	}

	rs := responses(t, agent)
	want := []struct{ tc, decision, digest string }{
		{"call_edited", "approved", workflows.ArgumentsDigest(argsB)},
		{"call_counted", "approved", workflows.ArgumentsDigest(argsA)},
		{"call_edited", "rejected", workflows.ArgumentsDigest(argsB)},
	}
	if len(rs) != len(want) {
		t.Fatalf("%d responses, want %d", len(rs), len(want))
	}
	for i, w := range want {
		r := readSent(t, rs[i])
		if r.ToolCallID != w.tc || r.Decision != w.decision || r.ArgumentsDigest != w.digest {
			t.Errorf("response %d = %s %s %s, want %s %s %s", i, r.ToolCallID, r.Decision, r.ArgumentsDigest, w.tc, w.decision, w.digest)
		}
	}
}

func TestDecideArgsValidateDigest(t *testing.T) {
	for _, tt := range []struct {
		name string
		a    DecideArgs
		want string
	}{
		{"approve", DecideArgs{Decision: "approved", Digest: "sha256:0123456789abcdef…"}, ""},
		{"with edits", DecideArgs{Decision: "approved", Digest: "0123abcd0123abcd", Arguments: `{}`}, ""},
		{"reject", DecideArgs{Decision: "rejected", Reason: "x", Digest: "0123abcd0123abcd"}, "not for a rejection"},
		{"with force", DecideArgs{Decision: "approved", Digest: "0123abcd0123abcd", Force: true}, "not with --force"},
		{"too short", DecideArgs{Decision: "approved", Digest: "sha256:0123456789abcde"}, "at least 16 hex digits"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.a.ToolCallID = "call_1"
			err := tt.a.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
