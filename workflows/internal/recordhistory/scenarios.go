package main

import (
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/hitl/durable-approvals/workflows"
)

// scenario is one recorded run: its input and how the "humans" act.
type scenario struct {
	name   string
	policy string // policy JSON: the worker's for this run
	// inputPolicy, if set, is sent in the run's input too (it is ignored).
	inputPolicy string
	// unsigned lists the indexes of decisions sent without the bridge's
	// signature; tampered those signed, then changed (the signature no
	// longer verifies).
	unsigned []int
	tampered []int
	// retiredKey lists the indexes of decisions signed with a key the
	// worker has retired (a bridge that missed a rotation).
	retiredKey []int
	// drive sends the decisions once the run waits for waitPending approvals
	// (and, if set, its audit has an entry of kind waitKind).
	waitPending int
	waitKind    string
	// delay, if set, passes before the decisions are sent.
	delay time.Duration
	// workerDown, if set, stops the worker before the decisions are sent
	// (each stamped with the time it is sent, as the bridge stamps Ably's)
	// and starts it again that long after; with stopBeforeDelay the worker
	// stops before the delay instead.
	workerDown      time.Duration
	stopBeforeDelay bool
	// waits, if set, passes waits[i] before decision i (after the delay).
	waits []time.Duration
	// sentAt, if set, stamps decision i with the time the first decision
	// is sent plus sentAt[i] (as the bridge stamps Ably's), so that a
	// decision can be published before one sent ahead of it.
	sentAt    map[int]time.Duration
	decisions []workflows.Decision
	// cancel cancels the run once it waits, after the decisions.
	cancel bool
	// wantResolved, if set, is the approval-resolved outcome per call id
	// the run must have published.
	wantResolved map[string]string
	// wantNoticed, if not nil, is the approvers the run told of an
	// ignored decision (approval-ignored), in order.
	wantNoticed []string
	// activityTools are tools the worker runs as activities of their own
	// in this run instead of local activities (a tool a team adds with
	// Local false).
	activityTools []string
	// workerPolicyVersion, if set, starts the run as WorkflowNameV1 and
	// makes its worker record this version of changeWorkerPolicy
	// (worker.Options.PreferredVersionProvider): a run started before
	// the fast path, whose Ably publishes and tools are activities, as it
	// goes on under today's code.
	workerPolicyVersion workflow.Version
}

// digestOf is the digest of arguments that are canonical already.
func digestOf(canonical string) string { return workflows.ArgumentsDigest(canonical) }

const teamPolicy = `{"roles":["editor","publisher","admin"],
 "tools":{"publish_blog_post":{"minRole":"publisher","timeout":"10m"},
          "search_posts":{"minRole":"none"},
          "delete_post":{"minRole":"admin","timeout":"5m"}}}`

func scenarios() []scenario {
	dec := func(call, decision, who, role, msg, reason string) workflows.Decision {
		return workflows.Decision{ToolCallID: call, Decision: decision, ApproverClientID: who, ApproverRole: role, AblyMessageID: msg, Reason: reason}
	}
	return []scenario{
		{name: "approve", policy: teamPolicy, waitPending: 1, decisions: []workflows.Decision{
			dec("call-approve-1", workflows.DecisionApproved, "eve", "editor", "msg-approve-1", ""),
			dec("call-approve-1", workflows.DecisionApproved, "alice", "publisher", "msg-approve-2", ""),
			dec("call-approve-1", workflows.DecisionRejected, "alice", "publisher", "msg-approve-2", "duplicate"),
		}},
		{name: "reject", policy: teamPolicy, waitPending: 1, decisions: []workflows.Decision{
			dec("call-reject-1", workflows.DecisionRejected, "carol", "admin", "msg-reject-1", "keep that post"),
		}},
		{name: "expire", policy: strings.Replace(teamPolicy, `"timeout":"10m"`, `"timeout":"2s"`, 1), waitPending: 1},
		{name: "parallel", policy: teamPolicy, waitPending: 2, decisions: []workflows.Decision{
			dec("call-parallel-b", workflows.DecisionApproved, "carol", "admin", "msg-parallel-1", ""),
			dec("call-parallel-a", workflows.DecisionRejected, "alice", "publisher", "msg-parallel-2", "not today"),
			dec("call-parallel-a", workflows.DecisionApproved, "carol", "admin", "msg-parallel-3", "late"),
		}},
		{name: "cancel", policy: teamPolicy, waitPending: 2, cancel: true, decisions: []workflows.Decision{
			dec("call-cancel-a", workflows.DecisionApproved, "eve", "editor", "msg-cancel-1", ""),
		}, wantResolved: map[string]string{"call-cancel-a": workflows.OutcomeCancelled, "call-cancel-b": workflows.OutcomeCancelled}},
		// The fake approval-request publisher fails for this scenario.
		{name: "unpublished", policy: teamPolicy, wantResolved: map[string]string{"call-unpublished-1": workflows.OutcomeCancelled}},
		// The guide's scenario and nothing else: one call, one approval
		// (the run with one approved call whose events docs/BENCHMARKS.md
		// counts).
		{name: "single", policy: teamPolicy, waitPending: 1, decisions: []workflows.Decision{
			dec("call-single-1", workflows.DecisionApproved, "alice", "publisher", "msg-single-1", ""),
		}},
		// single with the tool run as an activity of its own, as a tool
		// with Local false is.
		{name: "activity-tool", policy: teamPolicy, waitPending: 1, activityTools: []string{"publish_blog_post"}, decisions: []workflows.Decision{
			dec("call-activity-tool-1", workflows.DecisionApproved, "alice", "publisher", "msg-activity-tool-1", ""),
		}},
		// A forged decision (unsigned, then signed and altered) changes
		// nothing; the bridge-signed one approves.
		{name: "forged", policy: teamPolicy, waitPending: 1, unsigned: []int{0}, decisions: []workflows.Decision{
			dec("call-forged-1", workflows.DecisionApproved, "mallory", "admin", "msg-forged-1", ""),
			dec("call-forged-1", workflows.DecisionApproved, "alice", "publisher", "msg-forged-2", ""),
		}},
		// ignored-activity: a run started before the fast path
		// (WorkflowNameV1 at versionWorkerPolicy: its publishes, checks and
		// tools are activities) gets an editor's approval after
		// changeIgnoredNotice: the notice goes out by the activities
		// VerifyDecision and PublishApprovalIgnored; alice's approves.
		{name: "ignored-activity", policy: teamPolicy, waitPending: 1, workerPolicyVersion: 1, decisions: []workflows.Decision{
			dec("call-ignored-activity-1", workflows.DecisionApproved, "erin", "editor", "msg-ignored-activity-1", "mine"),
			dec("call-ignored-activity-1", workflows.DecisionApproved, "alice", "publisher", "msg-ignored-activity-2", ""),
		}, wantResolved: map[string]string{"call-ignored-activity-1": workflows.OutcomeApproved}},
		// forged-signed: a decision refused before its signature was
		// checked (an editor's), whose signature does not verify, gets no
		// approval-ignored (changeIgnoredNotice: the version marker and
		// the failed check, no publish); alice's approves.
		{name: "forged-signed", policy: teamPolicy, waitPending: 1, tampered: []int{0}, decisions: []workflows.Decision{
			dec("call-forged-signed-1", workflows.DecisionApproved, "mallory", "editor", "msg-forged-signed-1", "signed"),
			dec("call-forged-signed-1", workflows.DecisionApproved, "alice", "publisher", "msg-forged-signed-2", ""),
		}},
		// retired-key: alice's approval comes signed with a key the
		// worker has retired (her bridge missed a rotation): it does not
		// count, and since changeRetiredKeyNotice she is told so
		// (v19-retired-key.json was recorded before it, by the code of
		// that time, with the scenario expecting no notice); bob's,
		// signed with the current key, approves.
		{name: "retired-key", policy: teamPolicy, waitPending: 1, retiredKey: []int{0}, decisions: []workflows.Decision{
			dec("call-retired-key-1", workflows.DecisionApproved, "alice", "publisher", "msg-retired-key-1", ""),
			dec("call-retired-key-1", workflows.DecisionApproved, "bob", "publisher", "msg-retired-key-2", ""),
		}, wantResolved: map[string]string{"call-retired-key-1": workflows.OutcomeApproved}, wantNoticed: []string{"alice"}},
		// Rules beyond one approver (changeApprovalRules). quorum: two
		// distinct approvers, not the requester; a second approval by the
		// same person does not count.
		{name: "quorum", policy: ruledPolicy(`"approvals":2,"distinctFromRequester":true`), waitPending: 1, decisions: []workflows.Decision{
			dec("call-quorum-1", workflows.DecisionApproved, "recorder", "admin", "msg-quorum-1", "my own run"),
			dec("call-quorum-1", workflows.DecisionApproved, "alice", "publisher", "msg-quorum-2", ""),
			dec("call-quorum-1", workflows.DecisionApproved, "alice", "publisher", "msg-quorum-3", "again"),
			dec("call-quorum-1", workflows.DecisionApproved, "carol", "admin", "msg-quorum-4", ""),
		}},
		// superseded: two approvals or two rejections decide (rejectBy
		// quorum). alice approves; her rejection, published 2 s before
		// her approval, reaches the run after it; bob rejects, carol
		// approves. Her rejection is refused as published before her
		// counted approval (rules.whySuperseded, changeOneVote), so bob's
		// is one of two and carol's approval is the second: the tool runs.
		// Before changeOneVote it counted, and bob's rejection was the
		// second (v12-superseded.json, recorded by that code).
		{name: "superseded", policy: ruledPolicy(`"approvals":2,"rejectBy":"quorum"`), waitPending: 1,
			sentAt: map[int]time.Duration{0: 0, 1: -2 * time.Second, 2: 0, 3: 0}, decisions: []workflows.Decision{
				dec("call-superseded-1", workflows.DecisionApproved, "alice", "publisher", "msg-superseded-1", ""),
				dec("call-superseded-1", workflows.DecisionRejected, "alice", "publisher", "msg-superseded-2", "an older click"),
				dec("call-superseded-1", workflows.DecisionRejected, "bob", "publisher", "msg-superseded-3", ""),
				dec("call-superseded-1", workflows.DecisionApproved, "carol", "admin", "msg-superseded-4", ""),
			}, wantResolved: map[string]string{"call-superseded-1": workflows.OutcomeApproved}},
		// change-of-mind: two approvals or two rejections decide
		// (rejectBy quorum). alice approves, then rejects; carol approves,
		// bob rejects. Her rejection withdraws her approval
		// (changeOneVote): carol's is one of two, and bob's rejection is
		// the second. Before, alice counted on both sides, so carol's
		// approval made two and the tool ran; v12-change-of-mind.json was
		// recorded by that code, with this scenario expecting no outcome.
		{name: "change-of-mind", policy: ruledPolicy(`"approvals":2,"rejectBy":"quorum"`), waitPending: 1, decisions: []workflows.Decision{
			dec("call-change-of-mind-1", workflows.DecisionApproved, "alice", "publisher", "msg-change-of-mind-1", ""),
			dec("call-change-of-mind-1", workflows.DecisionRejected, "alice", "publisher", "msg-change-of-mind-2", "on second thought"),
			dec("call-change-of-mind-1", workflows.DecisionApproved, "carol", "admin", "msg-change-of-mind-3", ""),
			dec("call-change-of-mind-1", workflows.DecisionRejected, "bob", "publisher", "msg-change-of-mind-4", ""),
		}, wantResolved: map[string]string{"call-change-of-mind-1": workflows.OutcomeRejected}},
		// escalate: undecided after 2s, the call needs an admin; a
		// publisher can no longer decide, an admin approves.
		{name: "escalate", policy: ruledPolicy(`"escalate":[{"after":"2s","minRole":"admin"}]`), waitPending: 1, waitKind: workflows.AuditEscalated,
			decisions: []workflows.Decision{
				dec("call-escalate-1", workflows.DecisionApproved, "alice", "publisher", "msg-escalate-1", ""),
				dec("call-escalate-1", workflows.DecisionApproved, "carol", "admin", "msg-escalate-2", ""),
			}},
		// edit: an approver edits the title (counted as the first of two
		// approvals); an approval of the old arguments does not count; one
		// of the edit completes the quorum, and the edit runs.
		{name: "edit", policy: ruledPolicy(`"approvals":2,"editable":true`), waitPending: 1, decisions: []workflows.Decision{
			withArgs(dec("call-edit-1", workflows.DecisionApproved, "alice", "publisher", "msg-edit-1", "better title"),
				`{"title":"Introducing our new API (beta)"}`, digestOf(`{"title":"Introducing our new API"}`)),
			withArgs(dec("call-edit-1", workflows.DecisionApproved, "bob", "publisher", "msg-edit-2", "stale"),
				"", digestOf(`{"title":"Introducing our new API"}`)),
			withArgs(dec("call-edit-1", workflows.DecisionApproved, "carol", "admin", "msg-edit-3", ""),
				"", digestOf(`{"title":"Introducing our new API (beta)"}`)),
		}},
		// edit-tool-fails: alice approves with edits and the tool fails (the
		// recorder's ExecuteTool fails for good in this run): since
		// changeEditedFailure the model is told of the failure first; older
		// code told it "the tool ran with ...".
		{name: "edit-tool-fails", policy: ruledPolicy(`"editable":true`), waitPending: 1, decisions: []workflows.Decision{
			withArgs(dec("call-edit-tool-fails-1", workflows.DecisionApproved, "alice", "publisher", "msg-edit-tool-fails-1", "better title"),
				`{"title":"Introducing our new API (beta)"}`, digestOf(`{"title":"Introducing our new API"}`)),
		}, wantResolved: map[string]string{"call-edit-tool-fails-1": workflows.OutcomeApproved}},
		// edit-digestless: after an edit (the first of two approvals), an
		// approval that names no digest does not count toward the edited
		// arguments (changeDecisionChecks); one that names the edit's
		// digest completes the quorum.
		{name: "edit-digestless", policy: ruledPolicy(`"approvals":2,"editable":true`), waitPending: 1, decisions: []workflows.Decision{
			withArgs(dec("call-edit-digestless-1", workflows.DecisionApproved, "alice", "publisher", "msg-edit-digestless-1", "better title"),
				`{"title":"Introducing our new API (beta)"}`, digestOf(`{"title":"Introducing our new API"}`)),
			dec("call-edit-digestless-1", workflows.DecisionApproved, "bob", "publisher", "msg-edit-digestless-2", "no digest"),
			withArgs(dec("call-edit-digestless-1", workflows.DecisionApproved, "carol", "admin", "msg-edit-digestless-3", ""),
				"", digestOf(`{"title":"Introducing our new API (beta)"}`)),
		}, wantResolved: map[string]string{"call-edit-digestless-1": workflows.OutcomeApproved}},
		// edit-surrogate: an edit whose arguments hold half a UTF-16
		// surrogate pair (\ud800) is refused (changeEditSurrogates; older
		// code ran it with U+FFFD); bob's approval of the arguments as asked
		// then runs them.
		{name: "edit-surrogate", policy: ruledPolicy(`"editable":true`), waitPending: 1, decisions: []workflows.Decision{
			withArgs(dec("call-edit-surrogate-1", workflows.DecisionApproved, "alice", "publisher", "msg-edit-surrogate-1", "half a pair"),
				`{"title":"\ud800 API"}`, digestOf(`{"title":"Introducing our new API"}`)),
			withArgs(dec("call-edit-surrogate-1", workflows.DecisionApproved, "bob", "publisher", "msg-edit-surrogate-2", ""),
				"", digestOf(`{"title":"Introducing our new API"}`)),
		}, wantResolved: map[string]string{"call-edit-surrogate-1": workflows.OutcomeApproved}},
		// in-time-decision: alice approves 1 s before the call's 3 s expiry
		// while no worker runs; the worker comes back after the expiry. The
		// approval reached the run in time and counts
		// (changeInTimeDecisions; older code ignored it as expired).
		{name: "in-time-decision", policy: strings.Replace(teamPolicy, `"timeout":"10m"`, `"timeout":"3s"`, 1),
			waitPending: 1, delay: 2 * time.Second, workerDown: 6 * time.Second, decisions: []workflows.Decision{
				dec("call-in-time-decision-1", workflows.DecisionApproved, "alice", "publisher", "msg-in-time-decision-1", ""),
			}, wantResolved: map[string]string{"call-in-time-decision-1": workflows.OutcomeApproved}},
		// in-time-escalated: the call (5 s) escalates to admin after 1 s;
		// the worker stops once the request is out, alice (publisher)
		// approves 2 s in, after the escalation was due, and the worker
		// comes back after the expiry: her approval, published before the
		// expiry but after the due escalation, is refused (found by the
		// review of changeInTimeDecisions) and the call expires.
		{name: "in-time-escalated", policy: strings.Replace(teamPolicy, `"timeout":"10m"`, `"timeout":"5s","escalate":[{"after":"1s","minRole":"admin"}]`, 1),
			waitPending: 1, stopBeforeDelay: true, delay: 2 * time.Second, workerDown: 6 * time.Second, decisions: []workflows.Decision{
				dec("call-in-time-escalated-1", workflows.DecisionApproved, "alice", "publisher", "msg-in-time-escalated-1", ""),
			}, wantResolved: map[string]string{"call-in-time-escalated-1": workflows.OutcomeExpired}},
		// due-escalation: the call (two approvals) escalates to admin after
		// 3 s; alice's count at 2.5 s makes the run publish a revision of
		// the request, which Ably refuses for ~15 s (retried), so the run
		// applies the escalation only after it. bob (publisher) approves at
		// 3.5 s, when the escalation is due: refused (changeDueEscalation;
		// older code let alice and bob approve). Two admins then approve.
		{name: "due-escalation", policy: strings.Replace(teamPolicy, `"timeout":"10m"`, `"timeout":"40s","approvals":2,"escalate":[{"after":"3s","minRole":"admin"}]`, 1),
			waitPending: 1, waits: []time.Duration{2500 * time.Millisecond, time.Second, 17 * time.Second, time.Second}, decisions: []workflows.Decision{
				dec("call-due-escalation-1", workflows.DecisionApproved, "alice", "publisher", "msg-due-escalation-1", ""),
				dec("call-due-escalation-1", workflows.DecisionApproved, "bob", "publisher", "msg-due-escalation-2", ""),
				dec("call-due-escalation-1", workflows.DecisionApproved, "carol", "admin", "msg-due-escalation-3", ""),
				dec("call-due-escalation-1", workflows.DecisionApproved, "dave", "admin", "msg-due-escalation-4", ""),
			}, wantResolved: map[string]string{"call-due-escalation-1": workflows.OutcomeApproved}},
		// burned-id: an unsigned copy of alice's message id is ignored and
		// does not make her signed approval a duplicate
		// (changeDecisionChecks): the tool runs, and carol's later
		// rejection finds the call resolved. Before, alice's approval was a
		// duplicate and carol's rejection decided: the outcome differs, so
		// the two histories' commands differ.
		{name: "burned-id", policy: teamPolicy, waitPending: 1, unsigned: []int{0}, decisions: []workflows.Decision{
			dec("call-burned-id-1", workflows.DecisionApproved, "alice", "publisher", "msg-burned-id-1", "forged copy"),
			dec("call-burned-id-1", workflows.DecisionApproved, "alice", "publisher", "msg-burned-id-1", ""),
			dec("call-burned-id-1", workflows.DecisionRejected, "carol", "admin", "msg-burned-id-2", "too late"),
		}},
		// burned-id-activity: burned-id in a run started before the fast
		// path (workerPolicyVersion 1), as a bridge not yet upgraded sends
		// an unsigned copy during a deploy. Before changeUnverifiedCopies
		// alice's signed decision was a duplicate there, and carol's
		// rejection decided (v15-burned-id-activity.json); since, hers
		// counts and the tool runs (v16-burned-id-activity.json).
		{name: "burned-id-activity", policy: teamPolicy, waitPending: 1, workerPolicyVersion: 1, unsigned: []int{0}, decisions: []workflows.Decision{
			dec("call-burned-id-activity-1", workflows.DecisionApproved, "alice", "publisher", "msg-burned-id-activity-1", "unsigned copy"),
			dec("call-burned-id-activity-1", workflows.DecisionApproved, "alice", "publisher", "msg-burned-id-activity-1", ""),
			dec("call-burned-id-activity-1", workflows.DecisionRejected, "carol", "admin", "msg-burned-id-activity-2", "too late"),
		}},
		// before-start: a signed decision published a day before the run
		// started (an earlier run's, with the same workflow id) is ignored
		// (changeDecisionChecks); carol's approves.
		{name: "before-start", policy: teamPolicy, waitPending: 1, decisions: []workflows.Decision{
			publishedAt(dec("call-before-start-1", workflows.DecisionApproved, "alice", "publisher", "msg-before-start-1", "an earlier run's"), time.Now().Add(-24*time.Hour)),
			dec("call-before-start-1", workflows.DecisionApproved, "carol", "admin", "msg-before-start-2", ""),
		}, wantResolved: map[string]string{"call-before-start-1": workflows.OutcomeApproved}},
		// flaky-publish: Ably is unreachable for the approval-request's
		// first publish (five attempts); the run publishes it again
		// (changeRepublish) and alice approves.
		{name: "flaky-publish", policy: teamPolicy, waitPending: 1, waitKind: workflows.AuditRequested, decisions: []workflows.Decision{
			dec("call-flaky-publish-1", workflows.DecisionApproved, "alice", "publisher", "msg-flaky-publish-1", ""),
		}, wantResolved: map[string]string{"call-flaky-publish-1": workflows.OutcomeApproved}},
		// flaky-publish-decided: Ably stays unreachable for the request;
		// 20 s after the start, while the run waits to publish it again,
		// alice approves (a CLI's --force, or a client that knew the
		// call): the decision stands and the retry's timer is cancelled.
		{name: "flaky-publish-decided", policy: teamPolicy, waitPending: 1, delay: 20 * time.Second, decisions: []workflows.Decision{
			dec("call-flaky-publish-decided-1", workflows.DecisionApproved, "alice", "publisher", "msg-flaky-publish-decided-1", ""),
		}, wantResolved: map[string]string{"call-flaky-publish-decided-1": workflows.OutcomeApproved}},
		// The model's provider is down right after alice's approval ran the
		// tool: the run's model call of turn 2 fails twice and answers on
		// its third attempt (workflows.ModelRetry, recorded at the start).
		{name: "model-outage", policy: teamPolicy, waitPending: 1, decisions: []workflows.Decision{
			dec("call-model-outage-1", workflows.DecisionApproved, "alice", "publisher", "msg-model-outage-1", ""),
		}, wantResolved: map[string]string{"call-model-outage-1": workflows.OutcomeApproved}},
		// Arguments that could be read two ways are denied before anyone
		// is asked; the input's permissive policy is ignored.
		{name: "ambiguous", policy: teamPolicy, inputPolicy: `{"tools":{"publish_blog_post":{"minRole":"none"}}}`,
			wantResolved: map[string]string{}},
		// Two keys of a free-form object that differ only in Unicode
		// normalisation ("café" as U+00E9 and as e + U+0301): a reader
		// sees one key twice.
		// Since changeLookalikeKeys the call is denied before anyone is
		// asked (v10-normalised-keys.json was recorded before it, by the
		// code of that time, with the scenario expecting what it did: the
		// request published, alice's approval, the tool run).
		{name: "normalised-keys", policy: tagPolicy, wantResolved: map[string]string{}},
		// An edit that adds such keys: refused since changeLookalikeKeys,
		// and bob's plain approval runs the arguments as asked (before, the
		// edit counted and the tool ran it).
		{name: "normalised-keys-edit", policy: strings.Replace(tagPolicy, `"tag_post":{"minRole":"publisher","timeout":"10m"}`, `"tag_post":{"minRole":"publisher","timeout":"20s","editable":true}`, 1), waitPending: 1, decisions: []workflows.Decision{
			withArgs(dec("call-normalised-keys-edit-1", workflows.DecisionApproved, "alice", "publisher", "msg-normalised-keys-edit-1", "two cafés"),
				`{"slug":"menu","tags":{"caf\u00e9":"hot drinks","cafe\u0301":"closed"}}`, digestOf(`{"slug":"menu","tags":{"drinks":"hot"}}`)),
			withArgs(dec("call-normalised-keys-edit-1", workflows.DecisionApproved, "bob", "publisher", "msg-normalised-keys-edit-2", ""),
				"", digestOf(`{"slug":"menu","tags":{"drinks":"hot"}}`)),
		}, wantResolved: map[string]string{"call-normalised-keys-edit-1": workflows.OutcomeApproved}},
	}
}

// tagPolicy is teamPolicy with tag_post, whose tags are a free-form object.
var tagPolicy = strings.Replace(teamPolicy, `"search_posts":{"minRole":"none"},`, `"search_posts":{"minRole":"none"},
          "tag_post":{"minRole":"publisher","timeout":"10m"},`, 1)

// ruledPolicy is teamPolicy with rules (JSON members) added to
// publish_blog_post's.
func ruledPolicy(rules string) string {
	return strings.Replace(teamPolicy, `"timeout":"10m"}`, `"timeout":"20s",`+rules+`}`, 1)
}

// withArgs sets a decision's edited arguments and the digest of what the
// approver saw.
func withArgs(d workflows.Decision, args, digest string) workflows.Decision {
	d.Arguments, d.ArgumentsDigest = args, digest
	return d
}

// publishedAt sets a decision's Ably timestamp.
func publishedAt(d workflows.Decision, at time.Time) workflows.Decision {
	d.PublishedAt = at.UTC()
	return d
}

// stamp is decision i's publish time when the scenario sets it (sentAt):
// sentAt[i] after first, when the first decision was sent, whenever
// decision i is sent, so that the order of the stamps does not hang on how
// long the signals before it took.
func (sc scenario) stamp(i int, first time.Time) (time.Time, bool) {
	off, ok := sc.sentAt[i]
	if !ok {
		return time.Time{}, false
	}
	return first.Add(off).UTC(), true
}
