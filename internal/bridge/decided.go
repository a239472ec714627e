package bridge

import (
	"crypto/sha256"
	"sync"
)

// decided remembers, per (approver, workflow, tool call), the decisions of
// a sufficient role that the bridge forwarded, so that a decision the
// workflow would only record as ignored is not signalled again: the same
// approver approving a quorum call twice, a second rejection under
// rejectBy quorum, the requester under distinctFromRequester, any exact
// repeat. Temporal refuses every signal to a run past its limit
// (history.maximumSignalsPerExecution, 10,000 by default), after which the
// run can no longer be decided; without this one approver at the rate
// limit would reach it in under two hours.
//
// A decision is the same when its decision, the digest it names, the
// digest the call had when it was forwarded (an edit changes it and
// restarts the count) and its edited arguments are. Each approver gets at
// most perCall different decisions per call, so that varying the edited
// arguments cannot flood a run either. Bounded: at most maxCalls
// (approver, workflow, tool call) entries, the oldest go first; keys are
// hashed, so their size does not depend on the message.
type decided struct {
	maxCalls int
	perCall  int

	mu    sync.Mutex
	calls map[decidedKey][]decidedKey
	order []decidedKey // oldest first, for eviction
}

type decidedKey [sha256.Size]byte

// The bounds of decided in the handler.
const (
	maxDecidedCalls         = 20_000
	maxDecisionsPerApprover = 16
)

// verdict of decided.check.
type repeatVerdict int

const (
	decisionNew     repeatVerdict = iota // not forwarded yet
	decisionRepeat                       // the same decision was forwarded
	decisionTooMany                      // perCall different decisions were forwarded
)

func newDecided(maxCalls, perCall int) *decided {
	return &decided{maxCalls: maxCalls, perCall: perCall, calls: map[decidedKey][]decidedKey{}}
}

// decisionKeys returns the keys of response r forwarded to workflow wfID,
// whose call's arguments have digest current ("" when unknown).
func decisionKeys(r Response, wfID, current string) (call, decision decidedKey) {
	call = hashFields(r.ClientID, wfID, r.ToolCallID)
	decision = hashFields(r.Decision, r.ArgumentsDigest, current, r.Arguments)
	return call, decision
}

// hashFields hashes fields, each preceded by its length, so that no two
// different lists have the same input.
func hashFields(fields ...string) decidedKey {
	h := sha256.New()
	for _, f := range fields {
		n := len(f)
		h.Write([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
		h.Write([]byte(f))
	}
	var k decidedKey
	h.Sum(k[:0])
	return k
}

// check says whether decision was already forwarded for call.
func (d *decided) check(call, decision decidedKey) repeatVerdict {
	d.mu.Lock()
	defer d.mu.Unlock()
	list := d.calls[call]
	for _, k := range list {
		if k == decision {
			return decisionRepeat
		}
	}
	if len(list) >= d.perCall {
		return decisionTooMany
	}
	return decisionNew
}

// add records decision as forwarded for call.
func (d *decided) add(call, decision decidedKey) {
	d.mu.Lock()
	defer d.mu.Unlock()
	list, ok := d.calls[call]
	if !ok {
		if len(d.order) >= d.maxCalls {
			delete(d.calls, d.order[0])
			d.order = d.order[1:]
		}
		d.order = append(d.order, call)
	}
	for _, k := range list {
		if k == decision {
			return
		}
	}
	if len(list) < d.perCall {
		d.calls[call] = append(list, decision)
	}
}

// len is how many (approver, workflow, tool call) entries d holds.
func (d *decided) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.calls)
}
