package reannounce

import "sync"

// ResetRuns remembers, for the most recent runs it was told about, whether
// each was made by a Temporal reset (Temporal.ResetRunID): a run id never
// changes its answer. Bounded: the oldest entries go first. A nil
// *ResetRuns remembers nothing. Safe for concurrent use.
type ResetRuns struct {
	mu    sync.Mutex
	max   int
	ids   map[string]string // run id -> its ResetRunID ("" for no reset)
	order []string          // oldest first
}

// NewResetRuns remembers up to max runs.
func NewResetRuns(max int) *ResetRuns {
	return &ResetRuns{max: max, ids: map[string]string{}}
}

func (r *ResetRuns) get(runID string) (string, bool) {
	if r == nil {
		return "", false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.ids[runID]
	return id, ok
}

func (r *ResetRuns) put(runID, resetRunID string) {
	if r == nil || r.max <= 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.ids[runID]; ok {
		return
	}
	if len(r.order) >= r.max {
		delete(r.ids, r.order[0])
		r.order = r.order[1:]
	}
	r.order = append(r.order, runID)
	r.ids[runID] = resetRunID
}
