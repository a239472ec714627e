// Package workflows owns the durable agent: the Temporal workflow that runs
// one prompt's whole agent loop (model call, policy, human approval, tool
// execution, results back to the model), and every name and payload type
// that other parts use to talk to it: the task queue, activity names, the
// decision signal, the approvals query, the search attributes, the policy
// snapshot, and the shapes of the messages published on Ably.
//
// Code in this package is deterministic: it uses only the workflow APIs of
// go.temporal.io/sdk, never the clock, randomness, I/O or map iteration order.
// It must not import activities/, approver/ or any client library.
//
// # The agent loop
//
// AgentWorkflow (registered as WorkflowName) first takes the worker's
// policy and the tools' argument schemas through the local activity
// ActivityWorkerPolicy (recorded in the history; a policy in the input is
// ignored and audited as AuditPolicyIgnored; runs started before this
// change keep the policy of their input, see versions.go). It validates the
// input and that policy (an empty prompt, a negative MaxTurns or an invalid
// policy fail the run with a non-retryable ErrTypeInvalidInput error), then
// calls ActivityCallModel with the whole conversation and the sorted tool
// names of the policy. Each function call of a response is handled in its own
// coroutine, so approvals of one response wait concurrently; outputs go
// back to the model in the model's call order:
//
//   - beyond MaxToolCallsPerTurn, without, with an invalid (ValidateToolCallID:
//     at most MaxToolCallIDLen bytes of [A-Za-z0-9_-.:@]) or a reused call
//     id, for a tool without policy, with arguments over 16 KiB, or needing
//     approval when its id would not fit in SAToolCallIDs next to the
//     pending ones ("too many pending approvals"): denied ("denied: <why>");
//   - minRole "none": run at once (AuditAutoApproved);
//   - otherwise: the arguments are canonicalised against the tool's schema
//     (CanonicalArguments; arguments that could be read two ways, or that
//     the schema does not allow, are denied before anyone is asked:
//     "denied: arguments refused: <why> (no human was asked)"), then
//     ActivityPublishApprovalRequest with the canonical arguments and their
//     ArgumentsDigest, search attributes upserted, then a durable wait for
//     the first valid decision or the tool's timeout (a workflow timer).
//     The tool runs with the canonical arguments. ActivityPublishApprovalResolved follows
//     every decision or expiry. Approved calls run through
//     ActivityExecuteTool; rejections ("rejected by <who> (<role>): <reason>")
//     and expiries ("approval expired after <timeout>: the tool did not
//     run") go to the model as the call's output.
//
// A tool error (after the worker's ToolRetry, recorded at the run's
// start; ErrTypeToolInput and non-retryable errors are not retried)
// becomes "tool failed: <message>" (message cut to 1 KiB) for the model
// and AuditFailed; the run continues. A model error fails the run, at
// once when it is non-retryable, else after the attempts of the worker's
// ModelRetry (recorded at the run's start). If Ably refuses an approval request
// (a non-retryable error) the call is denied, and an approval-resolved with
// OutcomeCancelled is still attempted (best effort) in case Ably accepted
// the request; if it failed for a reason that may pass, the call stays
// pending and the request is published again (republish.go), and it is
// denied only when those tries run out or the next would come after its
// expiry.
//
// # Decisions
//
// One coroutine drains DecisionSignal. A decision resolves an approval only
// if it is well formed (an Ably message id of 1 to 128 printable ASCII
// bytes, an approver client id of 1 to 128 bytes, a role of at most 64
// bytes), is not a copy of a decision already verified (same approver
// client id and Ably message id: Ably enforces the clientId, so another
// client can never spend someone else's message id; a copy of an unsigned
// or badly signed decision is checked again), names a pending approval, is
// in time (applied before the expiry, or published before it and received
// before the run acted on the expiry: the task that applies it may run
// later when no worker ran), says approved or rejected, names the pending arguments' digest if it names
// one (and names it if the arguments were edited), was not published more
// than MaxClockSkew before the run started (an earlier run's, with the same
// workflow id), its role passes Policy.Check for the tool (re-checked here,
// whatever the bridge did), and, last, the local activity
// ActivityVerifyDecision finds it signed by the bridge for this run (the
// verdict is recorded, so replays survive key rotation). Anything else changes nothing
// and is recorded as AuditIgnored with the reason ("duplicate", "unknown
// tool call", "already resolved (<outcome>)", "insufficient role: editor <
// publisher", ...); the approval keeps waiting. Every string of an audit
// entry is bounded (reasons 1 KiB, an approver's reason 512 bytes, the rest
// 128 bytes). Ignored decisions are listed per approval: its first 3
// always, up to 20 while the run lists fewer than 200 (decisions that name
// no approval share one such bucket); the others are counted in one summary
// entry per approval (the history keeps them all).
//
// # Visibility
//
// ApprovalsQuery returns the pending approvals (request order), the audit
// trail and the role hierarchy. The current details (workflow metadata) say
// in markdown what the run waits for: tool, call id, arguments, required
// role and deadline, or "Running"/"Done". Activities and timers carry
// summaries ("model call, turn 2", "approval timeout: <tool> (<call>)").
// SAToolCallIDs lists the call ids that needed a human (the oldest resolved
// ones are left out while the JSON list passes 1500 bytes, the server's
// per-value limit being 2 KiB; pending ids are always listed, and a call is
// denied rather than let them pass the budget), SAPendingApprovals counts
// the waiting ones.
//
// # Bounded history
//
// A run makes at most MaxTurns (≤ MaxTurnsLimit) model calls and handles at
// most MaxTurns × MaxToolCallsPerTurn tool calls (tool calls of the last
// permitted turn are denied, since their results could never reach the
// model). Each call adds a bounded number of events (publish request,
// upserts, timer, publish resolved, tool run), so the event count is
// bounded by that product, with no Continue-As-New.
//
// Every CallModel input carries the whole conversation, so the history
// holds it once per turn. What enters the conversation is cut: model text
// and function-call arguments to 16 KiB per item, tool outputs to 16 KiB,
// tool errors to 1 KiB. And the conversation sent to the model is at most
// 512 KiB of JSON: when the next model call would pass that, the run ends
// with the answer "stopped: the conversation reached its size limit (…)"
// instead (not an error). So model inputs take at most MaxTurns × 512 KiB
// of history (5 MiB with the default 10 turns, 25 MiB at MaxTurnsLimit);
// model responses are bounded by the CallModel activity (the OpenAI
// adapter refuses a response body over 1 MiB, activities.
// MaxModelResponseLen, and a result over MaxModelResultLen) and the
// server's payload limit (2 MiB). The run's result, the answer and the
// audit trail, is fitted to that limit too (fitResult: the oldest edits'
// arguments, then reasons, then entries left out, then the answer cut).
// Signals are the one input the workflow cannot bound in number: the
// bridge must only signal verified responses.
//
// Cancelling a run cancels its waits and activities; every approval still
// pending is then recorded as AuditCancelled and announced (best effort,
// through a disconnected context, a few short attempts) with an
// approval-resolved of OutcomeCancelled.
//
// # Replay
//
// TestReplay replays the histories in testdata/replay, recorded from real
// dev-server runs with `make record-replay` (go run
// ./workflows/internal/recordhistory). approve.json, reject.json, ... were
// recorded before the trust-chain change (worker-owned policy, canonical
// arguments, signed decisions) and v2-*.json after it; both must replay.
// Any change that alters the commands of an existing path (activities,
// local activities, timers, upserts, their order) is guarded with
// workflow.GetVersion (versions.go) so that runs in flight replay, and
// adds histories under a new prefix; ARCHITECTURE.md ("Versioning") says
// when an old branch may go.
package workflows
