package bridge

import (
	"crypto/sha256"
	"strconv"
	"sync"
	"time"
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
// different decisions per call and revision, so that varying the edited
// arguments cannot flood a run either. Bounded: at most maxCalls
// (approver, workflow, tool call) entries, the oldest go first; keys are
// hashed, so their size does not depend on the message.
//
// An approver who goes back to an earlier decision after deciding the
// other way (approved after rejected, or rejected after approved) is not
// repeating: under rejectBy quorum the workflow counts each approver's
// latest decision (changeOneVote), so one who rejects, approves and
// rejects again means the second rejection, although the bridge, lagging,
// may not have seen the revisions the first two made. Such a decision goes
// through, at most perCall times per call (switches), then as a repeat.
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
	switches int    // forwards of an earlier decision after the other kind
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
	decisionNew     repeatVerdict = iota // not forwarded yet
	decisionRepeat                       // the same decision was forwarded, within its backoff
	decisionAgain                        // the same decision was forwarded, longer ago than its backoff
	decisionTooMany                      // perCall different decisions were forwarded
	decisionBack                         // forwarded before, then one of the other kind: the approver went back to it
)

func newDecided(maxCalls, perCall int) *decided {
	return &decided{maxCalls: maxCalls, perCall: perCall, calls: map[decidedKey]*decidedCall{}}
}

// decisionKeys returns the keys of response r forwarded to workflow wfID,
// whose call has arguments of digest current ("" when unknown) at revision
// revision.
func decisionKeys(r Response, wfID, current string, revision int) (call, decision decidedKey) {
	call = hashFields(r.ClientID, wfID, r.ToolCallID)
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

// check says whether decision, which decides kind (approved, rejected),
// was already forwarded for call, as of now.
func (d *decided) check(call, decision decidedKey, kind string, now time.Time) repeatVerdict {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.calls[call]
	if c == nil {
		return decisionNew
	}
	for _, e := range c.entries {
		if e.key != decision {
			continue
		}
		switch {
		case kind != c.latest && c.switches < d.perCall:
			return decisionBack
		case now.Sub(e.last) >= backoff(e.sent):
			return decisionAgain
		}
		return decisionRepeat
	}
	if len(c.entries) >= d.perCall {
		return decisionTooMany
	}
	return decisionNew
}

// add records decision, which decides kind, as forwarded for call at now.
func (d *decided) add(call, decision decidedKey, kind string, now time.Time) {
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
	defer func() { c.latest = kind }()
	for i := range c.entries {
		if c.entries[i].key == decision {
			if kind != c.latest {
				c.switches++
			}
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
