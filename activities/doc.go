// Package activities owns every side effect of the agent workflow: the
// model call (OpenAI Responses API through openai-go), the tool registry and
// the tools themselves (publish_blog_post, search_posts, delete_post), and
// the approval-request / approval-resolved messages published on Ably.
//
// The worker registers one *Activities value; its exported methods are the
// activities named by the workflows.Activity* constants, so Activities must
// not grow other exported methods. Each side effect is idempotent, keyed by
// workflow ID plus tool-call ID, because Temporal may run an activity more
// than once. Permanent failures (bad input, bad credentials, unknown tools)
// are returned as non-retryable application errors; transient ones as plain
// errors so Temporal's retry policy, the only retry in the system, applies.
//
// An activity's caller is whoever may schedule it on the task queue, not
// only the agent's workflow: run as activities of their own, ExecuteTool,
// CallModel and the Publish* activities act only for the agent's workflow
// as Temporal describes the calling run (checkCaller), and ExecuteTool runs
// a tool that needs approval only with the run's signed approvals of these
// arguments (checkApproval).
//
// Nothing here reads the environment: the worker builds the clients from its
// typed config and injects them.
package activities
