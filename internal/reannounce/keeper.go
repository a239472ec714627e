package reannounce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/ably/ably-go/ably"
	"go.opentelemetry.io/otel/metric"

	"github.com/hitl/durable-approvals/internal/ablymsg"
	"github.com/hitl/durable-approvals/internal/recent"
	"github.com/hitl/durable-approvals/workflows"
)

// The defaults of a Keeper.
const (
	// DefaultWindow is how many of the channel's newest messages a pending
	// request is kept within. Approvers read the newest 1,000 (the CLI's
	// default -history-pages, the web inbox); half leaves room for the
	// messages published between two sweeps.
	DefaultWindow = 500
	// DefaultMaxAge is how old the newest copy of a pending request may be
	// before it is published again: half of the shortest history Ably
	// keeps for a channel whose messages are persisted (24 hours), which
	// is also the local server's default -retention.
	DefaultMaxAge = 12 * time.Hour
	// DefaultMaxPublish bounds the requests published (and the runs
	// queried) in one sweep.
	DefaultMaxPublish = 100
	// DefaultMaxRuns bounds the pending runs listed in one sweep.
	DefaultMaxRuns = 1000
)

// Pending is where a Keeper learns what waits for a human (Temporal).
type Pending interface {
	PendingRuns(ctx context.Context, max int) (runs []PendingRun, more bool, err error)
	Requests(ctx context.Context, run PendingRun) ([]workflows.ApprovalRequestData, error)
	// ResetRunID is workflows.ResetRunID of run: the RunID its requests
	// carry.
	ResetRunID(ctx context.Context, run PendingRun) string
	// CurrentRun is where the current run of workflowID stands.
	CurrentRun(ctx context.Context, workflowID string) (RunState, error)
}

// History reads a channel's newest messages (AblyHistory).
type History interface {
	Newest(ctx context.Context, since time.Time, max int, visit func(*ably.Message) bool) error
}

// Keeper keeps the approval-request of every pending approval among the
// channel's newest messages, where approvers look for it: each Sweep
// publishes again, as the agent, the current request of each pending call
// that has neither a request nor a resolution from the agent among the
// Window newest messages published in the last MaxAge. (A call with an
// older revision in view counts as in view unless its run is queried for
// another call: publishing each revision is the workflow's job.) A copy
// carries the original's data and a message id of its own
// (workflows.CopyMessageID): nobody without the key can take that id
// first, and two workers' copies of one minute are one message. Readers
// take a copy for the same revision they may have seen. A request or a
// resolution in view counts only for the run that published it: a pending
// call of a run made by a reset (workflows.ResetRunID), which the run it
// reset may have resolved in view, is published again with the reset
// run's RunID, so that readers show it asked again.
//
// A run that ends without announcing its calls' outcome (terminated, past
// its run timeout, failed) leaves its requests in view, where readers
// would list them until they expire. Each Sweep (not SweepRuns) also
// resolves those: a request from the agent in view that the agent never
// resolved there, of a workflow id not among the waiting runs listed,
// whose current run Temporal describes as ended, gets an approval-resolved
// of outcome cancelled from the agent (resolveClosed).
type Keeper struct {
	Pending   Pending
	History   History
	Publisher Publisher
	// Channel is the approvals channel; AgentClientID the agent's Ably
	// clientId, the only publisher of requests readers trust; IDKey the
	// agent's message-id key (ablyconn.Config.MessageIDKey).
	Channel       string
	AgentClientID string
	IDKey         []byte

	Window     int           // 0: DefaultWindow
	MaxAge     time.Duration // 0: DefaultMaxAge
	MaxPublish int           // 0: DefaultMaxPublish; also bounds the workflow ids described, and the resolutions published, in one sweep
	MaxRuns    int           // 0: DefaultMaxRuns

	Now func() time.Time // nil: time.Now
	// Start picks where in the n pending runs a sweep starts querying
	// (nil: at random), so that runs whose query keeps failing cannot
	// take every sweep's queries.
	Start func(n int) int
	Log   *slog.Logger // nil: discard
	// Meter, when set, counts the sweeps, the requests published again
	// and those resolved for runs that ended (MetricSweeps,
	// MetricReannounced, MetricClosedResolved).
	Meter metric.Meter

	// Resets, when set, brings the runs made by a Temporal reset as this
	// worker first runs them (ResetWatch.Runs). Run sweeps them Settle
	// later (the run's first task done by then) instead of at its next
	// sweep: a reset to after a request went out publishes nothing itself,
	// and readers would show the replaced run's request until then. Each
	// run is swept once (of the last DefaultMaxRuns × 4 it was brought),
	// at most MaxPublish runs at a time; those beyond wait for the next
	// sweep.
	Resets <-chan PendingRun
	Settle time.Duration // 0: DefaultSettle

	// ClosedFor is how long before a sweep's history read a run must have
	// closed for the sweep to resolve its requests (0: DefaultClosedFor).
	ClosedFor time.Duration
}

// DefaultSettle is how long after a worker first runs a reset run its
// keeper sweeps it (Keeper.Resets).
const DefaultSettle = 2 * time.Second

// SweepResult says what one Sweep found and did.
type SweepResult struct {
	// Runs with pending approvals (at most MaxRuns; MoreRuns when there
	// were more), and the approvals pending in them.
	Runs     int
	MoreRuns bool
	Pending  int
	// OutOfView counts the requests found out of view in the runs
	// queried; Published of them were published again.
	OutOfView int
	Published int
	// Unqueried counts the runs with a request out of view that this
	// sweep did not query (MaxPublish reached); the next sweep goes on.
	Unqueried int
	// Resolved counts the approval-resolved messages published for
	// requests of runs that ended without resolving them (Sweep only),
	// ResolvedBy the same by the run's status (closedStatus's label).
	// Undescribed counts the workflow ids with such a request whose run
	// this sweep did not describe, or whose requests it did not all
	// resolve (MaxPublish reached); the next sweep goes on.
	// ClosedRecently counts the workflow ids whose run closed too
	// shortly before the history read (Keeper.ClosedFor): a later sweep
	// resolves their requests if they are still unresolved then.
	Resolved       int
	ResolvedBy     map[string]int
	Undescribed    int
	ClosedRecently int
}

func (k *Keeper) withDefaults() Keeper {
	c := *k
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.MaxPublish <= 0 {
		c.MaxPublish = DefaultMaxPublish
	}
	if c.MaxRuns <= 0 {
		c.MaxRuns = DefaultMaxRuns
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Start == nil {
		c.Start = rand.N[int]
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Settle <= 0 {
		c.Settle = DefaultSettle
	}
	if c.ClosedFor <= 0 {
		c.ClosedFor = DefaultClosedFor
	}
	return c
}

// Sweep lists the pending runs, reads the channel's newest messages (all
// of the window), and queries each run that lacks a request among them,
// publishing the missing requests; then it resolves the requests in view
// of runs that ended without resolving them (resolveClosed). Nothing is
// published when the history cannot be read: what is in view is then not
// known.
func (k *Keeper) Sweep(ctx context.Context) (SweepResult, error) {
	c := k.withDefaults()
	var res SweepResult
	if err := c.checkIDKey(); err != nil {
		return res, err
	}
	runs, more, err := c.Pending.PendingRuns(ctx, c.MaxRuns)
	if err != nil {
		return res, err
	}
	res.Runs, res.MoreRuns = len(runs), more
	return sweep(ctx, &c, runs, true, res)
}

// SweepRuns is Sweep for the given runs instead of the listed ones: a run
// whose Pending is 0 (not known) has the window read whole and is always
// queried. Run uses it for the runs Resets brings.
func (k *Keeper) SweepRuns(ctx context.Context, runs []PendingRun) (SweepResult, error) {
	c := k.withDefaults()
	if err := c.checkIDKey(); err != nil {
		return SweepResult{}, err
	}
	return sweep(ctx, &c, runs, false, SweepResult{Runs: len(runs)})
}

// checkIDKey refuses, before any I/O, an agent's message-id key too short
// to make message ids nobody else can.
func (k *Keeper) checkIDKey() error {
	if len(k.IDKey) < workflows.MinMessageIDKeyLen {
		return fmt.Errorf("the agent's message-id key is shorter than %d bytes", workflows.MinMessageIDKeyLen)
	}
	return nil
}

// unknownPending stands, in sweep's count of a run's unseen requests, for
// a run whose pending approvals are not known: the history is read to the
// end of the window and the run queried.
const unknownPending = 1 << 30

// sweep is the work of Sweep and SweepRuns once the runs are known; c
// has its defaults. With closed (runs are every waiting run listed) the
// whole window is read, and the requests of runs that ended are resolved.
func sweep(ctx context.Context, c *Keeper, runs []PendingRun, closed bool, res SweepResult) (SweepResult, error) {
	if len(runs) == 0 && !closed {
		return res, nil
	}
	// unseen counts, per run, the pending approvals whose request has not
	// been seen yet in the history read so far.
	unseen := make(map[string]int, len(runs))
	runOf := make(map[string]string, len(runs)) // workflow id -> the RunID its requests carry
	for _, r := range runs {
		if r.Pending <= 0 {
			unseen[r.WorkflowID] = unknownPending
		} else {
			unseen[r.WorkflowID] += r.Pending
		}
		runOf[r.WorkflowID] = c.Pending.ResetRunID(ctx, r)
		res.Pending += max(r.Pending, 0)
	}
	inView := map[string]bool{}   // the agent's requests read: workflowId, toolCallId, revision
	callSeen := map[string]bool{} // the calls met: a request or a resolution of the agent's
	all := &asked{}               // with closed: every request and resolution of the agent's
	visit := func(m *ably.Message) bool {
		if m.ClientID != c.AgentClientID {
			return true
		}
		switch m.Name {
		case workflows.MsgApprovalResolved:
			// Read newest first, a call's resolution comes before its
			// requests: a resolved call is not pending, and its requests
			// count for no other call of its run.
			var d workflows.ApprovalResolvedData
			if ablymsg.DecodeData(m.Data, m.Encoding, &d) == nil {
				callSeen[callKey(d.WorkflowID, d.ToolCallID, d.RunID)] = true
				if closed {
					all.resolution(d)
				}
			}
			return true
		case workflows.MsgApprovalRequest:
		default:
			return true
		}
		var d workflows.ApprovalRequestData
		if err := ablymsg.DecodeData(m.Data, m.Encoding, &d); err != nil {
			return true
		}
		call := callKey(d.WorkflowID, d.ToolCallID, d.RunID)
		inView[fmt.Sprintf("%s\x00%d", call, d.Revision)] = true
		if closed {
			all.request(d)
		}
		if callSeen[call] {
			return true
		}
		callSeen[call] = true
		// A request of the run a reset replaced is not the pending run's
		// (readers would hold the call by the wrong run).
		if n, ok := unseen[d.WorkflowID]; ok && d.RunID == runOf[d.WorkflowID] {
			if n <= 1 {
				delete(unseen, d.WorkflowID)
			} else {
				unseen[d.WorkflowID] = n - 1
			}
		}
		return closed || len(unseen) > 0
	}
	readAt := c.Now()
	if err := c.History.Newest(ctx, readAt.Add(-c.MaxAge), c.Window, visit); err != nil {
		return res, fmt.Errorf("read the channel's history: %w", err)
	}
	// The history was read to the end of the window unless every pending
	// approval was seen, so inView is whole for the runs queried below.
	var errs []error
	queried := 0
	first := 0
	if len(runs) > 0 { // Start (rand.N) takes no 0: with closed, no run may be listed
		first = c.Start(len(runs))
	}
	for i := range runs {
		r := runs[(first+i)%len(runs)]
		if unseen[r.WorkflowID] == 0 {
			continue
		}
		if queried == c.MaxPublish || res.Published == c.MaxPublish {
			res.Unqueried++
			continue
		}
		queried++
		reqs, err := c.Pending.Requests(ctx, r)
		if err != nil {
			errs = append(errs, fmt.Errorf("run %s: %w", r.WorkflowID, err))
		}
		for _, d := range reqs {
			if inView[fmt.Sprintf("%s\x00%d", callKey(d.WorkflowID, d.ToolCallID, d.RunID), d.Revision)] {
				continue
			}
			res.OutOfView++
			if res.Published == c.MaxPublish {
				continue
			}
			m, err := message(c.IDKey, d)
			if err != nil {
				errs = append(errs, fmt.Errorf("run %s: %w", r.WorkflowID, err))
				continue
			}
			m.ID = workflows.CopyMessageID(c.IDKey, m.ID, c.Now())
			if err := c.Publisher.Publish(ctx, c.Channel, m); err != nil {
				// Ably refusing or out of reach: the rest would fail too.
				return res, errors.Join(append(errs, fmt.Errorf("run %s: publish %s: %w", r.WorkflowID, m.ID, err))...)
			}
			res.Published++
		}
	}
	if closed {
		if err := resolveClosed(ctx, c, runs, all, readAt, &res); err != nil {
			errs = append(errs, err)
		}
	}
	return res, errors.Join(errs...)
}

// callKey identifies one tool call of one run, and the run's
// workflows.ResetRunID: a run made by a reset asks again for calls of the
// run it reset, whose requests and resolution in view are not its own.
func callKey(workflowID, toolCallID, runID string) string {
	return workflowID + "\x00" + toolCallID + "\x00" + runID
}

// Run sweeps every interval until ctx is done, and the runs Resets brings
// Settle after they come, logging what each sweep published and why one
// failed. Each sweep is bounded by the interval.
func (k *Keeper) Run(ctx context.Context, every time.Duration) {
	c := k.withDefaults()
	counts := newCounters(k.Meter)
	t := time.NewTicker(every)
	defer t.Stop()
	swept := recent.NewSet[string](4 * c.MaxRuns) // the reset runs swept already
	var (
		resets []PendingRun     // brought, waiting for settle
		settle <-chan time.Time // nil while none waits
	)
	for {
		var runs []PendingRun // nil: every pending run
		select {
		case <-ctx.Done():
			return
		case r := <-k.Resets:
			if swept.Has(r.RunID) || len(resets) == c.MaxPublish || slices.Contains(resets, r) {
				continue
			}
			resets = append(resets, r)
			if settle == nil {
				settle = time.After(c.Settle)
			}
			continue
		case <-settle:
			runs, resets, settle = resets, nil, nil
		case <-t.C:
		}
		sctx, cancel := context.WithTimeout(ctx, every)
		var (
			res SweepResult
			err error
		)
		if runs != nil {
			res, err = k.SweepRuns(sctx, runs)
			if err == nil {
				// Swept once; after a failure the next time a worker sets
				// the run up (or the next sweep) tries again.
				for _, r := range runs {
					swept.Add(r.RunID)
				}
			}
		} else {
			res, err = k.Sweep(sctx)
		}
		cancel()
		if ctx.Err() != nil {
			// Cut short by shutdown: not a sweep's result, but what it
			// published went out and counts.
			counts.published(res.Published)
			counts.resolved(res.ResolvedBy)
			if res.Published > 0 {
				c.Log.Info("pending approval requests published again before shutdown cut the sweep short", "published", res.Published)
			}
			return
		}
		counts.count(res, err)
		k.report(c.Log, c.Window, res, err)
	}
}

// report logs one sweep: published requests at info; what approvers may
// miss, and failures, as warnings.
func (k *Keeper) report(log *slog.Logger, window int, res SweepResult, err error) {
	if res.Published > 0 {
		log.Info("pending approval requests published again: they were out of approvers' view",
			"published", res.Published, "pendingApprovals", res.Pending, "window", window)
	}
	if res.Resolved > 0 {
		log.Info("approval requests of runs that ended without resolving them resolved as cancelled",
			"resolved", res.Resolved, "byStatus", res.ResolvedBy)
	}
	if res.Undescribed > 0 {
		log.Warn("approval requests of runs that may have ended left unresolved this sweep (at most its limit described); the next sweep goes on",
			"workflows", res.Undescribed)
	}
	if res.Unqueried > 0 || res.OutOfView > res.Published {
		log.Warn("pending approval requests left out of approvers' view this sweep (at most its limit published); the next sweep goes on",
			"unpublished", res.OutOfView-res.Published, "runsNotQueried", res.Unqueried)
	}
	if res.Pending > window || res.MoreRuns {
		log.Warn("more approvals pending than the newest messages approvers read: some may stay out of view (approver -history-pages reads further)",
			"pendingApprovals", res.Pending, "moreRuns", res.MoreRuns, "window", window)
	}
	if err != nil {
		log.Warn("keeping pending approval requests in view failed", "err", err)
	}
}
