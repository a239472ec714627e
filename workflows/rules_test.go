package workflows

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// rulesPolicy is the team's policy with publish_blog_post's rule replaced
// by rule (a JSON object).
func rulesPolicy(t *testing.T, rule string) Policy {
	t.Helper()
	p, err := ParsePolicy([]byte(`{"roles":["editor","publisher","admin"],
	 "tools":{"publish_blog_post":` + rule + `,
	          "search_posts":{"minRole":"none"},
	          "delete_post":{"minRole":"admin","timeout":"5m"}}}`))
	if err != nil {
		t.Fatalf("ParsePolicy: %v", err)
	}
	return p
}

// originalDigest is the digest of publishCall's arguments, canonical.
var originalDigest = ArgumentsDigest(`{"title":"Introducing our new API"}`)

// edited is an approval of publishCall("call_1") with new arguments, naming
// the digest of the arguments the editor saw.
func edited(who, role, msgID, args, sawDigest string) Decision {
	d := approve("call_1", who, role, msgID)
	d.Arguments, d.ArgumentsDigest = args, sawDigest
	return d
}

// at is one decision sent at a virtual time after the start.
type at struct {
	after time.Duration
	d     Decision
}

// TestApprovalRules pins every rule beyond one approver, and the
// combinations that matter, on the test suite's virtual clock: the audit,
// what ran (with which arguments and approvers), and what the model was
// told.
func TestApprovalRules(t *testing.T) {
	const (
		editedArgs  = `{"title":"Introducing our new API (beta)"}`
		editedArgs2 = `{"title":"API v2"}`
	)
	editedDigest := ArgumentsDigest(editedArgs)
	tests := []struct {
		name      string
		rule      string
		requester string
		decisions []at
		wantAudit []string
		// wantRan: the arguments the tool ran with ("" if it must not
		// run); wantBy: ToolRequest.ApprovedBy.
		wantRan, wantBy string
		// wantOutput: what the model is told starts with this.
		wantOutput string
		// wantRevisions: how many approval-requests were published.
		wantRevisions int
		// schema, when set, is publish_blog_post's argument schema.
		schema string
	}{
		{
			name: "quorum of two distinct approvers",
			rule: `{"minRole":"publisher","timeout":"10m","approvals":2}`,
			decisions: []at{
				{time.Minute, approve("call_1", "alice", "publisher", "m1")},
				{2 * time.Minute, approve("call_1", "carol", "admin", "m2")},
			},
			wantAudit:     []string{"requested:call_1", "counted:call_1", "approved:call_1", "executed:call_1"},
			wantRan:       `{"title":"Introducing our new API"}`,
			wantBy:        "alice,carol",
			wantOutput:    "ok:publish_blog_post:call_1",
			wantRevisions: 2,
		},
		{
			name: "duplicate approval by the same person counts once",
			rule: `{"minRole":"publisher","timeout":"10m","approvals":2}`,
			decisions: []at{
				{time.Minute, approve("call_1", "alice", "publisher", "m1")},
				{2 * time.Minute, approve("call_1", "alice", "publisher", "m2")},
			},
			wantAudit:     []string{"requested:call_1", "counted:call_1", "ignored:call_1:you already approved", "expired:call_1"},
			wantOutput:    "approval expired after 10m0s",
			wantRevisions: 2,
		},
		{
			name: "one rejection after one of two approvals rejects",
			rule: `{"minRole":"publisher","timeout":"10m","approvals":2}`,
			decisions: []at{
				{time.Minute, approve("call_1", "alice", "publisher", "m1")},
				{2 * time.Minute, reject("call_1", "bob", "publisher", "m2", "not yet")},
			},
			wantAudit:     []string{"requested:call_1", "counted:call_1", "rejected:call_1"},
			wantOutput:    "rejected by bob (publisher): not yet",
			wantRevisions: 2,
		},
		{
			name: "rejectBy quorum needs two rejections",
			rule: `{"minRole":"publisher","timeout":"10m","approvals":2,"rejectBy":"quorum"}`,
			decisions: []at{
				{time.Minute, reject("call_1", "bob", "publisher", "m1", "no")},
				{2 * time.Minute, reject("call_1", "bob", "publisher", "m2", "still no")},
				{3 * time.Minute, reject("call_1", "carol", "admin", "m3", "no")},
			},
			wantAudit:     []string{"requested:call_1", "counted:call_1", "ignored:call_1:you already rejected", "rejected:call_1"},
			wantOutput:    "rejected by bob (publisher), carol (admin)",
			wantRevisions: 2,
		},
		{
			// changeOneVote: alice's rejection withdraws her approval, so
			// carol's approval is one of two, and bob's rejection is the
			// second (before, alice counted on both sides and carol's
			// approval ran the tool).
			name: "rejectBy quorum: an approver who rejects after approving no longer counts as approving",
			rule: `{"minRole":"publisher","timeout":"10m","approvals":2,"rejectBy":"quorum"}`,
			decisions: []at{
				{time.Minute, approve("call_1", "alice", "publisher", "m1")},
				{2 * time.Minute, reject("call_1", "alice", "publisher", "m2", "on second thought")},
				{3 * time.Minute, approve("call_1", "carol", "admin", "m3")},
				{4 * time.Minute, reject("call_1", "bob", "publisher", "m4", "no")},
			},
			wantAudit:     []string{"requested:call_1", "counted:call_1", "counted:call_1", "counted:call_1", "rejected:call_1"},
			wantOutput:    "rejected by alice (publisher), bob (publisher)",
			wantRevisions: 4,
		},
		{
			name: "rejectBy quorum: an approver who approves after rejecting no longer counts as rejecting",
			rule: `{"minRole":"publisher","timeout":"10m","approvals":2,"rejectBy":"quorum"}`,
			decisions: []at{
				{time.Minute, reject("call_1", "bob", "publisher", "m1", "no")},
				{2 * time.Minute, approve("call_1", "bob", "publisher", "m2")},
				{3 * time.Minute, reject("call_1", "carol", "admin", "m3", "no")},
				{4 * time.Minute, approve("call_1", "alice", "publisher", "m4")},
			},
			wantAudit:     []string{"requested:call_1", "counted:call_1", "counted:call_1", "counted:call_1", "approved:call_1", "executed:call_1"},
			wantRan:       `{"title":"Introducing our new API"}`,
			wantBy:        "bob,alice",
			wantOutput:    "ok:",
			wantRevisions: 4,
		},
		{
			// alice's rejection was published before her approval but
			// arrived after it (a bridge replays a dropped message after
			// later ones): her later approval stands, as in order.
			name: "rejectBy quorum: a decision that arrives after the same approver's later one does not withdraw it",
			rule: `{"minRole":"publisher","timeout":"10m","approvals":2,"rejectBy":"quorum"}`,
			decisions: []at{
				{time.Minute, publishedAtTest(approve("call_1", "alice", "publisher", "m2"), 50*time.Second)},
				{2 * time.Minute, publishedAtTest(reject("call_1", "alice", "publisher", "m1", "no"), 40*time.Second)},
				{3 * time.Minute, publishedAtTest(approve("call_1", "carol", "admin", "m3"), 3*time.Minute)},
			},
			wantAudit: []string{"requested:call_1", "counted:call_1",
				"ignored:call_1:published before your later decision on this call, which stands", "approved:call_1", "executed:call_1"},
			wantRan:       `{"title":"Introducing our new API"}`,
			wantBy:        "alice,carol",
			wantOutput:    "ok:",
			wantRevisions: 2,
		},
		{
			// alice rejected (40 s, counted), approved (50 s) and rejected
			// again (60 s, not counted: she already rejected); her
			// approval arrives last. It is older than her newest
			// rejection, so it withdraws nothing (found by the review of
			// 2026-12-06: it counted, and carol's approval ran the tool).
			name: "rejectBy quorum: an approval older than the same approver's newest rejection withdraws nothing",
			rule: `{"minRole":"publisher","timeout":"10m","approvals":2,"rejectBy":"quorum"}`,
			decisions: []at{
				{time.Minute, publishedAtTest(reject("call_1", "alice", "publisher", "m1", "no"), 40*time.Second)},
				{2 * time.Minute, publishedAtTest(reject("call_1", "alice", "publisher", "m3", "still no"), 60*time.Second)},
				{3 * time.Minute, publishedAtTest(approve("call_1", "alice", "publisher", "m2"), 50*time.Second)},
				{4 * time.Minute, publishedAtTest(approve("call_1", "carol", "admin", "m4"), 4*time.Minute)},
			},
			wantAudit: []string{"requested:call_1", "counted:call_1", "ignored:call_1:you already rejected",
				"ignored:call_1:published before your later decision on this call, which stands", "counted:call_1", "expired:call_1"},
			wantOutput:    "approval expired",
			wantRevisions: 3,
		},
		{
			// Ably timestamps have millisecond resolution: an approval in
			// the same millisecond as the rejection it would withdraw
			// cannot be said to come after it, and the rejection stands
			// (a rejection in the same millisecond as an approval counts).
			name: "rejectBy quorum: an approval in the same millisecond as the approver's rejection withdraws nothing",
			rule: `{"minRole":"publisher","timeout":"10m","approvals":2,"rejectBy":"quorum"}`,
			decisions: []at{
				{time.Minute, publishedAtTest(reject("call_1", "alice", "publisher", "m1", "no"), 40*time.Second)},
				{2 * time.Minute, publishedAtTest(approve("call_1", "alice", "publisher", "m2"), 40*time.Second)},
				{3 * time.Minute, publishedAtTest(approve("call_1", "carol", "admin", "m3"), 50*time.Second)},
				{4 * time.Minute, publishedAtTest(reject("call_1", "carol", "admin", "m4", "no"), 50*time.Second)},
			},
			wantAudit: []string{"requested:call_1", "counted:call_1",
				"ignored:call_1:published in the same millisecond as your rejection on this call, which stands",
				"counted:call_1", "rejected:call_1"},
			wantOutput:    "rejected by alice (publisher), carol (admin)",
			wantRevisions: 3,
		},
		{
			// The cap bounds approvals that withdraw a rejection; a
			// rejection that withdraws an approval always counts, so the
			// cap never keeps an approval its approver took back (found by
			// the review of changeOneVote).
			name: "rejectBy quorum: an approver's approval withdraws their rejection at most MaxVoteChangesPerCall times",
			rule: `{"minRole":"publisher","timeout":"10m","approvals":2,"rejectBy":"quorum"}`,
			decisions: []at{
				{time.Minute, reject("call_1", "alice", "publisher", "m1", "no")},
				{2 * time.Minute, approve("call_1", "alice", "publisher", "m2")},
				{3 * time.Minute, reject("call_1", "alice", "publisher", "m3", "no")},
				{4 * time.Minute, approve("call_1", "alice", "publisher", "m4")},
				{5 * time.Minute, reject("call_1", "alice", "publisher", "m5", "no")},
				{6 * time.Minute, approve("call_1", "alice", "publisher", "m6")},
				{7 * time.Minute, reject("call_1", "alice", "publisher", "m7", "no, really")},
				{8 * time.Minute, approve("call_1", "alice", "publisher", "m8")},
				{9 * time.Minute, approve("call_1", "carol", "admin", "m9")},
			},
			wantAudit: []string{"requested:call_1", "counted:call_1", "counted:call_1", "counted:call_1", "counted:call_1",
				"counted:call_1", "counted:call_1", "counted:call_1",
				"ignored:call_1:you changed your decision on this call too many times (at most 3)", "counted:call_1", "expired:call_1"},
			wantOutput:    "approval expired",
			wantRevisions: 9,
		},
		{
			// Only approvals that withdraw a rejection are bounded: alice
			// approves first, so her rejections withdraw three approvals
			// and her approvals only two rejections before her fourth
			// approval, which counts.
			name: "rejectBy quorum: rejections that withdraw an approval do not use up the changes of mind",
			rule: `{"minRole":"publisher","timeout":"10m","approvals":2,"rejectBy":"quorum"}`,
			decisions: []at{
				{time.Minute, approve("call_1", "alice", "publisher", "m1")},
				{2 * time.Minute, reject("call_1", "alice", "publisher", "m2", "no")},
				{3 * time.Minute, approve("call_1", "alice", "publisher", "m3")},
				{4 * time.Minute, reject("call_1", "alice", "publisher", "m4", "no")},
				{5 * time.Minute, approve("call_1", "alice", "publisher", "m5")},
				{6 * time.Minute, reject("call_1", "alice", "publisher", "m6", "no")},
				{7 * time.Minute, approve("call_1", "alice", "publisher", "m7")},
				{8 * time.Minute, approve("call_1", "carol", "admin", "m8")},
			},
			wantAudit: []string{"requested:call_1", "counted:call_1", "counted:call_1", "counted:call_1", "counted:call_1",
				"counted:call_1", "counted:call_1", "counted:call_1", "approved:call_1", "executed:call_1"},
			wantRan:       `{"title":"Introducing our new API"}`,
			wantBy:        "alice,carol",
			wantOutput:    "ok:",
			wantRevisions: 8,
		},
		{
			// An edit that changes nothing is a plain approval, bounded
			// like one: it cannot take back a rejection once more.
			name: "rejectBy quorum: an edit that changes nothing does not pass the bound on changes of mind",
			rule: `{"minRole":"publisher","timeout":"10m","approvals":2,"rejectBy":"quorum","editable":true}`,
			decisions: []at{
				{time.Minute, reject("call_1", "alice", "publisher", "m1", "no")},
				{2 * time.Minute, approve("call_1", "alice", "publisher", "m2")},
				{3 * time.Minute, reject("call_1", "alice", "publisher", "m3", "no")},
				{4 * time.Minute, approve("call_1", "alice", "publisher", "m4")},
				{5 * time.Minute, reject("call_1", "alice", "publisher", "m5", "no")},
				{6 * time.Minute, approve("call_1", "alice", "publisher", "m6")},
				{7 * time.Minute, reject("call_1", "alice", "publisher", "m7", "no, really")},
				{8 * time.Minute, edited("alice", "publisher", "m8", `{"title": "Introducing our new API"}`, originalDigest)},
				{9 * time.Minute, approve("call_1", "carol", "admin", "m9")},
			},
			wantAudit: []string{"requested:call_1", "counted:call_1", "counted:call_1", "counted:call_1", "counted:call_1",
				"counted:call_1", "counted:call_1", "counted:call_1",
				"ignored:call_1:you changed your decision on this call too many times (at most 3)", "counted:call_1", "expired:call_1"},
			wantOutput:    "approval expired",
			wantRevisions: 9,
		},
		{
			// The rejections of the arguments before an edit do not count
			// against the edit: bob rejected the original, carol the edit.
			name: "rejectBy quorum: an edit restarts the count of rejections",
			rule: `{"minRole":"publisher","timeout":"10m","approvals":2,"rejectBy":"quorum","editable":true}`,
			decisions: []at{
				{time.Minute, reject("call_1", "bob", "publisher", "m1", "no")},
				{2 * time.Minute, edited("alice", "publisher", "m2", editedArgs, originalDigest)},
				{3 * time.Minute, reject("call_1", "carol", "admin", "m3", "not this either")},
				{4 * time.Minute, edited("dave", "admin", "m4", "", editedDigest)},
			},
			wantAudit: []string{"requested:call_1", "counted:call_1", "edited:call_1", "counted:call_1", "counted:call_1",
				"approved:call_1", "executed:call_1"},
			wantRan:       editedArgs,
			wantBy:        "alice,dave",
			wantOutput:    "approved with edits",
			wantRevisions: 4,
		},
		{
			// An edit restarts the count, and the changes of mind with it.
			name: "rejectBy quorum: an edit restarts the changes of mind",
			rule: `{"minRole":"publisher","timeout":"20m","approvals":3,"rejectBy":"quorum","editable":true}`,
			decisions: []at{
				{time.Minute, reject("call_1", "alice", "publisher", "m1", "no")},
				{2 * time.Minute, approve("call_1", "alice", "publisher", "m2")},
				{3 * time.Minute, reject("call_1", "alice", "publisher", "m3", "no")},
				{4 * time.Minute, approve("call_1", "alice", "publisher", "m4")},
				{5 * time.Minute, reject("call_1", "alice", "publisher", "m5", "no")},
				{6 * time.Minute, approve("call_1", "alice", "publisher", "m6")},
				{7 * time.Minute, edited("bob", "publisher", "m7", editedArgs, originalDigest)},
				{8 * time.Minute, reject("call_1", "alice", "publisher", "m8", "not this either")},
				{9 * time.Minute, edited("alice", "publisher", "m9", "", editedDigest)},
				{10 * time.Minute, edited("carol", "admin", "m10", "", editedDigest)},
			},
			wantAudit: []string{"requested:call_1", "counted:call_1", "counted:call_1", "counted:call_1", "counted:call_1",
				"counted:call_1", "counted:call_1", "edited:call_1", "counted:call_1", "counted:call_1", "counted:call_1",
				"approved:call_1", "executed:call_1"},
			wantRan:       editedArgs,
			wantBy:        "bob,alice,carol",
			wantOutput:    "approved with edits",
			wantRevisions: 10,
		},
		{
			name:      "the requester is never counted",
			rule:      `{"minRole":"publisher","timeout":"10m","approvals":2,"distinctFromRequester":true}`,
			requester: "alice",
			decisions: []at{
				{time.Minute, approve("call_1", "alice", "publisher", "m1")},
				{2 * time.Minute, approve("call_1", "bob", "publisher", "m2")},
				{3 * time.Minute, approve("call_1", "carol", "admin", "m3")},
			},
			wantAudit: []string{"requested:call_1",
				"ignored:call_1:you requested this run: the policy needs an approver other than the requester",
				"counted:call_1", "approved:call_1", "executed:call_1"},
			wantRan:       `{"title":"Introducing our new API"}`,
			wantBy:        "bob,carol",
			wantOutput:    "ok:",
			wantRevisions: 2,
		},
		{
			name:      "the requester cannot reject either",
			rule:      `{"minRole":"publisher","timeout":"10m","distinctFromRequester":true}`,
			requester: "alice",
			decisions: []at{
				{time.Minute, reject("call_1", "alice", "publisher", "m1", "mine")},
				{2 * time.Minute, approve("call_1", "bob", "publisher", "m2")},
			},
			wantAudit: []string{"requested:call_1",
				"ignored:call_1:you requested this run: the policy needs an approver other than the requester",
				"approved:call_1", "executed:call_1"},
			wantRan: `{"title":"Introducing our new API"}`, wantBy: "bob", wantOutput: "ok:", wantRevisions: 1,
		},
		{
			// Without distinctFromRequester the requester is an approver
			// like any other.
			name:      "the requester counts when the policy does not keep them out",
			rule:      `{"minRole":"publisher","timeout":"10m","approvals":2}`,
			requester: "alice",
			decisions: []at{
				{time.Minute, approve("call_1", "alice", "publisher", "m1")},
				{2 * time.Minute, approve("call_1", "carol", "admin", "m2")},
			},
			wantAudit: []string{"requested:call_1", "counted:call_1", "approved:call_1", "executed:call_1"},
			wantRan:   `{"title":"Introducing our new API"}`, wantBy: "alice,carol", wantOutput: "ok:", wantRevisions: 2,
		},
		{
			name:          "separation from an unnamed requester denies without asking",
			rule:          `{"minRole":"publisher","timeout":"10m","distinctFromRequester":true}`,
			wantAudit:     []string{"denied:call_1:the policy needs an approver other than the requester, and the run names no requester"},
			wantOutput:    "denied: the policy needs an approver other than the requester",
			wantRevisions: 0,
		},
		{
			name: "escalation: the earlier role can no longer decide, the higher one approves",
			rule: `{"minRole":"publisher","timeout":"10m","escalate":[{"after":"5m","minRole":"admin"}]}`,
			decisions: []at{
				{6 * time.Minute, approve("call_1", "alice", "publisher", "m1")},
				{7 * time.Minute, approve("call_1", "carol", "admin", "m2")},
			},
			wantAudit: []string{"requested:call_1", "escalated:call_1",
				"ignored:call_1:needs admin since 03:09:05 UTC (escalated from publisher)",
				"approved:call_1", "executed:call_1"},
			wantRan: `{"title":"Introducing our new API"}`, wantBy: "carol", wantOutput: "ok:", wantRevisions: 2,
		},
		{
			name:          "escalation without an answer expires at the final timeout",
			rule:          `{"minRole":"editor","timeout":"10m","escalate":[{"after":"2m","minRole":"publisher"},{"after":"4m","minRole":"admin"}]}`,
			wantAudit:     []string{"requested:call_1", "escalated:call_1", "escalated:call_1", "expired:call_1"},
			wantOutput:    "approval expired after 10m0s",
			wantRevisions: 3,
		},
		{
			name: "quorum with escalation: an approval by the new role keeps counting",
			rule: `{"minRole":"publisher","timeout":"10m","approvals":2,"escalate":[{"after":"5m","minRole":"admin"}]}`,
			decisions: []at{
				{time.Minute, approve("call_1", "carol", "admin", "m1")},
				{6 * time.Minute, approve("call_1", "dave", "admin", "m2")},
			},
			wantAudit: []string{"requested:call_1", "counted:call_1", "escalated:call_1", "approved:call_1", "executed:call_1"},
			wantRan:   `{"title":"Introducing our new API"}`, wantBy: "carol,dave", wantOutput: "ok:", wantRevisions: 3,
		},
		{
			name: "quorum with escalation: the escalation drops a publisher's approval",
			rule: `{"minRole":"publisher","timeout":"10m","approvals":2,"escalate":[{"after":"5m","minRole":"admin"}]}`,
			decisions: []at{
				{time.Minute, approve("call_1", "alice", "publisher", "m1")},
				{6 * time.Minute, approve("call_1", "carol", "admin", "m2")},
				{7 * time.Minute, approve("call_1", "dave", "admin", "m3")},
			},
			wantAudit: []string{"requested:call_1", "counted:call_1", "escalated:call_1", "counted:call_1", "approved:call_1", "executed:call_1"},
			wantRan:   `{"title":"Introducing our new API"}`, wantBy: "carol,dave", wantOutput: "ok:", wantRevisions: 4,
		},
		{
			name: "approve with edits runs the edit and tells the model",
			rule: `{"minRole":"publisher","timeout":"10m","editable":true}`,
			decisions: []at{
				{time.Minute, edited("alice", "publisher", "m1", "{ \"title\" : \"Introducing our new API (beta)\" }", originalDigest)},
			},
			wantAudit:     []string{"requested:call_1", "edited:call_1", "approved:call_1", "executed:call_1"},
			wantRan:       editedArgs,
			wantBy:        "alice",
			wantOutput:    `approved with edits: alice (publisher) edited the arguments before approving; the tool ran with ` + editedArgs + ` instead of {"title":"Introducing our new API"}. Tool output: ok:`,
			wantRevisions: 1,
		},
		{
			name: "an edit under a quorum restarts the count on the edited arguments",
			rule: `{"minRole":"publisher","timeout":"10m","approvals":2,"editable":true}`,
			decisions: []at{
				{time.Minute, approve("call_1", "alice", "publisher", "m1")},
				{2 * time.Minute, edited("bob", "publisher", "m2", editedArgs, originalDigest)},
				// carol saw the old arguments: her approval does not count.
				{3 * time.Minute, func() Decision {
					d := approve("call_1", "carol", "admin", "m3")
					d.ArgumentsDigest = originalDigest
					return d
				}()},
				{4 * time.Minute, func() Decision {
					d := approve("call_1", "alice", "publisher", "m4")
					d.ArgumentsDigest = editedDigest
					return d
				}()},
			},
			wantAudit: []string{"requested:call_1", "counted:call_1", "edited:call_1", "counted:call_1",
				"ignored:call_1:the approver saw other arguments (digest " + originalDigest + ")",
				"approved:call_1", "executed:call_1"},
			wantRan: editedArgs, wantBy: "bob,alice", wantOutput: "approved with edits: bob (publisher)", wantRevisions: 3,
		},
		{
			// The model is told what it asked for, not what the edit
			// before the last one made of it.
			name: "after two edits the model is told its own arguments",
			rule: `{"minRole":"publisher","timeout":"10m","approvals":2,"editable":true}`,
			decisions: []at{
				{time.Minute, edited("alice", "publisher", "m1", editedArgs, originalDigest)},
				{2 * time.Minute, edited("bob", "publisher", "m2", editedArgs2, editedDigest)},
				{3 * time.Minute, edited("carol", "admin", "m3", "", ArgumentsDigest(editedArgs2))},
			},
			wantAudit: []string{"requested:call_1", "edited:call_1", "counted:call_1", "edited:call_1", "counted:call_1",
				"approved:call_1", "executed:call_1"},
			wantRan: editedArgs2, wantBy: "bob,carol", wantRevisions: 3,
			wantOutput: `approved with edits: bob (publisher) edited the arguments before approving; the tool ran with ` + editedArgs2 +
				` instead of {"title":"Introducing our new API"}. Tool output: ok:`,
		},
		{
			name: "an edit of a stale view is refused",
			rule: `{"minRole":"publisher","timeout":"10m","editable":true,"approvals":2}`,
			decisions: []at{
				{time.Minute, edited("alice", "publisher", "m1", editedArgs, originalDigest)},
				{2 * time.Minute, edited("bob", "publisher", "m2", editedArgs2, originalDigest)},
			},
			wantAudit: []string{"requested:call_1", "edited:call_1", "counted:call_1",
				"ignored:call_1:the approver saw other arguments (digest " + originalDigest + ")", "expired:call_1"},
			wantOutput: "approval expired", wantRevisions: 2,
		},
		{
			name: "edits that cannot count",
			rule: `{"minRole":"publisher","timeout":"10m","editable":true}`,
			decisions: []at{
				{time.Minute, edited("alice", "publisher", "m1", editedArgs, "")},
				{2 * time.Minute, edited("alice", "publisher", "m2", `{"title":"x","author":"mallory"}`, originalDigest)},
				{3 * time.Minute, edited("alice", "publisher", "m3", `{"title":"x","title":"y"}`, originalDigest)},
				{4 * time.Minute, func() Decision {
					d := reject("call_1", "bob", "publisher", "m4", "no")
					d.Arguments, d.ArgumentsDigest = editedArgs, originalDigest
					return d
				}()},
				{5 * time.Minute, edited("erin", "editor", "m5", editedArgs, originalDigest)},
			},
			wantAudit: []string{"requested:call_1",
				"ignored:call_1:an edit must name the digest of the arguments it edits (argumentsDigest)",
				`ignored:call_1:edited arguments refused: arguments: key "author" is not allowed (allowed: body, title)`,
				`ignored:call_1:edited arguments refused: arguments: duplicate key "title"`,
				"ignored:call_1:a rejection carries no arguments",
				"ignored:call_1:insufficient role: editor < publisher",
				"expired:call_1"},
			wantOutput: "approval expired", wantRevisions: 1,
		},
		{
			name: "an edit with half a surrogate pair is refused, one with a whole pair runs",
			rule: `{"minRole":"publisher","timeout":"10m","editable":true}`,
			decisions: []at{
				{time.Minute, edited("alice", "publisher", "m1", `{"title":"\ud800 API"}`, originalDigest)},
				{2 * time.Minute, edited("alice", "publisher", "m2", `{"title":"\ud83d\ude00 API"}`, originalDigest)},
			},
			wantAudit: []string{"requested:call_1",
				`ignored:call_1:edited arguments refused: a \u escape of half a UTF-16 surrogate pair, which JSON readers take for different strings`,
				"edited:call_1", "approved:call_1", "executed:call_1"},
			wantRan: `{"title":"😀 API"}`, wantBy: "alice", wantOutput: "approved with edits", wantRevisions: 1,
		},
		{
			name: "an edit as long as an edit may be counts",
			rule: `{"minRole":"publisher","timeout":"10m","editable":true}`,
			decisions: []at{
				{time.Minute, edited("alice", "publisher", "m1", longEdit(MaxEditedArgumentsLen), originalDigest)},
			},
			wantAudit: []string{"requested:call_1", "edited:call_1", "approved:call_1", "executed:call_1"},
			wantRan:   longEdit(MaxEditedArgumentsLen), wantBy: "alice", wantOutput: "approved with edits", wantRevisions: 1,
		},
		{
			name: "an edit one byte too long is refused",
			rule: `{"minRole":"publisher","timeout":"10m","editable":true}`,
			decisions: []at{
				{time.Minute, edited("alice", "publisher", "m1", longEdit(MaxEditedArgumentsLen+1), originalDigest)},
			},
			wantAudit:  []string{"requested:call_1", "ignored:call_1:edited arguments longer than 16384 bytes", "expired:call_1"},
			wantOutput: "approval expired", wantRevisions: 1,
		},
		{
			name: "a policy that is not editable refuses edits",
			rule: `{"minRole":"publisher","timeout":"10m","approvals":2}`,
			decisions: []at{
				{time.Minute, edited("alice", "publisher", "m1", editedArgs, originalDigest)},
			},
			wantAudit:  []string{"requested:call_1", "ignored:call_1:the policy does not allow edits of publish_blog_post", "expired:call_1"},
			wantOutput: "approval expired", wantRevisions: 1,
		},
		{
			name: "a call without rules refuses edits",
			rule: `{"minRole":"publisher","timeout":"10m"}`,
			decisions: []at{
				{time.Minute, edited("alice", "publisher", "m1", editedArgs, originalDigest)},
			},
			wantAudit:  []string{"requested:call_1", "ignored:call_1:the policy does not allow edits of publish_blog_post", "expired:call_1"},
			wantOutput: "approval expired", wantRevisions: 1,
		},
		{
			name: "an edit that changes nothing is a plain approval",
			rule: `{"minRole":"publisher","timeout":"10m","editable":true,"approvals":2}`,
			decisions: []at{
				{time.Minute, edited("alice", "publisher", "m1", `{"title": "Introducing our new API"}`, originalDigest)},
				{2 * time.Minute, approve("call_1", "carol", "admin", "m2")},
			},
			wantAudit: []string{"requested:call_1", "counted:call_1", "approved:call_1", "executed:call_1"},
			wantRan:   `{"title":"Introducing our new API"}`, wantBy: "alice,carol", wantOutput: "ok:", wantRevisions: 2,
		},
		{
			// The bridge forwards both (an approval with arguments is a
			// decision of its own), so only the run keeps one approver
			// from making a quorum of two: the edit changes nothing, so
			// it is alice's second approval of the same arguments.
			name: "an approver who approved cannot count again with an edit that changes nothing",
			rule: `{"minRole":"publisher","timeout":"10m","editable":true,"approvals":2}`,
			decisions: []at{
				{time.Minute, approve("call_1", "alice", "publisher", "m1")},
				{2 * time.Minute, edited("alice", "publisher", "m2", `{"title": "Introducing our new API"}`, originalDigest)},
			},
			wantAudit:  []string{"requested:call_1", "counted:call_1", "ignored:call_1:you already approved", "expired:call_1"},
			wantOutput: "approval expired", wantRevisions: 2,
		},
		{
			// The schema lets tags hold any keys, so only the lookalike
			// check refuses two that read the same (café as U+00E9 and as
			// e + U+0301): the approver would see one, the tool read either.
			name:   "an edit with keys that look the same is refused",
			rule:   `{"minRole":"publisher","timeout":"10m","editable":true}`,
			schema: `{"type":"object","properties":{"title":{"type":"string"},"tags":{"type":"object"}},"required":["title"],"additionalProperties":false}`,
			decisions: []at{
				{time.Minute, edited("alice", "publisher", "m1", `{"title":"x","tags":{"caf\u00e9":"a","cafe\u0301":"b"}}`, originalDigest)},
			},
			wantAudit: []string{"requested:call_1",
				`ignored:call_1:edited arguments refused: arguments.tags: keys "caf\u00e9" and "cafe\u0301" look the same (they differ only in Unicode normalisation, invisible characters or case)`,
				"expired:call_1"},
			wantOutput: "approval expired", wantRevisions: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.policy = rulesPolicy(t, tt.rule)
			if tt.schema != "" {
				h.schemas["publish_blog_post"] = json.RawMessage(tt.schema)
			}
			h.model = script(calls(publishCall("call_1")), answer("done"))
			for _, x := range tt.decisions {
				h.decide(x.after, x.d)
			}
			res := h.run(AgentInput{Requester: tt.requester})

			wantKinds(t, res.Audit, tt.wantAudit...)
			ran := h.tools()
			switch {
			case tt.wantRan == "" && len(ran) != 0:
				t.Errorf("the tool ran: %+v", ran)
			case tt.wantRan != "" && (len(ran) != 1 || ran[0].Arguments != tt.wantRan || ran[0].ApprovedBy != tt.wantBy):
				t.Errorf("tool requests = %+v, want one with arguments %s approved by %s", ran, tt.wantRan, tt.wantBy)
			case tt.wantRan != "":
				h.wantApprovals(ran[0], tt.wantBy)
			}
			if out, _ := h.outputOf(2, "call_1"); !strings.HasPrefix(out, tt.wantOutput) {
				t.Errorf("output for the model = %q, want prefix %q", out, tt.wantOutput)
			}
			reqs, _ := h.published()
			if len(reqs) != tt.wantRevisions {
				t.Errorf("approval-requests published = %d, want %d", len(reqs), tt.wantRevisions)
			}
			for i, r := range reqs {
				if r.Data.Revision != i {
					t.Errorf("approval-request %d has revision %d", i, r.Data.Revision)
				}
			}
		})
	}
}

// TestRulesAnnouncements pins what approver screens are told: the first
// request carries the rules, each revision the progress, the escalation
// and the edit, and approval-resolved lists the approvers.
func TestRulesAnnouncements(t *testing.T) {
	h := newHarness(t)
	h.policy = rulesPolicy(t, `{"minRole":"publisher","timeout":"10m","approvals":2,"distinctFromRequester":true,"editable":true,"escalate":[{"after":"5m","minRole":"admin"}]}`)
	h.model = script(calls(publishCall("call_1")), answer("done"))
	const editedArgs = `{"title":"Edited"}`
	h.decide(time.Minute, approve("call_1", "carol", "admin", "m1"))
	h.decide(6*time.Minute, edited("dave", "admin", "m2", editedArgs, originalDigest))
	approveEdit := approve("call_1", "carol", "admin", "m3")
	approveEdit.ArgumentsDigest = ArgumentsDigest(editedArgs) // after an edit, an approval names what it approves
	h.decide(7*time.Minute, approveEdit)
	var mid ApprovalsView
	var details string
	h.queryAt(90*time.Second, &mid)
	h.detailsAt(90*time.Second, &details)

	res := h.run(AgentInput{Requester: "bob"})

	reqs, resolved := h.published()
	if len(reqs) != 4 {
		t.Fatalf("approval-requests = %d, want 4 (first, 1 of 2, escalated, edited)", len(reqs))
	}
	first := reqs[0].Data
	wantNext := &EscalationStep{At: testStart.Add(5 * time.Minute), MinRole: "admin"}
	if first.Approvals != 2 || len(first.ApprovedBy) != 0 || !first.DistinctFromRequester || !first.Editable ||
		first.RequiredRole != "publisher" || first.Escalation != nil || !jsonEqual(first.NextEscalation, wantNext) ||
		!first.ExpiresAt.Equal(testStart.Add(10*time.Minute)) || first.Revision != 0 {
		t.Errorf("first request = %+v", first)
	}
	counted := reqs[1].Data
	if len(counted.ApprovedBy) != 1 || counted.ApprovedBy[0].ClientID != "carol" || counted.ApprovedBy[0].Role != "admin" ||
		!counted.ApprovedBy[0].At.Equal(testStart.Add(time.Minute)) || counted.Revision != 1 {
		t.Errorf("request after one approval = %+v", counted)
	}
	esc := reqs[2].Data
	wantEsc := &EscalationState{Level: 1, PreviousRole: "publisher", Since: testStart.Add(5 * time.Minute)}
	if esc.RequiredRole != "admin" || !jsonEqual(esc.Escalation, wantEsc) || esc.NextEscalation != nil ||
		!esc.ExpiresAt.Equal(first.ExpiresAt) || len(esc.ApprovedBy) != 1 {
		t.Errorf("escalated request = %+v", esc)
	}
	ed := reqs[3].Data
	if ed.Arguments != editedArgs || ed.ArgumentsDigest != ArgumentsDigest(editedArgs) || ed.EditedBy == nil || ed.EditedBy.ClientID != "dave" ||
		len(ed.ApprovedBy) != 1 || ed.ApprovedBy[0].ClientID != "dave" {
		t.Errorf("edited request = %+v", ed)
	}
	if len(resolved) != 1 || resolved[0].Data.Outcome != OutcomeApproved || len(resolved[0].Data.ApprovedBy) != 2 ||
		resolved[0].Data.ApprovedBy[0].ClientID != "dave" || resolved[0].Data.ApprovedBy[1].ClientID != "carol" {
		t.Errorf("approval-resolved = %+v", resolved)
	}
	if len(mid.Pending) != 1 || mid.Pending[0].Approvals != 2 || len(mid.Pending[0].ApprovedBy) != 1 {
		t.Errorf("approvals query after one approval = %+v", mid.Pending)
	}
	for _, want := range []string{"1 of 2 approvals (carol)", "escalates to admin at 2026-01-02T03:09:05Z", "2 distinct approvers; not the requester; after 5m0s: admin; editable"} {
		if !strings.Contains(details, want) {
			t.Errorf("current details lack %q:\n%s", want, details)
		}
	}
	e, ok := findAudit(res.Audit, AuditEdited, "call_1")
	if !ok || e.Actor != "dave" || e.Role != "admin" || e.Original != `{"title":"Introducing our new API"}` || e.Arguments != editedArgs {
		t.Errorf("edited audit entry = %+v", e)
	}
	if e, _ := findAudit(res.Audit, AuditApproved, "call_1"); e.Reason != "2 of 2 approvals: dave (admin), carol (admin)" {
		t.Errorf("approved audit entry = %+v", e)
	}
}

// longEdit is canonical arguments of publish_blog_post, n bytes long.
func longEdit(n int) string {
	return `{"title":"` + strings.Repeat("x", n-len(`{"title":""}`)) + `"}`
}

// publishedAtTest stamps d as published after the start of the test run.
func publishedAtTest(d Decision, after time.Duration) Decision {
	d.PublishedAt = testStart.Add(after)
	return d
}

// TestOneVote pins what screens and the audit are told when an approver
// changes their mind under rejectBy quorum (changeOneVote): the revision
// lists them on their latest side only, and the counted entry says that
// their earlier decision no longer counts.
func TestOneVote(t *testing.T) {
	h := newHarness(t)
	h.policy = rulesPolicy(t, `{"minRole":"publisher","timeout":"10m","approvals":2,"rejectBy":"quorum"}`)
	h.model = script(calls(publishCall("call_1")), answer("done"))
	h.decide(time.Minute, approve("call_1", "alice", "publisher", "m1"))
	h.decide(2*time.Minute, reject("call_1", "alice", "publisher", "m2", "on second thought"))
	res := h.run(AgentInput{})

	reqs, _ := h.published()
	if len(reqs) != 3 {
		t.Fatalf("approval-requests = %d, want 3 (first, 1 of 2 approvals, 1 of 2 rejections)", len(reqs))
	}
	if got := reqs[1].Data; len(got.ApprovedBy) != 1 || len(got.RejectedBy) != 0 {
		t.Errorf("request after alice's approval: approvedBy %+v, rejectedBy %+v", got.ApprovedBy, got.RejectedBy)
	}
	got := reqs[2].Data
	if len(got.ApprovedBy) != 0 || len(got.RejectedBy) != 1 || got.RejectedBy[0].ClientID != "alice" {
		t.Errorf("request after alice's rejection: approvedBy %+v, rejectedBy %+v; want alice among the rejections only", got.ApprovedBy, got.RejectedBy)
	}
	var reasons []string
	for _, e := range res.Audit {
		if e.Kind == AuditCounted {
			reasons = append(reasons, e.Reason)
		}
	}
	want := []string{"1 of 2 approvals", "1 of 2 rejections; replaces their approval, which no longer counts; on second thought"}
	if !slices.Equal(reasons, want) {
		t.Errorf("counted audit reasons = %q, want %q", reasons, want)
	}
}

// TestOneVoteAskedOnlyOnAChange: changeOneVote's GetVersion is asked only
// when a decision withdraws the same approver's counted one, so the
// histories of other runs with rules do not change (a version marker and
// a search-attribute upsert each time it is asked first).
func TestOneVoteAskedOnlyOnAChange(t *testing.T) {
	tests := []struct {
		name      string
		decisions []Decision
		wantAsks  int
	}{
		{"approvals and rejections of different approvers", []Decision{
			approve("call_1", "alice", "publisher", "m1"),
			reject("call_1", "bob", "publisher", "m2", "no"),
			reject("call_1", "alice", "publisher", "m3", "no"),
			reject("call_1", "carol", "admin", "m4", "no"),
		}, 1},
		{"no change of mind", []Decision{
			approve("call_1", "alice", "publisher", "m1"),
			reject("call_1", "bob", "publisher", "m2", "no"),
			reject("call_1", "carol", "admin", "m3", "no"),
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.policy = rulesPolicy(t, `{"minRole":"publisher","timeout":"10m","approvals":2,"rejectBy":"quorum"}`)
			h.model = script(calls(publishCall("call_1")), answer("done"))
			asks := 0
			h.env.OnGetVersion(changeOneVote, workflow.DefaultVersion, 1).Return(workflow.Version(1)).Run(func(mock.Arguments) { asks++ }).Maybe()
			for i, d := range tt.decisions {
				h.decide(time.Duration(i+1)*time.Minute, d)
			}
			res := h.run(AgentInput{})
			if asks != tt.wantAsks {
				t.Errorf("GetVersion(%q) asked %d times, want %d", changeOneVote, asks, tt.wantAsks)
			}
			if _, ok := findAudit(res.Audit, AuditRejected, "call_1"); !ok {
				t.Errorf("the call was not rejected:\n%+v", res.Audit)
			}
		})
	}
}

// TestEditedCallWhoseToolFails: after an edit, a tool that fails is
// reported to the model failure first (changeEditedFailure, asked only
// then); runs that applied the change before keep the old text.
func TestEditedCallWhoseToolFails(t *testing.T) {
	const editedArgs = `{"title":"Introducing our new API (beta)"}`
	const editedBy = "alice (publisher) edited the arguments before approving; "
	tests := []struct {
		name     string
		toolErr  error
		version  workflow.Version
		wantOut  string
		wantAsks int
	}{
		{
			name:     "the failure leads",
			toolErr:  temporal.NewNonRetryableApplicationError("the CMS refused the post: title taken", "CMSError", nil),
			version:  1,
			wantOut:  "tool failed: the CMS refused the post: title taken (approved with edits: " + editedBy + "the tool was called with " + editedArgs + ` instead of {"title":"Introducing our new API"})`,
			wantAsks: 1,
		},
		{
			name:     "a run from before the change keeps the old text",
			toolErr:  temporal.NewNonRetryableApplicationError("the CMS refused the post: title taken", "CMSError", nil),
			version:  workflow.DefaultVersion,
			wantOut:  "approved with edits: " + editedBy + "the tool ran with " + editedArgs + ` instead of {"title":"Introducing our new API"}. Tool output: tool failed: the CMS refused the post: title taken`,
			wantAsks: 1,
		},
		{
			name:     "a tool that works is not asked about",
			version:  1,
			wantOut:  "approved with edits: " + editedBy + "the tool ran with " + editedArgs + ` instead of {"title":"Introducing our new API"}. Tool output: ok:publish_blog_post:call_1`,
			wantAsks: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.policy = rulesPolicy(t, `{"minRole":"publisher","timeout":"10m","editable":true}`)
			h.model = script(calls(publishCall("call_1")), answer("done"))
			if tt.toolErr != nil {
				h.tool = func(ToolRequest) (ToolResult, error) { return ToolResult{}, tt.toolErr }
			}
			asks := 0
			h.env.OnGetVersion(changeEditedFailure, workflow.DefaultVersion, 1).Return(tt.version).Run(func(mock.Arguments) { asks++ }).Maybe()
			h.decide(time.Minute, edited("alice", "publisher", "m1", editedArgs, originalDigest))

			h.run(AgentInput{})

			if asks != tt.wantAsks {
				t.Errorf("GetVersion(%q) asked %d times, want %d", changeEditedFailure, asks, tt.wantAsks)
			}
			h.wantOutput(2, "call_1", tt.wantOut)
			if ran := h.tools(); len(ran) != 1 || ran[0].Arguments != editedArgs {
				t.Errorf("tool requests = %+v, want one with %s", ran, editedArgs)
			}
		})
	}
}

// TestRulesMessageIDs: each revision of a request has its own message id,
// and a later one names the first's.
func TestRulesMessageIDs(t *testing.T) {
	key := []byte("0123456789abcdef0123")
	d := ApprovalRequestData{WorkflowID: "wf", ToolCallID: "call_1"}
	ids := map[string]bool{}
	var first string
	for rev := range 3 {
		d.Revision = rev
		m, err := d.Message(key)
		if err != nil {
			t.Fatal(err)
		}
		if ids[m.ID] {
			t.Fatalf("revision %d reuses message id %s", rev, m.ID)
		}
		ids[m.ID] = true
		sup := m.Data.(ApprovalRequestData).Supersedes
		switch {
		case rev == 0:
			first = m.ID
			if sup != "" {
				t.Errorf("revision 0 supersedes %q", sup)
			}
		case sup != first:
			t.Errorf("revision %d supersedes %q, want the first %q", rev, sup, first)
		}
	}
	d.Revision = -1
	if _, err := d.Message(key); err == nil {
		t.Error("negative revision accepted")
	}
}

// TestEditLimit: at most MaxEditsPerCall edits of one call count.
func TestEditLimit(t *testing.T) {
	h := newHarness(t)
	h.policy = rulesPolicy(t, `{"minRole":"publisher","timeout":"10m","editable":true,"approvals":3}`)
	h.model = script(calls(publishCall("call_1")), answer("done"))
	digest := originalDigest
	for i := range MaxEditsPerCall + 1 {
		args := `{"title":"edit ` + string(rune('a'+i)) + `"}`
		h.decide(time.Duration(i+1)*time.Minute, edited("alice", "publisher", "m"+string(rune('a'+i)), args, digest))
		digest = ArgumentsDigest(args)
	}
	res := h.run(AgentInput{})
	var edits int
	for _, e := range res.Audit {
		if e.Kind == AuditEdited {
			edits++
		}
	}
	if edits != MaxEditsPerCall {
		t.Errorf("edits applied = %d, want %d", edits, MaxEditsPerCall)
	}
	if !slices.ContainsFunc(res.Audit, func(e AuditEntry) bool {
		return e.Kind == AuditIgnored && strings.HasPrefix(e.Reason, "too many edits")
	}) {
		t.Errorf("no ignored edit beyond the limit: %q", kinds(res.Audit))
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestEscalationDueWhileARevisionIsPublished: the call escalates to admin
// after 1 minute; alice's approval at 55 s is counted and a revision of the
// request is published, which fails for about 15 s (Ably unreachable), so
// the run applies the escalation only after it. bob (publisher) approves at
// 65 s, when the escalation is due: his approval must not complete the
// quorum (found by the review). Two admins then approve.
func TestEscalationDueWhileARevisionIsPublished(t *testing.T) {
	h := newHarness(t)
	h.policy = rulesPolicy(t, `{"minRole":"publisher","timeout":"10m","approvals":2,"escalate":[{"after":"1m","minRole":"admin"}]}`)
	h.model = script(calls(publishCall("call_1")), answer("done"))
	h.publishFailNth = 2 // the revision after alice's count
	h.decide(55*time.Second, approve("call_1", "alice", "publisher", "m1"))
	h.decide(65*time.Second, approve("call_1", "bob", "publisher", "m2"))
	h.decide(3*time.Minute, approve("call_1", "carol", "admin", "m3"))
	h.decide(210*time.Second, approve("call_1", "eve", "publisher", "m5"))
	h.decide(4*time.Minute, approve("call_1", "dave", "admin", "m4"))
	res := h.run(AgentInput{})

	// Every message names the time the escalation fell due, also once it
	// was applied late: before, the request and later refusals named the
	// time the run applied it.
	wantKinds(t, res.Audit, "requested:call_1", "counted:call_1",
		"ignored:call_1:needs admin since 03:05:05 UTC (the escalation is being applied): send the decision again if your role allows",
		"escalated:call_1", "counted:call_1",
		"ignored:call_1:needs admin since 03:05:05 UTC (escalated from publisher)",
		"approved:call_1", "executed:call_1")
	if ran := h.tools(); len(ran) != 1 || ran[0].ApprovedBy != "carol,dave" {
		t.Errorf("tool requests = %+v, want one approved by carol,dave", ran)
	}
	reqs, _ := h.published()
	var since []time.Time
	for _, r := range reqs {
		if e := r.Data.Escalation; e != nil {
			since = append(since, e.Since)
		}
	}
	if len(since) == 0 || !since[0].Equal(testStart.Add(time.Minute)) {
		t.Errorf("escalated requests say since %v, want %v (when it fell due)", since, testStart.Add(time.Minute))
	}
}

// A call rejected after some approvals counted is announced as rejected
// with no approvers: screens list approvedBy as who approved the call.
func TestRejectedQuorumNamesNoApprovers(t *testing.T) {
	h := newHarness(t)
	h.policy = rulesPolicy(t, `{"minRole":"publisher","timeout":"10m","approvals":2}`)
	h.model = script(calls(publishCall("call_1")), answer("done"))
	h.decide(time.Minute, approve("call_1", "alice", "publisher", "m1"))
	h.decide(2*time.Minute, reject("call_1", "bob", "publisher", "m2", "no"))
	h.run(AgentInput{})
	_, resolved := h.published()
	if len(resolved) != 1 || resolved[0].Data.Outcome != OutcomeRejected || resolved[0].Data.DecidedBy != "bob" || len(resolved[0].Data.ApprovedBy) != 0 {
		t.Errorf("approval-resolved = %+v, want one, rejected by bob, naming no approvers", resolved)
	}
}
