// Package approvercli owns the human approver's side: it logs in through
// the auth server to get an Ably JWT that carries the approver's role,
// shows the approval requests the agent published on the approvals channel,
// and publishes the approver's approval-response. It never trusts a request
// that was not published by the agent's clientId.
//
// Watch is the interactive screen; List, Decide are the non-interactive
// commands for scripts and tests. All take their input and output as
// io.Reader / io.Writer.
package approvercli
