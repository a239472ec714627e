// Package bridge owns the trusted path from Ably to Temporal: it subscribes
// to approval-response messages on the approvals channel, verifies their
// shape and the server-set extras.userClaim, finds the workflow that waits
// for the tool call, and delivers a workflows.Decision with the
// workflows.DecisionSignal. It keeps no durable state: after every
// (re)attach it replays the channel history up to the attach point, and the
// workflow deduplicates decisions by Ably message id.
//
// The bridge forwards a response only while its tool call is pending in the
// workflow, and at most RateLimit's rate per approver clientId. It learns
// which calls are pending from the agent's own approval-request and
// approval-resolved messages on the channel (their clientId is the
// agent's, which Ably enforces), per (workflow id, tool-call id): a
// response to a known open request goes straight to its workflow, one to a
// resolved request is dropped; a response without a workflow id does so
// only when the bridge knows of exactly one run with its tool call. For
// anything else it asks Temporal (visibility, which drops a tool-call id
// that two running workflows wait on, then the approvals query). A response whose role is too low is forwarded once
// per approver and call, so the workflow records it as ignored, and the
// rest are only logged. A sufficient role's decision is forwarded once per
// (approver, workflow, tool call, decision, digest named, the call's
// digest and revision, edited arguments), again only after a backoff that
// starts at a minute and doubles, and at most 16 different ones per
// approver and call, over all its revisions (decided.go): the repeats the workflow would only ignore
// cannot bring a run to Temporal's limit of signals per run, past which it
// can never be decided (a signal refused for that reason is logged as an
// error naming the run). Every forwarded decision is signed (Signer).
// Responses are handled by Config.Concurrency goroutines, each approver's
// decisions of one tool call in order. Nothing an approver decides is lost: a message over a
// rate limit (PreLimit, checked before any Temporal call, or RateLimit) or
// hit by a temporary failure goes to a bounded retry queue, of which each
// publisher holds at most a tenth once it is half full (so one approver's
// flood costs that approver's messages, not the others'). The live buffer
// in front of the handlers is shared the same way (live.go). A live
// response dropped because that buffer is full is replayed from the
// channel's history once the bridge has caught up (gap.go, a bounded read
// per pass); one dropped because the retry queue is full, or for its
// publisher's share of either, is logged as an error and not remembered
// as handled, so the catch-up after the next attach without continuity
// (or restart) replays it. A catch-up reads the history
// back to the oldest pending run's start and keeps, as each page arrives,
// only what it replays (catchUpFilter), so a flood of junk costs it no
// memory. Every string it copies into
// the Decision is bounded (message id, clientId and role are checked, the
// reason is cut).
//
// The id rules and limits it applies are the contract's (workflows); the
// shapes ably-go hands out for message data are read by internal/ablymsg,
// which the approver CLI shares, so the untrusted CLI never imports this
// package.
//
// The package must not import config, the CLI or workflow-internal
// packages beyond the shared contract in workflows.
package bridge
