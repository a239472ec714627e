package workflows

import "go.temporal.io/sdk/workflow"

// Change ids of workflow.GetVersion. Each names one change of the
// workflow's commands; ARCHITECTURE.md ("Versioning") says when an old
// branch may go.
const (
	// changeWorkerPolicy is asked once, at the start of a run of
	// WorkflowNameV1; its version is the run's version (run.version).
	// Runs of WorkflowName are of versionFastPath without asking.
	//
	//   - versionWorkerPolicy: the run takes its policy and the tools'
	//     schemas from the worker (ActivityWorkerPolicy) instead of its
	//     input, and canonicalises the arguments of every call that needs
	//     a human before asking. Runs started before keep the policy of
	//     their input and the model's raw arguments.
	//   - versionFastPath: the Ably publishes, and the tools the worker
	//     marks local, run as local activities; an approved tool starts
	//     without waiting for approval-resolved to be published; every
	//     decision is verified without asking changeSignedDecisions.
	changeWorkerPolicy = "worker-policy"
	// changeSignedDecisions (version 1): a decision is applied only after
	// ActivityVerifyDecision verified its signature. Asked per decision,
	// so decisions that runs started before the change receive after it
	// are verified too; decisions already in their history replay as
	// they were applied.
	changeSignedDecisions = "signed-decisions"
	// changeApprovalRules (version 1): a call whose tool policy has rules
	// beyond one approver (a quorum, rejectBy, distinctFromRequester,
	// escalation, edits; ToolPolicy.hasRules) is decided by them
	// (rules.go). Asked per such call only, so runs without rules keep
	// their histories unchanged; at DefaultVersion the call takes one
	// approver, as before the change.
	changeApprovalRules = "approval-rules"
	// changeEarlyDecisions (version 1): a decision that reaches the run
	// while the calls of a model response are being registered waits for
	// them (agent.go, registering). It happens only when a worker died
	// after the fast path published a request from a workflow task it
	// never completed: the decision then arrives in the same task as the
	// model's response, and was ignored as "unknown tool call". Asked
	// only then, so no other run's history changes.
	changeEarlyDecisions = "early-decisions"
	// changeDecisionChecks (version 1), found by the review of 2026-12-05
	// (decisions.go, whyRefusedSince and onDecision):
	//   - after an edit, an approval that names no argumentsDigest does not
	//     count: its approver may never have seen the edited arguments;
	//   - a decision published more than MaxClockSkew before the run
	//     started is ignored: it is an earlier run's, with the same
	//     workflow id, replayed;
	//   - a copy of a decision that was never verified (it was unsigned,
	//     its signature failed, or it was ignored before the check) is
	//     checked again rather than ignored as a duplicate, so a forged
	//     signal cannot make an approver's real decision a duplicate.
	// Asked only when one of these gives another answer than before, so no
	// other run's history changes.
	changeDecisionChecks = "decision-checks"
	// changeRepublish (version 1): an approval-request whose publish
	// failed for a reason that may pass (not a refusal by Ably) keeps the
	// call pending and is published again, with growing delays, until it
	// is published, decided, expired or out of tries (republish.go);
	// before, the call was denied at once. Asked only when such a publish
	// fails, so no other run's history changes.
	changeRepublish = "republish"
	// changeEditSurrogates (version 1), found by the probe of 2026-12-06:
	// an edit whose arguments hold a \u escape of half a surrogate pair
	// (HasLoneSurrogate) is refused; before, it counted, and the tool ran
	// with U+FFFD where the editor's own client may have kept the half.
	// Asked only for such an edit, so no other run's history changes.
	changeEditSurrogates = "edit-surrogates"
	// changeInTimeDecisions (version 1), found by the probe of 2026-12-06:
	// a decision published before the call's expiry that reached the run
	// by the time the run acts on the expiry counts, although the workflow
	// task that applies it runs after the expiry (no worker ran meanwhile:
	// a deploy, an outage). Before, it was ignored as "already resolved
	// (expired)". Such a decision published after an escalation of the
	// call fell due, which the run has not applied, is refused
	// (whyEscalatedBefore; added to version 1 before any run of it
	// existed outside this change's own tests). Asked only for such a
	// decision, and when the expiry timer fires while decisions wait to be
	// applied, so no other run's history changes.
	changeInTimeDecisions = "in-time-decisions"
	// changeDueEscalation (version 1), found by the review of 2026-12-06:
	// a decision that reaches a call whose escalation is due but not
	// applied yet (the run is busy publishing a revision of the request,
	// which may take minutes while Ably fails) is refused; before, it was
	// judged by the stage before the escalation, so lower roles could
	// still approve. Asked only for such a decision, so no other run's
	// history changes.
	changeDueEscalation = "due-escalation"
	// changeLookalikeKeys (version 1), found by the developer probe of
	// 2026-12-06: arguments with two keys of one object that differ only
	// in Unicode normalisation, invisible characters or case ("café" with
	// U+00E9 and with e + U+0301; LookalikeKeys) are denied before anyone is asked, and an edit that
	// holds them is refused; before, the approver was shown what looked
	// like one key twice. Asked only for such arguments, so no other run's
	// history changes.
	// The answer rests on Unicode's tables (golang.org/x/text's NFC, Go's
	// unicode package): a release that changes them for characters in a
	// run's arguments changes its answer, so read their notes before an
	// upgrade as for a workflow change.
	changeLookalikeKeys = "lookalike-keys"
	// changeIgnoredNotice (version 1), found by the inbox probe of
	// 2026-12-06: a decision the run ignored (an edit the tool's schema
	// refuses, a role too low, other arguments seen) left its approver
	// with "Decision sent" and no word, until the call expired. Since, the
	// run publishes approval-ignored about it (run.noticeIgnored), from a
	// coroutine of its own: ActivityVerifyDecision when the decision was
	// ignored before its signature was checked, then
	// ActivityPublishApprovalIgnored (local activities on the fast path,
	// activities in older runs; the first use in a run also upserts the
	// version search attribute). Asked only for an ignored decision that
	// passes noticeIgnored's cheap checks (a forged one among them, whose
	// check then fails), so no other run's history changes.
	changeIgnoredNotice = "ignored-notice"
	// changeOneVote (version 1), found by the probe of 2026-12-06: with
	// rejectBy quorum, an approver who approved and then rejected a call
	// (or rejected, then approved) counted on both sides, so their
	// withdrawn approval could still complete the quorum and run the
	// tool. Since, an approver's latest decision replaces their earlier
	// one on the other side (rules.withdraw); an approval does so at most
	// MaxVoteChangesPerCall times per call and edit (rules.whyNoChange),
	// and a decision published before the approver's counted one, which
	// arrived after it, withdraws nothing and is ignored
	// (rules.whySuperseded, asked by whyRefusedSince); both added to
	// version 1 before any run of it existed outside this change's own
	// tests. Asked only for such a decision, so no other run's history
	// changes. A run that counted someone on both sides
	// before the change replays that decision at DefaultVersion, which
	// the SDK then keeps for the run: it keeps the old rule to its end.
	changeOneVote = "one-vote"
	// changeEditedFailure (version 1), left by the review of 2026-12-06:
	// after an approver edited a call's arguments, a tool that failed was
	// reported to the model as "approved with edits: ...; the tool ran
	// with ... Tool output: tool failed: ...", which reads as a run that
	// worked, and the model could tell its user so. Since, the output
	// starts with "tool failed: ..." and then says who edited what
	// (editedOutput). Only the model's next input changes, but its length
	// counts toward the conversation's limits, which decide commands.
	// Asked only when an edited call's tool failed, so no other run's
	// history changes.
	changeEditedFailure = "edited-failure"
	// changeUnverifiedCopies (version 1), found by the cross-deploy audit
	// of 2026-12-07: in a run started before the fast path (version of
	// changeWorkerPolicy below versionFastPath), a copy of a decision that
	// was never verified (unsigned, as a bridge not yet upgraded forwards
	// it during a deploy, or forged; its signature failed; ignored before
	// the check) was ignored as a duplicate, so the approver's signed
	// decision with the same Ably message id, forwarded by the upgraded
	// bridge, was lost and the call waited for its expiry. Since, it is
	// checked again, as changeDecisionChecks does on the fast path. Asked
	// only for such a copy, so no other run's history changes. A run that
	// ignored such a copy before the change replays it at DefaultVersion,
	// which the SDK then keeps for the run: it keeps the old rule to its
	// end (a cross-deploy probe: its approver had to decide again).
	changeUnverifiedCopies = "unverified-copies"
	// changeRetiredKeyNotice (version 1), left by the session of
	// 2026-12-07 that added retired decision keys: a decision whose
	// signature is genuine but under a key the worker has retired (a
	// bridge that missed a rotation signed it) was ignored without a word,
	// as a forged one is, and its approver saw "Decision sent" until the
	// call expired. Since, the run publishes approval-ignored about it
	// (run.noticeIgnored; DecisionVerdict.Retired), at most maxNoticeChecks
	// per call. Asked only for such a decision, so no other run's history
	// changes; a run that ignored one silently before the change replays
	// it at DefaultVersion, which the SDK then keeps for the run.
	changeRetiredKeyNotice = "retired-key-notice"
)

// ChangeWorkerPolicy is changeWorkerPolicy's id, for the history recorder
// (workflows/internal/recordhistory), which starts runs of older versions
// through worker.Options.PreferredVersionProvider.
const ChangeWorkerPolicy = changeWorkerPolicy

// Versions of changeWorkerPolicy.
const (
	versionWorkerPolicy workflow.Version = 1
	versionFastPath     workflow.Version = 2
)
