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
// AgentWorkflow (registered as WorkflowName) validates its input (an empty
// prompt, a negative MaxTurns or an invalid policy fail the run with a
// non-retryable ErrTypeInvalidInput error), then calls ActivityCallModel
// with the whole conversation and the sorted tool names of the policy
// snapshot. Each function call of a response is handled in its own
// coroutine, so approvals of one response wait concurrently; outputs go
// back to the model in the model's call order:
//
//   - beyond MaxToolCallsPerTurn, without or with a reused or overlong call
//     id, or for a tool without policy: denied ("denied: <why>");
//   - minRole "none": run at once (AuditAutoApproved);
//   - otherwise: ActivityPublishApprovalRequest, search attributes upserted,
//     then a durable wait for the first valid decision or the tool's
//     timeout (a workflow timer). ActivityPublishApprovalResolved follows
//     every decision or expiry. Approved calls run through
//     ActivityExecuteTool; rejections ("rejected by <who> (<role>): <reason>")
//     and expiries ("approval expired after <timeout>: the tool did not
//     run") go to the model as the call's output.
//
// A tool error (after the retry policy; ErrTypeToolInput and non-retryable
// errors are not retried) becomes "tool failed: <message>" for the model and
// AuditFailed; the run continues. A model error after its retries fails the
// run. If an approval request cannot be published the call is denied.
//
// # Decisions
//
// One coroutine drains DecisionSignal. A decision resolves an approval only
// if it has an Ably message id not seen before in the run, names a pending
// approval, says approved or rejected, has an approver client id, and its
// role passes Policy.Check for the tool (re-checked here, whatever the bridge
// did). Anything else changes nothing and is recorded as AuditIgnored with
// the reason ("duplicate", "unknown tool call", "already resolved
// (<outcome>)", "insufficient role: editor < publisher", ...); the approval
// keeps waiting. At most 100 ignored decisions are listed in the audit, the
// rest are counted (the history keeps them all).
//
// # Visibility
//
// ApprovalsQuery returns the pending approvals (request order), the audit
// trail and the role hierarchy. The current details (workflow metadata) say
// in markdown what the run waits for: tool, call id, arguments, required
// role and deadline, or "Running"/"Done". Activities and timers carry
// summaries ("model call, turn 2", "approval timeout: <tool> (<call>)").
// SAToolCallIDs lists the call ids that needed a human (the oldest resolved
// ones are left out past about 1.5 KB, the server's per-value limit being
// 2 KiB; pending ids are always listed), SAPendingApprovals counts the
// waiting ones.
//
// # Bounded history
//
// A run makes at most MaxTurns (≤ MaxTurnsLimit) model calls and handles at
// most MaxTurns × MaxToolCallsPerTurn tool calls (tool calls of the last
// permitted turn are denied, since their results could never reach the
// model). Each call adds a bounded number of events (publish request,
// upserts, timer, publish resolved, tool run), so the history is bounded
// by that product, with no Continue-As-New. Tool outputs are cut to 16 KiB
// before they enter the conversation. Signals are the one input the
// workflow cannot bound: the bridge must only signal verified responses.
//
// Cancelling a run cancels its waits and activities; pending approvals are
// then not announced as resolved.
//
// # Replay
//
// TestReplay replays the histories in testdata/replay, recorded from real
// dev-server runs with `make record-replay` (go run
// ./workflows/internal/recordhistory). Re-record them only after a change
// that is deliberately not replay-compatible.
package workflows
