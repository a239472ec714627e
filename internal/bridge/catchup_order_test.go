package bridge

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/workflows"
)

// TestCatchUpFilterAgreesWithReplay reads histories of one call, made of
// requests and resolutions of the original run and of two reset runs and
// approvals, through the filter as a catch-up does (all of it, newest
// first) and as a gap replay does (oldest first, from any point on, the
// bridge's requests holding what came before), and checks it against
// replaying the whole history without a filter:
//   - the requests and resolutions kept leave the call as the whole
//     history does (open by the same run, or resolved);
//   - every approval published while the call was open, by the run it is
//     open by at the end, is kept (the bridge live forwarded it, and the
//     replay must too; the bridge's mutation review found one dropped: a
//     decision on a reset run's request published before the replaced
//     run's late resolution);
//   - a catch-up drops an approval of a call that a resolution after it
//     closes (one the whole history's replay does not pass over), as it
//     reads it or once the request read next tells (memory), whatever
//     late resolution of the replaced run comes after that: with one,
//     it read all that came before as open, and replayed to the reset
//     run an approval of a call closed since;
//   - a catch-up holds nothing once it has read a request of the call
//     (memory: what it holds, the request read next tells);
//   - what is kept is in history's order.
//
// A gap replay is checked on every history up to four messages long and
// on the five long a catch-up is checked on: all but those holding these (they make no state a
// catch-up tells apart as it reads): a run's resolution before its
// request, a run's request after its own resolution, the original run's
// request after a reset run's (two late messages of the replaced run, as
// the filter's comment says), and the first reset run's messages after
// the second's request (between two reset runs the channel's order
// decides: such a late resolution closes the call, live too, until the
// second run's request is copied again).
func TestCatchUpFilterAgreesWithReplay(t *testing.T) {
	agent := workflows.DefaultAgentClientID
	now := time.Now()
	// o, r, c: a request of the original run, of a reset run, of a second
	// reset run; O, R, C: a resolution of each; d: an approval.
	const events = "oOrRcCd"
	withRun := func(m *ably.Message, run string) *ably.Message {
		if run != "" {
			m.Data.(map[string]any)["runId"] = run
		}
		return m
	}
	build := func(h string) []*ably.Message {
		var out []*ably.Message
		for i, e := range h {
			var m *ably.Message
			switch e {
			case 'o', 'r', 'c':
				m = requestFrom(agent, "call_1", "wf-1", now.Add(time.Hour))
			case 'O', 'R', 'C':
				m = resolvedFrom(agent, "call_1", "wf-1")
			case 'd':
				m = msgFrom("alice", i)
				m.Extras["headers"] = map[string]any{"toolCallId": "call_1", "workflowId": "wf-1"}
			}
			switch e {
			case 'r', 'R':
				withRun(m, "run-b")
			case 'c', 'C':
				withRun(m, "run-c")
			}
			m.ID = fmt.Sprintf("%c%d", e, i)
			out = append(out, m)
		}
		return out
	}
	// views replays msgs' requests and resolutions after the bridge's
	// requests saw before: views[i] is whether the call is open, and by
	// which run, or resolved, after msgs[:i].
	type callView struct {
		open, resolved bool
		run            string
	}
	views := func(before, msgs []*ably.Message) []callView {
		q := newRequests(agent, 10)
		for _, m := range before {
			q.apply(m)
		}
		look := func() callView {
			r, open, resolved := q.lookup("wf-1", "call_1", now)
			return callView{open, resolved, r.RunID}
		}
		out := []callView{look()}
		for _, m := range msgs {
			q.apply(m)
			out = append(out, look())
		}
		return out
	}
	// closedLater reports whether a resolution after h[i] leaves the call
	// resolved, replaying the whole history (then).
	closedLater := func(h string, then []callView, i int) bool {
		for j := i + 1; j < len(h); j++ {
			if strings.ContainsRune("ORC", rune(h[j])) && then[j+1].resolved {
				return true
			}
		}
		return false
	}
	var histories []string
	var grow func(h string)
	grow = func(h string) {
		if h != "" && (len(h) < 5 || !unordered(h)) {
			histories = append(histories, h)
		}
		if len(h) == 5 {
			return
		}
		for _, e := range events {
			grow(h + string(e))
		}
	}
	grow("")
	failures := 0
	for _, h := range histories {
		all := build(h)
		then := views(nil, all)
		end := then[len(all)]
		place := map[string]int{}
		for i, m := range all {
			place[m.ID] = i
		}
		// A catch-up reads all of it newest first; a gap replay reads
		// it oldest first from any point on, the bridge's requests
		// holding what came before.
		reads := []struct {
			newestFirst bool
			from        int
		}{{true, 0}}
		if unordered(h) {
			reads = reads[:0] // the gap replay, oldest first, is asked to agree still
		}
		for from := range len(h) {
			reads = append(reads, struct {
				newestFirst bool
				from        int
			}{false, from})
		}
		for _, rd := range reads {
			msgs := build(h)
			f := newCatchUpFilter(agent, 100, rd.newestFirst)
			problem := ""
			if rd.newestFirst {
				for i := len(msgs) - 1; i >= 0; i-- {
					f.collect(msgs[i])
					if h[i] == 'o' || h[i] == 'r' || h[i] == 'c' {
						if n := len(f.held); n != 0 && problem == "" {
							problem = fmt.Sprintf("holds responses of %d calls after reading request %s", n, msgs[i].ID)
						}
					}
				}
			} else {
				for _, m := range msgs[rd.from:] {
					f.collect(m)
				}
			}
			kept := f.messages()
			var ids []string
			for _, m := range kept {
				ids = append(ids, m.ID)
			}
			switch got := views(all[:rd.from], kept)[len(kept)]; {
			case problem != "":
			case got != end:
				problem = fmt.Sprintf("leaves the call %+v, the whole history %+v", got, end)
			case !slices.IsSortedFunc(ids, func(a, b string) int { return place[a] - place[b] }):
				problem = fmt.Sprintf("kept %v out of history's order", ids)
			}
			for i := rd.from; i < len(h) && problem == ""; i++ {
				if h[i] != 'd' {
					continue
				}
				switch in := slices.Contains(ids, all[i].ID); {
				case !in && then[i].open && end.open && then[i].run == end.run:
					problem = fmt.Sprintf("dropped approval %s (kept %v)", all[i].ID, ids)
				case in && rd.newestFirst && closedLater(h, then, i):
					// Read after that resolution (newest first), it is
					// dropped as it is read, or held until the request
					// read next.
					problem = fmt.Sprintf("kept approval %s of a call resolved since (kept %v)", all[i].ID, ids)
				}
			}
			if problem != "" {
				failures++
				if failures <= 10 {
					t.Errorf("history %s (oldest first), read newest first=%v from %d: %s", h, rd.newestFirst, rd.from, problem)
				}
			}
		}
	}
	if failures > 10 {
		t.Errorf("... %d failures in all, of %d histories", failures, len(histories))
	}
}

// unordered reports whether history h holds a message that
// TestCatchUpFilterAgreesWithReplay leaves out of the catch-up's checks.
func unordered(h string) bool {
	for i, e := range h {
		before := h[:i]
		switch {
		case e == 'o' && strings.ContainsAny(before, "rc"),
			e == 'r' && strings.ContainsAny(before, "Rc"),
			e == 'c' && strings.ContainsRune(before, 'C'),
			e == 'R' && (!strings.ContainsRune(before, 'r') || strings.ContainsRune(before, 'c')),
			e == 'C' && !strings.ContainsRune(before, 'c'):
			return true
		}
	}
	return false
}

// TestCatchUpFilterHeldShare: the responses a catch-up holds have a bound
// of their own, so they do not push out an approver's older responses
// while held; kept, they count toward the approver's bound, and what the
// bound then drops is older than everything kept.
func TestCatchUpFilterHeldShare(t *testing.T) {
	agent := workflows.DefaultAgentClientID
	approval := func(i int, call string) *ably.Message {
		m := msgFrom("alice", i)
		m.Extras["headers"] = map[string]any{"toolCallId": call, "workflowId": "wf-1"}
		return m
	}
	resetRun := func(m *ably.Message) *ably.Message { m.Data.(map[string]any)["runId"] = "run-b"; return m }
	request := func() *ably.Message { return requestFrom(agent, "call_1", "wf-1", time.Now().Add(time.Hour)) }
	for _, tt := range []struct {
		name   string
		read   []*ably.Message // newest first
		want   []string        // kept, oldest first
		capped bool
	}{
		{"held, then dropped", []*ably.Message{
			resolvedFrom(agent, "call_1", "wf-1"),        // the original run's: call_1 tentative
			approval(1, "call_1"), approval(2, "call_1"), // held
			approval(3, "call_1"),                        // over the bound for held ones
			approval(4, "call_2"), approval(5, "call_2"), // kept while those are held
			request(),             // the original run's: held ones dropped
			approval(6, "call_2"), // over the bound
		}, []string{"alice-conn:0:5", "alice-conn:0:4", ""}, true},
		{"held, then kept", []*ably.Message{
			resolvedFrom(agent, "call_1", "wf-1"),
			approval(1, "call_1"), approval(2, "call_1"),
			approval(4, "call_2"),
			resetRun(request()),   // a reset run's: held ones kept, three in all
			approval(5, "call_2"), // over the bound, older than all kept
		}, []string{"request", "alice-conn:0:4", "alice-conn:0:2", "alice-conn:0:1", ""}, true},
		{"within the bounds", []*ably.Message{
			resolvedFrom(agent, "call_1", "wf-1"),
			approval(1, "call_1"), approval(2, "call_1"),
			approval(4, "call_2"), approval(5, "call_2"),
			request(),
		}, []string{"alice-conn:0:5", "alice-conn:0:4", ""}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newCatchUpFilter(agent, 2, true)
			for _, m := range tt.read {
				if m.Name == workflows.MsgApprovalRequest {
					m.ID = "request"
				}
				f.collect(m)
			}
			var ids []string
			for _, m := range f.messages() {
				ids = append(ids, m.ID)
			}
			if !slices.Equal(ids, tt.want) {
				t.Errorf("kept %q, want %q (the resolution has no id)", ids, tt.want)
			}
			if got := len(f.capped()) == 1; got != tt.capped {
				t.Errorf("capped = %q, want alice's: %v", f.capped(), tt.capped)
			}
		})
	}
}

// TestCatchUpFilterCut: a catch-up cut short (more messages than it reads
// at once) keeps the responses it still holds, whose call's request may
// be in the part not read; read whole, it drops them (the original run's
// resolution closed their call).
func TestCatchUpFilterCut(t *testing.T) {
	agent := workflows.DefaultAgentClientID
	for _, cut := range []bool{false, true} {
		f := newCatchUpFilter(agent, 10, true)
		d := msgFrom("alice", 1)
		d.Extras["headers"] = map[string]any{"toolCallId": "call_1", "workflowId": "wf-1"}
		f.collect(resolvedFrom(agent, "call_1", "wf-1")) // newest first
		f.collect(d)
		if cut {
			f.cut()
		}
		msgs := f.messages()
		if kept := slices.Contains(msgs, d); kept != cut {
			t.Errorf("cut=%v: the held approval kept = %v", cut, kept)
		}
	}
}
