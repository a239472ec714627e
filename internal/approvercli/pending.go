package approvercli

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablymsg"
	"github.com/hitl/durable-approvals/workflows"
)

// Request is an approval-request as the approver sees it.
type Request struct {
	workflows.ApprovalRequestData
	MessageID   string
	Publisher   string    // the message's clientId: always the agent
	PublishedAt time.Time // the Ably timestamp, zero if absent
	// FirstDigest is the ArgumentsDigest of the oldest revision of the
	// request this set saw.
	FirstDigest string
}

func (r Request) key() string { return requestKey(r.WorkflowID, r.ToolCallID) }

// requestKey identifies the request of tool call toolCallID in run
// workflowID.
func requestKey(workflowID, toolCallID string) string { return workflowID + "\x00" + toolCallID }

// EventKind says what a message did to the pending set.
type EventKind int

// Event kinds.
const (
	EventIgnored  EventKind = iota // not a request or resolution we trust or need
	EventRequest                   // a new pending request
	EventResolved                  // a request was resolved (it may not have been pending here)
	// EventUpdated: a newer revision of a pending request (a partial
	// approval, an escalation, an edit) replaced it.
	EventUpdated
	// EventNotCounted: the agent did not count a decision on a pending
	// request (approval-ignored), and says why.
	EventNotCounted
)

// Event is the result of Pending.Apply.
type Event struct {
	Kind       EventKind
	Request    Request                        // EventRequest, EventUpdated, and EventResolved when it was pending
	Previous   Request                        // EventUpdated: the revision it replaced
	Resolved   workflows.ApprovalResolvedData // EventResolved
	WasPending bool                           // EventResolved: the request was in the set
	Reason     string                         // EventIgnored: why
	NotCounted workflows.ApprovalIgnoredData  // EventNotCounted (Request is the pending request)
	// Routine (EventIgnored): the message is the agent's and well formed,
	// and passed over in the normal course of a call (already resolved,
	// expired, a copy or an older revision): every history read meets
	// many, so they are not worth a warning.
	Routine bool
}

// Pending is the set of approval requests still waiting for a decision.
// It trusts only messages whose clientId is AgentClientID, so a request or
// resolution published by anyone else is never shown or acted on. It is
// not safe for concurrent use.
//
// A run made by a Temporal reset asks again for calls of the run it reset,
// with the same ids and its RunID (workflows.ResetRunID): its request
// shows as new although the call was resolved or pending here
// (workflows.AskedAgain), and the original run's messages about such a
// call are passed over (workflows.FromEarlierRun).
type Pending struct {
	agent    string
	now      func() time.Time
	reqs     map[string]Request
	resolved map[string]workflows.ApprovalResolvedData
	// resolvedOrder holds the keys of resolved, oldest first; at most
	// maxResolved are kept so a long watch does not grow without bound.
	resolvedOrder []string
	maxResolved   int
	// notices counts the agent's approval-ignored messages seen about
	// pending requests, by request key, then approver: the agent sends at
	// most workflows.MaxIgnoredNotices of them.
	notices map[string]map[string]int
}

// MaxResolved is how many resolutions a Pending remembers (the newest).
const MaxResolved = 10000

// NewPending returns an empty set trusting agentClientID; now is the clock
// (nil means time.Now).
func NewPending(agentClientID string, now func() time.Time) *Pending {
	if now == nil {
		now = time.Now
	}
	return &Pending{agent: agentClientID, now: now, reqs: map[string]Request{}, resolved: map[string]workflows.ApprovalResolvedData{}, maxResolved: MaxResolved, notices: map[string]map[string]int{}}
}

// Apply feeds one channel message, in publication order, to the set.
func (p *Pending) Apply(m *ably.Message) Event {
	if m == nil {
		return Event{Reason: "nil message"}
	}
	switch m.Name {
	case workflows.MsgApprovalRequest, workflows.MsgApprovalResolved, workflows.MsgApprovalIgnored:
	default:
		return Event{Reason: "not a request or resolution: " + m.Name}
	}
	if m.ClientID != p.agent {
		return Event{Reason: fmt.Sprintf("%s from %q, not from the agent %q", m.Name, m.ClientID, p.agent)}
	}
	switch m.Name {
	case workflows.MsgApprovalResolved:
		return p.applyResolved(m)
	case workflows.MsgApprovalIgnored:
		return p.applyIgnored(m)
	}
	r, err := decodeRequest(m)
	if err != nil {
		return Event{Reason: "bad approval-request: " + err.Error()}
	}
	k := r.key()
	prev, known := p.reqs[k]
	done, resolved := p.resolved[k]
	// again: asked again by a run made by a reset.
	again := resolved || known && workflows.AskedAgain(prev.RunID, r.RunID)
	switch {
	case resolved && !workflows.AskedAgain(done.RunID, r.RunID):
		return Event{Reason: "already resolved", Routine: true}
	case known && workflows.FromEarlierRun(prev.RunID, r.RunID):
		return Event{Reason: "from the run that a reset replaced", Routine: true}
	case again && p.expired(r):
		return Event{Reason: "expired", Routine: true}
	case again:
		// Asked again by a run made by a reset: a new request.
		p.forget(k)
		r.FirstDigest = r.ArgumentsDigest
		p.reqs[k] = r
		return Event{Kind: EventRequest, Request: r}
	}
	switch {
	case known && (r.Revision == prev.Revision || r.MessageID != "" && r.MessageID == prev.MessageID):
		// Another text under the same revision is no copy: only the
		// agent's key can publish it, so it is worth a warning.
		return Event{Reason: "duplicate", Routine: r.ArgumentsDigest == prev.ArgumentsDigest}
	case known && r.Revision < prev.Revision:
		return Event{Reason: fmt.Sprintf("revision %d is older than the one shown (%d)", r.Revision, prev.Revision), Routine: true}
	}
	if p.expired(r) {
		if known {
			delete(p.reqs, k)
		}
		return Event{Reason: "expired", Routine: true}
	}
	r.FirstDigest = r.ArgumentsDigest
	if known {
		r.FirstDigest = prev.FirstDigest
	}
	p.reqs[k] = r
	if known {
		return Event{Kind: EventUpdated, Request: r, Previous: prev}
	}
	return Event{Kind: EventRequest, Request: r}
}

// applyIgnored reports a decision the agent did not count, of a request
// still pending (for one resolved since, the resolution says enough).
func (p *Pending) applyIgnored(m *ably.Message) Event {
	var d workflows.ApprovalIgnoredData
	if err := ablymsg.DecodeData(m.Data, m.Encoding, &d); err != nil {
		return Event{Reason: "bad approval-ignored: " + err.Error()}
	}
	if err := workflows.ValidateToolCallID(d.ToolCallID); err != nil {
		return Event{Reason: "bad approval-ignored: " + err.Error()}
	}
	if d.Approver == "" {
		return Event{Reason: "bad approval-ignored: no approver"}
	}
	if err := workflows.ValidateRunID(d.RunID); err != nil {
		return Event{Reason: "bad approval-ignored: " + err.Error()}
	}
	k := requestKey(d.WorkflowID, d.ToolCallID)
	r, ok := p.reqs[k]
	// A notice of the run that holds the call, or of a reset run that asks
	// it anew (its request may not have come yet), is about the request
	// shown.
	if !ok || r.RunID != d.RunID && !workflows.AskedAgain(r.RunID, d.RunID) {
		return Event{Reason: "approval-ignored of a request not pending", Routine: true}
	}
	if p.notices[k] == nil {
		p.notices[k] = map[string]int{}
	}
	p.notices[k][d.Approver]++
	return Event{Kind: EventNotCounted, Request: r, NotCounted: d}
}

// Notices returns how many approval-ignored messages about approver's
// decisions on r this set has seen.
func (p *Pending) Notices(r Request, approver string) int {
	return p.notices[r.key()][approver]
}

func (p *Pending) applyResolved(m *ably.Message) Event {
	var d workflows.ApprovalResolvedData
	if err := ablymsg.DecodeData(m.Data, m.Encoding, &d); err != nil {
		return Event{Reason: "bad approval-resolved: " + err.Error()}
	}
	if err := workflows.ValidateToolCallID(d.ToolCallID); err != nil {
		return Event{Reason: "bad approval-resolved: " + err.Error()}
	}
	if err := workflows.ValidateRunID(d.RunID); err != nil {
		return Event{Reason: "bad approval-resolved: " + err.Error()}
	}
	k := requestKey(d.WorkflowID, d.ToolCallID)
	if r, ok := p.reqs[k]; ok && workflows.FromEarlierRun(r.RunID, d.RunID) {
		return Event{Reason: "approval-resolved from the run that a reset replaced", Routine: true}
	}
	p.remember(k, d)
	r, was := p.reqs[k]
	delete(p.reqs, k)
	delete(p.notices, k)
	return Event{Kind: EventResolved, Request: r, Resolved: d, WasPending: was}
}

// remember records a resolution, forgetting the oldest beyond maxResolved.
func (p *Pending) remember(k string, d workflows.ApprovalResolvedData) {
	if _, ok := p.resolved[k]; !ok {
		if len(p.resolvedOrder) >= p.maxResolved {
			delete(p.resolved, p.resolvedOrder[0])
			p.resolvedOrder = p.resolvedOrder[1:]
		}
		p.resolvedOrder = append(p.resolvedOrder, k)
	}
	p.resolved[k] = d
}

// forget drops all the set holds of the call of key k: a run made by a
// reset asks for it again.
func (p *Pending) forget(k string) {
	if _, ok := p.resolved[k]; ok {
		delete(p.resolved, k)
		p.resolvedOrder = slices.DeleteFunc(p.resolvedOrder, func(x string) bool { return x == k })
	}
	delete(p.reqs, k)
	delete(p.notices, k)
}

func (p *Pending) expired(r Request) bool {
	return !r.ExpiresAt.IsZero() && !p.now().Before(r.ExpiresAt)
}

// Expire removes and returns the requests whose time ran out.
func (p *Pending) Expire() []Request {
	var out []Request
	for k, r := range p.reqs {
		if p.expired(r) {
			out = append(out, r)
			delete(p.reqs, k)
		}
	}
	sortRequests(out)
	return out
}

// List returns the pending, unexpired requests, oldest first.
func (p *Pending) List() []Request {
	p.Expire()
	out := make([]Request, 0, len(p.reqs))
	for _, r := range p.reqs {
		out = append(out, r)
	}
	sortRequests(out)
	return out
}

// Has reports whether the request is still pending.
func (p *Pending) Has(r Request) bool {
	_, ok := p.reqs[r.key()]
	return ok && !p.expired(r)
}

// Get returns the newest revision of the pending request r.
func (p *Pending) Get(r Request) (Request, bool) {
	latest, ok := p.reqs[r.key()]
	return latest, ok && !p.expired(latest)
}

// Find returns the pending requests for a tool-call id.
func (p *Pending) Find(toolCallID string) []Request {
	var out []Request
	for _, r := range p.List() {
		if r.ToolCallID == toolCallID {
			out = append(out, r)
		}
	}
	return out
}

// Resolution returns how a request was resolved, if it was.
func (p *Pending) Resolution(toolCallID string) (workflows.ApprovalResolvedData, bool) {
	for _, d := range p.resolved {
		if d.ToolCallID == toolCallID {
			return d, true
		}
	}
	return workflows.ApprovalResolvedData{}, false
}

func sortRequests(rs []Request) {
	slices.SortFunc(rs, func(a, b Request) int {
		if c := a.RequestedAt.Compare(b.RequestedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.key(), b.key())
	})
}

// decodeRequest decodes an approval-request. Tool-call and workflow ids come
// from data, or from extras.headers when data lacks them; the two must
// agree.
func decodeRequest(m *ably.Message) (Request, error) {
	var d workflows.ApprovalRequestData
	if err := ablymsg.DecodeData(m.Data, m.Encoding, &d); err != nil {
		return Request{}, err
	}
	headers, _ := ablymsg.AsMap(m.Extras[workflows.ExtrasHeaders])
	for _, f := range []struct {
		name string
		dst  *string
	}{{workflows.HeaderToolCallID, &d.ToolCallID}, {workflows.HeaderWorkflowID, &d.WorkflowID}} {
		h, _ := headers[f.name].(string)
		switch {
		case *f.dst == "":
			*f.dst = h
		case h != "" && h != *f.dst:
			return Request{}, fmt.Errorf("data and extras.headers disagree on %s", f.name)
		}
	}
	if err := workflows.ValidateToolCallID(d.ToolCallID); err != nil {
		return Request{}, err
	}
	if err := workflows.ValidateWorkflowID(d.WorkflowID); err != nil {
		return Request{}, err
	}
	if err := workflows.ValidateRunID(d.RunID); err != nil {
		return Request{}, err
	}
	if d.Tool == "" {
		return Request{}, fmt.Errorf("no tool name")
	}
	if d.ArgumentsDigest != "" {
		// The digest is what the approver's decision names: it must be
		// the digest of the arguments shown.
		if err := workflows.ValidateArgumentsDigest(d.ArgumentsDigest); err != nil {
			return Request{}, err
		}
		if workflows.ArgumentsDigest(d.Arguments) != d.ArgumentsDigest {
			return Request{}, errors.New("the arguments do not match their digest")
		}
	}
	r := Request{ApprovalRequestData: d, MessageID: m.ID, Publisher: m.ClientID}
	if m.Timestamp > 0 {
		r.PublishedAt = time.UnixMilli(m.Timestamp).UTC()
	}
	return r, nil
}
