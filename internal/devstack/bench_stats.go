package devstack

import (
	"math"
	"slices"
	"time"
)

// Durations summarises a set of latencies: nearest-rank percentiles.
type Durations struct {
	Count int           `json:"count"`
	P50   time.Duration `json:"p50Ns"`
	P99   time.Duration `json:"p99Ns"`
	Max   time.Duration `json:"maxNs"`
}

// summarize returns the nearest-rank p50, p99 and max of ds (any order;
// ds is not modified). An empty set gives the zero Durations.
func summarize(ds []time.Duration) Durations {
	if len(ds) == 0 {
		return Durations{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return Durations{Count: len(s), P50: percentile(s, 50), P99: percentile(s, 99), Max: s[len(s)-1]}
}

// percentile is the nearest-rank p-th percentile (0 < p <= 100) of sorted:
// the smallest value with at least p% of the values at or below it.
func percentile[T any](sorted []T, p float64) T {
	var zero T
	if len(sorted) == 0 {
		return zero
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// medianMax returns the nearest-rank median and the maximum of xs.
func medianMax(xs []int) (median, maximum int) {
	if len(xs) == 0 {
		return 0, 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return percentile(s, 50), s[len(s)-1]
}

// perSecond is n events over d, or 0 when d is not positive.
func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// spanOf returns the earliest of from and the latest of to: the span from
// the first start to the last end of a set of events.
func spanOf(from, to []time.Time) time.Duration {
	if len(from) == 0 || len(to) == 0 {
		return 0
	}
	first := slices.MinFunc(from, time.Time.Compare)
	last := slices.MaxFunc(to, time.Time.Compare)
	return last.Sub(first)
}
