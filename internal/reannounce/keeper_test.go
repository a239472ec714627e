package reannounce

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/activities"
	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/ablylocal"
	"github.com/hitl/durable-approvals/internal/ablylocal/ablytest"
	"github.com/hitl/durable-approvals/internal/ablymsg"
	"github.com/hitl/durable-approvals/workflows"
)

const testChannel = "ai:keeper-test"

// fakePending is the Temporal side of a Keeper: runs, each with the
// requests its approvals query would rebuild.
type fakePending struct {
	runs    []PendingRun
	reqs    map[string][]workflows.ApprovalRequestData
	failing map[string]bool // runs whose query fails
	// blocking, when set, is a run whose query waits until release is
	// closed; blocked is closed when it starts waiting.
	blocking string
	blocked  chan struct{}
	release  <-chan struct{}
	queried  []string
	resets   map[string]string // run id -> its ResetRunID, for runs made by a reset
	// states are the workflow ids' current runs (CurrentRun; absent:
	// unknown to Temporal), describeFails those whose describe fails;
	// described lists the workflow ids described, in order.
	states        map[string]RunState
	describeFails map[string]bool
	described     []string
}

func (f *fakePending) CurrentRun(_ context.Context, workflowID string) (RunState, error) {
	f.described = append(f.described, workflowID)
	if f.describeFails[workflowID] {
		return RunState{}, errors.New("describe failed")
	}
	return f.states[workflowID], nil
}

func (f *fakePending) ResetRunID(_ context.Context, run PendingRun) string {
	return f.resets[run.RunID]
}

func (f *fakePending) PendingRuns(_ context.Context, max int) ([]PendingRun, bool, error) {
	if len(f.runs) > max {
		return f.runs[:max], true, nil
	}
	return f.runs, false, nil
}

func (f *fakePending) Requests(_ context.Context, run PendingRun) ([]workflows.ApprovalRequestData, error) {
	f.queried = append(f.queried, run.WorkflowID)
	if run.WorkflowID == f.blocking {
		close(f.blocked)
		<-f.release
		return nil, errors.New("query cut short")
	}
	if f.failing[run.WorkflowID] {
		return nil, errors.New("query failed")
	}
	return f.reqs[run.WorkflowID], nil
}

// pend makes wf a pending run whose calls are pending at revision 0.
func (f *fakePending) pend(wf string, calls ...string) {
	f.runs = append(f.runs, PendingRun{WorkflowID: wf, Pending: len(calls)})
	for _, c := range calls {
		f.reqs[wf] = append(f.reqs[wf], requestData(wf, c, 0))
	}
}

// requestData is the approval-request of call in run wf at revision.
func requestData(wf, call string, revision int) workflows.ApprovalRequestData {
	now := time.Now().UTC().Truncate(time.Second)
	p := workflows.PendingApproval{
		ToolCallID: call, Tool: "publish_blog_post", Arguments: `{"title":"T"}`, RequiredRole: "publisher",
		RequestedAt: now, ExpiresAt: now.Add(24 * time.Hour),
	}
	p.Revision = revision
	return p.Request(wf, "sam", []string{"editor", "publisher", "admin"})
}

// keeperRig is a local Ably server with the agent's publisher, an
// approver's, a history reader, and the keeper's view of Temporal.
type keeperRig struct {
	conn    ablyconn.Config
	idKey   []byte
	pub     *activities.AblyPublisher
	other   *activities.AblyPublisher // an approver: client id mallory
	hist    *AblyHistory
	pending *fakePending
}

func newKeeperRig(t *testing.T) *keeperRig {
	t.Helper()
	conn := ablytest.Start(t, ablylocal.Config{}).Conn
	pub, err := activities.NewAblyPublisher(conn, workflows.DefaultAgentClientID)
	if err != nil {
		t.Fatal(err)
	}
	other, err := activities.NewAblyPublisher(conn, "mallory")
	if err != nil {
		t.Fatal(err)
	}
	hist, err := NewAblyHistory(conn, workflows.DefaultAgentClientID, testChannel)
	if err != nil {
		t.Fatal(err)
	}
	return &keeperRig{conn: conn, idKey: conn.MessageIDKey(), pub: pub, other: other, hist: hist,
		pending: &fakePending{reqs: map[string][]workflows.ApprovalRequestData{}}}
}

func (r *keeperRig) publish(t *testing.T, pub *activities.AblyPublisher, m *ably.Message) {
	t.Helper()
	if err := pub.Publish(t.Context(), testChannel, m); err != nil {
		t.Fatal(err)
	}
}

// announce publishes d as the workflow does.
func (r *keeperRig) announce(t *testing.T, d workflows.ApprovalRequestData) *ably.Message {
	t.Helper()
	m, err := message(r.idKey, d)
	if err != nil {
		t.Fatal(err)
	}
	r.publish(t, r.pub, m)
	return m
}

// resolve publishes the agent's approval-resolved of call in run wf.
func (r *keeperRig) resolve(t *testing.T, wf, call string) {
	t.Helper()
	r.resolveRun(t, wf, call, "")
}

// resolveRun is resolve for the run of a reset with ResetRunID runID.
func (r *keeperRig) resolveRun(t *testing.T, wf, call, runID string) {
	t.Helper()
	am, err := workflows.ApprovalResolvedData{WorkflowID: wf, ToolCallID: call, Outcome: "approved", RunID: runID}.Message(r.idKey)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ablymsg.Agent(am)
	if err != nil {
		t.Fatal(err)
	}
	r.publish(t, r.pub, m)
}

// filler publishes n messages that are not requests.
func (r *keeperRig) filler(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		r.publish(t, r.other, &ably.Message{Name: "chatter", Data: fmt.Sprintf("message %d", i)})
	}
}

func (r *keeperRig) keeper(log *slog.Logger) *Keeper {
	return &Keeper{Pending: r.pending, History: r.hist, Publisher: r.pub, Channel: testChannel,
		AgentClientID: workflows.DefaultAgentClientID, IDKey: r.idKey, Window: 5,
		Start: func(int) int { return 0 }, Log: log}
}

// listed returns "workflowId/toolCallId" of the agent's approval-requests
// among the channel's newest max messages, sorted.
func (r *keeperRig) listed(t *testing.T, max int) []string {
	t.Helper()
	var out []string
	if err := r.hist.Newest(t.Context(), time.Now().Add(-time.Hour), max, func(m *ably.Message) bool {
		var d workflows.ApprovalRequestData
		if m.Name == workflows.MsgApprovalRequest && m.ClientID == workflows.DefaultAgentClientID &&
			ablymsg.DecodeData(m.Data, m.Encoding, &d) == nil {
			out = append(out, d.WorkflowID+"/"+d.ToolCallID)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestKeeperSweep(t *testing.T) {
	tests := []struct {
		name string
		// setup publishes on the channel and fills the rig's runs.
		setup         func(t *testing.T, r *keeperRig)
		maxPublish    int
		start         int
		wantPublished int
		wantOutOfView int
		wantQueried   []string
		wantUnqueried int
		wantErr       string
		// wantInView are the calls that must be among the Window newest
		// messages after the sweep.
		wantInView []string
	}{
		{
			name: "nothing pending, nothing read",
		},
		{
			name: "a request among the newest messages is left alone, and its run is not queried",
			setup: func(t *testing.T, r *keeperRig) {
				r.pending.pend("wf-1", "call_1")
				r.filler(t, 2)
				r.announce(t, r.pending.reqs["wf-1"][0])
				r.filler(t, 2)
			},
			wantInView: []string{"wf-1/call_1"},
		},
		{
			name: "a request pushed out of the window by newer messages is published again, at once",
			setup: func(t *testing.T, r *keeperRig) {
				r.pending.pend("wf-1", "call_1")
				r.announce(t, r.pending.reqs["wf-1"][0])
				r.filler(t, 5)
			},
			wantPublished: 1, wantOutOfView: 1,
			wantQueried: []string{"wf-1"},
			wantInView:  []string{"wf-1/call_1"},
		},
		{
			name: "a request no longer in the history at all is published again",
			setup: func(t *testing.T, r *keeperRig) {
				r.pending.pend("wf-1", "call_1")
			},
			wantPublished: 1, wantOutOfView: 1,
			wantQueried: []string{"wf-1"},
			wantInView:  []string{"wf-1/call_1"},
		},
		{
			name: "an approver who takes the original's id cannot stop the copy",
			setup: func(t *testing.T, r *keeperRig) {
				r.pending.pend("wf-1", "call_1")
				m := r.announce(t, r.pending.reqs["wf-1"][0])
				r.filler(t, 5)
				r.publish(t, r.other, &ably.Message{ID: m.ID, Name: "chatter", Data: "squat"})
			},
			wantPublished: 1, wantOutOfView: 1,
			wantQueried: []string{"wf-1"},
			wantInView:  []string{"wf-1/call_1"},
		},
		{
			name: "a forged copy by another client does not count as in view",
			setup: func(t *testing.T, r *keeperRig) {
				r.pending.pend("wf-1", "call_1")
				m, err := message(r.idKey, r.pending.reqs["wf-1"][0])
				if err != nil {
					t.Fatal(err)
				}
				m.ID = "forged-1"
				r.publish(t, r.other, m)
			},
			wantPublished: 1, wantOutOfView: 1,
			wantQueried: []string{"wf-1"},
		},
		{
			// The keeper does not query a run whose calls all have a copy in
			// view: publishing each revision is the workflow's job (it tries
			// again while Ably is out of reach).
			name: "an older revision in view counts as in view",
			setup: func(t *testing.T, r *keeperRig) {
				r.pending.runs = []PendingRun{{WorkflowID: "wf-1", Pending: 1}}
				r.pending.reqs["wf-1"] = []workflows.ApprovalRequestData{requestData("wf-1", "call_1", 1)}
				r.announce(t, requestData("wf-1", "call_1", 0))
			},
		},
		{
			name: "a run with two pending calls, one out of view: only that one is published",
			setup: func(t *testing.T, r *keeperRig) {
				r.pending.pend("wf-1", "call_a", "call_b")
				r.announce(t, r.pending.reqs["wf-1"][1])
			},
			wantPublished: 1, wantOutOfView: 1,
			wantQueried: []string{"wf-1"},
			wantInView:  []string{"wf-1/call_a", "wf-1/call_b"},
		},
		{
			name: "one call's request seen twice does not stand for its sibling",
			setup: func(t *testing.T, r *keeperRig) {
				r.pending.pend("wf-1", "call_a", "call_b")
				a := r.pending.reqs["wf-1"][0]
				r.announce(t, a)
				m, err := message(r.idKey, a)
				if err != nil {
					t.Fatal(err)
				}
				m.ID = workflows.CopyMessageID(r.idKey, m.ID, time.Now())
				r.publish(t, r.pub, m)
			},
			wantPublished: 1, wantOutOfView: 1,
			wantQueried: []string{"wf-1"},
			wantInView:  []string{"wf-1/call_a", "wf-1/call_b"},
		},
		{
			name: "a resolved call's request in view does not stand for its pending sibling",
			setup: func(t *testing.T, r *keeperRig) {
				r.pending.pend("wf-1", "call_b")
				r.announce(t, requestData("wf-1", "call_b", 0))
				r.filler(t, 3)
				r.announce(t, requestData("wf-1", "call_a", 1))
				r.resolve(t, "wf-1", "call_a")
			},
			wantPublished: 1, wantOutOfView: 1,
			wantQueried: []string{"wf-1"},
			wantInView:  []string{"wf-1/call_a", "wf-1/call_b"},
		},
		{
			name: "a failing query is reported and the other runs are still kept",
			setup: func(t *testing.T, r *keeperRig) {
				r.pending.pend("wf-1", "call_1")
				r.pending.pend("wf-2", "call_1")
				r.pending.failing = map[string]bool{"wf-1": true}
			},
			wantPublished: 1, wantOutOfView: 1,
			wantQueried: []string{"wf-1", "wf-2"},
			wantErr:     "run wf-1: query failed",
			wantInView:  []string{"wf-2/call_1"},
		},
		{
			name: "at most MaxPublish runs queried, failing or not; the rest waits for the next sweep",
			setup: func(t *testing.T, r *keeperRig) {
				for i := range 4 {
					r.pending.pend(fmt.Sprintf("wf-%d", i), "call_1")
				}
				r.pending.failing = map[string]bool{"wf-0": true, "wf-1": true}
			},
			maxPublish:    2,
			wantQueried:   []string{"wf-0", "wf-1"},
			wantUnqueried: 2,
			wantErr:       "query failed",
		},
		{
			name: "each sweep starts where Start says",
			setup: func(t *testing.T, r *keeperRig) {
				for i := range 3 {
					r.pending.pend(fmt.Sprintf("wf-%d", i), "call_1")
				}
			},
			maxPublish:    2,
			start:         2,
			wantPublished: 2, wantOutOfView: 2,
			wantQueried:   []string{"wf-2", "wf-0"},
			wantUnqueried: 1,
		},
		{
			name: "no run queried once MaxPublish are published",
			setup: func(t *testing.T, r *keeperRig) {
				r.pending.pend("wf-0", "call_a", "call_b")
				r.pending.pend("wf-1", "call_1")
			},
			maxPublish:    2,
			wantPublished: 2, wantOutOfView: 2,
			wantQueried:   []string{"wf-0"},
			wantUnqueried: 1,
		},
		{
			name: "at most MaxPublish published, within one run too",
			setup: func(t *testing.T, r *keeperRig) {
				r.pending.pend("wf-1", "call_a", "call_b", "call_c")
			},
			maxPublish:    2,
			wantPublished: 2, wantOutOfView: 3,
			wantQueried: []string{"wf-1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newKeeperRig(t)
			if tc.setup != nil {
				tc.setup(t, r)
			}
			k := r.keeper(nil)
			k.MaxPublish = tc.maxPublish
			k.Start = func(int) int { return tc.start }
			res, err := k.Sweep(t.Context())
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Sweep: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("Sweep error = %v, want %q", err, tc.wantErr)
			}
			if res.Published != tc.wantPublished || res.OutOfView != tc.wantOutOfView || res.Unqueried != tc.wantUnqueried {
				t.Errorf("published %d, out of view %d, unqueried %d; want %d, %d, %d (%+v)",
					res.Published, res.OutOfView, res.Unqueried, tc.wantPublished, tc.wantOutOfView, tc.wantUnqueried, res)
			}
			if fmt.Sprint(r.pending.queried) != fmt.Sprint(tc.wantQueried) {
				t.Errorf("queried %v, want %v", r.pending.queried, tc.wantQueried)
			}
			if got := r.listed(t, k.Window); tc.wantInView != nil && fmt.Sprint(got) != fmt.Sprint(tc.wantInView) {
				t.Errorf("in view after the sweep: %v, want %v", got, tc.wantInView)
			}
		})
	}
}

// TestKeeperSecondSweepDoesNothing: once a request is back in view, the
// next sweep neither queries nor publishes.
func TestKeeperSecondSweepDoesNothing(t *testing.T) {
	r := newKeeperRig(t)
	r.pending.pend("wf-old", "call_1")
	r.pending.pend("wf-new", "call_1")
	r.announce(t, r.pending.reqs["wf-new"][0])
	var logs bytes.Buffer
	k := r.keeper(slog.New(slog.NewTextHandler(&logs, nil)))
	res, err := k.Sweep(t.Context())
	if err != nil || res.Published != 1 {
		t.Fatalf("first sweep: %+v, %v", res, err)
	}
	if got := r.listed(t, 1000); fmt.Sprint(got) != "[wf-new/call_1 wf-old/call_1]" {
		t.Fatalf("after the sweep: listed %v, want both runs", got)
	}
	r.pending.queried = nil
	res, err = k.Sweep(t.Context())
	if err != nil || res.Published != 0 || len(r.pending.queried) != 0 {
		t.Fatalf("second sweep: %+v, %v, queried %v; want nothing done", res, err, r.pending.queried)
	}
}

// TestKeeperCopy: the copy is the original's data under an id of its own,
// the same for every copy of one minute (two workers' copies are one
// message) and another the next minute.
func TestKeeperCopy(t *testing.T) {
	r := newKeeperRig(t)
	d := requestData("wf-1", "call_1", 2)
	orig, err := message(r.idKey, d)
	if err != nil {
		t.Fatal(err)
	}
	r.pending.pend("wf-1", "call_1")
	r.pending.reqs["wf-1"][0] = d
	at := time.Date(2026, 12, 6, 10, 0, 10, 0, time.UTC)
	k := r.keeper(nil)
	k.Now = func() time.Time { return at }
	k.MaxAge = 100 * 24 * time.Hour
	for range 2 { // two workers within one minute
		if res, err := k.Sweep(t.Context()); err != nil || res.Published != 1 {
			t.Fatalf("sweep: %+v, %v", res, err)
		}
		r.filler(t, 5)
	}
	var copies []*ably.Message
	if err := r.hist.Newest(t.Context(), time.Now().Add(-time.Hour), 100, func(m *ably.Message) bool {
		if m.Name == workflows.MsgApprovalRequest {
			copies = append(copies, m)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(copies) != 1 {
		t.Fatalf("%d copies on the channel, want one message for both sweeps of one minute", len(copies))
	}
	c := copies[0]
	if c.ID == orig.ID || c.ID != workflows.CopyMessageID(r.idKey, orig.ID, at.Add(40*time.Second)) {
		t.Errorf("copy id %q: want CopyMessageID of the original %q", c.ID, orig.ID)
	}
	if workflows.CopyMessageID(r.idKey, orig.ID, at.Add(time.Minute)) == c.ID {
		t.Error("the next minute's copy has the same id")
	}
	var got workflows.ApprovalRequestData
	if err := ablymsg.DecodeData(c.Data, c.Encoding, &got); err != nil {
		t.Fatal(err)
	}
	want := workflows.AgentMessageID(r.idKey, "wf-1", "call_1", "request")
	if got.Revision != 2 || got.Supersedes != want || got.ArgumentsDigest != d.ArgumentsDigest || c.ClientID != workflows.DefaultAgentClientID {
		t.Errorf("copy data %+v from %q", got, c.ClientID)
	}
}

// TestKeeperMaxAge: a request whose newest copy is older than MaxAge
// counts as out of view (Ably forgets it soon).
func TestKeeperMaxAge(t *testing.T) {
	r := newKeeperRig(t)
	r.pending.pend("wf-1", "call_1")
	r.announce(t, r.pending.reqs["wf-1"][0])
	k := r.keeper(nil)
	k.MaxAge = time.Hour
	k.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	res, err := k.Sweep(t.Context())
	if err != nil || res.Published != 1 {
		t.Fatalf("sweep two hours on: %+v, %v; want the request published again", res, err)
	}
}

// TestKeeperPublishesNothingWithoutHistory: a key without the history
// capability (or Ably out of reach) publishes nothing: what is in view is
// not known.
func TestKeeperPublishesNothingWithoutHistory(t *testing.T) {
	srv := ablytest.Start(t, ablylocal.Config{Keys: []ablylocal.Key{{Name: ablytest.KeyName, Secret: ablytest.KeySecret, Capability: `{"*":["publish"]}`}}})
	hist, err := NewAblyHistory(srv.Conn, workflows.DefaultAgentClientID, testChannel)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := activities.NewAblyPublisher(srv.Conn, workflows.DefaultAgentClientID)
	if err != nil {
		t.Fatal(err)
	}
	pending := &fakePending{reqs: map[string][]workflows.ApprovalRequestData{}}
	pending.pend("wf-1", "call_1")
	k := &Keeper{Pending: pending, History: hist, Publisher: pub, Channel: testChannel, AgentClientID: workflows.DefaultAgentClientID, IDKey: srv.Conn.MessageIDKey()}
	res, err := k.Sweep(t.Context())
	if err == nil || res.Published != 0 || len(pending.queried) != 0 {
		t.Fatalf("Sweep = %+v, %v, queried %v; want an error and nothing done", res, err, pending.queried)
	}
	k.IDKey = nil
	if _, err := k.Sweep(t.Context()); err == nil || !strings.Contains(err.Error(), "message-id key") {
		t.Errorf("Sweep without the message-id key: %v", err)
	}
}

// emptyHistory is a channel with no message in view.
type emptyHistory struct{}

func (emptyHistory) Newest(context.Context, time.Time, int, func(*ably.Message) bool) error {
	return nil
}

// failingPublisher refuses every publish, counting them.
type failingPublisher struct{ calls int }

func (p *failingPublisher) Publish(context.Context, string, *ably.Message) error {
	p.calls++
	return errors.New("ably refused")
}

// TestKeeperIDKeyLength: a message-id key shorter than
// workflows.MinMessageIDKeyLen is refused before any I/O, by Sweep and
// SweepRuns alike; one of that length is taken.
func TestKeeperIDKeyLength(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		refused bool
	}{
		{name: "none", n: 0, refused: true},
		{name: "one byte short", n: workflows.MinMessageIDKeyLen - 1, refused: true},
		{name: "the least length", n: workflows.MinMessageIDKeyLen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pending := &fakePending{reqs: map[string][]workflows.ApprovalRequestData{}}
			k := &Keeper{Pending: pending, History: emptyHistory{}, Publisher: &failingPublisher{}, Channel: testChannel,
				AgentClientID: workflows.DefaultAgentClientID, IDKey: bytes.Repeat([]byte{7}, tc.n)}
			_, err := k.Sweep(t.Context())
			_, errRuns := k.SweepRuns(t.Context(), []PendingRun{{WorkflowID: "wf-1", RunID: "run-1"}})
			for what, err := range map[string]error{"Sweep": err, "SweepRuns": errRuns} {
				if refused := err != nil && strings.Contains(err.Error(), "message-id key"); refused != tc.refused {
					t.Errorf("%s with a %d-byte key: %v; want refused %v", what, tc.n, err, tc.refused)
				}
			}
			if tc.refused && len(pending.queried) != 0 {
				t.Errorf("queried %q with a refused key", pending.queried)
			}
		})
	}
}

// TestKeeperStopsAtFailedPublish: a publish Ably refuses ends the sweep
// (the rest would fail too): no other run is queried, nothing else
// published, and the sweep fails.
func TestKeeperStopsAtFailedPublish(t *testing.T) {
	pending := &fakePending{reqs: map[string][]workflows.ApprovalRequestData{}}
	pending.pend("wf-1", "call_a", "call_b")
	pending.pend("wf-2", "call_1")
	pub := &failingPublisher{}
	k := &Keeper{Pending: pending, History: emptyHistory{}, Publisher: pub, Channel: testChannel,
		AgentClientID: workflows.DefaultAgentClientID, IDKey: bytes.Repeat([]byte{7}, workflows.MinMessageIDKeyLen),
		Start: func(int) int { return 0 }}
	res, err := k.Sweep(t.Context())
	if err == nil || !strings.Contains(err.Error(), "ably refused") {
		t.Errorf("Sweep error = %v, want the publish's", err)
	}
	if pub.calls != 1 || res.Published != 0 || !slices.Equal(pending.queried, []string{"wf-1"}) {
		t.Errorf("%d publishes, %+v, queried %q; want one publish tried, wf-1 queried only", pub.calls, res, pending.queried)
	}
}

// TestKeeperReport: a sweep's log warns of what approvers may miss, and
// of more approvals pending than the window holds.
func TestKeeperReport(t *testing.T) {
	const window = 5
	tests := []struct {
		name string
		res  SweepResult
		err  error
		want []string // in the log
		not  []string // not in the log
	}{
		{name: "as many pending as the window", res: SweepResult{Pending: window},
			not: []string{"more approvals pending", "left out of approvers' view", "left unresolved", "failed"}},
		{name: "more pending than the window", res: SweepResult{Pending: window + 1}, want: []string{"more approvals pending"}},
		{name: "more runs than listed", res: SweepResult{MoreRuns: true}, want: []string{"more approvals pending"}},
		{name: "runs left unqueried", res: SweepResult{Unqueried: 1}, want: []string{"left out of approvers' view"}},
		{name: "requests left unpublished", res: SweepResult{OutOfView: 3, Published: 2}, want: []string{"left out of approvers' view", "published again"},
			not: []string{"more approvals pending"}},
		{name: "workflow ids left undescribed", res: SweepResult{Undescribed: 1}, want: []string{"left unresolved"}},
		{name: "resolved", res: SweepResult{Resolved: 1, ResolvedBy: map[string]int{"terminated": 1}}, want: []string{"resolved as cancelled"},
			not: []string{"left unresolved"}},
		{name: "failed", err: errors.New("history unreadable"), want: []string{"history unreadable"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			(&Keeper{}).report(slog.New(slog.NewTextHandler(&logs, nil)), window, tc.res, tc.err)
			for _, w := range tc.want {
				if !strings.Contains(logs.String(), w) {
					t.Errorf("log %q lacks %q", logs.String(), w)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(logs.String(), w) {
					t.Errorf("log %q has %q", logs.String(), w)
				}
			}
		})
	}
}
