package bridge

import (
	"encoding/json"
	"slices"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablymsg"
	"github.com/hitl/durable-approvals/workflows"
)

// maxCatchUpPerApprover bounds the approval-responses of one approver that
// a history read replays: a catch-up's newest ones (it reads newest first),
// a gap replay's oldest (it reads oldest first; their newer ones wait for
// the next catch-up).
// A person deciding a queue of requests during an outage sends far fewer;
// a flood of well-formed responses then costs at most this many per
// approver (each at most MaxMessageDataLen of data).
const maxCatchUpPerApprover = 2000

// catchUpFilter says which messages of the channel's history a catch-up
// (newest first) or a gap replay (oldest first) keeps: the agent's
// approval-resolved (cut down to the call they name), the agent's
// approval-requests of calls not resolved at that point, and the
// approval-responses that decode, at most maxPer per approver, except
// those naming a run and a call resolved at that point. It keeps its own
// list, in history's order (messages): a response it holds is placed
// later, when what it reads next tells whether the call stays resolved;
// held responses have a bound of their own, maxPer per approver too, so
// that one approver's responses held cannot push out their older ones
// that are kept.
// Everything else (other names, other publishers of the agent's message
// names, what does not decode or names a call by ids requests.apply
// refuses) is dropped at once, so a flood of junk of
// any size holds no memory during a catch-up, and the agent's own traffic
// costs memory by the calls still open, not by the length of the history:
// a catch-up back to a call that waits 30 days reads every request of
// those 30 days. What is dropped is what replayMessages would pass over,
// and what the bridge live would have dropped: requests.apply ignores a
// request of a resolved call, and a response of one is not signalled.
//
// Read newest first, a call's state is known once its newest resolution is
// read, with one exception: a resolution of the original run (no runId)
// does not close a call that a reset run asks for (workflows.FromEarlierRun;
// its publish was in flight at the reset), and whether one does is told by
// the request read next, which is older. Until then the call is tentative:
// its responses are held, and kept at their place if that request is a
// reset run's (a decision on the reset run's request, published before
// the late resolution; what is older is then read as if that resolution
// were not there), dropped if it is the original run's. A request of
// the original run that came after a reset run's (a second message of the
// replaced run published late) settles it as resolved: the call's state
// after the replay is still right (requests.apply weighs the requests
// kept), but the responses held are dropped; not told apart. Read oldest
// first (a gap replay), the filter follows requests.apply as it reads, but
// for a call asked before the read: the bridge's requests know which run
// asked, so the original run's messages do not settle it.
// It is used by one goroutine.
type catchUpFilter struct {
	agent       string
	maxPer      int
	newestFirst bool
	per         map[string]int // responses kept, by approver clientId
	heldPer     map[string]int // responses held, by approver clientId (at most maxPer too)
	dropped     map[string]bool
	calls       map[requestKey]callState
	read        int                          // messages read, the sequence of the next
	kept        []heldMessage                // in the order read, but for held ones kept later
	held        map[requestKey][]heldMessage // responses of tentative calls, in the order read
}

// heldMessage is a message with its place in the read.
type heldMessage struct {
	seq int
	m   *ably.Message
}

// callPhase is what a filter knows of a call at the point of its read.
type callPhase uint8

const (
	callUnknown   callPhase = iota // nothing read of it that settles it
	callOpen                       // asked (oldest first only)
	callResolved                   // resolved by run callState.run
	callTentative                  // newest first: its newest resolution is the original run's
)

// callState is a call's phase and the run it is held by: the run whose
// request opened it, or the run of its (newest first: newest) resolution.
type callState struct {
	phase callPhase
	run   string
}

func newCatchUpFilter(agentClientID string, maxPer int, newestFirst bool) *catchUpFilter {
	return &catchUpFilter{agent: agentClientID, maxPer: maxPer, newestFirst: newestFirst, per: map[string]int{}, heldPer: map[string]int{},
		dropped: map[string]bool{}, calls: map[requestKey]callState{}, held: map[requestKey][]heldMessage{}}
}

// collect is the ablymsg.HistoryRange.Keep of a catch-up or gap replay:
// it reads m into the filter's own list and keeps nothing in the
// history read's (messages has them, held responses at their place).
func (f *catchUpFilter) collect(m *ably.Message) bool {
	if f.keep(m) {
		f.kept = append(f.kept, heldMessage{f.read, m})
	}
	f.read++
	return false
}

// cut says the read stopped before its start (MaxMessages): the responses
// still held are kept, as their calls' requests may be in the part not
// read. The replay weighs them with what the bridge knows of the calls
// (a call it holds resolved drops them there).
func (f *catchUpFilter) cut() {
	for k := range f.held {
		f.settle(k, true)
	}
}

// messages returns what the filter kept, oldest first. Responses still
// held (the call's request older than the read, unless cut) are dropped:
// the original run's resolution closed their call.
func (f *catchUpFilter) messages() []*ably.Message {
	slices.SortFunc(f.kept, func(a, b heldMessage) int { return a.seq - b.seq })
	out := make([]*ably.Message, len(f.kept))
	for i, h := range f.kept {
		out[i] = h.m
	}
	if f.newestFirst {
		slices.Reverse(out)
	}
	return out
}

// keep reports whether m is kept now (a response held is not, yet). It
// cuts a kept approval-resolved down to its call's ids.
func (f *catchUpFilter) keep(m *ably.Message) bool {
	switch m.Name {
	case workflows.MsgApprovalRequest:
		var d workflows.ApprovalRequestData
		if m.ClientID != f.agent || ablymsg.DecodeData(m.Data, m.Encoding, &d) != nil || !validIDs(d.WorkflowID, d.ToolCallID, d.RunID) {
			return false
		}
		return f.request(requestKey{d.WorkflowID, d.ToolCallID}, d.RunID)
	case workflows.MsgApprovalResolved:
		var d workflows.ApprovalResolvedData
		if m.ClientID != f.agent || ablymsg.DecodeData(m.Data, m.Encoding, &d) != nil || !validIDs(d.WorkflowID, d.ToolCallID, d.RunID) {
			return false
		}
		f.resolution(requestKey{d.WorkflowID, d.ToolCallID}, d.RunID)
		// The run stays: requests.apply weighs it (workflows.FromEarlierRun).
		ids, err := json.Marshal(workflows.ApprovalResolvedData{WorkflowID: d.WorkflowID, ToolCallID: d.ToolCallID, RunID: d.RunID})
		if err != nil {
			return true
		}
		m.Data, m.Encoding, m.Extras = ids, "", nil
		return true
	case workflows.MsgApprovalResponse:
		r, err := DecodeResponse(m)
		if err != nil {
			return false
		}
		k := requestKey{r.WorkflowID, r.ToolCallID}
		phase := f.calls[k].phase
		if r.WorkflowID != "" && phase == callResolved {
			return false
		}
		hold := r.WorkflowID != "" && phase == callTentative
		count := f.per
		if hold {
			count = f.heldPer
		}
		if count[m.ClientID] >= f.maxPer {
			f.dropped[m.ClientID] = true
			return false
		}
		count[m.ClientID]++
		if hold {
			f.held[k] = append(f.held[k], heldMessage{f.read, m})
		}
		return !hold
	}
	return false
}

// request reads a request of call k by run (runId), and reports whether
// to keep it.
func (f *catchUpFilter) request(k requestKey, run string) bool {
	c := f.calls[k]
	if !f.newestFirst {
		switch {
		case c.phase == callResolved && !workflows.AskedAgain(c.run, run):
			return false // requests.apply ignores it
		case c.phase == callOpen && !workflows.AskedAgain(c.run, run) && workflows.FromEarlierRun(c.run, run):
			return true // ignored too; the call stays its reset run's
		case c.phase == callUnknown && run == "":
			// Whether a reset run asked for it before the read, which
			// the original run's messages do not close, the bridge's
			// requests tell when they replay it.
			return true
		}
		f.calls[k] = callState{callOpen, run}
		return true
	}
	switch c.phase {
	case callResolved:
		// An older request of a reset run other than the one whose
		// resolution was read is kept: requests.apply weighs them.
		return workflows.AskedAgain(c.run, run)
	case callTentative:
		if run == "" {
			// The original run's: its resolution closed the call.
			f.settle(k, false)
			f.calls[k] = callState{callResolved, c.run}
			return false
		}
		// A reset run's: the original run's resolution read before
		// this comes late and does not close the call. What is older
		// is read as if it were not there: a resolution older than
		// this request still closes the call for the responses before
		// it, as the bridge live held it (and requests.apply weighs
		// the requests and resolutions kept).
		f.settle(k, true)
		delete(f.calls, k)
	}
	return true
}

// resolution reads a resolution of call k by run.
func (f *catchUpFilter) resolution(k requestKey, run string) {
	c := f.calls[k]
	if !f.newestFirst {
		switch {
		case c.phase == callOpen && workflows.FromEarlierRun(c.run, run):
			return // requests.apply ignores it
		case c.phase == callUnknown && run == "":
			return // as an original run's request: its responses are kept
		}
		f.calls[k] = callState{callResolved, run}
		return
	}
	switch c.phase {
	case callUnknown:
		if run == "" {
			f.calls[k] = callState{callTentative, run}
		} else {
			f.calls[k] = callState{callResolved, run}
		}
	case callTentative:
		if run != "" {
			// A reset run's resolution, older than the original run's
			// late one: nothing stays open for the late one to spare.
			f.settle(k, false)
			f.calls[k] = callState{callResolved, c.run}
		}
	}
}

// settle keeps (or drops) the responses held for tentative call k. Kept,
// they count toward their approver's maxPer, which they may pass: they
// are newer than what was read since, so what the bound drops is still
// older than all that is kept.
func (f *catchUpFilter) settle(k requestKey, keep bool) {
	for _, h := range f.held[k] {
		f.heldPer[h.m.ClientID]--
		if keep {
			f.per[h.m.ClientID]++
			f.kept = append(f.kept, h)
		}
	}
	delete(f.held, k)
}

// capped lists, sorted, the approvers whose older responses keep dropped.
func (f *catchUpFilter) capped() []string {
	var out []string
	for who := range f.dropped {
		out = append(out, who)
	}
	slices.Sort(out)
	return out
}
