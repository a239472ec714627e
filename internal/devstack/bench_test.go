package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/approvercli"
	"github.com/hitl/durable-approvals/workflows"
)

func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

func TestSummarize(t *testing.T) {
	seq := func(n int) []time.Duration {
		var ds []time.Duration
		for i := n; i >= 1; i-- { // reversed: summarize sorts
			ds = append(ds, ms(float64(i)))
		}
		return ds
	}
	tests := []struct {
		name string
		in   []time.Duration
		want Durations
	}{
		{"empty", nil, Durations{}},
		{"one", []time.Duration{ms(7)}, Durations{Count: 1, P50: ms(7), P99: ms(7), Max: ms(7)}},
		{"two: the lower is the median", []time.Duration{ms(9), ms(1)}, Durations{Count: 2, P50: ms(1), P99: ms(9), Max: ms(9)}},
		{"1..5", seq(5), Durations{Count: 5, P50: ms(3), P99: ms(5), Max: ms(5)}},
		{"1..100", seq(100), Durations{Count: 100, P50: ms(50), P99: ms(99), Max: ms(100)}},
		{"1..200", seq(200), Durations{Count: 200, P50: ms(100), P99: ms(198), Max: ms(200)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]time.Duration(nil), tt.in...)
			if got := summarize(tt.in); got != tt.want {
				t.Errorf("summarize = %+v, want %+v", got, tt.want)
			}
			for i := range in {
				if in[i] != tt.in[i] {
					t.Fatal("summarize changed its input")
				}
			}
		})
	}
}

func TestMedianMaxAndRates(t *testing.T) {
	tests := []struct {
		in           []int
		median, maxi int
	}{{nil, 0, 0}, {[]int{43}, 43, 43}, {[]int{45, 43, 44, 49}, 44, 49}, {[]int{3, 1, 2}, 2, 3}}
	for _, tt := range tests {
		if m, x := medianMax(tt.in); m != tt.median || x != tt.maxi {
			t.Errorf("medianMax(%v) = %d, %d, want %d, %d", tt.in, m, x, tt.median, tt.maxi)
		}
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := spanOf([]time.Time{t0.Add(time.Second), t0}, []time.Time{t0.Add(3 * time.Second), t0.Add(10 * time.Second)}); got != 10*time.Second {
		t.Errorf("spanOf = %s, want 10s", got)
	}
	for _, tt := range []struct{ from, to []time.Time }{{nil, nil}, {[]time.Time{t0}, nil}, {nil, []time.Time{t0}}} {
		if got := spanOf(tt.from, tt.to); got != 0 {
			t.Errorf("spanOf(%v, %v) = %s, want 0", tt.from, tt.to, got)
		}
	}
	if got := perSecond(200, 10*time.Second); got != 20 {
		t.Errorf("perSecond = %v, want 20", got)
	}
	if got := perSecond(5, 0); got != 0 {
		t.Errorf("perSecond over no time = %v, want 0", got)
	}
}

func loadHistory(t *testing.T, path string) []*historypb.HistoryEvent {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return h.GetEvents()
}

// builder makes synthetic histories: each event 10 ms after the last.
type historyBuilder struct {
	t      *testing.T
	events []*historypb.HistoryEvent
	at     time.Time
}

func (b *historyBuilder) add(typ enumspb.EventType, set func(e *historypb.HistoryEvent)) {
	b.at = b.at.Add(10 * time.Millisecond)
	e := &historypb.HistoryEvent{EventId: int64(len(b.events) + 1), EventType: typ, EventTime: timestamppb.New(b.at)}
	if set != nil {
		set(e)
	}
	b.events = append(b.events, e)
}

func (b *historyBuilder) payloads(v any) *commonpb.Payloads {
	p, err := converter.GetDefaultDataConverter().ToPayloads(v)
	if err != nil {
		b.t.Fatal(err)
	}
	return p
}

func (b *historyBuilder) signal(d workflows.Decision) { b.signalNamed(workflows.DecisionSignal, d) }

// signalNamed adds a signal of that name carrying d.
func (b *historyBuilder) signalNamed(name string, d workflows.Decision) {
	b.add(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, func(e *historypb.HistoryEvent) {
		e.Attributes = &historypb.HistoryEvent_WorkflowExecutionSignaledEventAttributes{WorkflowExecutionSignaledEventAttributes: &historypb.WorkflowExecutionSignaledEventAttributes{
			SignalName: name, Input: b.payloads(d)}}
	})
}

func (b *historyBuilder) activity(name string) {
	b.add(enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, func(e *historypb.HistoryEvent) {
		e.Attributes = &historypb.HistoryEvent_ActivityTaskScheduledEventAttributes{ActivityTaskScheduledEventAttributes: &historypb.ActivityTaskScheduledEventAttributes{
			ActivityType: &commonpb.ActivityType{Name: name}}}
	})
}

func (b *historyBuilder) localActivity(name string) {
	b.marker("LocalActivity", map[string]any{"ActivityID": "3", "ActivityType": name})
}

// marker records a marker called name with data as its details' "data".
func (b *historyBuilder) marker(name string, data any) {
	b.add(enumspb.EVENT_TYPE_MARKER_RECORDED, func(e *historypb.HistoryEvent) {
		e.Attributes = &historypb.HistoryEvent_MarkerRecordedEventAttributes{MarkerRecordedEventAttributes: &historypb.MarkerRecordedEventAttributes{
			MarkerName: name,
			Details:    map[string]*commonpb.Payloads{"data": b.payloads(data)}}}
	})
}

// activityStarted and activityCompleted are the events of the activity
// scheduled as event scheduled.
func (b *historyBuilder) activityStarted(scheduled int64) {
	b.add(enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED, func(e *historypb.HistoryEvent) {
		e.Attributes = &historypb.HistoryEvent_ActivityTaskStartedEventAttributes{ActivityTaskStartedEventAttributes: &historypb.ActivityTaskStartedEventAttributes{
			ScheduledEventId: scheduled}}
	})
}

func (b *historyBuilder) activityCompleted(scheduled int64) {
	b.add(enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, func(e *historypb.HistoryEvent) {
		e.Attributes = &historypb.HistoryEvent_ActivityTaskCompletedEventAttributes{ActivityTaskCompletedEventAttributes: &historypb.ActivityTaskCompletedEventAttributes{
			ScheduledEventId: scheduled}}
	})
}

// timed sets the time of the last event to base + n ms.
func (b *historyBuilder) timed(base time.Time, n float64) {
	b.events[len(b.events)-1].EventTime = timestamppb.New(base.Add(ms(n)))
}

func (b *historyBuilder) task() {
	b.add(enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, nil)
	b.add(enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED, nil)
	b.add(enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, nil)
}

func TestReadRunHistory(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	synthetic := func(local bool) []*historypb.HistoryEvent {
		b := &historyBuilder{t: t, at: t0}
		b.add(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, nil) // t0+10ms
		b.task()
		b.activity(workflows.ActivityPublishApprovalRequest)
		b.signal(workflows.Decision{ToolCallID: "call_1", Decision: "approved", ApproverClientID: "erin", PublishedAt: t0}) // a junk decision first
		b.signal(workflows.Decision{ToolCallID: "call_1", Decision: "approved", ApproverClientID: "pat", PublishedAt: t0.Add(40 * time.Millisecond)})
		b.task()
		if local {
			b.localActivity(workflows.ActivityExecuteTool)
		} else {
			b.activity(workflows.ActivityExecuteTool)
		}
		b.add(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, nil)
		return b.events
	}
	at := func(n int) time.Time { return t0.Add(time.Duration(n) * 10 * time.Millisecond) }
	byPat := func(d workflows.Decision) bool { return d.ApproverClientID == "pat" }
	recorded := loadHistory(t, filepath.Join("..", "..", "workflows", "testdata", "replay", "v2-approve.json"))
	eventTime := func(id int) time.Time { return recorded[id-1].GetEventTime().AsTime() }

	tests := []struct {
		name      string
		events    []*historypb.HistoryEvent
		match     func(workflows.Decision) bool
		want      runHistory
		wantSteps []string
		wantErr   string
	}{
		{
			name:   "recorded v2-approve: alice's decision, ExecuteTool activity",
			events: recorded,
			match:  func(d workflows.Decision) bool { return d.AblyMessageID == "msg-approve-2" && d.Decision == "approved" },
			want:   runHistory{Events: 54, Signaled: eventTime(20), ToolScheduled: eventTime(42), Completed: eventTime(54)},
			wantSteps: []string{
				// Event 21 (the request's publish started) is timed before
				// the decision and left out.
				"WorkflowExecutionSignaled approval-decision → ActivityTaskCompleted PublishApprovalRequest",
				"ActivityTaskCompleted PublishApprovalRequest → WorkflowTaskScheduled",
			},
		},
		{
			name:      "synthetic: ExecuteTool activity",
			events:    synthetic(false),
			match:     byPat,
			want:      runHistory{Events: 12, Decision: at(4), Signaled: at(7), ToolScheduled: at(11), Completed: at(12)},
			wantSteps: []string{"decision (Ably timestamp) → WorkflowExecutionSignaled approval-decision", "WorkflowExecutionSignaled approval-decision → WorkflowTaskScheduled"},
		},
		{
			name:   "synthetic: ExecuteTool local activity",
			events: synthetic(true),
			match:  byPat,
			want:   runHistory{Events: 12, Decision: at(4), Signaled: at(7), ToolScheduled: at(11), ToolLocal: true, Completed: at(12)},
		},
		{name: "no matching decision", events: synthetic(false), match: func(workflows.Decision) bool { return false }, wantErr: "no matching approval-decision"},
		{name: "no tool", events: synthetic(false)[:9], match: byPat, wantErr: "no ExecuteTool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readRunHistory(tt.events, tt.match)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			steps := got.Steps
			got.Steps = nil
			if !got.Decision.Equal(tt.want.Decision) || !got.Signaled.Equal(tt.want.Signaled) || !got.ToolScheduled.Equal(tt.want.ToolScheduled) ||
				!got.Completed.Equal(tt.want.Completed) || got.Events != tt.want.Events || got.ToolLocal != tt.want.ToolLocal {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
			var sum time.Duration
			for i, s := range steps {
				sum += s.D
				if i < len(tt.wantSteps) && s.Label != tt.wantSteps[i] {
					t.Errorf("step %d = %q, want %q", i, s.Label, tt.wantSteps[i])
				}
			}
			from := got.Decision
			if from.IsZero() {
				from = got.Signaled
			}
			if want := got.ToolScheduled.Sub(from); sum != want {
				t.Errorf("the steps add up to %s, want %s (decision → tool)", sum, want)
			}
		})
	}
}

func TestReadFloorHistory(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	b := &historyBuilder{t: t, at: t0}
	b.add(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, nil)
	b.task()
	b.add(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, nil)
	b.task()
	b.activity(floorActivityName)
	got, err := readFloorHistory(b.events)
	if err != nil {
		t.Fatal(err)
	}
	if got.Events != 9 || !got.Signaled.Equal(t0.Add(50*time.Millisecond)) || !got.Scheduled.Equal(t0.Add(90*time.Millisecond)) {
		t.Errorf("got %+v, want 9 events, signal at +50ms, activity at +90ms", got)
	}
	wantSteps := []string{"WorkflowExecutionSignaled → WorkflowTaskScheduled", "WorkflowTaskScheduled → WorkflowTaskStarted",
		"WorkflowTaskStarted → WorkflowTaskCompleted", "WorkflowTaskCompleted → ActivityTaskScheduled " + floorActivityName}
	if len(got.Steps) != len(wantSteps) {
		t.Fatalf("steps %+v, want %q", got.Steps, wantSteps)
	}
	for i, s := range got.Steps {
		if s.Label != wantSteps[i] || s.D != 10*time.Millisecond {
			t.Errorf("step %d = %+v, want %q of 10ms", i, s, wantSteps[i])
		}
	}
	if _, err := readFloorHistory(b.events[:5]); err == nil {
		t.Error("a floor history without its activity: no error")
	}
	sent := []time.Time{t0.Add(30 * time.Millisecond)}
	f := floorFigures([]floorHistory{got}, sent)
	if f.SignalToActivity.P50 != 60*time.Millisecond || f.SignaledToActivity.P50 != 40*time.Millisecond || f.EventsMax != 9 ||
		len(f.Steps) != 5 || f.Steps[0].Step != floorSentLabel+" → WorkflowExecutionSignaled "+floorSignalName || f.Steps[0].Median != 20*time.Millisecond {
		t.Errorf("floorFigures = %+v", f)
	}
}

func TestAggregateSteps(t *testing.T) {
	run := func(a, b, c time.Duration) []benchStep {
		return []benchStep{{"decision → signal", a}, {"task scheduled → started", b}, {"publish", c}, {"task scheduled → started", b}}
	}
	got := aggregateSteps([][]benchStep{run(ms(10), ms(1), ms(4)), run(ms(30), ms(3), ms(4)), run(ms(20), ms(2), ms(4))})
	want := []StepFigure{
		{Step: "decision → signal", Runs: 3, Median: ms(20), P99: ms(30), Share: 60.0 / 84},
		{Step: "task scheduled → started", Runs: 3, Median: ms(2), P99: ms(3), Share: 6.0 / 84},
		{Step: "publish", Runs: 3, Median: ms(4), P99: ms(4), Share: 12.0 / 84},
		{Step: "task scheduled → started (#2)", Runs: 3, Median: ms(2), P99: ms(3), Share: 6.0 / 84},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d steps, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Step != w.Step || g.Runs != w.Runs || g.Median != w.Median || g.P99 != w.P99 || g.Share-w.Share > 1e-9 || w.Share-g.Share > 1e-9 {
			t.Errorf("step %d = %+v, want %+v", i, g, w)
		}
	}
	if got := aggregateSteps(nil); len(got) != 0 {
		t.Errorf("no runs: %+v", got)
	}
}

func TestCamelEventType(t *testing.T) {
	for typ, want := range map[enumspb.EventType]string{
		enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:       "WorkflowTaskStarted",
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: "WorkflowExecutionSignaled",
		enumspb.EVENT_TYPE_MARKER_RECORDED:             "MarkerRecorded",
	} {
		if got := camelEventType(typ); got != want {
			t.Errorf("camelEventType(%d) = %q, want %q", typ, got, want)
		}
	}
}

func TestParseVmHWM(t *testing.T) {
	tests := []struct {
		status  string
		want    int64
		wantErr bool
	}{
		{"Name:\thitl-worker\nVmPeak:\t 1300000 kB\nVmHWM:\t  123456 kB\nVmRSS:\t 100000 kB\n", 123456 * 1024, false},
		{"VmHWM: 0 kB\n", 0, false},
		{"Name: x\n", 0, true},
		{"VmHWM: lots kB\n", 0, true},
		{"VmHWM: 12 MB\n", 0, true},
		{"VmHWM: -5 kB\n", 0, true},
		{"VmHWM: 12\n", 0, true},
		{"VmHWM: 12 kB more\n", 0, true},
		{"VmPeak: 99 kB\nVmHWM: 2 kB\n", 2048, false},
	}
	for _, tt := range tests {
		got, err := parseVmHWM([]byte(tt.status))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseVmHWM(%q) = %d, %v; want %d, error %v", tt.status, got, err, tt.want, tt.wantErr)
		}
	}
	if rss, err := peakRSS(os.Getpid()); err != nil || rss <= 0 {
		t.Errorf("peakRSS(self) = %d, %v", rss, err)
	}
}

func TestCPUModel(t *testing.T) {
	info := "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R)   Processor\nprocessor\t: 1\nmodel name\t: other\n"
	if got := cpuModel([]byte(info)); got != "Intel(R) Xeon(R) Processor" {
		t.Errorf("cpuModel = %q", got)
	}
	if got := cpuModel([]byte("processor: 0\n")); got != "" {
		t.Errorf("cpuModel without a model = %q", got)
	}
}

func TestPostsExactlyOnce(t *testing.T) {
	dir := t.TempDir()
	post := func(name, wfID string) {
		body := "---\ntitle: \"T\"\nslug: t\nworkflow_id: \"" + wfID + "\"\ntool_call_id: \"call_1\"\n---\n\nbody\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	post("a.md", "run-a")
	post("b.md", "run-b")
	post("b-1234abcd.md", "run-b")
	post("x.md", "run-x")
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("workflow_id: \"run-c\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	counts, err := postsByRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	ok, problems := exactlyOnce(counts, []string{"run-a", "run-b", "run-c"})
	if ok != 1 {
		t.Errorf("exactly once: %d, want 1", ok)
	}
	want := []string{`1 post(s) of an unknown run "run-x"`, "run run-b published 2 posts", "run run-c published no post"}
	if strings.Join(problems, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(want, "\n"))
	}
	if got := postWorkflowID([]byte("---\ntitle: x\n---\nworkflow_id: \"late\"\n")); got != "" {
		t.Errorf("workflow_id after the front matter counted: %q", got)
	}
}

// TestPostWorkflowID: only a JSON string in the front matter names a
// post's run; a post of no run counts as a stray post, not as a run's.
func TestPostWorkflowID(t *testing.T) {
	for post, want := range map[string]string{
		"---\nworkflow_id: \"run-a\"\n---\n":           "run-a",
		"---\ntitle: \"x\"\nworkflow_id: \"run-a\"\n":  "run-a",
		"---\nworkflow_id: run-a\n---\n":               "", // not JSON
		"---\n---\nworkflow_id: \"run-a\"\n":           "", // an empty front matter
		"---\ntitle: x\n---\nworkflow_id: \"run-a\"\n": "",
		"": "",
	} {
		if got := postWorkflowID([]byte(post)); got != want {
			t.Errorf("postWorkflowID(%q) = %q, want %q", post, got, want)
		}
	}
	ok, problems := exactlyOnce(map[string]int{"run-a": 1, "": 2}, []string{"run-a"})
	if want := []string{`2 post(s) of an unknown run ""`}; ok != 1 || !slices.Equal(problems, want) {
		t.Errorf("exactlyOnce = %d, %q; want 1, %q", ok, problems, want)
	}
}

func TestForEach(t *testing.T) {
	var running, peak, calls atomic.Int32
	err := forEach(t.Context(), 50, 4, func(ctx context.Context, i int) error {
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		calls.Add(1)
		if i%2 == 0 {
			return errors.New("even")
		}
		return nil
	})
	if calls.Load() != 50 || peak.Load() > 4 {
		t.Errorf("calls %d (want 50), peak concurrency %d (want at most 4)", calls.Load(), peak.Load())
	}
	if err == nil || strings.Count(err.Error(), "even") != maxPoolErrors || !strings.Contains(err.Error(), "and 15 more errors") {
		t.Errorf("err = %v, want %d errors and 15 more", err, maxPoolErrors)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := forEach(ctx, 10, 2, func(context.Context, int) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

func TestBenchConfigDefaults(t *testing.T) {
	tests := []struct {
		n, approvers, want int
	}{{5, 0, 5}, {200, 0, 20}, {1000, 0, 100}, {10000, 0, 1000}, {200, 7, 7}, {3, 20, 3},
		// ⌈N/10⌉: no approver has more than ten.
		{205, 0, 21}, {1001, 0, 101}}
	for _, tt := range tests {
		if got := (BenchConfig{N: tt.n, Approvers: tt.approvers}).approvers(); got != tt.want {
			t.Errorf("approvers(n=%d, -approvers %d) = %d, want %d", tt.n, tt.approvers, got, tt.want)
		}
	}
	if got := (BenchConfig{N: 200}).timeout(); got != 12*time.Minute {
		t.Errorf("timeout(200) = %s", got)
	}
	if got := (BenchConfig{N: 5, Timeout: time.Minute}).timeout(); got != time.Minute {
		t.Errorf("timeout with -timeout = %s", got)
	}
	err := BenchConfig{Root: t.TempDir(), N: 0, Approvers: -1, Timeout: -1}.Validate()
	for _, want := range []string{"not the repository root", "-n 0", "-approvers -1", "-timeout"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v, want %q", err, want)
		}
	}
}

func TestWriteBenchPolicy(t *testing.T) {
	path, err := writeBenchPolicy(filepath.Join("..", "..", "config", "policy.json"), filepath.Join(t.TempDir(), "policy.json"), 3*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p, err := config.LoadPolicy(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := time.Duration(p.Tools["publish_blog_post"].Timeout); got != 3*time.Hour {
		t.Errorf("publish_blog_post timeout %s, want 3h", got)
	}
	if tp := p.Tools["search_posts"]; tp.NeedsApproval() || tp.Timeout != 0 {
		t.Errorf("search_posts = %+v, want no approval and no timeout", tp)
	}
	if p.Tools["publish_blog_post"].MinRole != "publisher" {
		t.Errorf("publish_blog_post minRole changed: %+v", p.Tools["publish_blog_post"])
	}
}

func TestFormat(t *testing.T) {
	tests := []struct{ got, want string }{
		{formatDuration(ms(641)), "641 ms"},
		{formatDuration(14600 * time.Millisecond), "14.6 s"},
		{formatDuration(152 * time.Second), "152 s"},
		{formatDuration(ms(1.5)), "1.50 ms"},
		{formatDuration(4 * time.Microsecond), "4 µs"},
		{formatDuration(-ms(2)), "−2.00 ms"},
		{formatDuration(0), "0 µs"},
		// Rounded before the unit is chosen: at a unit's edge the
		// next unit, never four digits.
		{formatDuration(999400 * time.Nanosecond), "999 µs"},
		{formatDuration(999600 * time.Nanosecond), "1.00 ms"},
		{formatDuration(9994 * time.Microsecond), "9.99 ms"},
		{formatDuration(9996 * time.Microsecond), "10 ms"},
		{formatDuration(ms(999.4)), "999 ms"},
		{formatDuration(ms(999.6)), "1 s"},
		{formatDuration(ms(1110)), "1.11 s"},
		{formatDuration(ms(9994)), "9.99 s"},
		{formatDuration(ms(9996)), "10 s"},
		{formatDuration(ms(99960)), "100 s"},
		{formatDuration(ms(99940)), "99.9 s"},
		{formatRatio(14.6, 3.9), "3.7×"},
		{formatRatio(7, 16), "0.44×"},
		{formatRatio(1, 0), "—"},
		// From 10 on a ratio is a whole number, never in e-notation
		// (%.2g printed 146 as "1.5e+02").
		{formatRatio(9.94, 1), "9.9×"},
		{formatRatio(9.96, 1), "10×"},
		{formatRatio(14.6, 1), "15×"},
		{formatRatio(99.6, 1), "100×"},
		{formatRatio(146, 1), "146×"},
		{formatRatio(14600, 3.9), "3744×"},
		{formatRate(7.04), "7.04"},
		{formatRate(1184.2), "1184"},
		{formatBytes(123_400_000), "123 MB"},
		{formatBytes(0), "n/a"},
		// Each unit's range starts where the one below it ends.
		{formatDuration(999 * time.Microsecond), "999 µs"},
		{formatDuration(ms(7.25)), "7.25 ms"},
		{formatDuration(ms(10)), "10 ms"},
		{formatDuration(1500 * time.Millisecond), "1.5 s"},
		{formatDuration(99500 * time.Millisecond), "99.5 s"},
		{formatDuration(999600 * time.Millisecond), "1000 s"},
		{formatDuration(1234 * time.Second), "1234 s"},
		{formatRate(99.94), "99.9"},
		{formatRate(999.6), "1000"},
		{formatRate(12345.6), "12346"},
		{markdownCell("run a|b\nfailed"), `run a\|b failed`},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestMarkdown(t *testing.T) {
	res := BenchResult{
		N: 200, Approvers: 20,
		Machine: Machine{Date: time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC), CPU: "Test CPU", Cores: 2, GoVersion: "go1.26.8", OS: "linux/amd64", LoadAvg: "7.5", LoadAvgEnd: "8.25"},
		Elapsed: 95 * time.Second,
		Server:  TemporalServer{External: true, Address: "127.0.0.1:7233", Namespace: "bench", Version: "1.29.1", Persistence: "postgres12", Visibility: "postgres12"},
		Product: ProductFigures{
			Runs: 200, TimeToAllPending: 30 * time.Second,
			DecisionToSignal: Durations{Count: 200, P50: ms(188), P99: ms(900), Max: ms(950)},
			DecisionToTool:   Durations{Count: 200, P50: 14600 * time.Millisecond, P99: 26800 * time.Millisecond, Max: 27 * time.Second},
			ToolEvent:        "ActivityTaskScheduled ExecuteTool", DecisionsPerSecond: 7, Drain: 40 * time.Second,
			EventsMedian: 49, EventsMax: 51, WorkerPeakRSS: 123e6, BridgePeakRSS: 40e6, PostsExactlyOnce: 199,
			PostProblems: []string{"run a|b published no post"},
			Steps:        []StepFigure{{Step: "decision (Ably timestamp) → WorkflowExecutionSignaled approval-decision", Runs: 200, Median: ms(188), P99: ms(900), Share: 0.25}},
		},
		Floor: &FloorFigures{
			SignalToActivity:   Durations{Count: 200, P50: 3900 * time.Millisecond, P99: 11100 * time.Millisecond, Max: 12 * time.Second},
			SignaledToActivity: Durations{Count: 200, P50: ms(100), P99: ms(300), Max: ms(400)},
			SignalsPerSecond:   16, EventsMedian: 15, EventsMax: 15,
			Steps: []StepFigure{{Step: "WorkflowTaskScheduled → WorkflowTaskStarted", Runs: 200, Median: ms(3000), P99: ms(9000), Share: 0.8}},
		},
	}
	var b bytes.Buffer
	res.Markdown(&b)
	out := b.String()
	for _, want := range []string{
		"### N = 200, 20 approvers, responses with `toolCallId` and `workflowId` headers\n",
		"2026-12-04 18:00 UTC, Test CPU, 2 cores, go1.26.8, linux/amd64, load average 7.5 at the start, 8.25 at the end; the whole run took 95 s.",
		"Temporal: the Temporal server at 127.0.0.1:7233, namespace bench (server 1.29.1, persistence postgres12, visibility postgres12).\n",
		"| figure | product | bare floor | ratio |\n|---|---|---|---|\n",
		"| decision → tool scheduled, p50 | 14.6 s | 3.9 s | 3.7× |\n",
		"| decision → tool scheduled, p99 | 26.8 s | 11.1 s | 2.4× |\n",
		"| decisions applied per second | 7 | 16 | 0.44× |\n",
		"| decision → signal, p50 / p99 / max | 188 ms / 900 ms / 950 ms | — | — |\n",
		"| history events per run, median / max | 49 / 51 | 15 / 15 | — |\n",
		"| worker peak RSS (VmHWM) | 123 MB | — | — |\n",
		"| runs that published their post exactly once | 199 of 200 | — | — |\n",
		`- **run a\|b published no post**`,
		"| decision (Ably timestamp) → WorkflowExecutionSignaled approval-decision | 200 | 188 ms | 900 ms | 25% |\n",
		"Where the floor's signal sent → activity scheduled goes",
		"| WorkflowTaskScheduled → WorkflowTaskStarted | 200 | 3 s | 9 s | 80% |\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}

	res.KillWorker, res.GuideShaped, res.Floor, res.Approvers = true, true, nil, 1
	res.Server = TemporalServer{Address: "127.0.0.1:7233", Namespace: "default", Version: "1.29.1", Persistence: "sqlite", Visibility: "sqlite"}
	res.Product.WorkerPeakRSSBeforeKill, res.Product.WorkerRestart = 300e6, 4*time.Second
	b.Reset()
	res.Markdown(&b)
	out = b.String()
	for _, want := range []string{
		"### N = 200, one approver deciding all in one burst, guide-shaped responses (`toolCallId` header only), worker killed (SIGKILL) and restarted while all wait",
		"| decision → tool scheduled, p50 | 14.6 s | — | — |\n",
		"| worker peak RSS before the SIGKILL (VmHWM) | 300 MB | — | — |\n",
		"| worker restart (SIGKILL → the new worker polls) | 4 s | — | — |\n",
		"| restarted worker peak RSS (VmHWM) | 123 MB | — | — |\n",
		"Temporal: the Temporal CLI's dev server (server 1.29.1, persistence sqlite, visibility sqlite).\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("kill-worker markdown lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "signal event → activity scheduled") {
		t.Errorf("kill-worker markdown has floor rows:\n%s", out)
	}
}

func TestBenchTemporalAddress(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr, namespace string
		wantErr         string // empty: valid
	}{
		{"127.0.0.1:7233", "bench", ""},
		{"localhost:7233", "bench", ""},
		{"[::1]:7233", "bench", ""},
		{"127.8.9.10:1", "bench", ""},
		{"10.0.0.1:7233", "bench", "want a loopback host"},
		{"temporal.example.com:7233", "bench", "want a loopback host"},
		{"0.0.0.0:7233", "bench", "want a loopback host"},
		{"127.0.0.1", "bench", "want host:port"},
		{"127.0.0.1:0", "bench", "want 1-65535"},
		{"127.0.0.1:http", "bench", "want 1-65535"},
		{"127.0.0.1:7233", "", "-namespace is empty"},
	}
	for _, tt := range tests {
		err := BenchConfig{Root: root, N: 1, TemporalServer: tt.addr, Namespace: tt.namespace}.Validate()
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("-temporal-address %q -namespace %q: %v", tt.addr, tt.namespace, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("-temporal-address %q -namespace %q: err = %v, want %q", tt.addr, tt.namespace, err, tt.wantErr)
		}
	}
}

// TestProductFigures pins how the histories become the published figures:
// decision → signal and decision → tool from each run's Ably timestamp,
// decisions per second as N over first decision → last signal event, the
// drain as first decision → last completion, the events' median and max,
// the steps over every run, and which event the tool's is.
func TestProductFigures(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	at := func(n float64) time.Time { return t0.Add(ms(n)) }
	run := func(decision, signaled, tool, completed float64, events int, local bool, steps ...benchStep) runHistory {
		return runHistory{Events: events, Decision: at(decision), Signaled: at(signaled), ToolScheduled: at(tool), ToolLocal: local, Completed: at(completed), Steps: steps}
	}
	step := func(label string, d float64) benchStep { return benchStep{Label: label, D: ms(d)} }
	runs := func(local bool) []runHistory {
		return []runHistory{
			run(0, 100, 300, 1000, 30, false, step("a", 100), step("b", 200)),
			run(50, 250, 650, 2000, 32, local, step("a", 200), step("b", 400)),
			run(20, 500, 900, 1500, 31, false, step("a", 480), step("b", 100), step("c", 300), step("d", 0)),
		}
	}
	tests := []struct {
		name      string
		hs        []runHistory
		toolEvent string
	}{
		{"ExecuteTool activities", runs(false), "ActivityTaskScheduled ExecuteTool"},
		{"one local activity", runs(true), "MarkerRecorded of the local activity ExecuteTool (written after the tool ran)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f ProductFigures
			productFigures(&f, tt.hs)
			if want := (Durations{Count: 3, P50: ms(200), P99: ms(480), Max: ms(480)}); f.DecisionToSignal != want {
				t.Errorf("decision → signal = %+v, want %+v", f.DecisionToSignal, want)
			}
			if want := (Durations{Count: 3, P50: ms(600), P99: ms(880), Max: ms(880)}); f.DecisionToTool != want {
				t.Errorf("decision → tool = %+v, want %+v", f.DecisionToTool, want)
			}
			// 3 decisions from the first (t0) to the last signal event (t0+500ms).
			if f.DecisionsPerSecond != 6 {
				t.Errorf("decisions per second = %v, want 6", f.DecisionsPerSecond)
			}
			if f.Drain != 2*time.Second {
				t.Errorf("drain = %s, want 2s (first decision → last completion)", f.Drain)
			}
			if f.EventsMedian != 31 || f.EventsMax != 32 {
				t.Errorf("events %d / %d, want 31 / 32", f.EventsMedian, f.EventsMax)
			}
			if f.ToolEvent != tt.toolEvent {
				t.Errorf("tool event %q, want %q", f.ToolEvent, tt.toolEvent)
			}
			var labels []string
			for _, s := range f.Steps {
				labels = append(labels, fmt.Sprintf("%s×%d", s.Step, s.Runs))
			}
			if got, want := strings.Join(labels, ", "), "a×3, b×3, c×1, d×1"; got != want {
				t.Errorf("steps %s, want %s", got, want)
			}
		})
	}
}

// TestFloorFigures: the floor's signal → activity runs from each run's own
// send, signals per second is N over first send → last signal event.
func TestFloorFigures(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	at := func(n float64) time.Time { return t0.Add(ms(n)) }
	hs := []floorHistory{
		{Events: 9, Signaled: at(100), Scheduled: at(150)},
		{Events: 11, Signaled: at(200), Scheduled: at(260)},
		{Events: 10, Signaled: at(250), Scheduled: at(400)},
	}
	sent := []time.Time{at(0), at(10), at(20)}
	f := floorFigures(hs, sent)
	if want := (Durations{Count: 3, P50: ms(250), P99: ms(380), Max: ms(380)}); f.SignalToActivity != want {
		t.Errorf("signal sent → activity = %+v, want %+v", f.SignalToActivity, want)
	}
	if want := (Durations{Count: 3, P50: ms(60), P99: ms(150), Max: ms(150)}); f.SignaledToActivity != want {
		t.Errorf("signal event → activity = %+v, want %+v", f.SignaledToActivity, want)
	}
	if f.SignalsPerSecond != 12 {
		t.Errorf("signals per second = %v, want 12 (3 over 250 ms)", f.SignalsPerSecond)
	}
	if f.EventsMedian != 10 || f.EventsMax != 11 {
		t.Errorf("events %d / %d, want 10 / 11", f.EventsMedian, f.EventsMax)
	}
	if len(f.Steps) != 1 || f.Steps[0].Runs != 3 || f.Steps[0].Median != ms(190) || f.Steps[0].P99 != ms(230) {
		t.Errorf("steps = %+v, want the one sent → signaled step over 3 runs, median 190ms, p99 230ms", f.Steps)
	}
}

// TestMarkdownTable pins every row of the published table, each figure in
// its row and column: no figure distinct from the others may be shown in
// another's place.
func TestMarkdownTable(t *testing.T) {
	product := ProductFigures{
		Runs: 200, TimeToAllPending: 30 * time.Second, Drain: 41 * time.Second,
		DecisionToSignal: Durations{Count: 200, P50: ms(188), P99: ms(900), Max: ms(950)},
		DecisionToTool:   Durations{Count: 200, P50: 14600 * time.Millisecond, P99: 26800 * time.Millisecond, Max: 27500 * time.Millisecond},
		ToolEvent:        "ActivityTaskScheduled ExecuteTool", DecisionsPerSecond: 7,
		EventsMedian: 49, EventsMax: 51, WorkerPeakRSS: 123e6, BridgePeakRSS: 40e6, PostsExactlyOnce: 199,
		PostProblems: []string{"run b published 2 posts"},
		Steps:        []StepFigure{{Step: "s", Runs: 200, Median: ms(1), P99: ms(2), Share: 1}},
	}
	floor := &FloorFigures{
		SignalToActivity:   Durations{Count: 200, P50: 3900 * time.Millisecond, P99: 11100 * time.Millisecond, Max: 12500 * time.Millisecond},
		SignaledToActivity: Durations{Count: 200, P50: ms(100), P99: ms(300), Max: ms(400)},
		SignalsPerSecond:   16, EventsMedian: 15, EventsMax: 17,
	}
	tests := []struct {
		name  string
		res   BenchResult
		table string
	}{
		{"with the floor", BenchResult{N: 200, Approvers: 20, Product: product, Floor: floor}, `| figure | product | bare floor | ratio |
|---|---|---|---|
| decision → tool scheduled, p50 | 14.6 s | 3.9 s | 3.7× |
| decision → tool scheduled, p99 | 26.8 s | 11.1 s | 2.4× |
| decision → tool scheduled, max | 27.5 s | 12.5 s | 2.2× |
| decisions applied per second | 7 | 16 | 0.44× |
| decision → signal, p50 / p99 / max | 188 ms / 900 ms / 950 ms | — | — |
| signal event → activity scheduled, p50 / p99 / max | — | 100 ms / 300 ms / 400 ms | — |
| history events per run, median / max | 49 / 51 | 15 / 17 | — |
| time to all pending (first start → last request on Ably) | 30 s | — | — |
| time to drain (first decision → last run completed) | 41 s | — | — |
| worker peak RSS (VmHWM) | 123 MB | — | — |
| bridge peak RSS (VmHWM) | 40 MB | — | — |
| runs that published their post exactly once | 199 of 200 | — | — |
`},
		{"worker killed, no floor", BenchResult{N: 200, Approvers: 20, KillWorker: true, Product: func() ProductFigures {
			p := product
			p.WorkerPeakRSSBeforeKill, p.WorkerRestart = 300e6, 4*time.Second
			return p
		}()}, `| figure | product | bare floor | ratio |
|---|---|---|---|
| decision → tool scheduled, p50 | 14.6 s | — | — |
| decision → tool scheduled, p99 | 26.8 s | — | — |
| decision → tool scheduled, max | 27.5 s | — | — |
| decisions applied per second | 7 | — | — |
| decision → signal, p50 / p99 / max | 188 ms / 900 ms / 950 ms | — | — |
| history events per run, median / max | 49 / 51 | — | — |
| time to all pending (first start → last request on Ably) | 30 s | — | — |
| time to drain (first decision → last run completed) | 41 s | — | — |
| worker peak RSS before the SIGKILL (VmHWM) | 300 MB | — | — |
| worker restart (SIGKILL → the new worker polls) | 4 s | — | — |
| restarted worker peak RSS (VmHWM) | 123 MB | — | — |
| bridge peak RSS (VmHWM) | 40 MB | — | — |
| runs that published their post exactly once | 199 of 200 | — | — |
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			tt.res.Markdown(&b)
			out := b.String()
			_, table, ok := strings.Cut(out, "\n\n| figure |")
			table, _, _ = strings.Cut("| figure |"+table, "\n\n")
			if !ok {
				t.Fatalf("no figure table:\n%s", out)
			}
			if got := table + "\n"; got != tt.table {
				t.Errorf("table:\n%s\nwant:\n%s", got, tt.table)
			}
			// The problems are a list of their own: a blank line ends it
			// before the steps' paragraph, which would otherwise continue
			// the last item.
			if want := "\n\n- **run b published 2 posts**\n\nWhere the product's"; !strings.Contains(out, want) {
				t.Errorf("markdown lacks %q:\n%s", want, out)
			}
		})
	}
}

// TestReadRunHistoryPicks: the decision is the first approval-decision
// signal that matches, and the tool the first ExecuteTool after it; an
// ExecuteTool before it (a tool that needs no approval) or a marker that
// is no local activity is not the tool, nor a signal of another name.
func TestReadRunHistoryPicks(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	at := func(n int) time.Time { return t0.Add(time.Duration(n) * 10 * time.Millisecond) }
	pat := workflows.Decision{ToolCallID: "call_1", Decision: "approved", ApproverClientID: "pat", PublishedAt: t0}
	byPat := func(d workflows.Decision) bool { return d.ApproverClientID == "pat" }
	tests := []struct {
		name string
		// build adds events after WorkflowExecutionStarted (at(1)); each
		// event is 10 ms after the one before.
		build             func(b *historyBuilder)
		signaled, tool    time.Time
		local             bool
		wantErr           string
		wantFirstStepFrom string
	}{
		{
			name: "an ExecuteTool activity before the decision",
			build: func(b *historyBuilder) {
				b.activity(workflows.ActivityExecuteTool) // at(2)
				b.signal(pat)                             // at(3)
				b.activity(workflows.ActivityExecuteTool) // at(4)
			},
			signaled: at(3), tool: at(4),
		},
		{
			name: "an ExecuteTool local activity before the decision",
			build: func(b *historyBuilder) {
				b.localActivity(workflows.ActivityExecuteTool)
				b.signal(pat)
				b.localActivity(workflows.ActivityExecuteTool)
			},
			signaled: at(3), tool: at(4), local: true,
		},
		{
			name: "two ExecuteTool activities after the decision: the first",
			build: func(b *historyBuilder) {
				b.signal(pat)
				b.activity(workflows.ActivityExecuteTool)
				b.activity(workflows.ActivityExecuteTool)
			},
			signaled: at(2), tool: at(3),
		},
		{
			name: "two ExecuteTool local activities after the decision: the first",
			build: func(b *historyBuilder) {
				b.signal(pat)
				b.localActivity(workflows.ActivityExecuteTool)
				b.localActivity(workflows.ActivityExecuteTool)
				b.activity(workflows.ActivityExecuteTool)
			},
			signaled: at(2), tool: at(3), local: true,
		},
		{
			name: "two matching decisions: the first",
			build: func(b *historyBuilder) {
				b.signal(pat)
				b.signal(pat)
				b.activity(workflows.ActivityExecuteTool)
			},
			signaled: at(2), tool: at(4),
		},
		{
			name: "a signal of another name with a decision's payload",
			build: func(b *historyBuilder) {
				b.signalNamed("other", pat)
				b.signal(pat)
				b.activity(workflows.ActivityExecuteTool)
			},
			signaled: at(3), tool: at(4),
		},
		{
			name: "a marker of another name whose data names ExecuteTool",
			build: func(b *historyBuilder) {
				b.signal(pat)
				b.marker("Version", map[string]any{"ActivityType": workflows.ActivityExecuteTool})
				b.activity(workflows.ActivityExecuteTool)
			},
			signaled: at(2), tool: at(4),
		},
		{
			name: "only a matching decision of another name",
			build: func(b *historyBuilder) {
				b.signalNamed("other", pat)
				b.activity(workflows.ActivityExecuteTool)
			},
			wantErr: "no matching approval-decision",
		},
		{
			name: "only an ExecuteTool before the decision",
			build: func(b *historyBuilder) {
				b.activity(workflows.ActivityExecuteTool)
				b.signal(pat)
			},
			wantErr: "no ExecuteTool after the decision",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &historyBuilder{t: t, at: t0}
			b.add(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, nil)
			tt.build(b)
			got, err := readRunHistory(b.events, byPat)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.Signaled.Equal(tt.signaled) || !got.ToolScheduled.Equal(tt.tool) || got.ToolLocal != tt.local {
				t.Errorf("signaled %s, tool %s (local %v); want %s, %s (local %v)", got.Signaled.Sub(t0), got.ToolScheduled.Sub(t0), got.ToolLocal,
					tt.signaled.Sub(t0), tt.tool.Sub(t0), tt.local)
			}
		})
	}
}

// TestRunHistorySteps: the steps from the decision to the tool follow the
// events' times, not their order in the history (an activity's started
// event is written with its completion), leave out events timed before the
// signal, and name each event with its activity, signal or marker.
func TestRunHistorySteps(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	pat := workflows.Decision{ToolCallID: "call_1", Decision: "approved", ApproverClientID: "pat", PublishedAt: t0.Add(ms(60))}
	history := func(local bool) []*historypb.HistoryEvent {
		b := &historyBuilder{t: t, at: t0}
		b.add(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, nil)
		b.task()
		b.activity(workflows.ActivityPublishApprovalRequest) // event 5
		b.timed(t0, 50)
		b.signal(pat)
		b.timed(t0, 70)
		b.add(enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, nil)
		b.timed(t0, 80)
		b.activityStarted(5) // written with its completion, timed at its start
		b.timed(t0, 75)
		b.activityCompleted(5)
		b.timed(t0, 85)
		b.add(enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED, nil)
		b.timed(t0, 90)
		b.add(enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, nil)
		b.timed(t0, 100)
		b.marker("Version", map[string]any{"ActivityType": workflows.ActivityExecuteTool})
		b.timed(t0, 105)
		if local {
			b.localActivity(workflows.ActivityExecuteTool)
		} else {
			b.activity(workflows.ActivityExecuteTool)
		}
		b.timed(t0, 110)
		return b.events
	}
	common := []string{
		"decision (Ably timestamp) → WorkflowExecutionSignaled approval-decision 10ms",
		"WorkflowExecutionSignaled approval-decision → ActivityTaskStarted PublishApprovalRequest 5ms",
		"ActivityTaskStarted PublishApprovalRequest → WorkflowTaskScheduled 5ms",
		"WorkflowTaskScheduled → ActivityTaskCompleted PublishApprovalRequest 5ms",
		"ActivityTaskCompleted PublishApprovalRequest → WorkflowTaskStarted 5ms",
		"WorkflowTaskStarted → WorkflowTaskCompleted 10ms",
		"WorkflowTaskCompleted → MarkerRecorded Version 5ms",
	}
	tests := []struct {
		name  string
		local bool
		last  string
	}{
		{"ExecuteTool activity", false, "MarkerRecorded Version → ActivityTaskScheduled ExecuteTool 5ms"},
		{"ExecuteTool local activity", true, "MarkerRecorded Version → MarkerRecorded local activity ExecuteTool 5ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := readRunHistory(history(tt.local), func(workflows.Decision) bool { return true })
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range h.Steps {
				got = append(got, fmt.Sprintf("%s %s", s.Label, s.D))
			}
			want := append(slices.Clone(common), tt.last)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestReadFloorHistoryPicks: the floor's signal is the first, its activity
// the first scheduled after it; an activity without a signal before it is
// an error.
func TestReadFloorHistoryPicks(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	at := func(n int) time.Time { return t0.Add(time.Duration(n) * 10 * time.Millisecond) }
	signal := func(b *historyBuilder) { b.add(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, nil) }
	tests := []struct {
		name                string
		build               func(b *historyBuilder)
		signaled, scheduled time.Time
		wantErr             bool
	}{
		{"an activity before the signal", func(b *historyBuilder) {
			b.activity(floorActivityName) // at(2)
			signal(b)                     // at(3)
			b.activity(floorActivityName) // at(4)
		}, at(3), at(4), false},
		{"two signals: the first", func(b *historyBuilder) {
			signal(b)
			signal(b)
			b.activity(floorActivityName)
		}, at(2), at(4), false},
		{"two activities: the first", func(b *historyBuilder) {
			signal(b)
			b.activity(floorActivityName)
			b.activity(floorActivityName)
		}, at(2), at(3), false},
		{"an activity and no signal", func(b *historyBuilder) { b.activity(floorActivityName) }, time.Time{}, time.Time{}, true},
		{"a signal and no activity", func(b *historyBuilder) { signal(b) }, time.Time{}, time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &historyBuilder{t: t, at: t0}
			b.add(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, nil)
			tt.build(b)
			got, err := readFloorHistory(b.events)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("no error: %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.Signaled.Equal(tt.signaled) || !got.Scheduled.Equal(tt.scheduled) {
				t.Errorf("signaled %s, scheduled %s; want %s, %s", got.Signaled.Sub(t0), got.Scheduled.Sub(t0), tt.signaled.Sub(t0), tt.scheduled.Sub(t0))
			}
		})
	}
}

// TestAggregateStepsAcrossRuns: a step only some runs have counts those
// runs, is placed by its mean position over them, takes its share of the
// time of all runs; steps at the same mean position come by name; the p99
// is the nearest-rank p99, not the max; no time at all is no share (not
// NaN).
func TestAggregateStepsAcrossRuns(t *testing.T) {
	steps := func(labels string, d float64) []benchStep {
		var out []benchStep
		for _, l := range strings.Fields(labels) {
			out = append(out, benchStep{Label: l, D: ms(d)})
		}
		return out
	}
	many := make([][]benchStep, 200)
	for i := range many {
		many[i] = []benchStep{{Label: "s", D: ms(float64(i + 1))}}
	}
	tests := []struct {
		name string
		runs [][]benchStep
		want []StepFigure
	}{
		{
			name: "a step of one run in three, last in it",
			runs: [][]benchStep{steps("a b c", 10), steps("a b c", 20), steps("a b c late", 30)},
			want: []StepFigure{
				{Step: "a", Runs: 3, Median: ms(20), P99: ms(30), Share: 60.0 / 210},
				{Step: "b", Runs: 3, Median: ms(20), P99: ms(30), Share: 60.0 / 210},
				{Step: "c", Runs: 3, Median: ms(20), P99: ms(30), Share: 60.0 / 210},
				{Step: "late", Runs: 1, Median: ms(30), P99: ms(30), Share: 30.0 / 210},
			},
		},
		{
			name: "steps at the same mean position: by name",
			runs: [][]benchStep{steps("a y", 1), steps("a w", 1), steps("a z", 1), steps("a v", 1), steps("a x", 1)},
			want: []StepFigure{
				{Step: "a", Runs: 5, Median: ms(1), P99: ms(1), Share: 0.5},
				{Step: "v", Runs: 1, Median: ms(1), P99: ms(1), Share: 0.1},
				{Step: "w", Runs: 1, Median: ms(1), P99: ms(1), Share: 0.1},
				{Step: "x", Runs: 1, Median: ms(1), P99: ms(1), Share: 0.1},
				{Step: "y", Runs: 1, Median: ms(1), P99: ms(1), Share: 0.1},
				{Step: "z", Runs: 1, Median: ms(1), P99: ms(1), Share: 0.1},
			},
		},
		{
			name: "200 runs: p99 is the 198th",
			runs: many,
			want: []StepFigure{{Step: "s", Runs: 200, Median: ms(100), P99: ms(198), Share: 1}},
		},
		{
			name: "no time at all",
			runs: [][]benchStep{steps("a b", 0)},
			want: []StepFigure{{Step: "a", Runs: 1}, {Step: "b", Runs: 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := aggregateSteps(tt.runs)
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Step != w.Step || g.Runs != w.Runs || g.Median != w.Median || g.P99 != w.P99 || !(math.Abs(g.Share-w.Share) < 1e-9) {
					t.Errorf("step %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

// TestBenchValidateBounds: -n is 1 to 100000 and -approvers 0 to 10000,
// both ends included.
func TestBenchValidateBounds(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		n, approvers int
		timeout      time.Duration
		wantErr      string // empty: valid
	}{
		{1, 0, 0, ""},
		{100000, 10000, 0, ""},
		{100001, 0, 0, "-n 100001: want 1 to 100000"},
		{0, 0, 0, "-n 0: want 1 to 100000"},
		{5, 10001, 0, "-approvers 10001: want 0 (auto) to 10000"},
		{5, -1, 0, "-approvers -1"},
		{5, 0, -time.Nanosecond, "-timeout must not be negative"},
	}
	for _, tt := range tests {
		err := BenchConfig{Root: root, N: tt.n, Approvers: tt.approvers, Timeout: tt.timeout}.Validate()
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("-n %d -approvers %d -timeout %s: %v", tt.n, tt.approvers, tt.timeout, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("-n %d -approvers %d -timeout %s: err = %v, want %q", tt.n, tt.approvers, tt.timeout, err, tt.wantErr)
		}
	}
}

// TestBenchPolicyTimeouts: the bench's policy raises each approval's
// timeout to the bench's, no further than the longest a policy may have,
// and keeps one that is longer already.
func TestBenchPolicyTimeouts(t *testing.T) {
	dir := t.TempDir()
	from := filepath.Join(dir, "from.json")
	policy := `{"roles":["editor","publisher","admin"],"tools":{"publish_blog_post":{"minRole":"publisher","timeout":"10m"},"delete_post":{"minRole":"admin","timeout":"48h"},"search_posts":{"minRole":"none"}}}`
	if err := os.WriteFile(from, []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		atLeast         time.Duration
		publish, delete time.Duration
	}{
		{3 * time.Hour, 3 * time.Hour, 48 * time.Hour},
		{100 * time.Hour, 100 * time.Hour, 100 * time.Hour},
		{1000 * 24 * time.Hour, workflows.MaxApprovalTimeout, workflows.MaxApprovalTimeout},
	}
	for _, tt := range tests {
		path, err := writeBenchPolicy(from, filepath.Join(dir, "policy.json"), tt.atLeast)
		if err != nil {
			t.Fatalf("at least %s: %v", tt.atLeast, err)
		}
		p, err := config.LoadPolicy(path)
		if err != nil {
			t.Fatalf("at least %s: %v", tt.atLeast, err)
		}
		if got, want := time.Duration(p.Tools["publish_blog_post"].Timeout), tt.publish; got != want {
			t.Errorf("at least %s: publish_blog_post %s, want %s", tt.atLeast, got, want)
		}
		if got, want := time.Duration(p.Tools["delete_post"].Timeout), tt.delete; got != want {
			t.Errorf("at least %s: delete_post %s, want %s", tt.atLeast, got, want)
		}
	}
}

// TestPhaseError: a failed phase says where its logs are, or how to keep
// them; one stopped by Ctrl-C says only that.
func TestPhaseError(t *testing.T) {
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	timedOut, cancel2 := context.WithTimeout(t.Context(), -time.Second)
	defer cancel2()
	boom := errors.New("boom")
	tests := []struct {
		name string
		ctx  context.Context
		keep bool
		want string
	}{
		{"failed", t.Context(), false, "floor: boom (run with -keep to keep the logs)"},
		{"failed, kept", t.Context(), true, "floor: boom (logs: /w/logs)"},
		{"Ctrl-C", cancelled, true, "floor: stopped: context canceled"},
		{"timed out", timedOut, false, "floor: boom (run with -keep to keep the logs)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := BenchConfig{Keep: tt.keep}.phaseError(tt.ctx, "floor", boom, "/w/logs")
			if err.Error() != tt.want {
				t.Errorf("err = %q, want %q", err, tt.want)
			}
		})
	}
}

// TestParseBenchArgs: each flag lands in its own field, relative paths
// are made absolute against the working directory, and the defaults are
// 200 runs, the approvers left to the bench and both headers.
func TestParseBenchArgs(t *testing.T) {
	cwd := t.TempDir()
	env := config.Env{EnvTemporalCLI: "/opt/temporal"}
	tests := []struct {
		name string
		args []string
		want benchArgs
	}{
		{"defaults", nil, benchArgs{BenchConfig: BenchConfig{TemporalCLI: "/opt/temporal", N: 200, Namespace: config.DefaultTemporalNamespace}}},
		{
			"every flag",
			[]string{"-root", "repo", "-temporal-cli", "bin/temporal", "-n", "7", "-approvers", "3", "-guide-shaped", "-kill-worker",
				"-timeout", "90s", "-keep", "-temporal-address", "127.0.0.1:7233", "-namespace", "bench", "-json", "-out", "docs/B.md"},
			benchArgs{
				BenchConfig: BenchConfig{
					Root: filepath.Join(cwd, "repo"), TemporalCLI: filepath.Join(cwd, "bin", "temporal"), N: 7, Approvers: 3, GuideShaped: true, KillWorker: true,
					Timeout: 90 * time.Second, Keep: true, TemporalServer: "127.0.0.1:7233", Namespace: "bench",
				},
				json: true, out: filepath.Join(cwd, "docs", "B.md"),
			},
		},
		{"absolute paths kept", []string{"-root", "/r", "-out", "/o.md"}, benchArgs{BenchConfig: BenchConfig{Root: "/r", TemporalCLI: "/opt/temporal", N: 200, Namespace: config.DefaultTemporalNamespace}, out: "/o.md"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseBenchArgs(tt.args, env, cwd, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
	if _, err := parseBenchArgs([]string{"-h"}, env, cwd, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: err = %v, want flag.ErrHelp", err)
	}
	if _, err := parseBenchArgs([]string{"-n", "5", "extra"}, env, cwd, io.Discard); err == nil || !strings.Contains(err.Error(), `unexpected arguments ["extra"]`) {
		t.Errorf("an extra argument: err = %v", err)
	}
	if err := RunBench(t.Context(), []string{"-h"}, env, io.Discard, io.Discard); err != nil {
		t.Errorf("RunBench -h: %v, want nil", err)
	}
	// Bad values are refused before anything starts, all at once, as bad
	// input (exit status 2).
	err := RunBench(t.Context(), []string{"-n", "0", "-approvers", "10001"}, config.Env{}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "-n 0") || !strings.Contains(err.Error(), "-approvers 10001") || config.ExitCode(err) != config.ExitUsage {
		t.Errorf("RunBench -n 0 -approvers 10001: err = %v (exit %d), want both refused, exit %d", err, config.ExitCode(err), config.ExitUsage)
	}
}

// TestRequestWatch: the watch keeps the first request of each of the
// bench's runs, as the approver CLI reads it (only the agent's): a later
// request of the same run (another tool call) does not replace it, so the
// time to all pending is that of the first; requests of other runs are
// not counted.
func TestRequestWatch(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	msg := func(from, wf, tc string, at time.Duration) *ably.Message {
		d := workflows.ApprovalRequestData{Tool: "publish_blog_post", Arguments: `{"title":"Bench"}`, ToolCallID: tc, WorkflowID: wf,
			RequiredRole: "publisher", Requester: "devstack-bench", RequestedAt: t0, ExpiresAt: time.Now().Add(time.Hour)}
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		return &ably.Message{ID: wf + ":" + tc, Name: workflows.MsgApprovalRequest, ClientID: from, Data: string(b), Encoding: "json",
			Timestamp: t0.Add(at).UnixMilli()}
	}
	agent := workflows.DefaultAgentClientID
	w := newRequestWatch([]string{"run-a", "run-b"})
	for _, m := range []*ably.Message{
		msg(agent, "run-x", "call_1", time.Second),        // not the bench's
		msg("intruder", "run-b", "call_1", 2*time.Second), // not the agent's
		msg(agent, "run-a", "call_1", 3*time.Second),      // run-a's first
		msg(agent, "run-a", "call_2", 4*time.Second),      // run-a's second tool call
		msg(agent, "run-b", "call_1", 5*time.Second),      // run-b's
		msg(agent, "run-b", "call_1", 6*time.Second),      // a copy
	} {
		w.apply(m)
	}
	if n := w.count(); n != 2 {
		t.Fatalf("count = %d, want 2", n)
	}
	if err := w.wait(t.Context()); err != nil {
		t.Fatalf("wait with every request in: %v", err)
	}
	reqs := w.requests([]string{"run-b", "run-a"})
	got := fmt.Sprintf("%s %s %s, %s %s %s", reqs[0].WorkflowID, reqs[0].ToolCallID, reqs[0].PublishedAt.Sub(t0), reqs[1].WorkflowID, reqs[1].ToolCallID, reqs[1].PublishedAt.Sub(t0))
	if want := "run-b call_1 5s, run-a call_1 3s"; got != want {
		t.Errorf("requests = %s, want %s", got, want)
	}

	w = newRequestWatch([]string{"run-a", "run-b"})
	w.apply(msg(agent, "run-a", "call_1", time.Second))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := w.wait(ctx); err == nil || !strings.Contains(err.Error(), "1 of 2 approval requests on the channel") {
		t.Errorf("wait with one of two in, cancelled: %v", err)
	}
}

// TestMarkdownSparse: what a run does not know is left out, not shown
// empty: no load average, a server that did not describe itself, no steps,
// no post problems.
func TestMarkdownSparse(t *testing.T) {
	res := BenchResult{
		N: 5, Approvers: 5, Elapsed: 20 * time.Second,
		Machine: Machine{Date: time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC), CPU: "unknown", Cores: 2, GoVersion: "go1.26.8", OS: "linux/amd64"},
		Server:  TemporalServer{Address: "127.0.0.1:7233", Namespace: "default"},
		Product: ProductFigures{Runs: 5, PostsExactlyOnce: 5},
		Floor:   &FloorFigures{},
	}
	var b bytes.Buffer
	res.Markdown(&b)
	out := b.String()
	for _, want := range []string{
		"2026-12-04 18:00 UTC, unknown, 2 cores, go1.26.8, linux/amd64; the whole run took 20 s.\n",
		"Temporal: the Temporal CLI's dev server.\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
	for _, not := range []string{"load average", "Where the", "| step |", "- **"} {
		if strings.Contains(out, not) {
			t.Errorf("markdown has %q:\n%s", not, out)
		}
	}
	// Only the end's load average known.
	res.Machine.LoadAvgEnd = "1.5"
	b.Reset()
	res.Markdown(&b)
	if want := "linux/amd64, 1.5 at the end; the whole run took"; !strings.Contains(b.String(), want) {
		t.Errorf("markdown lacks %q:\n%s", want, b.String())
	}
}

func TestTemporalServerString(t *testing.T) {
	for _, tt := range []struct {
		s    TemporalServer
		want string
	}{
		{TemporalServer{Address: "127.0.0.1:7233"}, "the Temporal CLI's dev server"},
		{TemporalServer{External: true, Address: "127.0.0.1:7233", Namespace: "bench"}, "the Temporal server at 127.0.0.1:7233, namespace bench"},
		{TemporalServer{External: true, Address: "[::1]:7233", Namespace: "b", Persistence: "postgres12"}, "the Temporal server at [::1]:7233, namespace b (persistence postgres12)"},
		{TemporalServer{Version: "1.29.1", Visibility: "sqlite"}, "the Temporal CLI's dev server (server 1.29.1, visibility sqlite)"},
	} {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.s, got, tt.want)
		}
	}
}

// TestTimeToAllPending: from the first start to the last request's Ably
// timestamp, whatever the order of the runs.
func TestTimeToAllPending(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	req := func(at time.Duration) approvercli.Request {
		return approvercli.Request{PublishedAt: t0.Add(at)}
	}
	if got := timeToAllPending(t0, []approvercli.Request{req(3 * time.Second), req(5 * time.Second), req(time.Second)}); got != 5*time.Second {
		t.Errorf("time to all pending = %s, want 5s", got)
	}
	if got := timeToAllPending(t0, []approvercli.Request{req(ms(250))}); got != ms(250) {
		t.Errorf("one run: %s, want 250ms", got)
	}
}
