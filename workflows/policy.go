package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/hitl/durable-approvals/internal/strictjson"
)

// DefaultRoles is the role hierarchy used when a policy file names none,
// lowest privilege first.
var DefaultRoles = []string{"editor", "publisher", "admin"}

// DefaultApprovalTimeout applies to a tool whose policy names no timeout.
const DefaultApprovalTimeout = 10 * time.Minute

// ApprovalNone is the minRole value of a tool that runs without approval.
const ApprovalNone = "none"

// Policy is the approval policy: the role hierarchy and, per tool, who may
// approve it and for how long an approval waits. A tool absent from Tools is
// denied. The zero Policy denies everything.
type Policy struct {
	// Roles lists the roles from lowest to highest privilege.
	Roles []string `json:"roles"`
	// Tools maps a tool name to its policy.
	Tools map[string]ToolPolicy `json:"tools"`
}

// ToolPolicy is one tool's rule.
type ToolPolicy struct {
	// MinRole is the lowest role that may approve a call, or ApprovalNone
	// when the tool runs without approval.
	MinRole string `json:"minRole"`
	// Timeout is how long an approval waits before it expires for good
	// (escalations included): the expiry the model is told of.
	Timeout Duration `json:"timeout,omitempty"`
	// Approvals is how many distinct approvers (by Ably clientId) with a
	// sufficient role must approve a call (default 1).
	Approvals int `json:"approvals,omitempty"`
	// RejectBy says what rejects a call: RejectByAny (the default), one
	// rejection by a sufficient role; or RejectByQuorum, Approvals
	// distinct rejections.
	RejectBy string `json:"rejectBy,omitempty"`
	// DistinctFromRequester: the run's requester can never decide its own
	// call; such a decision is ignored and audited.
	DistinctFromRequester bool `json:"distinctFromRequester,omitempty"`
	// Escalate lists the stages a pending call moves through: After (from
	// the request) without a decision, it needs MinRole or higher.
	// Strictly increasing After, strictly higher roles, all before Timeout.
	Escalate []EscalationStage `json:"escalate,omitempty"`
	// Editable: a sufficient approver may approve with edited arguments,
	// checked against the tool's schema and canonicalised as the model's.
	Editable bool `json:"editable,omitempty"`
}

// EscalationStage is one stage of ToolPolicy.Escalate.
type EscalationStage struct {
	After   Duration `json:"after"`
	MinRole string   `json:"minRole"`
}

// RejectBy values.
const (
	RejectByAny    = "any"
	RejectByQuorum = "quorum"
)

// MaxApprovals bounds ToolPolicy.Approvals, and MaxEscalations the stages
// of ToolPolicy.Escalate.
const (
	MaxApprovals   = 10
	MaxEscalations = 5
)

// RequiredApprovals returns Approvals, or 1.
func (tp ToolPolicy) RequiredApprovals() int {
	if tp.Approvals <= 0 {
		return 1
	}
	return tp.Approvals
}

// hasRules reports whether the rule uses any of the rules beyond one
// approver: a quorum, separation from the requester, escalation, edits.
func (tp ToolPolicy) hasRules() bool {
	return tp.RequiredApprovals() > 1 || tp.RejectBy == RejectByQuorum || tp.DistinctFromRequester || len(tp.Escalate) > 0 || tp.Editable
}

// ToolNames returns the names of the tools that have a policy, sorted, so
// callers never depend on map order.
func (p Policy) ToolNames() []string {
	names := make([]string, 0, len(p.Tools))
	//workflowcheck:ignore: map order does not matter, the names are sorted below
	for name := range p.Tools {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// isZero reports whether the policy is empty: no roles and no tools.
func (p Policy) isZero() bool { return len(p.Roles) == 0 && len(p.Tools) == 0 }

// NeedsApproval reports whether a call of the tool waits for a human.
func (tp ToolPolicy) NeedsApproval() bool { return tp.MinRole != ApprovalNone }

// ApprovalTimeout returns the tool's timeout, or DefaultApprovalTimeout.
func (tp ToolPolicy) ApprovalTimeout() time.Duration {
	if tp.Timeout <= 0 {
		return DefaultApprovalTimeout
	}
	return time.Duration(tp.Timeout)
}

// Duration is a time.Duration that reads and writes JSON as "10m", "90s".
type Duration time.Duration

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a Go duration string such as "15m".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"15m\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("bad duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// ParsePolicy decodes a JSON policy document strictly (unknown fields, a
// key written twice or in another case, and trailing data are errors, see
// strictjson), fills in the default role hierarchy, and validates it.
func ParsePolicy(data []byte) (Policy, error) {
	var p Policy
	if err := strictjson.Decode(data, &p); err != nil {
		return Policy{}, fmt.Errorf("policy: %w", err)
	}
	if len(p.Roles) == 0 {
		p.Roles = slices.Clone(DefaultRoles)
	}
	if err := errors.Join(p.Validate(), explicitZeroTimeouts(data)); err != nil {
		return Policy{}, err
	}
	return p, nil
}

// explicitZeroTimeouts reports the tools whose policy document writes a
// timeout of zero ("0s"). Validate cannot tell it from an omitted timeout,
// which means DefaultApprovalTimeout; written out, it more likely means "no
// wait" or "no limit" than ten minutes, so the document is refused rather
// than read either way.
func explicitZeroTimeouts(data []byte) error {
	var doc struct {
		Tools map[string]struct {
			Timeout *Duration `json:"timeout"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil // ParsePolicy's strict decode has reported it
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(doc.Tools)) {
		if t := doc.Tools[name].Timeout; t != nil && *t == 0 {
			errs = append(errs, fmt.Errorf("tools.%s: timeout %s: omit it for the default (%s), or give a duration up to %s", name, time.Duration(*t), DefaultApprovalTimeout, MaxApprovalTimeout))
		}
	}
	return errors.Join(errs...)
}

// MaxApprovalTimeout bounds a tool's approval timeout.
const MaxApprovalTimeout = 30 * 24 * time.Hour

// Validate reports every problem of the policy at once.
func (p Policy) Validate() error {
	var errs []error
	if len(p.Roles) == 0 {
		errs = append(errs, errors.New("roles: empty role hierarchy"))
	}
	seen := map[string]bool{}
	for i, r := range p.Roles {
		switch {
		case r == "":
			errs = append(errs, fmt.Errorf("roles[%d]: empty role name", i))
		case r == ApprovalNone:
			errs = append(errs, fmt.Errorf("roles[%d]: %q is reserved", i, r))
		case seen[r]:
			errs = append(errs, fmt.Errorf("roles[%d]: duplicate role %q", i, r))
		}
		seen[r] = true
	}
	if len(p.Tools) == 0 {
		errs = append(errs, errors.New("tools: no tool has a policy, every call would be denied"))
	}
	for _, name := range p.ToolNames() {
		tp := p.Tools[name]
		switch {
		case name == "":
			errs = append(errs, errors.New("tools: empty tool name"))
		case tp.MinRole == "":
			errs = append(errs, fmt.Errorf("tools.%s: minRole is required (a role, or %q)", name, ApprovalNone))
		case tp.MinRole != ApprovalNone && !seen[tp.MinRole]:
			errs = append(errs, fmt.Errorf("tools.%s: minRole %q is not in roles %v", name, tp.MinRole, p.Roles))
		}
		if tp.Timeout < 0 || time.Duration(tp.Timeout) > MaxApprovalTimeout {
			errs = append(errs, fmt.Errorf("tools.%s: timeout %s out of range (0, %s]", name, time.Duration(tp.Timeout), MaxApprovalTimeout))
		}
		errs = append(errs, p.validateRules(name, tp)...)
	}
	return errors.Join(errs...)
}

// validateRules checks the rules beyond one approver of tool name.
func (p Policy) validateRules(name string, tp ToolPolicy) []error {
	var errs []error
	if !tp.NeedsApproval() {
		if tp.hasRules() {
			errs = append(errs, fmt.Errorf("tools.%s: approvals, rejectBy, distinctFromRequester, escalate and editable need a minRole other than %q", name, ApprovalNone))
		}
		return errs
	}
	if tp.Approvals < 0 || tp.Approvals > MaxApprovals {
		errs = append(errs, fmt.Errorf("tools.%s: approvals %d out of range [1, %d]", name, tp.Approvals, MaxApprovals))
	}
	if tp.RejectBy != "" && tp.RejectBy != RejectByAny && tp.RejectBy != RejectByQuorum {
		errs = append(errs, fmt.Errorf("tools.%s: rejectBy %q: want %q or %q", name, tp.RejectBy, RejectByAny, RejectByQuorum))
	}
	if len(tp.Escalate) > MaxEscalations {
		errs = append(errs, fmt.Errorf("tools.%s: %d escalation stages, at most %d", name, len(tp.Escalate), MaxEscalations))
	}
	prevAfter, prevRank := Duration(0), p.RoleRank(tp.MinRole)
	for i, e := range tp.Escalate {
		rank := p.RoleRank(e.MinRole)
		switch {
		case e.After <= prevAfter:
			errs = append(errs, fmt.Errorf("tools.%s: escalate[%d]: after %s must be later than %s", name, i, time.Duration(e.After), time.Duration(prevAfter)))
		case e.After >= Duration(tp.ApprovalTimeout()):
			errs = append(errs, fmt.Errorf("tools.%s: escalate[%d]: after %s must be before the timeout %s", name, i, time.Duration(e.After), tp.ApprovalTimeout()))
		}
		switch {
		case rank < 0:
			errs = append(errs, fmt.Errorf("tools.%s: escalate[%d]: minRole %q is not in roles %v", name, i, e.MinRole, p.Roles))
		case rank <= prevRank:
			errs = append(errs, fmt.Errorf("tools.%s: escalate[%d]: minRole %q must be higher than the stage before", name, i, e.MinRole))
		}
		prevAfter, prevRank = e.After, max(rank, prevRank)
	}
	return errs
}

// RoleRank returns the role's position in the hierarchy, or -1 if the role
// is unknown.
func (p Policy) RoleRank(role string) int {
	return slices.Index(p.Roles, role)
}

// Check decides whether role may approve a call of tool. It denies by
// default: an unknown tool, a tool without approval, an unknown role and an
// empty role all return a non-nil error that says why.
func (p Policy) Check(tool, role string) error {
	tp, ok := p.Tools[tool]
	if !ok {
		return fmt.Errorf("tool %q has no policy", tool)
	}
	if !tp.NeedsApproval() {
		return fmt.Errorf("tool %q needs no approval", tool)
	}
	return CanApprove(p.Roles, role, tp.MinRole)
}

// CanApprove reports whether role reaches required in the hierarchy roles
// (lowest first). Unknown or empty roles never approve.
func CanApprove(roles []string, role, required string) error {
	have := slices.Index(roles, role)
	need := slices.Index(roles, required)
	switch {
	case role == "":
		return errors.New("no role")
	case have < 0:
		return fmt.Errorf("unknown role %q", role)
	case need < 0:
		return fmt.Errorf("unknown required role %q", required)
	case have < need:
		return fmt.Errorf("insufficient role: %s < %s", role, required)
	}
	return nil
}
