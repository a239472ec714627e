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
package workflows
