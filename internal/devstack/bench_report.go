package devstack

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// BenchResult is one benchmark run: its parameters, the machine, the
// product's figures and the bare floor's (nil in kill-worker mode).
type BenchResult struct {
	N           int            `json:"n"`
	Approvers   int            `json:"approvers"`
	GuideShaped bool           `json:"guideShaped"`
	KillWorker  bool           `json:"killWorker"`
	Machine     Machine        `json:"machine"`
	Server      TemporalServer `json:"server"`
	Elapsed     time.Duration  `json:"elapsedNs"`
	Product     ProductFigures `json:"product"`
	Floor       *FloorFigures  `json:"floor,omitempty"`
}

// responseShape describes the approval-responses the bench published.
func (r BenchResult) responseShape() string {
	if r.GuideShaped {
		return "guide-shaped responses (`toolCallId` header only)"
	}
	return "responses with `toolCallId` and `workflowId` headers"
}

// Markdown renders the result: a heading, the machine, the figures side by
// side with the bare floor and the ratios, and where decision → tool goes.
func (r BenchResult) Markdown(w io.Writer) {
	mode := ""
	if r.KillWorker {
		mode = ", worker killed (SIGKILL) and restarted while all wait"
	}
	who := fmt.Sprintf("%d approvers", r.Approvers)
	if r.Approvers == 1 {
		who = "one approver deciding all in one burst"
	}
	fmt.Fprintf(w, "### N = %d, %s, %s%s\n\n", r.N, who, r.responseShape(), mode)
	m := r.Machine
	load := ""
	if m.LoadAvg != "" {
		load = ", load average " + m.LoadAvg + " at the start"
	}
	if m.LoadAvgEnd != "" {
		load += ", " + m.LoadAvgEnd + " at the end"
	}
	fmt.Fprintf(w, "%s, %s, %d cores, %s, %s%s; the whole run took %s.\n\n",
		m.Date.Format("2006-01-02 15:04 MST"), m.CPU, m.Cores, m.GoVersion, m.OS, load, formatDuration(r.Elapsed))
	if r.Server.Address != "" {
		fmt.Fprintf(w, "Temporal: %s.\n\n", r.Server)
	}

	p, fl := r.Product, r.Floor
	fmt.Fprintln(w, "| figure | product | bare floor | ratio |")
	fmt.Fprintln(w, "|---|---|---|---|")
	row := func(name, product, floor, ratio string) {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", name, product, floor, ratio)
	}
	dur := func(name string, pd time.Duration, fd func(FloorFigures) time.Duration) {
		if fl == nil {
			row(name, formatDuration(pd), "—", "—")
			return
		}
		f := fd(*fl)
		row(name, formatDuration(pd), formatDuration(f), formatRatio(float64(pd), float64(f)))
	}
	dur("decision → tool scheduled, p50", p.DecisionToTool.P50, func(f FloorFigures) time.Duration { return f.SignalToActivity.P50 })
	dur("decision → tool scheduled, p99", p.DecisionToTool.P99, func(f FloorFigures) time.Duration { return f.SignalToActivity.P99 })
	dur("decision → tool scheduled, max", p.DecisionToTool.Max, func(f FloorFigures) time.Duration { return f.SignalToActivity.Max })
	if fl == nil {
		row("decisions applied per second", formatRate(p.DecisionsPerSecond), "—", "—")
	} else {
		row("decisions applied per second", formatRate(p.DecisionsPerSecond), formatRate(fl.SignalsPerSecond), formatRatio(p.DecisionsPerSecond, fl.SignalsPerSecond))
	}
	row("decision → signal, p50 / p99 / max", formatTriple(p.DecisionToSignal), "—", "—")
	if fl != nil {
		row("signal event → activity scheduled, p50 / p99 / max", "—", formatTriple(fl.SignaledToActivity), "—")
		row("history events per run, median / max", fmt.Sprintf("%d / %d", p.EventsMedian, p.EventsMax), fmt.Sprintf("%d / %d", fl.EventsMedian, fl.EventsMax), "—")
	} else {
		row("history events per run, median / max", fmt.Sprintf("%d / %d", p.EventsMedian, p.EventsMax), "—", "—")
	}
	row("time to all pending (first start → last request on Ably)", formatDuration(p.TimeToAllPending), "—", "—")
	row("time to drain (first decision → last run completed)", formatDuration(p.Drain), "—", "—")
	if r.KillWorker {
		row("worker peak RSS before the SIGKILL (VmHWM)", formatBytes(p.WorkerPeakRSSBeforeKill), "—", "—")
		row("worker restart (SIGKILL → the new worker polls)", formatDuration(p.WorkerRestart), "—", "—")
		row("restarted worker peak RSS (VmHWM)", formatBytes(p.WorkerPeakRSS), "—", "—")
	} else {
		row("worker peak RSS (VmHWM)", formatBytes(p.WorkerPeakRSS), "—", "—")
	}
	row("bridge peak RSS (VmHWM)", formatBytes(p.BridgePeakRSS), "—", "—")
	row("runs that published their post exactly once", fmt.Sprintf("%d of %d", p.PostsExactlyOnce, p.Runs), "—", "—")
	fmt.Fprintln(w)

	fmt.Fprintf(w, "Decision: the Ably timestamp of the approval-response. Tool scheduled: %s. ", p.ToolEvent)
	fmt.Fprintln(w, "Floor: a workflow that waits for one signal and schedules one activity, on the same server in the same run, "+
		"signalled from the client as many at once as there are approvers; its time runs from the client's SignalWorkflow call. "+
		"Decisions per second: N / (last signal event − first decision). Percentiles are nearest-rank.")
	for _, prob := range p.PostProblems {
		fmt.Fprintf(w, "\n- **%s**", markdownCell(prob))
	}
	if len(p.PostProblems) > 0 {
		fmt.Fprintln(w)
	}
	stepsTable(w, "Where the product's decision → tool scheduled goes", p.Steps)
	if fl != nil {
		stepsTable(w, "Where the floor's signal sent → activity scheduled goes", fl.Steps)
	}
}

// stepsTable renders steps under title, if there are any.
func stepsTable(w io.Writer, title string, steps []StepFigure) {
	if len(steps) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s (consecutive events of each run's history in time order; median and p99 over the runs; share of the summed time):\n\n", title)
	fmt.Fprintln(w, "| step | runs | median | p99 | share |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, s := range steps {
		fmt.Fprintf(w, "| %s | %d | %s | %s | %.0f%% |\n", markdownCell(s.Step), s.Runs, formatDuration(s.Median), formatDuration(s.P99), 100*s.Share)
	}
}

// durationBands are formatDuration's ranges: below limit, d is rounded
// to step and printed in unit with format.
var durationBands = []struct {
	limit, step, unit time.Duration
	format            string
}{
	{time.Millisecond, time.Microsecond, time.Microsecond, "%.0f µs"},
	{10 * time.Millisecond, 10 * time.Microsecond, time.Millisecond, "%.2f ms"},
	{time.Second, time.Millisecond, time.Millisecond, "%.0f ms"},
	{10 * time.Second, 10 * time.Millisecond, time.Second, "%.3g s"},
	{100 * time.Second, 100 * time.Millisecond, time.Second, "%.3g s"},
}

// formatDuration prints d with up to three significant digits (641 ms,
// 1.50 ms, 14.6 s, 1.5 s; whole seconds from 100 s on), rounded before
// its unit is chosen: 999.6 ms is "1 s", not "1000 ms".
func formatDuration(d time.Duration) string {
	if d < 0 {
		return "−" + formatDuration(-d)
	}
	for _, b := range durationBands {
		if r := d.Round(b.step); r < b.limit {
			return fmt.Sprintf(b.format, float64(r)/float64(b.unit))
		}
	}
	return fmt.Sprintf("%.0f s", d.Round(time.Second).Seconds())
}

// formatTriple prints p50 / p99 / max.
func formatTriple(d Durations) string {
	return formatDuration(d.P50) + " / " + formatDuration(d.P99) + " / " + formatDuration(d.Max)
}

// formatRatio prints a / b with two significant digits, or as a whole
// number from 10 on ("3.7×", "15×", "146×"), or "—" when b is zero.
func formatRatio(a, b float64) string {
	if b == 0 {
		return "—"
	}
	r := a / b
	if math.Abs(r) >= 10 {
		return fmt.Sprintf("%.0f×", r)
	}
	return fmt.Sprintf("%.2g×", r)
}

// formatRate prints a per-second rate with three significant digits.
func formatRate(r float64) string {
	if r >= 100 {
		return fmt.Sprintf("%.0f", r)
	}
	return fmt.Sprintf("%.3g", r)
}

// formatBytes prints a size in MB (10^6 bytes), or "n/a" for none.
func formatBytes(b int64) string {
	if b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f MB", float64(b)/1e6)
}

// markdownCell keeps a value from breaking a table row.
func markdownCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
