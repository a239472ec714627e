package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Limits on text the workflow copies from untrusted sources into its state.
const (
	maxReasonLen     = 1024     // an approver's reason
	maxDetailArgsLen = 200      // arguments shown in the current details
	maxIgnoredAudit  = 100      // ignored decisions kept in the audit trail
	maxCallIDLen     = 128      // a tool-call id from the model
	maxToolOutputLen = 16 << 10 // a tool's output, as sent to the model
	saCallIDsBudget  = 1500     // bytes of SAToolCallIDs (the server allows 2 KiB per value)
)

// Activity options. Model calls and tools retry with backoff; the publish
// activities are idempotent (fixed Ably message ids) and retry the same way.
func modelActivityOptions(turn int) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    5,
		},
		Summary: fmt.Sprintf("model call, turn %d", turn),
	}
}

func toolActivityOptions(call ToolCall) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        30 * time.Second,
			MaximumAttempts:        3,
			NonRetryableErrorTypes: []string{ErrTypeToolInput},
		},
		Summary: fmt.Sprintf("run tool %s (%s)", call.Name, call.CallID),
	}
}

func publishActivityOptions(summary string) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    5,
		},
		Summary: summary,
	}
}

// AgentWorkflow runs one prompt's agent loop: it calls the model, applies
// the policy snapshot to every tool call, waits durably for human decisions
// where the policy asks for one, runs approved tools, and sends every
// outcome back to the model until the model answers or MaxTurns model calls
// were made. Register it under WorkflowName.
func AgentWorkflow(ctx workflow.Context, in AgentInput) (AgentResult, error) {
	maxTurns, err := validateInput(in)
	if err != nil {
		return AgentResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidInput, nil)
	}
	r := newRun(ctx, in, maxTurns)
	if err := workflow.SetQueryHandlerWithOptions(ctx, ApprovalsQuery, r.view, workflow.QueryHandlerOptions{
		Description: "Pending approvals, audit trail and role hierarchy of this run",
	}); err != nil {
		return AgentResult{}, fmt.Errorf("register query %s: %w", ApprovalsQuery, err)
	}
	decisions := workflow.GetSignalChannel(ctx, DecisionSignal)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var d Decision
			if more := decisions.Receive(ctx, &d); !more {
				return
			}
			r.onDecision(ctx, d)
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
	r.done = true
	r.setDetails(ctx)
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return AgentResult{}, err
	}
	return AgentResult{Answer: answer, Turns: r.turn, Audit: r.auditWithDropped()}, nil
}

// validateInput checks the input and returns the effective turn limit.
func validateInput(in AgentInput) (int, error) {
	var errs []error
	if strings.TrimSpace(in.Prompt) == "" {
		errs = append(errs, errors.New("prompt is empty"))
	}
	if in.MaxTurns < 0 {
		errs = append(errs, fmt.Errorf("maxTurns %d is negative", in.MaxTurns))
	}
	if err := in.Policy.Validate(); err != nil {
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
	maxTurns   int
	tools      []string

	conversation []ConversationItem
	audit        []AuditEntry
	// approvals holds every tool call that needed a human, by call id;
	// order lists their ids in request order.
	approvals map[string]*approval
	order     []string
	seenCalls map[string]bool // every tool call id the model used
	seenMsgs  map[string]bool // every Ably message id of a decision

	ignoredKept    int
	ignoredDropped int
	turn           int
	done           bool
}

// approval is one tool call waiting for (or resolved by) a human.
type approval struct {
	pending PendingApproval
	call    ToolCall
	// outcome is empty while pending, else an Outcome* value or
	// outcomeUnpublished.
	outcome  string
	decision Decision // the winning decision, when outcome is approved or rejected
}

// outcomeUnpublished resolves an approval whose request could not be published.
const outcomeUnpublished = "unpublished"

func newRun(ctx workflow.Context, in AgentInput, maxTurns int) *run {
	tools := make([]string, 0, len(in.Policy.Tools))
	for name := range in.Policy.Tools {
		tools = append(tools, name)
	}
	slices.Sort(tools)
	return &run{
		in:           in,
		workflowID:   workflow.GetInfo(ctx).WorkflowExecution.ID,
		maxTurns:     maxTurns,
		tools:        tools,
		conversation: []ConversationItem{{Type: ItemMessage, Role: "user", Text: in.Prompt}},
		approvals:    map[string]*approval{},
		seenCalls:    map[string]bool{},
		seenMsgs:     map[string]bool{},
	}
}

// loop calls the model until it answers or the turn limit is reached.
func (r *run) loop(ctx workflow.Context) (string, error) {
	logger := workflow.GetLogger(ctx)
	for r.turn < r.maxTurns {
		r.turn++
		r.setDetails(ctx)
		var resp ModelResponse
		req := ModelRequest{
			WorkflowID: r.workflowID,
			Turn:       r.turn,
			Input:      slices.Clone(r.conversation),
			Tools:      slices.Clone(r.tools),
		}
		actx := workflow.WithActivityOptions(ctx, modelActivityOptions(r.turn))
		if err := workflow.ExecuteActivity(actx, ActivityCallModel, req).Get(ctx, &resp); err != nil {
			return "", fmt.Errorf("model call, turn %d: %w", r.turn, err)
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
			r.conversation = append(r.conversation, ConversationItem{Type: ItemFunctionCallOutput, CallID: c.CallID, Output: outputs[i]})
		}
	}
	logger.Warn("turn limit reached", "maxTurns", r.maxTurns)
	return fmt.Sprintf("stopped: the turn limit of %d model calls was reached before the model gave a final answer", r.maxTurns), nil
}

// appendModelOutput adds the model's output items to the conversation. A
// response without output items (a minimal model adapter) is represented
// by its text and function calls.
func (r *run) appendModelOutput(resp ModelResponse) {
	if len(resp.Output) > 0 {
		r.conversation = append(r.conversation, resp.Output...)
		return
	}
	if resp.Text != "" {
		r.conversation = append(r.conversation, ConversationItem{Type: ItemMessage, Role: "assistant", Text: resp.Text})
	}
	for _, c := range resp.ToolCalls {
		r.conversation = append(r.conversation, ConversationItem{Type: ItemFunctionCall, CallID: c.CallID, Name: c.Name, Arguments: c.Arguments})
	}
}

// handleCalls applies the policy to each tool call of one model response,
// runs the allowed ones concurrently, and returns one output per call in the
// model's order.
func (r *run) handleCalls(ctx workflow.Context, calls []ToolCall) ([]string, error) {
	outputs := make([]string, len(calls))
	errs := make([]error, len(calls))
	running := 0
	for i, c := range calls {
		tp, why := r.classify(i, c)
		if c.CallID != "" && len(c.CallID) <= maxCallIDLen {
			r.seenCalls[c.CallID] = true
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
		return nil, err
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return outputs, nil
}

// classify returns the call's policy, or why the call is denied.
func (r *run) classify(i int, c ToolCall) (ToolPolicy, string) {
	if i >= MaxToolCallsPerTurn {
		return ToolPolicy{}, fmt.Sprintf("too many tool calls in one response (at most %d)", MaxToolCallsPerTurn)
	}
	if c.CallID == "" {
		return ToolPolicy{}, "tool call has no call id"
	}
	if len(c.CallID) > maxCallIDLen {
		return ToolPolicy{}, fmt.Sprintf("tool call id longer than %d bytes", maxCallIDLen)
	}
	if r.seenCalls[c.CallID] {
		return ToolPolicy{}, fmt.Sprintf("tool call id %q was already used", c.CallID)
	}
	tp, ok := r.in.Policy.Tools[c.Name]
	if !ok {
		return ToolPolicy{}, fmt.Sprintf("tool %q has no policy", c.Name)
	}
	if tp.MinRole == "" {
		return ToolPolicy{}, fmt.Sprintf("tool %q has no minRole", c.Name)
	}
	return tp, ""
}

// executeTool runs the tool. A tool failure is returned as output for the
// model; only cancellation of the run is an error.
func (r *run) executeTool(ctx workflow.Context, c ToolCall, approvedBy string) (string, error) {
	req := ToolRequest{WorkflowID: r.workflowID, CallID: c.CallID, Name: c.Name, Arguments: c.Arguments, ApprovedBy: approvedBy}
	var res ToolResult
	actx := workflow.WithActivityOptions(ctx, toolActivityOptions(c))
	if err := workflow.ExecuteActivity(actx, ActivityExecuteTool, req).Get(ctx, &res); err != nil {
		if temporal.IsCanceledError(err) {
			return "", err
		}
		msg := errorMessage(err)
		workflow.GetLogger(ctx).Warn("tool failed", "tool", c.Name, "callId", c.CallID, "error", err)
		r.record(ctx, AuditEntry{Kind: AuditFailed, ToolCallID: c.CallID, Tool: c.Name, Actor: approvedBy, Reason: msg})
		return "tool failed: " + msg, nil
	}
	r.record(ctx, AuditEntry{Kind: AuditExecuted, ToolCallID: c.CallID, Tool: c.Name, Actor: approvedBy})
	return truncate(res.Output, maxToolOutputLen), nil
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

// record appends an audit entry stamped with the workflow time.
func (r *run) record(ctx workflow.Context, e AuditEntry) {
	e.Time = workflow.Now(ctx)
	r.audit = append(r.audit, e)
}

// auditWithDropped returns the audit trail plus a note on ignored decisions
// that were only counted.
func (r *run) auditWithDropped() []AuditEntry {
	out := slices.Clone(r.audit)
	if r.ignoredDropped > 0 {
		out = append(out, AuditEntry{Kind: AuditIgnored, Reason: fmt.Sprintf("%d more ignored decisions are not listed (see the workflow history)", r.ignoredDropped)})
	}
	return out
}

// view answers ApprovalsQuery.
func (r *run) view() (ApprovalsView, error) {
	return ApprovalsView{
		Pending: r.pendingApprovals(),
		Audit:   r.auditWithDropped(),
		Roles:   slices.Clone(r.in.Policy.Roles),
	}, nil
}

// pendingApprovals lists the approvals still waiting, in request order.
func (r *run) pendingApprovals() []PendingApproval {
	out := []PendingApproval{}
	for _, id := range r.order {
		if a := r.approvals[id]; a.outcome == "" {
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
		}
	default:
		fmt.Fprintf(&b, "**Running**: turn %d of %d.", r.turn, r.maxTurns)
	}
	workflow.SetCurrentDetails(ctx, b.String())
}

// mdCode makes s safe inside a markdown code span and bounds its length.
func mdCode(s string, n int) string {
	s = strings.NewReplacer("`", "'", "\n", " ", "\r", " ").Replace(s)
	return truncate(s, n)
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := 0
	for i := range s {
		if i > n-len("…") {
			break
		}
		cut = i
	}
	return s[:cut] + "…"
}
