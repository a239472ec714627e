package bridge

import (
	"slices"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/workflows"
)

// maxCatchUpPerApprover bounds the approval-responses of one approver that
// a catch-up replays: their newest ones, since history is read newest first.
// A person deciding a queue of requests during an outage sends far fewer;
// a flood of well-formed responses then costs at most this many per
// approver (each at most MaxMessageDataLen of data).
const maxCatchUpPerApprover = 2000

// catchUpFilter says which messages of the channel's history a catch-up
// keeps, as the history is read: the agent's approval-requests and
// approval-resolved, and the approval-responses that decode, at most
// maxPer per approver. Everything else (other names, other publishers of
// the agent's message names, responses that do not decode) is dropped at
// once, so a flood of junk of any size holds no memory during a catch-up.
// It is used by one goroutine.
type catchUpFilter struct {
	agent   string
	maxPer  int
	per     map[string]int // responses kept, by approver clientId
	dropped map[string]bool
}

func newCatchUpFilter(agentClientID string, maxPer int) *catchUpFilter {
	return &catchUpFilter{agent: agentClientID, maxPer: maxPer, per: map[string]int{}, dropped: map[string]bool{}}
}

// keep is the ablymsg.HistoryRange.Keep of a catch-up.
func (f *catchUpFilter) keep(m *ably.Message) bool {
	switch m.Name {
	case workflows.MsgApprovalRequest, workflows.MsgApprovalResolved:
		return m.ClientID == f.agent
	case workflows.MsgApprovalResponse:
		if _, err := DecodeResponse(m); err != nil {
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
