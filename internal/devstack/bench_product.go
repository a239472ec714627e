package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/hitl/durable-approvals/internal/approvercli"
	"github.com/hitl/durable-approvals/workflows"
)

// ProductFigures are the figures of the product's approval path.
type ProductFigures struct {
	Runs int `json:"runs"`
	// TimeToAllPending is from the first run's start to the Ably timestamp
	// of the last approval-request.
	TimeToAllPending time.Duration `json:"timeToAllPendingNs"`
	// DecisionToSignal is from the approval-response's Ably timestamp to
	// the WorkflowExecutionSignaled event of the decision.
	DecisionToSignal Durations `json:"decisionToSignal"`
	// DecisionToTool is from the approval-response's Ably timestamp to the
	// tool's event (ToolEvent).
	DecisionToTool Durations `json:"decisionToTool"`
	// ToolEvent names the tool's event: ActivityTaskScheduled of
	// ExecuteTool, or the MarkerRecorded of the local activity.
	ToolEvent string `json:"toolEvent"`
	// DecisionsPerSecond is N / (last decision signal − first decision).
	DecisionsPerSecond float64 `json:"decisionsPerSecond"`
	// Drain is from the first decision to the last run's completion.
	Drain        time.Duration `json:"drainNs"`
	EventsMedian int           `json:"eventsMedian"`
	EventsMax    int           `json:"eventsMax"`
	// WorkerPeakRSS and BridgePeakRSS are VmHWM, in bytes, of the worker
	// and the bridge running at the end.
	WorkerPeakRSS int64 `json:"workerPeakRssBytes"`
	BridgePeakRSS int64 `json:"bridgePeakRssBytes"`
	// WorkerPeakRSSBeforeKill is the VmHWM of the worker that held every
	// pending run until it was killed (kill-worker mode).
	WorkerPeakRSSBeforeKill int64 `json:"workerPeakRssBeforeKillBytes,omitempty"`
	// WorkerRestart is from the SIGKILL to the new worker polling
	// (kill-worker mode).
	WorkerRestart time.Duration `json:"workerRestartNs,omitempty"`
	// PostsExactlyOnce counts the runs that published exactly one post;
	// PostProblems lists the others, and posts of no run.
	PostsExactlyOnce int      `json:"postsExactlyOnce"`
	PostProblems     []string `json:"postProblems,omitempty"`
	// Steps are where decision → tool goes, from the histories.
	Steps []StepFigure `json:"steps"`
}

// productRun is one agent run of the bench.
type productRun struct {
	id, prompt string
	approver   int // index of the approver who decides it
}

// runProduct runs the product's approval path on st: n agent runs that
// each wait for a publish_blog_post approval, approved through Ably by
// approvers once every request is on the channel. With killWorker the
// worker is killed (SIGKILL) and restarted while every run waits.
func runProduct(ctx context.Context, st *Stack, approvers []*benchApprover, tag string, n int, guideShaped, killWorker bool, concurrency int, progress io.Writer) (ProductFigures, error) {
	runs := make([]productRun, n)
	ids := make([]string, n)
	for i := range runs {
		ids[i] = fmt.Sprintf("%s%05d", benchRunPrefix(tag), i)
		runs[i] = productRun{id: ids[i], prompt: fmt.Sprintf("Publish the blog post called 'Bench %s %d'", tag, i), approver: i % len(approvers)}
	}
	watch, err := watchRequests(ctx, approvers[0].ch, ids)
	if err != nil {
		return ProductFigures{}, err
	}
	defer watch.close()

	fmt.Fprintf(progress, "product: starting %d agent runs...\n", n)
	firstStart := time.Now()
	err = forEach(ctx, n, concurrency, func(ctx context.Context, i int) error {
		_, err := st.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID:                                       runs[i].id,
			TaskQueue:                                workflows.TaskQueue,
			WorkflowExecutionErrorWhenAlreadyStarted: true,
			StaticSummary:                            runs[i].prompt,
			StaticDetails:                            "Started by `devstack bench`.",
		}, workflows.WorkflowName, workflows.AgentInput{Prompt: runs[i].prompt, Requester: "devstack-bench"})
		return err
	})
	if err != nil {
		return ProductFigures{}, fmt.Errorf("start runs: %w", err)
	}
	if err := waitReporting(ctx, progress, "approval requests on the channel", n, watch.count, watch.wait); err != nil {
		return ProductFigures{}, err
	}
	reqs := watch.requests(ids)
	var f ProductFigures
	f.Runs = n
	f.TimeToAllPending = timeToAllPending(firstStart, reqs)
	fmt.Fprintf(progress, "product: all %d approval requests are on the channel (%s after the first start)\n", n, f.TimeToAllPending.Round(time.Millisecond))
	// A request can be on the channel before the workflow task that
	// published it is recorded; decide (or kill the worker) only once every
	// run waits in Temporal.
	var waiting atomic.Int64
	countWaiting := func(ctx context.Context) error { return waitRunsWaiting(ctx, st, tag, n, &waiting) }
	if err := waitReporting(ctx, progress, "runs waiting in Temporal", n, func() int { return int(waiting.Load()) }, countWaiting); err != nil {
		return f, err
	}
	fmt.Fprintf(progress, "product: all %d runs wait in Temporal (%s after the first start)\n", n, time.Since(firstStart).Round(time.Millisecond))

	if killWorker {
		if err := killAndRestartWorker(ctx, st, &f, progress); err != nil {
			return f, err
		}
	}

	fmt.Fprintf(progress, "product: %d approvers approve %d runs through Ably...\n", len(approvers), n)
	err = forEach(ctx, len(approvers), len(approvers), func(ctx context.Context, a int) error {
		for i := a; i < n; i += len(approvers) {
			if err := approvers[a].approve(ctx, reqs[i], guideShaped); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return f, err
	}

	var done atomic.Int64
	complete := func(ctx context.Context, i int) error {
		var res workflows.AgentResult
		if err := st.Temporal.GetWorkflow(ctx, ids[i], "").Get(ctx, &res); err != nil {
			return fmt.Errorf("run %s: %w", ids[i], err)
		}
		done.Add(1)
		for _, e := range res.Audit {
			if e.Kind == workflows.AuditExecuted && e.ToolCallID == reqs[i].ToolCallID {
				return nil
			}
		}
		return fmt.Errorf("run %s completed without executing %s: %q", ids[i], reqs[i].ToolCallID, res.Answer)
	}
	waitAll := func(ctx context.Context) error { return forEach(ctx, n, concurrency, complete) }
	if err := waitReporting(ctx, progress, "runs completed", n, func() int { return int(done.Load()) }, waitAll); err != nil {
		return f, err
	}

	fmt.Fprintf(progress, "product: reading %d histories...\n", n)
	hs := make([]runHistory, n)
	err = forEach(ctx, n, concurrency, func(ctx context.Context, i int) error {
		events, err := fetchHistory(ctx, st.Temporal, ids[i])
		if err != nil {
			return err
		}
		approver := approvers[runs[i].approver].name
		hs[i], err = readRunHistory(events, func(d workflows.Decision) bool {
			return d.ToolCallID == reqs[i].ToolCallID && d.ApproverClientID == approver && d.Decision == workflows.DecisionApproved
		})
		if err == nil && hs[i].Decision.IsZero() {
			err = fmt.Errorf("the decision signal carries no publishedAt")
		}
		if err != nil {
			return fmt.Errorf("history of %s: %w", ids[i], err)
		}
		return nil
	})
	if err != nil {
		return f, err
	}
	productFigures(&f, hs)

	for name, dst := range map[string]*int64{ChildWorker: &f.WorkerPeakRSS, ChildBridge: &f.BridgePeakRSS} {
		if pid, ok := st.ChildPid(name); ok {
			if *dst, err = peakRSS(pid); err != nil {
				fmt.Fprintf(progress, "warning: %v\n", err)
			}
		}
	}
	counts, err := postsByRun(st.cfg.BlogDir())
	if err != nil {
		return f, err
	}
	f.PostsExactlyOnce, f.PostProblems = exactlyOnce(counts, ids)
	return f, nil
}

// timeToAllPending is from firstStart to the latest Ably timestamp of reqs
// (n ≥ 1): when the last run's request was on the channel.
func timeToAllPending(firstStart time.Time, reqs []approvercli.Request) time.Duration {
	last := slices.MaxFunc(reqs, func(a, b approvercli.Request) int { return a.PublishedAt.Compare(b.PublishedAt) })
	return last.PublishedAt.Sub(firstStart)
}

// productFigures fills the figures that the histories give.
func productFigures(f *ProductFigures, hs []runHistory) {
	var toSignal, toTool []time.Duration
	var decided, signaled, completed []time.Time
	var events []int
	var steps [][]benchStep
	f.ToolEvent = "ActivityTaskScheduled " + workflows.ActivityExecuteTool
	for _, h := range hs {
		toSignal = append(toSignal, h.Signaled.Sub(h.Decision))
		toTool = append(toTool, h.ToolScheduled.Sub(h.Decision))
		decided = append(decided, h.Decision)
		signaled = append(signaled, h.Signaled)
		completed = append(completed, h.Completed)
		events = append(events, h.Events)
		steps = append(steps, h.Steps)
		if h.ToolLocal {
			f.ToolEvent = "MarkerRecorded of the local activity " + workflows.ActivityExecuteTool + " (written after the tool ran)"
		}
	}
	f.DecisionToSignal = summarize(toSignal)
	f.DecisionToTool = summarize(toTool)
	f.DecisionsPerSecond = perSecond(len(hs), spanOf(decided, signaled))
	f.Drain = spanOf(decided, completed)
	f.EventsMedian, f.EventsMax = medianMax(events)
	f.Steps = aggregateSteps(steps)
}

// killAndRestartWorker records the worker's peak RSS, kills it with
// SIGKILL and starts a new one.
func killAndRestartWorker(ctx context.Context, st *Stack, f *ProductFigures, progress io.Writer) error {
	pid, ok := st.ChildPid(ChildWorker)
	if !ok {
		return fmt.Errorf("the worker is not running")
	}
	rss, err := peakRSS(pid)
	if err != nil {
		fmt.Fprintf(progress, "warning: %v\n", err)
	}
	f.WorkerPeakRSSBeforeKill = rss
	fmt.Fprintf(progress, "product: killing the worker (pid %d, peak RSS %s) with SIGKILL and starting a new one...\n", pid, formatBytes(rss))
	t0 := time.Now()
	if err := st.RestartWorker(ctx, syscall.SIGKILL, 30*time.Second); err != nil {
		return err
	}
	f.WorkerRestart = time.Since(t0)
	pid, _ = st.ChildPid(ChildWorker)
	fmt.Fprintf(progress, "product: the new worker (pid %d) polls after %s\n", pid, f.WorkerRestart.Round(time.Millisecond))
	return nil
}

// benchRunPrefix starts the workflow id of every agent run of the bench
// run tag.
func benchRunPrefix(tag string) string { return "hitl-bench-" + tag + "-" }

// waitRunsWaiting polls visibility until the n runs of bench run tag wait
// for a human (workflows.PendingRunsQuery: running, PendingApprovals > 0,
// which the run upserts in the workflow task that publishes the request).
// Only this run's ids count: a namespace on a server the bench did not
// start may hold pending runs of an earlier, interrupted one. counted holds
// the latest count.
func waitRunsWaiting(ctx context.Context, st *Stack, tag string, n int, counted *atomic.Int64) error {
	query := workflows.PendingRunsQuery() + " AND WorkflowId STARTS_WITH '" + benchRunPrefix(tag) + "'"
	for {
		resp, err := st.Temporal.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Namespace: st.cfg.Namespace, Query: query,
		})
		var invalid *serviceerror.InvalidArgument
		switch {
		case errors.As(err, &invalid):
			return fmt.Errorf("count the runs that wait (%s): %w", query, err) // retrying cannot help
		case err == nil:
			counted.Store(resp.GetCount())
			if resp.GetCount() >= int64(n) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d runs wait in Temporal: %w", counted.Load(), n, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// waitReporting runs wait, printing count() of n every 10 s meanwhile.
func waitReporting(ctx context.Context, progress io.Writer, what string, n int, count func() int, wait func(context.Context) error) error {
	done := make(chan error, 1)
	go func() { done <- wait(ctx) }()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-tick.C:
			fmt.Fprintf(progress, "  %s: %d of %d\n", what, count(), n)
		}
	}
}
