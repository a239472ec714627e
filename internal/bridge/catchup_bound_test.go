package bridge

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
)

// logged reports whether the JSON log lines in logs hold one whose msg
// starts with msg and whose clientId is who, with max as its max.
func logged(t *testing.T, logs, msg, who string, max int) bool {
	t.Helper()
	for line := range strings.Lines(logs) {
		var l struct {
			Msg      string `json:"msg"`
			ClientID string `json:"clientId"`
			Max      int    `json:"max"`
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if strings.HasPrefix(l.Msg, msg) && l.ClientID == who {
			if l.Max != max {
				t.Errorf("%q for %s says max %d, want %d", msg, who, l.Max, max)
			}
			return true
		}
	}
	return false
}

// TestHistoryReplaysTwoThousandPerApprover: a history read (the catch-up
// after an attach, newest first, and the replay of dropped live responses,
// oldest first) replays at most 2,000 approval-responses per approver, as
// ARCHITECTURE.md says: an approver who published exactly 2,000 has all of
// them replayed and is not logged; one who published 2,001 has one left
// out, logged as an error with max 2000: the catch-up leaves out the
// oldest (it keeps the newest), the gap replay the newest (it keeps the
// oldest). The one left out is not lost: the other read forwards it, and
// passes over the 2,000 forwarded already, as the workflow would only
// deduplicate them. (The bridge's mutation review found the bound's value
// untested: the filter's own tests use small bounds.)
func TestHistoryReplaysTwoThousandPerApprover(t *testing.T) {
	const bound = 2000
	ac := startAbly(t)
	// alice approves wf-0 to wf-2000, bob wf-0 to wf-1999; bob's
	// publishes come between alice's, so that each read meets both
	// approvers all along.
	const chunk = 100
	for lo := 0; lo <= bound; lo += chunk {
		for _, who := range []string{"alice", "bob"} {
			hi := min(lo+chunk, bound+1)
			if who == "bob" {
				hi = min(hi, bound)
			}
			var batch []*ably.Message
			for i := lo; i < hi; i++ {
				batch = append(batch, approvalOf(fmt.Sprint("wf-", i)))
			}
			if len(batch) > 0 {
				publishAs(t, ac, who, "publisher", batch...)
			}
		}
	}
	const (
		catchUpCapped = "catch-up: an approver published more approval-responses"
		gapCapped     = "replay of dropped live approval-responses: an approver published more approval-responses"
	)
	type step struct {
		gap         bool     // the gap replay; else the catch-up
		alice, bob  []string // forwarded
		aliceCapped string   // the log saying alice passed the bound
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "catch-up, then a gap replay", steps: []step{
			{alice: wfRange(1, bound), bob: wfRange(0, bound-1), aliceCapped: catchUpCapped},
			{gap: true, alice: wfRange(0, 0), aliceCapped: gapCapped},
		}},
		{name: "gap replay, then a catch-up", steps: []step{
			{gap: true, alice: wfRange(0, bound-1), bob: wfRange(0, bound-1), aliceCapped: gapCapped},
			{alice: wfRange(bound, bound), aliceCapped: catchUpCapped},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeTemporal()
			addWorkflows(f, bound+1)
			b, logs := historyRunner(t, ac, f, Config{})
			start := time.Now().Add(-time.Minute)
			for i, s := range tt.steps {
				before, logsBefore := len(f.sent()), len(logs())
				if s.gap {
					b.noteGap(start.UnixMilli())
					b.replayGap(t.Context())
				} else if err := b.replay(t.Context()); err != nil {
					t.Fatalf("step %d: catch-up: %v", i+1, err)
				}
				sent := f.sent()
				if got := forwarded(sent, before, "alice"); !slices.Equal(got, s.alice) {
					t.Errorf("step %d forwarded %d of alice's (%v…), want %d (%v…)", i+1, len(got), got[:min(3, len(got))], len(s.alice), s.alice[:min(3, len(s.alice))])
				}
				if got := forwarded(sent, before, "bob"); !slices.Equal(got, s.bob) {
					t.Errorf("step %d forwarded %d of bob's, want %d", i+1, len(got), len(s.bob))
				}
				stepLogs := logs()[logsBefore:]
				if !logged(t, stepLogs, s.aliceCapped, "alice", bound) {
					t.Errorf("step %d: no %q logged for alice", i+1, s.aliceCapped)
				}
				if logged(t, stepLogs, s.aliceCapped, "bob", bound) {
					t.Errorf("step %d: bob, at the bound, logged as past it", i+1)
				}
			}
			if got, want := len(f.sent()), 2*bound+1; got != want {
				t.Errorf("%d signals in all, want %d, each once", got, want)
			}
		})
	}
}
