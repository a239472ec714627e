package bridge

import (
	"encoding/json"
	"slices"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablymsg"
	"github.com/hitl/durable-approvals/workflows"
)

// maxCatchUpPerApprover bounds the approval-responses of one approver that
// a catch-up replays: their newest ones, since history is read newest first.
// A person deciding a queue of requests during an outage sends far fewer;
// a flood of well-formed responses then costs at most this many per
// approver (each at most MaxMessageDataLen of data).
const maxCatchUpPerApprover = 2000

// catchUpFilter says which messages of the channel's history a catch-up
// keeps, as the history is read, newest first: the agent's
// approval-resolved (cut down to the call they name), the agent's
// approval-requests of calls not resolved since, and the
// approval-responses that decode, at most maxPer per approver, except
// those naming a run and a call resolved since. (A call that a run made by
// a reset asks for again is resolved since only by its resolutions that
// are newer than that request, which are read first.) Everything else (other
// names, other publishers of the agent's message names, what does not
// decode) is dropped at once, so a flood of junk of any size holds no
// memory during a catch-up, and the agent's own traffic costs memory by
// the calls still open, not by the length of the history: a catch-up back
// to a call that waits 30 days reads every request of those 30 days. What
// is dropped is what replayMessages would pass over: requests.apply
// ignores a request of a resolved call, and a response of one is not
// signalled. It is used by one goroutine.
type catchUpFilter struct {
	agent    string
	maxPer   int
	per      map[string]int // responses kept, by approver clientId
	dropped  map[string]bool
	resolved map[requestKey]string // calls whose approval-resolved was read: the newest one's run
}

func newCatchUpFilter(agentClientID string, maxPer int) *catchUpFilter {
	return &catchUpFilter{agent: agentClientID, maxPer: maxPer, per: map[string]int{}, dropped: map[string]bool{},
		resolved: map[requestKey]string{}}
}

// keep is the ablymsg.HistoryRange.Keep of a catch-up. It cuts a kept
// approval-resolved down to its call's ids.
func (f *catchUpFilter) keep(m *ably.Message) bool {
	switch m.Name {
	case workflows.MsgApprovalRequest:
		var d workflows.ApprovalRequestData
		if m.ClientID != f.agent || ablymsg.DecodeData(m.Data, m.Encoding, &d) != nil {
			return false
		}
		// An older request of a reset run other than the one whose
		// resolution was read is kept: requests.apply weighs them
		// (a resolution of the replaced run, published late, does not
		// close the call the reset run asks again).
		run, done := f.resolved[requestKey{d.WorkflowID, d.ToolCallID}]
		return !done || workflows.AskedAgain(run, d.RunID)
	case workflows.MsgApprovalResolved:
		var d workflows.ApprovalResolvedData
		if m.ClientID != f.agent || ablymsg.DecodeData(m.Data, m.Encoding, &d) != nil {
			return false
		}
		k := requestKey{d.WorkflowID, d.ToolCallID}
		if _, seen := f.resolved[k]; !seen {
			f.resolved[k] = d.RunID // read newest first: the newest counts
		}
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
		if _, done := f.resolved[requestKey{r.WorkflowID, r.ToolCallID}]; done && r.WorkflowID != "" {
			return false
		}
		if f.per[m.ClientID] >= f.maxPer {
			f.dropped[m.ClientID] = true
			return false
		}
		f.per[m.ClientID]++
		return true
	}
	return false
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
