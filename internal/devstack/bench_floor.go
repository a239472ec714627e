package devstack

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// The bare floor: the least a durable approval can cost on the same
// Temporal server, a workflow that waits for one signal and then schedules
// one activity.
const (
	floorWorkflowName = "BenchFloorWorkflow"
	floorActivityName = "BenchFloorActivity"
	floorSignalName   = "decision"
	// floorSentLabel names the time the client sent a floor signal.
	floorSentLabel = "signal sent (client)"
)

// floorWorkflow waits for one signal, then runs one activity.
func floorWorkflow(ctx workflow.Context) error {
	var decision string
	workflow.GetSignalChannel(ctx, floorSignalName).Receive(ctx, &decision)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	return workflow.ExecuteActivity(actx, floorActivityName, decision).Get(ctx, nil)
}

// floorActivity does nothing: only its scheduling is measured.
func floorActivity(context.Context, string) error { return nil }

// FloorFigures are the bare floor's figures.
type FloorFigures struct {
	// SignalToActivity is from the client's SignalWorkflow call to the
	// ActivityTaskScheduled event: the floor of decision → tool scheduled.
	SignalToActivity Durations `json:"signalToActivity"`
	// SignaledToActivity is from the WorkflowExecutionSignaled event to
	// the ActivityTaskScheduled event (the server's queueing of the
	// signals left out).
	SignaledToActivity Durations `json:"signaledToActivity"`
	// SignalsPerSecond is N / (last signal event − first signal sent).
	SignalsPerSecond float64 `json:"signalsPerSecond"`
	EventsMedian     int     `json:"eventsMedian"`
	EventsMax        int     `json:"eventsMax"`
	// Steps are where signal sent → activity scheduled goes.
	Steps []StepFigure `json:"steps"`
}

// runFloor runs the bare floor on tc: n floor workflows on their own task
// queue, polled by a worker in this process, all waiting before the first
// signal; then senders goroutines signal them, each its share one after
// another (the way the bench's approvers publish), and the histories are
// read.
func runFloor(ctx context.Context, tc client.Client, tag string, n, senders, concurrency int, progress io.Writer) (FloorFigures, error) {
	queue := "bench-floor-" + tag
	w := worker.New(tc, queue, worker.Options{})
	w.RegisterWorkflowWithOptions(floorWorkflow, workflow.RegisterOptions{Name: floorWorkflowName})
	w.RegisterActivityWithOptions(floorActivity, activity.RegisterOptions{Name: floorActivityName})
	if err := w.Start(); err != nil {
		return FloorFigures{}, fmt.Errorf("floor worker: %w", err)
	}
	defer w.Stop()

	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-floor-%s-%05d", tag, i)
	}
	fmt.Fprintf(progress, "floor: starting %d bare workflows...\n", n)
	err := forEach(ctx, n, concurrency, func(ctx context.Context, i int) error {
		_, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: ids[i], TaskQueue: queue, WorkflowExecutionErrorWhenAlreadyStarted: true,
		}, floorWorkflowName)
		return err
	})
	if err != nil {
		return FloorFigures{}, fmt.Errorf("start floor workflows: %w", err)
	}
	if err := waitFloorWaiting(ctx, tc, ids, concurrency); err != nil {
		return FloorFigures{}, err
	}

	fmt.Fprintf(progress, "floor: signalling %d workflows from %d senders...\n", n, senders)
	sent := make([]time.Time, n)
	err = forEach(ctx, senders, senders, func(ctx context.Context, s int) error {
		for i := s; i < n; i += senders {
			sent[i] = time.Now()
			if err := tc.SignalWorkflow(ctx, ids[i], "", floorSignalName, "approved"); err != nil {
				return fmt.Errorf("signal %s: %w", ids[i], err)
			}
		}
		return nil
	})
	if err != nil {
		return FloorFigures{}, err
	}
	err = forEach(ctx, n, concurrency, func(ctx context.Context, i int) error {
		return tc.GetWorkflow(ctx, ids[i], "").Get(ctx, nil)
	})
	if err != nil {
		return FloorFigures{}, fmt.Errorf("floor workflows: %w", err)
	}

	hs := make([]floorHistory, n)
	err = forEach(ctx, n, concurrency, func(ctx context.Context, i int) error {
		events, err := fetchHistory(ctx, tc, ids[i])
		if err != nil {
			return err
		}
		if hs[i], err = readFloorHistory(events); err != nil {
			return fmt.Errorf("%s: %w", ids[i], err)
		}
		return nil
	})
	if err != nil {
		return FloorFigures{}, err
	}
	return floorFigures(hs, sent), nil
}

// floorFigures summarises the floor runs; sent[i] is when run i was
// signalled.
func floorFigures(hs []floorHistory, sent []time.Time) FloorFigures {
	var toAct, fromEvent []time.Duration
	var signaled []time.Time
	var events []int
	var steps [][]benchStep
	for i, h := range hs {
		toAct = append(toAct, h.Scheduled.Sub(sent[i]))
		fromEvent = append(fromEvent, h.Scheduled.Sub(h.Signaled))
		signaled = append(signaled, h.Signaled)
		events = append(events, h.Events)
		steps = append(steps, append([]benchStep{{Label: floorSentLabel + " → WorkflowExecutionSignaled " + floorSignalName, D: h.Signaled.Sub(sent[i])}}, h.Steps...))
	}
	f := FloorFigures{
		SignalToActivity:   summarize(toAct),
		SignaledToActivity: summarize(fromEvent),
		SignalsPerSecond:   perSecond(len(hs), spanOf(sent, signaled)),
		Steps:              aggregateSteps(steps),
	}
	f.EventsMedian, f.EventsMax = medianMax(events)
	return f
}

// waitFloorWaiting waits until every floor workflow has run its first
// workflow task, and so waits for its signal: no workflow task pending.
func waitFloorWaiting(ctx context.Context, tc client.Client, ids []string, concurrency int) error {
	var (
		mu      sync.Mutex
		waiting = make([]bool, len(ids))
	)
	for {
		err := forEach(ctx, len(ids), concurrency, func(ctx context.Context, i int) error {
			mu.Lock()
			done := waiting[i]
			mu.Unlock()
			if done {
				return nil
			}
			d, err := tc.DescribeWorkflowExecution(ctx, ids[i], "")
			if err != nil {
				return err
			}
			if d.GetPendingWorkflowTask() == nil && d.GetWorkflowExecutionInfo().GetHistoryLength() >= 4 {
				mu.Lock()
				waiting[i] = true
				mu.Unlock()
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("floor workflows waiting: %w", err)
		}
		mu.Lock()
		all := !slices.Contains(waiting, false)
		mu.Unlock()
		if all {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("floor workflows waiting: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
