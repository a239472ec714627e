package reannounce

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/hitl/durable-approvals/internal/ablymsg"
	"github.com/hitl/durable-approvals/workflows"
)

// resolution is an approval-resolved on the channel, with who published it.
type resolution struct {
	id, clientID string
	d            workflows.ApprovalResolvedData
}

// resolutions returns the approval-resolved messages among the channel's
// newest max messages, newest first.
func resolutions(t *testing.T, h *AblyHistory, max int) []resolution {
	t.Helper()
	var out []resolution
	if err := h.Newest(t.Context(), time.Now().Add(-time.Hour), max, func(m *ably.Message) bool {
		var d workflows.ApprovalResolvedData
		if m.Name == workflows.MsgApprovalResolved && ablymsg.DecodeData(m.Data, m.Encoding, &d) == nil {
			out = append(out, resolution{m.ID, m.ClientID, d})
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

const (
	statusRunning    = enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	statusTerminated = enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED
)

// TestKeeperResolvesClosedRuns: a request in view that the agent never
// resolved, of a workflow id that is not waiting and whose current run
// ended, is resolved (cancelled, saying how the run ended, with the
// request's run and the id every keeper makes); any other is left alone.
func TestKeeperResolvesClosedRuns(t *testing.T) {
	closed := func(s enumspb.WorkflowExecutionStatus) map[string]RunState {
		return map[string]RunState{"wf-1": {RunID: "run-1", Status: s}}
	}
	ask := func(t *testing.T, r *keeperRig) { r.announce(t, requestData("wf-1", "call_1", 0)) }
	// at is a clock fixed at a whole second a minute from now; later
	// reads it a minute on after its first reading (a sweep's history
	// read).
	at := time.Now().Truncate(time.Second).Add(time.Minute)
	fixed := func() func() time.Time { return func() time.Time { return at } }
	later := func() func() time.Time {
		read := false
		return func() time.Time {
			if !read {
				read = true
				return at
			}
			return at.Add(time.Minute)
		}
	}
	tests := []struct {
		name      string
		setup     func(t *testing.T, r *keeperRig)
		states    map[string]RunState
		clock     func() func() time.Time // the keeper's Now; nil: time.Now
		maxPub    int
		wantDesc  []string
		wantRes   []string // "workflowId/toolCallId/runId/reason word" resolved, in order
		wantUndes int
		wantErr   string
		wantNext  int // resolved by the next sweep
	}{
		{name: "terminated", setup: ask, states: closed(statusTerminated), wantDesc: []string{"wf-1"}, wantRes: []string{"wf-1/call_1//terminated"}},
		{name: "timed out", setup: ask, states: closed(enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT), wantDesc: []string{"wf-1"}, wantRes: []string{"wf-1/call_1//timed out"}},
		{name: "failed", setup: ask, states: closed(enumspb.WORKFLOW_EXECUTION_STATUS_FAILED), wantDesc: []string{"wf-1"}, wantRes: []string{"wf-1/call_1//failed"}},
		{name: "completed without its resolution in view", setup: ask, states: closed(enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED), wantDesc: []string{"wf-1"}, wantRes: []string{"wf-1/call_1//completed"}},
		{name: "cancelled without its resolution in view", setup: ask, states: closed(enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED), wantDesc: []string{"wf-1"}, wantRes: []string{"wf-1/call_1//cancelled"}},
		{
			name:  "closed after the history read began: its own resolution may have come after it",
			setup: ask, wantDesc: []string{"wf-1"},
			states: map[string]RunState{"wf-1": {RunID: "run-1", Status: enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, CloseTime: time.Now().Add(time.Hour)}},
		},
		{
			name:  "closed less than ClosedFor before the history read",
			setup: ask, wantDesc: []string{"wf-1"},
			states: map[string]RunState{"wf-1": {RunID: "run-1", Status: statusTerminated, CloseTime: time.Now().Add(-DefaultClosedFor / 2)}},
		},
		{
			name: "closed ClosedFor before the history read", setup: ask,
			states:   map[string]RunState{"wf-1": {RunID: "run-1", Status: statusTerminated, CloseTime: time.Now().Add(-DefaultClosedFor - time.Second)}},
			wantDesc: []string{"wf-1"}, wantRes: []string{"wf-1/call_1//terminated"},
		},
		{
			name: "closed exactly ClosedFor before the history read", setup: ask, clock: fixed,
			states:   map[string]RunState{"wf-1": {RunID: "run-1", Status: statusTerminated, CloseTime: at.Add(-DefaultClosedFor)}},
			wantDesc: []string{"wf-1"}, wantRes: []string{"wf-1/call_1//terminated"},
		},
		{
			// Its own resolution may have come after the read began; the
			// next sweep's read finds it or resolves the request.
			name: "closed less than ClosedFor before the history read, though longer before the sweep describes it", setup: ask, clock: later,
			states:   map[string]RunState{"wf-1": {RunID: "run-1", Status: statusTerminated, CloseTime: at.Add(-DefaultClosedFor / 3)}},
			wantDesc: []string{"wf-1"}, wantNext: 1,
		},
		{
			name: "at its expiry: readers drop it themselves", clock: fixed,
			setup: func(t *testing.T, r *keeperRig) {
				d := requestData("wf-1", "call_1", 0)
				d.ExpiresAt = at
				r.announce(t, d)
			},
			states: closed(statusTerminated),
		},
		{name: "running (a reused workflow id, a reset run not listed yet)", setup: ask, states: closed(statusRunning), wantDesc: []string{"wf-1"}},
		{name: "continued as new: its successor is the current run", setup: ask, states: closed(enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW), wantDesc: []string{"wf-1"}},
		{name: "unknown to Temporal (another namespace, past retention)", setup: ask, wantDesc: []string{"wf-1"}},
		{
			name: "a waiting run listed is not described",
			setup: func(t *testing.T, r *keeperRig) {
				r.pending.pend("wf-1", "call_1")
				ask(t, r)
			},
			states: closed(statusTerminated),
		},
		{
			name: "resolved in view",
			setup: func(t *testing.T, r *keeperRig) {
				ask(t, r)
				r.resolve(t, "wf-1", "call_1")
			},
			states: closed(statusTerminated),
		},
		{
			name: "resolved before a late copy of its request",
			setup: func(t *testing.T, r *keeperRig) {
				r.resolve(t, "wf-1", "call_1")
				ask(t, r)
			},
			states: closed(statusTerminated),
		},
		{
			name: "expired: readers drop it themselves",
			setup: func(t *testing.T, r *keeperRig) {
				d := requestData("wf-1", "call_1", 0)
				d.ExpiresAt = time.Now().Add(-time.Second)
				r.announce(t, d)
			},
			states: closed(statusTerminated),
		},
		{
			name: "a forged request from another client",
			setup: func(t *testing.T, r *keeperRig) {
				m, err := message(r.idKey, requestData("wf-1", "call_1", 0))
				if err != nil {
					t.Fatal(err)
				}
				m.ID = "forged-1"
				r.publish(t, r.other, m)
			},
			states: closed(statusTerminated),
		},
		{
			name: "a reset run's request: resolved with its RunID; the original's resolution does not count for it",
			setup: func(t *testing.T, r *keeperRig) {
				ask(t, r)
				r.resolve(t, "wf-1", "call_1")
				d := requestData("wf-1", "call_1", 0)
				d.RunID = "run-1"
				r.announce(t, d)
			},
			states: closed(statusTerminated), wantDesc: []string{"wf-1"}, wantRes: []string{"wf-1/call_1/run-1/terminated"},
		},
		{
			name: "the replaced run's request, asked again and resolved by a reset run: readers list neither",
			setup: func(t *testing.T, r *keeperRig) {
				ask(t, r)
				d := requestData("wf-1", "call_1", 0)
				d.RunID = "run-1"
				r.announce(t, d)
				r.resolveRun(t, "wf-1", "call_1", "run-1")
			},
			states: closed(enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED),
		},
		{
			name: "a late resolution of the replaced run does not close the reset run's request",
			setup: func(t *testing.T, r *keeperRig) {
				ask(t, r)
				d := requestData("wf-1", "call_1", 0)
				d.RunID = "run-1"
				r.announce(t, d)
				r.resolve(t, "wf-1", "call_1")
			},
			states: closed(statusTerminated), wantDesc: []string{"wf-1"}, wantRes: []string{"wf-1/call_1/run-1/terminated"},
		},
		{
			name: "a late request of the replaced run does not stand for the reset run's request before it",
			setup: func(t *testing.T, r *keeperRig) {
				d := requestData("wf-1", "call_1", 0)
				d.RunID = "run-1"
				r.announce(t, d)
				ask(t, r)
			},
			states: closed(statusTerminated), wantDesc: []string{"wf-1"}, wantRes: []string{"wf-1/call_1/run-1/terminated"},
		},
		{
			name: "the newest revision's request counts once; two calls of one run, one describe",
			setup: func(t *testing.T, r *keeperRig) {
				r.announce(t, requestData("wf-1", "call_1", 0))
				r.announce(t, requestData("wf-1", "call_2", 0))
				r.announce(t, requestData("wf-1", "call_1", 1))
			},
			states: closed(statusTerminated), wantDesc: []string{"wf-1"},
			wantRes: []string{"wf-1/call_1//terminated", "wf-1/call_2//terminated"},
		},
		{
			name: "a failing describe is reported and the others are still resolved",
			setup: func(t *testing.T, r *keeperRig) {
				r.announce(t, requestData("wf-2", "call_1", 0))
				ask(t, r)
				r.pending.describeFails = map[string]bool{"wf-1": true}
			},
			states:   map[string]RunState{"wf-2": {RunID: "run-2", Status: statusTerminated}},
			wantDesc: []string{"wf-1", "wf-2"}, wantRes: []string{"wf-2/call_1//terminated"},
			wantErr: "run wf-1: describe: describe failed",
		},
		{
			name: "at most MaxPublish workflow ids described; the rest waits for the next sweep",
			setup: func(t *testing.T, r *keeperRig) {
				r.announce(t, requestData("wf-2", "call_1", 0))
				ask(t, r)
			},
			states: map[string]RunState{"wf-1": {RunID: "run-1", Status: statusRunning}, "wf-2": {RunID: "run-2", Status: statusTerminated}},
			maxPub: 1, wantDesc: []string{"wf-1"}, wantUndes: 1,
		},
		{
			name: "at most MaxPublish resolved, within one workflow id too; the rest waits for the next sweep",
			setup: func(t *testing.T, r *keeperRig) {
				ask(t, r)
				r.announce(t, requestData("wf-1", "call_2", 0))
			},
			states: closed(statusTerminated),
			maxPub: 1, wantDesc: []string{"wf-1"}, wantRes: []string{"wf-1/call_2//terminated"}, wantUndes: 1, wantNext: 1,
		},
		{
			name: "no workflow id described once MaxPublish are resolved",
			setup: func(t *testing.T, r *keeperRig) {
				r.announce(t, requestData("wf-2", "call_1", 0))
				ask(t, r)
				r.announce(t, requestData("wf-1", "call_2", 0))
			},
			states: map[string]RunState{"wf-1": {RunID: "run-1", Status: statusTerminated}, "wf-2": {RunID: "run-2", Status: statusTerminated}},
			maxPub: 2, wantDesc: []string{"wf-1"}, wantRes: []string{"wf-1/call_1//terminated", "wf-1/call_2//terminated"}, wantUndes: 1, wantNext: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newKeeperRig(t)
			r.pending.states = tc.states
			tc.setup(t, r)
			k := r.keeper(nil)
			k.Window = 100
			k.MaxPublish = tc.maxPub
			if tc.clock != nil {
				k.Now = tc.clock()
			}
			res, err := k.Sweep(t.Context())
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Sweep: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("Sweep error = %v, want %q", err, tc.wantErr)
			}
			if !slices.Equal(r.pending.described, tc.wantDesc) {
				t.Errorf("described %q, want %q", r.pending.described, tc.wantDesc)
			}
			var got []string
			for _, m := range resolutions(t, r.hist, 100) {
				if m.d.Outcome != workflows.OutcomeCancelled {
					continue // the test's own (r.resolve, approved)
				}
				d := m.d
				st := tc.states[d.WorkflowID]
				if want, _ := d.ClosedRunMessage(r.idKey, st.RunID); m.id != want.ID || m.clientID != workflows.DefaultAgentClientID ||
					d.Outcome != workflows.OutcomeCancelled || d.Tool != "publish_blog_post" {
					t.Errorf("resolution %s from %s: %+v; want outcome cancelled from the agent, id %s", m.id, m.clientID, d, want.ID)
				}
				word := strings.TrimSuffix(strings.TrimPrefix(d.Reason, "the run ended ("), ") before it announced the call's outcome; it can no longer be decided")
				got = append(got, fmt.Sprintf("%s/%s/%s/%s", d.WorkflowID, d.ToolCallID, d.RunID, word))
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.wantRes) {
				t.Errorf("resolved %q, want %q", got, tc.wantRes)
			}
			if res.Resolved != len(tc.wantRes) || res.Undescribed != tc.wantUndes {
				t.Errorf("result %+v: want %d resolved, %d undescribed", res, len(tc.wantRes), tc.wantUndes)
			}
			// The next sweep finds those resolved in view: it publishes no
			// second resolution (only what this sweep left), and describes
			// only the workflow ids left (a running or unknown one is
			// described again each sweep).
			r.pending.described = nil
			res, err = k.Sweep(t.Context())
			if res.Resolved != tc.wantNext {
				t.Errorf("second sweep resolved %d, want %d: %+v, %v", res.Resolved, tc.wantNext, res, err)
			}
			if tc.wantUndes == 0 && tc.wantErr == "" && len(tc.wantRes) > 0 && (err != nil || len(r.pending.described) != 0) {
				t.Errorf("second sweep: %+v, %v, described %q; want nothing done", res, err, r.pending.described)
			}
		})
	}
}

// TestKeeperSweepsWithNoWaitingRun: with no waiting run listed a sweep
// still reads the window (a run terminated while it waited is no longer
// listed) and its default Start, at random, is not asked to pick among
// no runs (rand.N panics on 0).
func TestKeeperSweepsWithNoWaitingRun(t *testing.T) {
	r := newKeeperRig(t)
	r.announce(t, requestData("wf-1", "call_1", 0))
	r.pending.states = map[string]RunState{"wf-1": {RunID: "run-1", Status: statusTerminated}}
	k := r.keeper(nil)
	k.Start = nil
	res, err := k.Sweep(t.Context())
	if err != nil || res.Resolved != 1 {
		t.Fatalf("Sweep: %+v, %v; want wf-1's request resolved", res, err)
	}
}
