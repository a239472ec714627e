package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/hitl/durable-approvals/workflows"
)

// ToolCall is what a tool's Run receives: the model's call plus the
// idempotency key parts and the approver.
type ToolCall struct {
	WorkflowID string
	CallID     string
	Name       string
	// Arguments is the JSON text the approver was shown and the tool
	// runs with: the model's arguments in canonical form (checked against
	// Parameters, keys sorted), or the approved edit. Decode it with
	// DecodeArgs into a struct; give exact numbers (money, ids) an int64 or
	// json.Number field: a float64 holds integers exactly only up to 2^53.
	Arguments string
	// ApprovedBy is the approver's clientId, empty for tools without approval.
	ApprovedBy string
}

// Tool is one function the model may call. Parameters is the JSON schema of
// the arguments object, sent to the model as is and the contract the
// workflow canonicalises arguments against. Run must be idempotent for a
// given ToolCall.IdempotencyKey and return the text sent back to the model.
type Tool struct {
	Name        string
	Description string
	Parameters  map[string]any
	Run         func(ctx context.Context, call ToolCall) (string, error)
	// Local says the tool is short (an attempt well under a minute) and
	// idempotent, so runs execute it as a local activity, without a round
	// trip through the server; a wait between two attempts longer than
	// the workflow task's timeout goes through a workflow timer.
	Local bool
}

// Registry holds the tools by name, in registration order.
type Registry struct {
	tools   map[string]Tool
	order   []string
	schemas map[string]json.RawMessage // each tool's Parameters as JSON, encoded once
}

// NewRegistry checks and registers tools. Names must be unique and non-empty
// and every tool needs Run and Parameters.
func NewRegistry(tools ...Tool) (*Registry, error) {
	r := &Registry{tools: make(map[string]Tool, len(tools)), schemas: make(map[string]json.RawMessage, len(tools))}
	var errs []error
	for i, t := range tools {
		switch {
		case t.Name == "":
			errs = append(errs, fmt.Errorf("tool %d: empty name", i))
			continue
		case r.tools[t.Name].Name != "":
			errs = append(errs, fmt.Errorf("tool %q: registered twice", t.Name))
			continue
		case t.Run == nil:
			errs = append(errs, fmt.Errorf("tool %q: no Run func", t.Name))
		case t.Parameters == nil:
			errs = append(errs, fmt.Errorf("tool %q: no parameter schema", t.Name))
		default:
			b, err := json.Marshal(t.Parameters)
			if err == nil {
				err = workflows.CheckToolSchema(b)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("tool %q: parameter schema: %w", t.Name, err))
			}
			r.schemas[t.Name] = b
		}
		r.tools[t.Name] = t
		r.order = append(r.order, t.Name)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("tool registry: %w", err)
	}
	return r, nil
}

// SchemaWarnings says, per tool, which keywords of its parameter schema
// the workflow's check of the arguments does not apply
// (workflows.SchemaKeywordsNotApplied): the model is sent them and may
// ignore them, so a tool that relies on one checks it in Run.
func (r *Registry) SchemaWarnings() []string {
	var out []string
	for _, name := range r.order {
		keys, err := workflows.SchemaKeywordsNotApplied(r.schemas[name])
		if err != nil {
			out = append(out, fmt.Sprintf("tool %q: parameter schema: %v", name, err))
		} else if len(keys) > 0 {
			out = append(out, fmt.Sprintf("tool %q: its schema's %s are not checked before a human is asked (the model may ignore them, an edit may break them): check them in the tool's Run", name, strings.Join(keys, ", ")))
		}
	}
	return out
}

// Schema returns the tool's Parameters as JSON, as NewRegistry encoded and
// checked them.
func (r *Registry) Schema(name string) (json.RawMessage, bool) {
	b, ok := r.schemas[name]
	return b, ok
}

// Names returns the registered tool names in registration order.
func (r *Registry) Names() []string { return slices.Clone(r.order) }

// Lookup returns the tool called name.
func (r *Registry) Lookup(name string) (Tool, bool) {
	t, ok := r.tools[name]
	return t, ok
}

// Select returns the tools called names, in that order. An unknown name is
// a non-retryable error: the workflow offered a tool the worker lacks.
func (r *Registry) Select(names []string) ([]Tool, error) {
	out := make([]Tool, 0, len(names))
	for _, n := range names {
		t, ok := r.tools[n]
		if !ok {
			return nil, unknownTool(n, r.order)
		}
		out = append(out, t)
	}
	return out, nil
}

func unknownTool(name string, known []string) error {
	return temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("unknown tool %q (registered: %v)", name, known), workflows.ErrTypeUnknownTool, nil)
}

// DecodeArgs decodes the model's JSON arguments into dst strictly: exactly
// one JSON object, no unknown fields. Any problem is a non-retryable
// ToolInputError, since retrying the same arguments cannot help.
func DecodeArgs(call ToolCall, dst any) error {
	dec := json.NewDecoder(bytes.NewReader([]byte(call.Arguments)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return toolInputError(call.Name, fmt.Errorf("arguments are not a valid JSON object: %w", err))
	}
	// More would report false before a stray ']' or '}', taking
	// `{...}}` for one object; only the end of the input may follow.
	if _, err := dec.Token(); err != io.EOF {
		return toolInputError(call.Name, errors.New("trailing data after the arguments object"))
	}
	return nil
}

func toolInputError(tool string, err error) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: bad arguments: %v", tool, err), workflows.ErrTypeToolInput, nil)
}
