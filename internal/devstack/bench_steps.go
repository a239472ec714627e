package devstack

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// StepFigure is one step of decision → tool scheduled, over all runs: where
// the time between a human's decision and the tool goes.
type StepFigure struct {
	Step string `json:"step"`
	// Runs is how many runs have the step.
	Runs   int           `json:"runs"`
	Median time.Duration `json:"medianNs"`
	P99    time.Duration `json:"p99Ns"`
	// Share is the step's part of the summed decision → tool time of all
	// runs, 0 to 1.
	Share float64 `json:"share"`
}

// aggregateSteps summarises each step over the runs that have it. A label
// that occurs again in a run is numbered ("… (#2)"): a second workflow
// task is another step than the first. Steps come in the order they
// usually happen: by their mean position in the runs.
func aggregateSteps(runs [][]benchStep) []StepFigure {
	type acc struct {
		ds     []time.Duration
		posSum int
		total  time.Duration
	}
	byLabel := map[string]*acc{}
	var all time.Duration
	for _, steps := range runs {
		perRun := map[string]time.Duration{}
		seen := map[string]int{}
		var order []string
		for _, s := range steps {
			label := s.Label
			if seen[s.Label]++; seen[s.Label] > 1 {
				label = fmt.Sprintf("%s (#%d)", s.Label, seen[s.Label])
			}
			order = append(order, label)
			perRun[label] = s.D
			all += s.D
		}
		for pos, label := range order {
			a := byLabel[label]
			if a == nil {
				a = &acc{}
				byLabel[label] = a
			}
			a.ds = append(a.ds, perRun[label])
			a.posSum += pos
			a.total += perRun[label]
		}
	}
	out := make([]StepFigure, 0, len(byLabel))
	meanPos := map[string]float64{}
	for label, a := range byLabel {
		d := summarize(a.ds)
		f := StepFigure{Step: label, Runs: len(a.ds), Median: d.P50, P99: d.P99}
		if all > 0 {
			f.Share = float64(a.total) / float64(all)
		}
		out = append(out, f)
		meanPos[label] = float64(a.posSum) / float64(len(a.ds))
	}
	slices.SortFunc(out, func(a, b StepFigure) int {
		return cmp.Or(cmp.Compare(meanPos[a.Step], meanPos[b.Step]), cmp.Compare(a.Step, b.Step))
	})
	return out
}
