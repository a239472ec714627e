package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Activity options. Model calls and tools retry with backoff; the publish
// activities are idempotent (fixed Ably message ids) and retry the same way.
//
// modelActivityOptions are the options of a model call of turn, tried as
// the run's recorded ModelRetry says (modelretry.go).
func modelActivityOptions(turn int, retry *ModelRetry) workflow.ActivityOptions {
	// No ScheduleToClose: the call waits for a worker however long
	// (ModelRetry).
	return workflow.ActivityOptions{
		StartToCloseTimeout: modelAttemptTimeout(retry),
		HeartbeatTimeout:    ModelHeartbeatTimeout,
		RetryPolicy:         modelRetryPolicy(retry),
		Summary:             fmt.Sprintf("model call, turn %d", turn),
	}
}

// toolActivityOptions are the options of call's tool activity, tried as
// the run's recorded ToolRetry says (toolretry.go).
func toolActivityOptions(call ToolCall, retry *ToolRetry) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         toolRetryPolicy(retry),
		Summary:             fmt.Sprintf("run tool %s (%s)", call.Name, call.CallID),
	}
}

func publishActivityOptions(summary string) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         publishRetry(),
		Summary:             summary,
	}
}

// AgentWorkflow runs one prompt's agent loop: it calls the model, applies
// the policy snapshot to every tool call, waits durably for human decisions
// where the policy asks for one, runs approved tools, and sends every
// outcome back to the model until the model answers or MaxTurns model calls
// were made. Register it under every name of RegisteredNames.
func AgentWorkflow(ctx workflow.Context, in AgentInput) (AgentResult, error) {
	wp, version, err := runPolicy(ctx, in)
	if err != nil {
		return AgentResult{}, err
	}
	fromWorker := version >= versionWorkerPolicy
	maxTurns, err := validateInput(in, wp.Policy)
	if err != nil {
		return AgentResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidInput, nil)
	}
	r := newRun(ctx, in, wp, maxTurns)
	r.version = version
	r.canonical = fromWorker
	if fromWorker && !in.Policy.isZero() {
		// Whoever starts a run has no say in its policy.
		workflow.GetLogger(ctx).Warn("the run's input carried a policy; the worker's policy applies")
		r.record(ctx, AuditEntry{Kind: AuditPolicyIgnored, Reason: "the input carried a policy; it was ignored, the worker's policy applies"})
	}
	if err := workflow.SetQueryHandlerWithOptions(ctx, ApprovalsQuery, r.view, workflow.QueryHandlerOptions{
		Description: "Pending approvals, audit trail and role hierarchy of this run",
	}); err != nil {
		return AgentResult{}, fmt.Errorf("register query %s: %w", ApprovalsQuery, err)
	}
	decisions := workflow.GetSignalChannel(ctx, DecisionSignal)
	r.decisions = decisions
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var d Decision
			if more := decisions.Receive(ctx, &d); !more {
				return
			}
			r.deciding++
			if r.registering > 0 && workflow.GetVersion(ctx, changeEarlyDecisions, workflow.DefaultVersion, 1) >= 1 {
				// The call it names may be one of those: let them be
				// registered first (no command; cancellation ends the
				// wait, and the decision is applied as it stands).
				_ = workflow.Await(ctx, func() bool { return r.registering == 0 })
			}
			r.onDecision(ctx, d)
			r.deciding--
		}
	})

	answer, err := r.loop(ctx)
	if err != nil {
		return AgentResult{}, err
	}
	// Decisions that arrived in the last workflow task are recorded too.
	for {
		var d Decision
		if ok := decisions.ReceiveAsync(&d); !ok {
			break
		}
		r.onDecision(ctx, d)
	}
	// A decision whose signature is being checked is recorded, and a
	// notice being published goes out, before the run ends.
	if err := workflow.Await(ctx, func() bool { return r.deciding == 0 && r.noticing == 0 }); err != nil {
		return AgentResult{}, err
	}
	r.done = true
	r.setDetails(ctx)
	answer, audit := fitResult(answer, r.turn, r.audit.list())
	return AgentResult{Answer: answer, Turns: r.turn, Audit: audit}, nil
}

// runPolicy returns the run's version (see versions.go) and its policy and
// tool schemas: the worker's, recorded in the history through
// ActivityWorkerPolicy, or, in runs started before the worker owned the
// policy, the snapshot of the input.
func runPolicy(ctx workflow.Context, in AgentInput) (wp WorkerPolicy, version workflow.Version, err error) {
	version = runVersion(ctx)
	if version == workflow.DefaultVersion {
		return WorkerPolicy{Policy: in.Policy}, version, nil
	}
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 5},
	})
	if err := workflow.ExecuteLocalActivity(lctx, ActivityWorkerPolicy).Get(ctx, &wp); err != nil {
		return WorkerPolicy{}, version, fmt.Errorf("the worker's policy: %w", err)
	}
	return wp, version, nil
}

// runVersion is the run's version (versions.go): runs of WorkflowName are
// of versionFastPath; runs of WorkflowNameV1 ask changeWorkerPolicy, so
// that those recorded before a change replay as they ran.
func runVersion(ctx workflow.Context) workflow.Version {
	if workflow.GetInfo(ctx).WorkflowType.Name == WorkflowName {
		return versionFastPath
	}
	return workflow.GetVersion(ctx, changeWorkerPolicy, workflow.DefaultVersion, versionFastPath)
}

// validateInput checks the input and the run's policy and returns the
// effective turn limit.
func validateInput(in AgentInput, policy Policy) (int, error) {
	var errs []error
	if strings.TrimSpace(in.Prompt) == "" {
		errs = append(errs, errors.New("prompt is empty"))
	}
	if in.MaxTurns < 0 {
		errs = append(errs, fmt.Errorf("maxTurns %d is negative", in.MaxTurns))
	}
	if err := policy.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("policy: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return 0, fmt.Errorf("invalid agent input: %w", err)
	}
	maxTurns := in.MaxTurns
	if maxTurns == 0 {
		maxTurns = DefaultMaxTurns
	}
	return min(maxTurns, MaxTurnsLimit), nil
}

// run is the state of one workflow run. Workflow code is single-threaded
// (coroutines switch only at blocking calls), so the fields need no lock.
type run struct {
	in         AgentInput
	workflowID string
	// resetRunID is ResetRunID of the run: its messages carry it.
	resetRunID string
	maxTurns   int
	tools      []string
	// policy and schemas are the run's (see runPolicy); canonical says
	// whether calls that need a human are canonicalised (CanonicalArguments)
	// and their decisions name argument digests.
	policy     Policy
	schemas    map[string]json.RawMessage
	localTools map[string]bool
	// toolRetry and modelRetry are the worker's ToolRetry and ModelRetry
	// recorded at the run's start.
	toolRetry  *ToolRetry
	modelRetry *ModelRetry
	canonical  bool
	// version is the run's version of changeWorkerPolicy (versions.go).
	version workflow.Version

	conversation []ConversationItem
	audit        *auditTrail
	// approvals holds every tool call that needed a human, by call id;
	// order lists their ids in request order.
	approvals map[string]*approval
	order     []string
	seenCalls map[string]bool // every tool call id the model used
	// seenMsgs holds the dedupeKey of every well-formed decision, and
	// verifiedMsgs that of every decision whose signature was verified.
	seenMsgs     map[string]bool
	verifiedMsgs map[string]bool
	// notices counts the approval-ignored notices published, by approver
	// clientId and call id; noticeChecks the signature checks made only
	// for a notice, by call id; noticing the notices being checked or
	// published (noticeIgnored).
	notices      map[string]int
	noticeChecks map[string]int
	noticing     int

	turn     int
	done     bool
	deciding int // decisions being applied (their signature is checked)
	// decisions is DecisionSignal's channel: decisionsWaiting looks at
	// what it holds.
	decisions workflow.ReceiveChannel
	// registering counts the calls of the model response being handled
	// that will wait for a human but are not registered in approvals yet.
	registering int
}

func newRun(ctx workflow.Context, in AgentInput, wp WorkerPolicy, maxTurns int) *run {
	r := &run{
		in:           in,
		workflowID:   workflow.GetInfo(ctx).WorkflowExecution.ID,
		resetRunID:   ResetRunID(workflow.GetInfo(ctx)),
		maxTurns:     maxTurns,
		tools:        wp.Policy.ToolNames(),
		policy:       wp.Policy,
		schemas:      wp.Schemas,
		localTools:   map[string]bool{},
		toolRetry:    wp.ToolRetry,
		modelRetry:   wp.ModelRetry,
		conversation: []ConversationItem{{Type: ItemMessage, Role: "user", Text: in.Prompt}},
		approvals:    map[string]*approval{},
		seenCalls:    map[string]bool{},
		seenMsgs:     map[string]bool{},
		verifiedMsgs: map[string]bool{},
		notices:      map[string]int{},
		noticeChecks: map[string]int{},
		audit:        newAuditTrail(),
	}
	for _, name := range wp.LocalTools {
		r.localTools[name] = true
	}
	return r
}

// loop calls the model until it answers or the turn limit is reached.
func (r *run) loop(ctx workflow.Context) (string, error) {
	logger := workflow.GetLogger(ctx)
	for r.turn < r.maxTurns {
		if size := jsonLen(r.conversation); size > maxConversation {
			logger.Warn("conversation size limit reached", "bytes", size, "limit", maxConversation)
			return fmt.Sprintf("%s (%d KiB, at most %d KiB) before the model gave a final answer", conversationLimitAnswer, size>>10, maxConversation>>10), nil
		}
		r.turn++
		r.setDetails(ctx)
		var resp ModelResponse
		req := ModelRequest{
			WorkflowID: r.workflowID,
			Turn:       r.turn,
			Input:      slices.Clone(r.conversation),
			Tools:      slices.Clone(r.tools),
		}
		actx := workflow.WithActivityOptions(ctx, modelActivityOptions(r.turn, r.modelRetry))
		if err := workflow.ExecuteActivity(actx, ActivityCallModel, req).Get(ctx, &resp); err != nil {
			return "", modelCallFailed(r.turn, r.modelRetry, err)
		}
		r.appendModelOutput(resp)
		if len(resp.ToolCalls) == 0 {
			logger.Info("model answered", "turn", r.turn)
			return resp.Text, nil
		}
		if r.turn == r.maxTurns {
			// The results could never reach the model: run nothing.
			for _, c := range resp.ToolCalls {
				r.record(ctx, AuditEntry{Kind: AuditDenied, ToolCallID: c.CallID, Tool: c.Name, Reason: "turn limit reached"})
			}
			break
		}
		outputs, err := r.handleCalls(ctx, resp.ToolCalls)
		if err != nil {
			return "", err
		}
		for i, c := range resp.ToolCalls {
			if !sendableCall(c.CallID, c.Name) {
				continue // denied, and left out with its call (appendModelOutput)
			}
			r.conversation = append(r.conversation, ConversationItem{Type: ItemFunctionCallOutput, CallID: c.CallID, Output: outputs[i]})
		}
	}
	logger.Warn("turn limit reached", "maxTurns", r.maxTurns)
	return fmt.Sprintf("stopped: the turn limit of %d model calls was reached before the model gave a final answer", r.maxTurns), nil
}

// conversationLimitAnswer starts the answer of a run whose conversation
// grew past maxConversation.
const conversationLimitAnswer = "stopped: the conversation reached its size limit"

// sendableCall says whether a function call of the model can go back to
// it: the Responses API takes none without a call id and a name (the
// model activity refuses such a conversation for good). The run denies
// such a call, and leaves it and its output out of the conversation.
func sendableCall(callID, name string) bool {
	return callID != "" && name != ""
}

// appendModelOutput adds the model's output items to the conversation,
// their text and arguments cut to maxModelItemLen, but for function calls
// that cannot go back to the model (sendableCall). A response without
// output items (a minimal model adapter) is represented by its text and
// function calls.
func (r *run) appendModelOutput(resp ModelResponse) {
	items := resp.Output
	if len(items) == 0 {
		if resp.Text != "" {
			items = append(items, ConversationItem{Type: ItemMessage, Role: "assistant", Text: resp.Text})
		}
		for _, c := range resp.ToolCalls {
			items = append(items, ConversationItem{Type: ItemFunctionCall, CallID: c.CallID, Name: c.Name, Arguments: c.Arguments})
		}
	}
	for _, it := range items {
		if it.Type == ItemFunctionCall && !sendableCall(it.CallID, it.Name) {
			continue
		}
		it.Text = truncate(it.Text, maxModelItemLen)
		it.Arguments = truncate(it.Arguments, maxModelItemLen)
		r.conversation = append(r.conversation, it)
	}
}

// handleCalls applies the policy to each tool call of one model response,
// runs the allowed ones concurrently, and returns one output per call in the
// model's order.
func (r *run) handleCalls(ctx workflow.Context, calls []ToolCall) ([]string, error) {
	outputs := make([]string, len(calls))
	errs := make([]error, len(calls))
	running := 0
	var admitted []string // ids of this response's calls that will wait for a human
	for i, c := range calls {
		tp, why := r.classify(i, c, admitted)
		if ValidateToolCallID(c.CallID) == nil {
			r.seenCalls[c.CallID] = true
		}
		if why == "" && tp.NeedsApproval() {
			admitted = append(admitted, c.CallID)
			r.registering++ // until approveAndRun registers the call, or returns
		}
		if why != "" {
			r.record(ctx, AuditEntry{Kind: AuditDenied, ToolCallID: c.CallID, Tool: c.Name, Reason: why})
			outputs[i] = "denied: " + why
			continue
		}
		running++
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer func() { running-- }()
			if !tp.NeedsApproval() {
				r.record(ctx, AuditEntry{Kind: AuditAutoApproved, ToolCallID: c.CallID, Tool: c.Name})
				outputs[i], errs[i] = r.executeTool(ctx, c, "")
				return
			}
			outputs[i], errs[i] = r.approveAndRun(ctx, c, tp)
		})
	}
	if err := workflow.Await(ctx, func() bool { return running == 0 }); err != nil {
		// The run is cancelled: let the calls finish their bounded,
		// best-effort announcements (approvalCancelled) before the run ends.
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		_ = workflow.Await(dctx, func() bool { return running == 0 })
		return nil, err
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return outputs, nil
}

// classify returns the call's policy, or why the call is denied. admitted
// lists the calls of the same response that will wait for a human.
func (r *run) classify(i int, c ToolCall, admitted []string) (ToolPolicy, string) {
	if i >= MaxToolCallsPerTurn {
		return ToolPolicy{}, fmt.Sprintf("too many tool calls in one response (at most %d)", MaxToolCallsPerTurn)
	}
	if c.CallID == "" {
		return ToolPolicy{}, "tool call has no call id"
	}
	if ValidateToolCallID(c.CallID) != nil {
		return ToolPolicy{}, "invalid tool call id"
	}
	if r.seenCalls[c.CallID] {
		return ToolPolicy{}, fmt.Sprintf("tool call id %q was already used", c.CallID)
	}
	tp, ok := r.policy.Tools[c.Name]
	if !ok {
		return ToolPolicy{}, fmt.Sprintf("tool %q has no policy", truncate(c.Name, maxAuditFieldLen))
	}
	if tp.MinRole == "" {
		return ToolPolicy{}, fmt.Sprintf("tool %q has no minRole", c.Name)
	}
	if len(c.Arguments) > maxModelItemLen {
		return ToolPolicy{}, fmt.Sprintf("arguments longer than %d bytes", maxModelItemLen)
	}
	if tp.NeedsApproval() && !r.fitsSearchAttribute(append(slices.Clone(admitted), c.CallID)) {
		return ToolPolicy{}, "too many pending approvals"
	}
	return tp, ""
}

// errorMessage returns the useful part of an activity error.
func errorMessage(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	var timeoutErr *temporal.TimeoutError
	if errors.As(err, &timeoutErr) {
		return "timed out (" + timeoutErr.TimeoutType().String() + ")"
	}
	return err.Error()
}

// record appends an audit entry, its strings bounded, stamped with the
// workflow time.
func (r *run) record(ctx workflow.Context, e AuditEntry) {
	r.audit.add(workflow.Now(ctx), e)
}

// view answers ApprovalsQuery.
func (r *run) view() (ApprovalsView, error) {
	v := ApprovalsView{
		Pending: r.pendingApprovals(),
		Roles:   slices.Clone(r.policy.Roles),
		RunID:   r.resetRunID,
	}
	v.Audit = fitAudit(r.audit.list(), maxResultLen-jsonLen(v))
	return v, nil
}

// pendingApprovals lists the approvals still waiting, in request order.
func (r *run) pendingApprovals() []PendingApproval {
	out := []PendingApproval{}
	for _, id := range r.order {
		if a := r.approvals[id]; a.isPending() {
			out = append(out, a.pending)
		}
	}
	return out
}

// setDetails sets the run's current details: a short markdown text saying
// what the run waits for.
func (r *run) setDetails(ctx workflow.Context) {
	var b strings.Builder
	pending := r.pendingApprovals()
	switch {
	case r.done:
		fmt.Fprintf(&b, "**Done** after %d model call(s).", r.turn)
	case len(pending) > 0:
		fmt.Fprintf(&b, "**Waiting for %d approval(s)** (turn %d of %d)\n", len(pending), r.turn, r.maxTurns)
		for _, p := range pending {
			fmt.Fprintf(&b, "\n- `%s` (call `%s`) with `%s`: needs **%s** until %s",
				mdCode(p.Tool, 80), mdCode(p.ToolCallID, 80), mdCode(p.Arguments, maxDetailArgsLen),
				mdCode(p.RequiredRole, 40), p.ExpiresAt.UTC().Format(time.RFC3339))
			writeProgress(&b, p)
		}
	default:
		fmt.Fprintf(&b, "**Running**: turn %d of %d.", r.turn, r.maxTurns)
	}
	r.writePolicy(&b)
	workflow.SetCurrentDetails(ctx, b.String())
}

// writePolicy appends the run's policy to the current details: who may
// approve each tool and for how long, roles lowest first.
func (r *run) writePolicy(b *strings.Builder) {
	source := "the worker's"
	if !r.canonical {
		source = "from the run's input (started before the worker owned the policy)"
	}
	fmt.Fprintf(b, "\n\n**Policy** (%s; roles, lowest first: %s):", source, mdCode(strings.Join(r.policy.Roles, " < "), 200))
	for _, name := range r.policy.ToolNames() {
		tp := r.policy.Tools[name]
		if tp.NeedsApproval() {
			fmt.Fprintf(b, "\n- `%s`: %s or higher, within %s", mdCode(name, 80), mdCode(tp.MinRole, 40), tp.ApprovalTimeout())
			writeRules(b, tp)
		} else {
			fmt.Fprintf(b, "\n- `%s`: no approval", mdCode(name, 80))
		}
	}
	b.WriteString("\n\nTools not listed are denied.")
}

// writeProgress appends the quorum, escalation and edit state of a
// pending approval with rules.
func writeProgress(b *strings.Builder, p PendingApproval) {
	if p.Approvals > 1 {
		var who []string
		for _, x := range p.ApprovedBy {
			who = append(who, mdCode(x.ClientID, 40))
		}
		fmt.Fprintf(b, "; %d of %d approvals", len(p.ApprovedBy), p.Approvals)
		if len(who) > 0 {
			fmt.Fprintf(b, " (%s)", strings.Join(who, ", "))
		}
	}
	if e := p.Escalation; e != nil {
		fmt.Fprintf(b, "; escalated from %s at %s", mdCode(e.PreviousRole, 40), e.Since.UTC().Format(time.RFC3339))
	}
	if n := p.NextEscalation; n != nil {
		fmt.Fprintf(b, "; escalates to %s at %s", mdCode(n.MinRole, 40), n.At.UTC().Format(time.RFC3339))
	}
	if p.EditedBy != nil {
		fmt.Fprintf(b, "; arguments edited by %s", mdCode(p.EditedBy.ClientID, 40))
	}
}

// writeRules appends a tool policy's rules beyond one approver.
func writeRules(b *strings.Builder, tp ToolPolicy) {
	if n := tp.RequiredApprovals(); n > 1 {
		fmt.Fprintf(b, "; %d distinct approvers", n)
		if tp.RejectBy == RejectByQuorum {
			fmt.Fprintf(b, ", %d to reject", n)
		}
	}
	if tp.DistinctFromRequester {
		b.WriteString("; not the requester")
	}
	for _, e := range tp.Escalate {
		fmt.Fprintf(b, "; after %s: %s", time.Duration(e.After), mdCode(e.MinRole, 40))
	}
	if tp.Editable {
		b.WriteString("; editable")
	}
}

// mdCode makes s safe inside a markdown code span and bounds its length.
func mdCode(s string, n int) string {
	s = strings.NewReplacer("`", "'", "\n", " ", "\r", " ").Replace(s)
	return truncate(s, n)
}
