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
	reqs    map[string][]*ably.Message
	failing map[string]bool // runs whose query fails
	queried []string
}

func (f *fakePending) PendingRuns(_ context.Context, max int) ([]PendingRun, bool, error) {
	if len(f.runs) > max {
		return f.runs[:max], true, nil
	}
	return f.runs, false, nil
}

func (f *fakePending) Requests(_ context.Context, run PendingRun) ([]*ably.Message, error) {
	f.queried = append(f.queried, run.WorkflowID)
	if f.failing[run.WorkflowID] {
		return nil, errors.New("query failed")
	}
	return f.reqs[run.WorkflowID], nil
}

// request is the agent's approval-request of call in run wf, as the
// workflow publishes it.
func request(t *testing.T, idKey []byte, wf, call string, revision int) *ably.Message {
	t.Helper()
	p := workflows.PendingApproval{
		ToolCallID: call, Tool: "publish_blog_post", Arguments: `{"title":"T"}`, RequiredRole: "publisher",
		RequestedAt: time.Now().UTC().Truncate(time.Second), ExpiresAt: time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second),
	}
	p.Revision = revision
	am, err := p.Request(wf, "sam", []string{"editor", "publisher", "admin"}).Message(idKey)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ablymsg.Agent(am)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// keeperRig is a local Ably server with the agent's publisher and a
// history reader, and the keeper's view of Temporal.
type keeperRig struct {
	conn    ablyconn.Config
	pub     *activities.AblyPublisher
	other   *activities.AblyPublisher // an approver's client id
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
	return &keeperRig{conn: conn, pub: pub, other: other, hist: hist, pending: &fakePending{reqs: map[string][]*ably.Message{}}}
}

func (r *keeperRig) publish(t *testing.T, pub *activities.AblyPublisher, m *ably.Message) {
	t.Helper()
	if err := pub.Publish(t.Context(), testChannel, m); err != nil {
		t.Fatal(err)
	}
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
		AgentClientID: workflows.DefaultAgentClientID, Window: 5, Log: log}
}

// listed returns the workflow ids of the agent's approval-requests among
// the channel's newest 1,000 messages, where approvers look for them.
func (r *keeperRig) listed(t *testing.T) []string {
	t.Helper()
	var out []string
	if err := r.hist.Newest(t.Context(), time.Now().Add(-time.Hour), 1000, func(m *ably.Message) bool {
		var d workflows.ApprovalRequestData
		if m.Name == workflows.MsgApprovalRequest && m.ClientID == workflows.DefaultAgentClientID &&
			ablymsg.DecodeData(m.Data, m.Encoding, &d) == nil {
			out = append(out, d.WorkflowID)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func TestKeeperSweep(t *testing.T) {
	tests := []struct {
		name string
		// setup publishes on the channel and fills the rig's runs.
		setup         func(t *testing.T, r *keeperRig, idKey []byte)
		maxPublish    int
		wantPublished int
		wantQueried   []string
		wantUnqueried int
	}{
		{
			name: "nothing pending, nothing read",
		},
		{
			name: "a request among the newest messages is left alone, and its run is not queried",
			setup: func(t *testing.T, r *keeperRig, idKey []byte) {
				m := request(t, idKey, "wf-1", "call_1", 0)
				r.pending.runs = []PendingRun{{WorkflowID: "wf-1", Pending: 1}}
				r.pending.reqs["wf-1"] = []*ably.Message{m}
				r.filler(t, 2)
				r.publish(t, r.pub, m)
				r.filler(t, 2)
			},
		},
		{
			name: "a request pushed out of the window by newer messages is published again",
			setup: func(t *testing.T, r *keeperRig, idKey []byte) {
				m := request(t, idKey, "wf-1", "call_1", 0)
				r.pending.runs = []PendingRun{{WorkflowID: "wf-1", Pending: 1}}
				r.pending.reqs["wf-1"] = []*ably.Message{m}
				r.publish(t, r.pub, m)
				r.filler(t, 5)
			},
			wantPublished: 1,
			wantQueried:   []string{"wf-1"},
		},
		{
			name: "a request no longer in the history at all is published again",
			setup: func(t *testing.T, r *keeperRig, idKey []byte) {
				r.pending.runs = []PendingRun{{WorkflowID: "wf-1", Pending: 1}}
				r.pending.reqs["wf-1"] = []*ably.Message{request(t, idKey, "wf-1", "call_1", 0)}
			},
			wantPublished: 1,
			wantQueried:   []string{"wf-1"},
		},
		{
			name: "a forged copy by another client does not count as in view",
			setup: func(t *testing.T, r *keeperRig, idKey []byte) {
				m := request(t, idKey, "wf-1", "call_1", 0)
				r.pending.runs = []PendingRun{{WorkflowID: "wf-1", Pending: 1}}
				r.pending.reqs["wf-1"] = []*ably.Message{m}
				forged := *m
				forged.ID = "forged-1"
				r.publish(t, r.other, &forged)
			},
			wantPublished: 1,
			wantQueried:   []string{"wf-1"},
		},
		{
			// The keeper does not query a run whose calls all have a copy in
			// view: publishing each revision is the workflow's job (it tries
			// again while Ably is out of reach).
			name: "an older revision in view counts as in view",
			setup: func(t *testing.T, r *keeperRig, idKey []byte) {
				r.pending.runs = []PendingRun{{WorkflowID: "wf-1", Pending: 1}}
				r.pending.reqs["wf-1"] = []*ably.Message{request(t, idKey, "wf-1", "call_1", 1)}
				r.publish(t, r.pub, request(t, idKey, "wf-1", "call_1", 0))
			},
		},
		{
			name: "a run with two pending calls, one out of view: only that one is published",
			setup: func(t *testing.T, r *keeperRig, idKey []byte) {
				a, b := request(t, idKey, "wf-1", "call_a", 0), request(t, idKey, "wf-1", "call_b", 0)
				r.pending.runs = []PendingRun{{WorkflowID: "wf-1", Pending: 2}}
				r.pending.reqs["wf-1"] = []*ably.Message{a, b}
				r.publish(t, r.pub, b)
			},
			wantPublished: 1,
			wantQueried:   []string{"wf-1"},
		},
		{
			name: "a failing query is reported and the other runs are still kept",
			setup: func(t *testing.T, r *keeperRig, idKey []byte) {
				r.pending.runs = []PendingRun{{WorkflowID: "wf-1", Pending: 1}, {WorkflowID: "wf-2", Pending: 1}}
				r.pending.reqs["wf-2"] = []*ably.Message{request(t, idKey, "wf-2", "call_1", 0)}
				r.pending.failing = map[string]bool{"wf-1": true}
			},
			wantPublished: 1,
			wantQueried:   []string{"wf-1", "wf-2"},
		},
		{
			name: "at most MaxPublish a sweep; the rest waits for the next",
			setup: func(t *testing.T, r *keeperRig, idKey []byte) {
				for i := range 3 {
					wf := fmt.Sprintf("wf-%d", i)
					r.pending.runs = append(r.pending.runs, PendingRun{WorkflowID: wf, Pending: 1})
					r.pending.reqs[wf] = []*ably.Message{request(t, idKey, wf, "call_1", 0)}
				}
			},
			maxPublish:    2,
			wantPublished: 2,
			wantQueried:   []string{"wf-0", "wf-1"},
			wantUnqueried: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newKeeperRig(t)
			if tc.setup != nil {
				tc.setup(t, r, r.conn.MessageIDKey())
			}
			k := r.keeper(nil)
			k.MaxPublish = tc.maxPublish
			res, err := k.Sweep(t.Context())
			if err != nil && r.pending.failing == nil {
				t.Fatalf("Sweep: %v", err)
			}
			if r.pending.failing != nil && (err == nil || !strings.Contains(err.Error(), "query failed")) {
				t.Errorf("Sweep error = %v, want the failing query", err)
			}
			if res.Published != tc.wantPublished || res.Unqueried != tc.wantUnqueried {
				t.Errorf("published %d, unqueried %d; want %d, %d (%+v)", res.Published, res.Unqueried, tc.wantPublished, tc.wantUnqueried, res)
			}
			if fmt.Sprint(r.pending.queried) != fmt.Sprint(tc.wantQueried) {
				t.Errorf("queried %v, want %v", r.pending.queried, tc.wantQueried)
			}
		})
	}
}

// TestKeeperBringsRequestBackIntoList: a request the channel no longer
// holds is back in an approver's list after a sweep, and a second sweep
// publishes nothing more.
func TestKeeperBringsRequestBackIntoList(t *testing.T) {
	r := newKeeperRig(t)
	idKey := r.conn.MessageIDKey()
	r.pending.runs = []PendingRun{{WorkflowID: "wf-old", Pending: 1}, {WorkflowID: "wf-new", Pending: 1}}
	r.pending.reqs["wf-old"] = []*ably.Message{request(t, idKey, "wf-old", "call_1", 0)}
	fresh := request(t, idKey, "wf-new", "call_1", 0)
	r.pending.reqs["wf-new"] = []*ably.Message{fresh}
	r.publish(t, r.pub, fresh)
	if got := r.listed(t); fmt.Sprint(got) != "[wf-new]" {
		t.Fatalf("before: listed %v", got)
	}
	var logs bytes.Buffer
	k := r.keeper(slog.New(slog.NewTextHandler(&logs, nil)))
	res, err := k.Sweep(t.Context())
	if err != nil || res.Published != 1 {
		t.Fatalf("first sweep: %+v, %v", res, err)
	}
	if got := r.listed(t); fmt.Sprint(got) != "[wf-new wf-old]" {
		t.Fatalf("after the sweep: listed %v, want both runs", got)
	}
	r.pending.queried = nil
	res, err = k.Sweep(t.Context())
	if err != nil || res.Published != 0 || len(r.pending.queried) != 0 {
		t.Fatalf("second sweep: %+v, %v, queried %v; want nothing done", res, err, r.pending.queried)
	}
}

// TestKeeperMaxAge: a request whose newest copy is older than MaxAge
// counts as out of view (Ably forgets it soon).
func TestKeeperMaxAge(t *testing.T) {
	r := newKeeperRig(t)
	m := request(t, r.conn.MessageIDKey(), "wf-1", "call_1", 0)
	r.pending.runs = []PendingRun{{WorkflowID: "wf-1", Pending: 1}}
	r.pending.reqs["wf-1"] = []*ably.Message{m}
	r.publish(t, r.pub, m)
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
	pending := &fakePending{runs: []PendingRun{{WorkflowID: "wf-1", Pending: 1}}, reqs: map[string][]*ably.Message{
		"wf-1": {request(t, srv.Conn.MessageIDKey(), "wf-1", "call_1", 0)},
	}}
	k := &Keeper{Pending: pending, History: hist, Publisher: pub, Channel: testChannel, AgentClientID: workflows.DefaultAgentClientID}
	res, err := k.Sweep(t.Context())
	if err == nil || res.Published != 0 || len(pending.queried) != 0 {
		t.Fatalf("Sweep = %+v, %v, queried %v; want an error and nothing done", res, err, pending.queried)
	}
}
