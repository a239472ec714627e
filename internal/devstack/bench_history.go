package devstack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/hitl/durable-approvals/workflows"
)

// maxBenchHistoryEvents bounds the events read of one run: a run with one
// approved call has a few dozen.
const maxBenchHistoryEvents = 10000

// fetchHistory reads the whole history of the latest run of id.
func fetchHistory(ctx context.Context, tc client.Client, id string) ([]*historypb.HistoryEvent, error) {
	it := tc.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var events []*historypb.HistoryEvent
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("history of %s: %w", id, err)
		}
		if events = append(events, e); len(events) > maxBenchHistoryEvents {
			return nil, fmt.Errorf("history of %s: more than %d events", id, maxBenchHistoryEvents)
		}
	}
	return events, nil
}

// runHistory is what the history of one agent run says about its
// approved tool call.
type runHistory struct {
	Events int
	// Decision is the Ably timestamp of the approval-response
	// (Decision.PublishedAt, set by the bridge); zero if the decision
	// carries none.
	Decision time.Time
	// Signaled is the WorkflowExecutionSignaled event of the decision.
	Signaled time.Time
	// ToolScheduled is the ActivityTaskScheduled event of ExecuteTool, or,
	// when the tool runs as a local activity (ToolLocal), its
	// MarkerRecorded event, which is written once the tool has run.
	ToolScheduled time.Time
	ToolLocal     bool
	// Completed is the WorkflowExecutionCompleted event; zero if the run
	// has not completed.
	Completed time.Time
	// Steps are the gaps between consecutive events (in time order) from
	// the decision to the tool, each named "from → to".
	Steps []benchStep
}

// benchStep is one gap between two events of a history.
type benchStep struct {
	Label string
	D     time.Duration
}

// decisionLabel names the time the human decided (the Ably timestamp).
const decisionLabel = "decision (Ably timestamp)"

// readRunHistory reads the history of an agent run. The decision is the
// first approval-decision signal whose payload match accepts; the tool is
// the first ExecuteTool (activity or local activity) after it.
func readRunHistory(events []*historypb.HistoryEvent, match func(workflows.Decision) bool) (runHistory, error) {
	h := runHistory{Events: len(events)}
	dc := converter.GetDefaultDataConverter()
	activityNames := map[int64]string{} // scheduled event id -> activity type
	sig, tool := -1, -1
	for i, e := range events {
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			name := e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
			activityNames[e.GetEventId()] = name
			if sig >= 0 && tool < 0 && name == workflows.ActivityExecuteTool {
				tool = i
			}
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			if sig >= 0 && tool < 0 && localActivityType(dc, e) == workflows.ActivityExecuteTool {
				tool, h.ToolLocal = i, true
			}
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
			a := e.GetWorkflowExecutionSignaledEventAttributes()
			if sig >= 0 || a.GetSignalName() != workflows.DecisionSignal {
				continue
			}
			var d workflows.Decision
			if err := dc.FromPayloads(a.GetInput(), &d); err != nil {
				continue // not ours to read: junk signals are the workflow's business
			}
			if match(d) {
				sig = i
				h.Decision, h.Signaled = d.PublishedAt, e.GetEventTime().AsTime()
			}
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
			h.Completed = e.GetEventTime().AsTime()
		}
	}
	if sig < 0 {
		return h, errors.New("no matching approval-decision signal")
	}
	if tool < 0 {
		return h, fmt.Errorf("no %s after the decision signal", workflows.ActivityExecuteTool)
	}
	h.ToolScheduled = events[tool].GetEventTime().AsTime()
	h.Steps = stepsBetween(events[sig:tool+1], activityNames, dc)
	if !h.Decision.IsZero() {
		h.Steps = append([]benchStep{{Label: decisionLabel + " → " + eventLabel(events[sig], activityNames, dc), D: h.Signaled.Sub(h.Decision)}}, h.Steps...)
	}
	return h, nil
}

// stepsBetween returns the gaps between events[0] and the events after it
// in time order: the order of a history is not always the order of its
// event times (an activity's started event is written with its
// completion), and events timed before events[0] are left out.
func stepsBetween(events []*historypb.HistoryEvent, activityNames map[int64]string, dc converter.DataConverter) []benchStep {
	from := events[0].GetEventTime().AsTime()
	sorted := slices.DeleteFunc(slices.Clone(events), func(e *historypb.HistoryEvent) bool {
		return e.GetEventTime().AsTime().Before(from)
	})
	slices.SortStableFunc(sorted, func(a, b *historypb.HistoryEvent) int {
		return a.GetEventTime().AsTime().Compare(b.GetEventTime().AsTime())
	})
	var steps []benchStep
	for i := 1; i < len(sorted); i++ {
		prev, next := sorted[i-1], sorted[i]
		steps = append(steps, benchStep{
			Label: eventLabel(prev, activityNames, dc) + " → " + eventLabel(next, activityNames, dc),
			D:     next.GetEventTime().AsTime().Sub(prev.GetEventTime().AsTime()),
		})
	}
	return steps
}

// eventLabel names an event: its type without the EVENT_TYPE_ prefix, in
// CamelCase, and the activity, local activity or signal it is about.
func eventLabel(e *historypb.HistoryEvent, activityNames map[int64]string, dc converter.DataConverter) string {
	name := camelEventType(e.GetEventType())
	var about string
	switch e.GetEventType() {
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
		about = e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
		about = activityNames[e.GetActivityTaskStartedEventAttributes().GetScheduledEventId()]
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
		about = activityNames[e.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()]
	case enumspb.EVENT_TYPE_MARKER_RECORDED:
		about = e.GetMarkerRecordedEventAttributes().GetMarkerName()
		if t := localActivityType(dc, e); t != "" {
			about = "local activity " + t
		}
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
		about = e.GetWorkflowExecutionSignaledEventAttributes().GetSignalName()
	}
	if about == "" {
		return name
	}
	return name + " " + about
}

// camelEventType names an event type the way the Web UI does:
// WorkflowTaskStarted (the API's String gives that; a proto name such as
// EVENT_TYPE_WORKFLOW_TASK_STARTED is converted).
func camelEventType(t enumspb.EventType) string {
	name, ok := strings.CutPrefix(t.String(), "EVENT_TYPE_")
	if !ok {
		return name
	}
	var b strings.Builder
	for _, w := range strings.Split(name, "_") {
		if w != "" {
			b.WriteString(w[:1] + strings.ToLower(w[1:]))
		}
	}
	return b.String()
}

// localActivityType returns the activity type of a local-activity marker
// (the SDK records {ActivityType, ...} in its details' "data"), or "".
func localActivityType(dc converter.DataConverter, e *historypb.HistoryEvent) string {
	a := e.GetMarkerRecordedEventAttributes()
	if a.GetMarkerName() != "LocalActivity" {
		return ""
	}
	var data struct{ ActivityType string }
	if err := dc.FromPayloads(a.GetDetails()["data"], &data); err != nil {
		return ""
	}
	return data.ActivityType
}

// floorHistory is what the history of a bare floor run says.
type floorHistory struct {
	Events    int
	Signaled  time.Time // the first WorkflowExecutionSignaled
	Scheduled time.Time // the first ActivityTaskScheduled after it
	// Steps are the gaps between consecutive events (in time order) from
	// the signal to the activity.
	Steps []benchStep
}

// readFloorHistory reads the history of a bare floor run.
func readFloorHistory(events []*historypb.HistoryEvent) (floorHistory, error) {
	h := floorHistory{Events: len(events)}
	sig, act := -1, -1
	for i, e := range events {
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
			if sig < 0 {
				sig = i
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			if sig >= 0 && act < 0 {
				act = i
			}
		}
	}
	if sig < 0 || act < 0 {
		return h, errors.New("no signal followed by an activity")
	}
	h.Signaled, h.Scheduled = events[sig].GetEventTime().AsTime(), events[act].GetEventTime().AsTime()
	h.Steps = stepsBetween(events[sig:act+1], nil, converter.GetDefaultDataConverter())
	return h, nil
}
