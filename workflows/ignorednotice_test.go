package workflows

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestIgnoredNotice: a verified decision the run does not count, of a call
// still pending, gets an approval-ignored to its approver with the reason
// (the inbox probe: a refused edit left "Decision sent" and no word until
// the call expired); junk, forgeries, copies and late decisions get none,
// and one approver gets at most MaxIgnoredNotices per call.
func TestIgnoredNotice(t *testing.T) {
	type at struct {
		after  time.Duration
		d      Decision
		signed bool
		// tampered: signed, then changed, so the signature fails
		tampered bool
		// slow: how long its signature check takes (harness.verifySlow)
		slow time.Duration
		// retired: signed with a key the worker has retired
		// (harness.signRetired); with tampered, then changed
		retired bool
	}
	signed := func(after time.Duration, d Decision) at { return at{after: after, d: d, signed: true} }
	retired := func(after time.Duration, d Decision) at { return at{after: after, d: d, retired: true} }
	tests := []struct {
		name        string
		rule        string
		calls       []string // the model's tool calls (default call_1)
		decisions   []at
		wantNotices []string // approver/message id: reason prefix
		wantChecks  int      // signature checks, when set
	}{
		{
			name:        "a role too low",
			decisions:   []at{signed(time.Minute, approve("call_1", "erin", "editor", "e1")), signed(2*time.Minute, approve("call_1", "pat", "publisher", "p1"))},
			wantNotices: []string{"erin/e1: insufficient role: editor < publisher"},
		},
		{
			name: "an edit the tool's schema refuses",
			rule: `{"minRole":"publisher","timeout":"10m","editable":true}`,
			decisions: []at{
				signed(time.Minute, edited("pat", "publisher", "p1", `{"title":42}`, originalDigest)),
				signed(2*time.Minute, approve("call_1", "pat", "publisher", "p2")),
			},
			wantNotices: []string{"pat/p1: edited arguments refused"},
		},
		{
			name: "other arguments seen",
			decisions: []at{
				signed(time.Minute, Decision{ToolCallID: "call_1", Decision: DecisionApproved, ApproverClientID: "pat", ApproverRole: "publisher", AblyMessageID: "p1", ArgumentsDigest: ArgumentsDigest(`{"title":"Other"}`)}),
				signed(2*time.Minute, approve("call_1", "pat", "publisher", "p2")),
			},
			wantNotices: []string{"pat/p1: the approver saw other arguments"},
		},
		{
			name: "unsigned, forged, unknown call, copy: no notice",
			decisions: []at{
				{after: time.Minute, d: approve("call_1", "erin", "editor", "e1")},
				{after: time.Minute, d: Decision{ToolCallID: "call_1", Decision: DecisionApproved, ApproverClientID: "erin", ApproverRole: "editor", AblyMessageID: "e2", Signature: "Zm9yZ2Vk", KeyID: testKeyID, WorkflowID: testWorkflowID}},
				signed(time.Minute, approve("call_9", "erin", "editor", "e3")),
				signed(2*time.Minute, approve("call_1", "pat", "publisher", "p1")),
				signed(2*time.Minute, approve("call_1", "pat", "publisher", "p1")),
			},
		},
		{
			name: "a copy of an ignored decision gets no second notice",
			decisions: []at{
				signed(time.Minute, approve("call_1", "erin", "editor", "e1")),
				signed(time.Minute, approve("call_1", "erin", "editor", "e1")),
				signed(2*time.Minute, approve("call_1", "pat", "publisher", "p1")),
			},
			wantNotices: []string{"erin/e1: insufficient role"},
			wantChecks:  2,
		},
		{
			name: "one approver's many ignored decisions do not silence another's notice",
			decisions: func() []at {
				var ds []at
				for i := range 20 {
					ds = append(ds, signed(time.Minute+time.Duration(i)*time.Second, approve("call_1", "eve", "editor", fmt.Sprint("v", i))))
				}
				return append(ds, signed(time.Minute+30*time.Second, approve("call_1", "erin", "editor", "e1")),
					signed(2*time.Minute, approve("call_1", "pat", "publisher", "p1")))
			}(),
			wantNotices: []string{"eve/v0: insufficient role", "eve/v1: insufficient role", "eve/v2: insufficient role", "erin/e1: insufficient role"},
		},
		{
			name: "a signature that failed is not checked again for a notice",
			decisions: []at{
				{after: time.Minute, d: approve("call_1", "mallory", "publisher", "m1"), tampered: true},
				signed(2*time.Minute, approve("call_1", "pat", "publisher", "p1")),
			},
			wantChecks: 2,
		},
		{
			name:  "after the call is resolved: no notice (the run still waits for another)",
			calls: []string{"call_1", "call_2"},
			decisions: []at{
				signed(time.Minute, approve("call_1", "pat", "publisher", "p1")),
				signed(time.Minute+time.Second, approve("call_1", "erin", "editor", "e1")),
				signed(2*time.Minute, approve("call_2", "pat", "publisher", "p2")),
			},
			wantChecks: 2, // erin's is not checked for a notice either
		},
		{
			// The call is approved while erin's signature is checked for
			// her notice: she may no longer decide, so she gets none.
			name: "decided while the notice's signature is checked: no notice",
			decisions: []at{
				{after: time.Minute, d: approve("call_1", "erin", "editor", "e1"), signed: true, slow: 500 * time.Millisecond},
				signed(time.Minute+100*time.Millisecond, approve("call_1", "pat", "publisher", "p1")),
			},
			wantChecks: 2,
		},
		{
			// Anyone with access to Temporal can signal in erin's name;
			// decisions whose signature fails give her place back.
			name: "forged decisions in an approver's name do not use up her notices",
			decisions: []at{
				{after: time.Minute, d: approve("call_1", "erin", "editor", "e1"), tampered: true},
				{after: time.Minute + time.Second, d: approve("call_1", "erin", "editor", "e2"), tampered: true},
				{after: time.Minute + 2*time.Second, d: approve("call_1", "erin", "editor", "e3"), tampered: true},
				signed(time.Minute+3*time.Second, approve("call_1", "erin", "editor", "e4")),
				signed(2*time.Minute, approve("call_1", "pat", "publisher", "p1")),
			},
			wantNotices: []string{"erin/e4: insufficient role"},
		},
		{
			// Decisions refused before their signature was checked cost
			// the call at most maxNoticeChecks checks for notices; a
			// decision verified anyway (pat's edit, refused after its
			// check) still gets its notice.
			name: "at most maxNoticeChecks checks per call for notices",
			decisions: func() []at {
				var ds []at
				for i := range maxNoticeChecks + 2 {
					ds = append(ds, signed(time.Minute+time.Duration(i)*time.Second, approve("call_1", fmt.Sprint("j", i), "editor", "e1")))
				}
				return append(ds, signed(2*time.Minute, edited("pat", "publisher", "p0", `{"title":"x"}`, originalDigest)),
					signed(3*time.Minute, approve("call_1", "pat", "publisher", "p1")))
			}(),
			wantNotices: func() []string {
				var ws []string
				for i := range maxNoticeChecks {
					ws = append(ws, fmt.Sprintf("j%d/e1: insufficient role", i))
				}
				return append(ws, "pat/p0: the policy does not allow edits")
			}(),
			wantChecks: maxNoticeChecks + 2,
		},
		{
			// Her bridge missed a key rotation: the decision is genuine,
			// so she is told why it did not count (changeRetiredKeyNotice).
			name: "a decision under a retired key",
			decisions: []at{
				retired(time.Minute, approve("call_1", "pat", "publisher", "p1")),
				signed(2*time.Minute, approve("call_1", "pat", "publisher", "p2")),
			},
			wantNotices: []string{`pat/p1: signature: retired key "test-key-old"`},
			wantChecks:  2,
		},
		{
			// Refused before its signature was checked (a role too low),
			// then checked for the notice: genuine under a retired key,
			// so it gets one, with the first reason.
			name: "a decision under a retired key refused before its check",
			decisions: []at{
				retired(time.Minute, approve("call_1", "erin", "editor", "e1")),
				signed(2*time.Minute, approve("call_1", "pat", "publisher", "p1")),
			},
			wantNotices: []string{"erin/e1: insufficient role"},
			wantChecks:  2,
		},
		{
			// A decision naming the retired key that it did not sign
			// (anyone who may signal the run can send one) is a forgery.
			name: "a retired key's id on a forged decision: no notice",
			decisions: []at{
				{after: time.Minute, d: approve("call_1", "mallory", "publisher", "m1"), retired: true, tampered: true},
				{after: time.Minute, d: approve("call_1", "mallory", "editor", "m2"), retired: true, tampered: true},
				signed(2*time.Minute, approve("call_1", "pat", "publisher", "p1")),
			},
			wantChecks: 3,
		},
		{
			// Whoever holds a retired key and may signal the run gets
			// the call at most maxNoticeChecks notices, whatever names
			// its decisions carry.
			name: "at most maxNoticeChecks notices per call under a retired key",
			decisions: func() []at {
				var ds []at
				for i := range maxNoticeChecks + 2 {
					ds = append(ds, retired(time.Minute+time.Duration(i)*time.Second, approve("call_1", fmt.Sprint("r", i), "publisher", "r1")))
				}
				return append(ds, signed(3*time.Minute, approve("call_1", "pat", "publisher", "p1")))
			}(),
			wantNotices: func() []string {
				var ws []string
				for i := range maxNoticeChecks {
					ws = append(ws, fmt.Sprintf("r%d/r1: signature: retired key", i))
				}
				return ws
			}(),
			wantChecks: maxNoticeChecks + 3,
		},
		{
			name: "at most MaxIgnoredNotices per approver and call",
			decisions: []at{
				signed(time.Minute, approve("call_1", "erin", "editor", "e1")),
				signed(time.Minute+time.Second, approve("call_1", "erin", "editor", "e2")),
				signed(time.Minute+2*time.Second, approve("call_1", "erin", "editor", "e3")),
				signed(time.Minute+3*time.Second, approve("call_1", "erin", "editor", "e4")),
				signed(time.Minute+4*time.Second, approve("call_1", "eve", "editor", "v1")),
				signed(2*time.Minute, approve("call_1", "pat", "publisher", "p1")),
			},
			wantNotices: []string{"erin/e1: insufficient role", "erin/e2: insufficient role", "erin/e3: insufficient role", "eve/v1: insufficient role"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			ids := tt.calls
			if ids == nil {
				ids = []string{"call_1"}
			}
			var tcs []ToolCall
			for _, id := range ids {
				tcs = append(tcs, publishCall(id))
			}
			h.model = script(calls(tcs...), answer("done"))
			h.verifySlow = map[string]time.Duration{}
			for _, a := range tt.decisions {
				if a.slow > 0 {
					h.verifySlow[a.d.AblyMessageID] = a.slow
				}
				switch {
				case a.retired && a.tampered:
					d := h.signRetired(a.d)
					d.Reason = "changed after signing"
					h.decideRaw(a.after, d)
				case a.retired:
					h.decideRaw(a.after, h.signRetired(a.d))
				case a.tampered:
					d := h.sign(a.d)
					d.Reason = "changed after signing"
					h.decideRaw(a.after, d)
				case a.signed:
					h.decide(a.after, a.d)
				default:
					h.decideRaw(a.after, a.d)
				}
			}
			policy := testPolicy(t)
			if tt.rule != "" {
				policy = rulesPolicy(t, tt.rule)
			}
			h.run(AgentInput{Policy: policy})

			h.mu.Lock()
			defer h.mu.Unlock()
			if tt.wantChecks != 0 && h.verified != tt.wantChecks {
				t.Errorf("%d signature checks, want %d", h.verified, tt.wantChecks)
			}
			if len(h.ignored) != len(tt.wantNotices) {
				t.Fatalf("%d notices %+v, want %q", len(h.ignored), h.ignored, tt.wantNotices)
			}
			// Each notice is published from a coroutine of its own: they
			// may complete in any order.
			got := slices.SortedFunc(slices.Values(h.ignored), func(a, b ApprovalIgnoredInput) int {
				return strings.Compare(a.Data.Approver+"/"+a.Data.AblyMessageID, b.Data.Approver+"/"+b.Data.AblyMessageID)
			})
			for i, want := range slices.Sorted(slices.Values(tt.wantNotices)) {
				n := got[i].Data
				who, reason, _ := strings.Cut(want, ": ")
				if n.Approver+"/"+n.AblyMessageID != who || !strings.HasPrefix(n.Reason, reason) {
					t.Errorf("notice %d = %s/%s %q, want %s %q…", i, n.Approver, n.AblyMessageID, n.Reason, who, reason)
				}
				if n.WorkflowID != testWorkflowID || n.ToolCallID != "call_1" || n.Tool != "publish_blog_post" || n.Decision != DecisionApproved {
					t.Errorf("notice %d names %+v", i, n)
				}
			}
		})
	}
}
