package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"
)

// MaxRunIDLen bounds the runId of a message (Temporal's run ids are UUIDs,
// 36 bytes).
const MaxRunIDLen = 128

// ResetRunID is what a run puts in the RunID of its messages
// (approval-request, approval-resolved, approval-ignored) and of its
// approvals query: its own run id when it was made by a Temporal reset of
// another run, "" otherwise.
//
// A reset copies the history of the run it resets up to a point, the start
// event included, so the reset run's original run id (info.OriginalRunID,
// from that event) is the first run's, while its own is new; in every
// other run the two are equal. The reset run asks again for the calls
// still open at that point, with the same workflow and tool-call ids as
// the run it reset, which readers (the bridge, the approver CLI, the web
// inbox) may hold resolved. Its RunID gives its messages ids of their own
// (AgentMessageID), so Ably does not drop them as duplicates, and tells
// readers that the call is asked again (AskedAgain). Runs that are not
// resets keep the message ids and fields they always had.
//
// It changes no command: only the data of the publishes and the query's
// answer, which replay does not compare (the replayer runs a history under
// its original run id, so a replayed run computes "", whatever its
// recorded inputs say).
func ResetRunID(info *workflow.Info) string {
	if info == nil || info.OriginalRunID == "" || info.OriginalRunID == info.WorkflowExecution.RunID {
		return ""
	}
	return info.WorkflowExecution.RunID
}

// ValidateRunID accepts "" (a run that is not a reset) or 1 to
// MaxRunIDLen bytes of printable ASCII.
func ValidateRunID(id string) error {
	if len(id) > MaxRunIDLen {
		return fmt.Errorf("runId longer than %d bytes", MaxRunIDLen)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return fmt.Errorf("runId holds byte 0x%02x at %d: printable ASCII only", id[i], i)
		}
	}
	return nil
}

// AskedAgain reports whether an approval-request of run reqRun asks again
// for a call that a reader holds resolved, or pending, by run knownRun:
// reqRun is a reset run other than knownRun. The reader then drops what
// it held of the call and shows the request as new. A request of the
// original run ("") never is: no run comes before it.
func AskedAgain(knownRun, reqRun string) bool {
	return reqRun != "" && reqRun != knownRun
}

// FromEarlierRun reports whether a message of run msgRun about a call that
// a reader holds pending by run knownRun comes from a run before it: the
// known run is a reset run, and the message is of the original run, which
// comes before every reset. The reader ignores it (an approval-resolved of
// the original run must not close the call a reset run asks for again).
// Between two reset runs, the channel's order is the only order known: a
// message of another reset run that comes later is the newer run's.
func FromEarlierRun(knownRun, msgRun string) bool {
	return knownRun != "" && msgRun == ""
}
