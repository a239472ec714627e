package bridge

import (
	"crypto/sha256"
	"strconv"
	"sync"
	"time"

	"github.com/hitl/durable-approvals/workflows"
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
// digest and revision the call had when it was forwarded (an edit, even one
// back to earlier arguments, a counted decision and an escalation change
// the revision) and its edited arguments are. The same decision goes
// through again after repeatBackoff, then twice that, and so on (at most
// about 16 times in 30 days): the workflow may have ignored the first for
// a reason that passes (its signature could not be checked), and then only
// a repeat can decide the call. Each approver gets at most perCall
// different decisions per call (over all its revisions), so that varying
// the edited arguments cannot flood a run either. Bounded: at most maxCalls
// (approver, workflow, tool call) entries, the oldest go first; keys are
// hashed, so their size does not depend on the message.
//
// An approver who goes back to an earlier decision after deciding the
// other way (approved after rejected, or rejected after approved) is not
// repeating: under rejectBy quorum the workflow counts each approver's
// latest decision (changeOneVote), so one who rejects, approves and
// rejects again means the second rejection, although the bridge, lagging,
// may not have seen the revisions the first two made. Such a decision goes
// through, also past perCall different ones, as long as the approver
// changed kind fewer than perCall times on the call (switches); a
// rejection after a forwarded approval always goes.
//
// An approval published before the newest rejection the bridge handled for
// the approver and call (a dropped message replayed from the history after
// later ones) is superseded: the later rejection stands. An older
// rejection goes on: the workflow refuses it under rejectBy quorum when the
// approver's counted approval is newer (whySuperseded), and otherwise one
// rejection rejects, as it would have had it come in order.
type decided struct {
	maxCalls int
	perCall  int

	mu    sync.Mutex
	calls map[decidedKey]*decidedCall
	order []decidedKey // oldest first, for eviction
}

// decidedCall is what the bridge forwarded for one (approver, workflow,
// tool call).
type decidedCall struct {
	entries  []decidedEntry
	latest   string // what the decision forwarded last decided (approved, rejected)
	switches int    // forwards of a decision of the other kind than latest
	// newest is the publish time of the newest decision handled (forwarded
	// or dropped as a repeat), and newestKind what it decided.
	newest     time.Time
	newestKind string
}

type decidedKey [sha256.Size]byte

// decidedEntry is one decision forwarded for a call: how often and when
// last.
type decidedEntry struct {
	key  decidedKey
	sent int
	last time.Time
}

// repeatBackoff is how long after it was forwarded the same decision may
// go through again; each further repeat waits twice as long, up to
// repeatBackoff << maxRepeatShift (about 11 days).
const (
	repeatBackoff  = time.Minute
	maxRepeatShift = 14
)

// The bounds of decided in the handler.
const (
	maxDecidedCalls         = 20_000
	maxDecisionsPerApprover = 16
)

// verdict of decided.check.
type repeatVerdict int

const (
	decisionNew        repeatVerdict = iota // not forwarded yet
	decisionRepeat                          // the same decision was forwarded, within its backoff
	decisionAgain                           // the same decision was forwarded, longer ago than its backoff
	decisionTooMany                         // perCall different decisions were forwarded
	decisionBack                            // of the other kind than the last forwarded: the approver changed their mind
	decisionSuperseded                      // an approval published before a newer rejection that was handled
)

func newDecided(maxCalls, perCall int) *decided {
	return &decided{maxCalls: maxCalls, perCall: perCall, calls: map[decidedKey]*decidedCall{}}
}

// decisionKeys returns the keys of response r forwarded to workflow wfID,
// whose current run has runID (workflows.ResetRunID: a run made by a reset
// asks anew for calls of the run it reset), and whose call has arguments
// of digest current ("" when unknown) at revision revision.
func decisionKeys(r Response, wfID, runID, current string, revision int) (call, decision decidedKey) {
	call = hashFields(r.ClientID, wfID, r.ToolCallID, runID)
	decision = hashFields(r.Decision, r.ArgumentsDigest, current, strconv.Itoa(revision), r.Arguments)
	return call, decision
}

// backoff is how long after its sent-th forward a decision is a repeat.
func backoff(sent int) time.Duration {
	return repeatBackoff << min(max(sent-1, 0), maxRepeatShift)
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

// check says whether decision, which decides kind (approved, rejected) and
// was published at published (zero when unknown), was already forwarded
// for call, as of now, and notes it as handled.
func (d *decided) check(call, decision decidedKey, kind string, published, now time.Time) repeatVerdict {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.calls[call]
	if c == nil {
		return decisionNew
	}
	if kind == workflows.DecisionApproved && !published.IsZero() && published.Before(c.newest) && c.newestKind == workflows.DecisionRejected {
		return decisionSuperseded
	}
	if published.After(c.newest) {
		c.newest, c.newestKind = published, kind
	}
	// A rejection after a forwarded approval always goes: under rejectBy
	// quorum it withdraws the approval, and the workflow never refuses
	// that. They are bounded by the approvals forwarded, which the limits
	// bound.
	changed := kind != c.latest && (c.switches < d.perCall || kind == workflows.DecisionRejected)
	for _, e := range c.entries {
		if e.key != decision {
			continue
		}
		switch {
		case changed:
			return decisionBack
		case now.Sub(e.last) >= backoff(e.sent):
			return decisionAgain
		}
		return decisionRepeat
	}
	if len(c.entries) >= d.perCall && !changed {
		return decisionTooMany
	}
	return decisionNew
}

// add records decision, which decides kind and was published at
// published, as forwarded for call at now.
func (d *decided) add(call, decision decidedKey, kind string, published, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.calls[call]
	if !ok {
		if len(d.order) >= d.maxCalls {
			delete(d.calls, d.order[0])
			d.order = d.order[1:]
		}
		d.order = append(d.order, call)
		c = &decidedCall{}
		d.calls[call] = c
	}
	if c.latest != "" && kind != c.latest {
		c.switches++
	}
	c.latest = kind
	if published.After(c.newest) {
		c.newest, c.newestKind = published, kind
	}
	for i := range c.entries {
		if c.entries[i].key == decision {
			c.entries[i].sent++
			c.entries[i].last = now
			return
		}
	}
	if len(c.entries) < d.perCall {
		c.entries = append(c.entries, decidedEntry{key: decision, sent: 1, last: now})
	}
}

// len is how many (approver, workflow, tool call) entries d holds.
func (d *decided) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.calls)
}
