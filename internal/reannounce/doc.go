// Package reannounce publishes again, as the agent, the approval-requests
// of approvals that are pending in Temporal. Approvers (the CLI, the web
// inbox) and the bridge learn the pending requests from the channel's
// history, which forgets: the local Ably server loses it on a restart, Ably
// keeps it only as long as the channel's rule says, and approvers read only
// its newest messages. The workflows publish a request once (and again at
// each revision), so a call that waits long enough drops out of sight.
//
// All re-announces every pending request as the workflow published it
// (same message id; devstack, after a restart of the local Ably server
// lost the history). A Keeper, run by each worker, re-announces on a timer
// only the requests that are no longer among the newest messages approvers
// read, as copies: the same data under an id of their own
// (workflows.CopyMessageID), which readers take for the revision they may
// have shown; a run made by a Temporal reset, which asks again for calls
// of the run it replaced, is swept as soon as the worker first runs it
// (ResetWatch). A Keeper's sweep also resolves, as the agent (outcome
// cancelled), the requests in view of runs that ended without announcing
// their outcome (terminated, timed out, failed), once Temporal describes
// the workflow id's current run as ended. It is trusted code: it holds the
// agent's Ably key and a Temporal client.
package reannounce
