package workflows

// Change ids of workflow.GetVersion. Each names one change of the
// workflow's commands; ARCHITECTURE.md ("Versioning") says when an old
// branch may go.
const (
	// changeWorkerPolicy (version 1): the run takes its policy and the
	// tools' schemas from the worker at its start (ActivityWorkerPolicy)
	// instead of its input, and canonicalises the arguments of every call
	// that needs a human before asking. Runs started before keep the
	// policy of their input and the model's raw arguments.
	changeWorkerPolicy = "worker-policy"
	// changeSignedDecisions (version 1): a decision is applied only after
	// ActivityVerifyDecision verified its signature. Asked per decision,
	// so decisions that runs started before the change receive after it
	// are verified too; decisions already in their history replay as
	// they were applied.
	changeSignedDecisions = "signed-decisions"
)
