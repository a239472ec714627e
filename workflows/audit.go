package workflows

import (
	"fmt"
	"slices"
	"time"
)

// auditTrail is a run's audit trail: every entry recorded, its strings
// bounded, plus the bookkeeping that keeps ignored decisions from flooding
// it. Ignored decisions are listed per bucket (an approval's call id, or ""
// for decisions that name no approval): each bucket's first
// ignoredAlwaysKept always, beyond them at most maxIgnoredPerApproval per
// bucket while the trail lists fewer than maxIgnoredPerRun; the rest are
// only counted, and list adds one note per bucket that says how many.
type auditTrail struct {
	entries []AuditEntry

	ignoredKept    map[string]int // listed ignored decisions per bucket
	ignoredDropped map[string]int // counted-only ignored decisions per bucket
	ignoredTotal   int            // listed ignored decisions, all buckets
	dropOrder      []string       // buckets in order of their first drop
}

func newAuditTrail() *auditTrail {
	return &auditTrail{ignoredKept: map[string]int{}, ignoredDropped: map[string]int{}}
}

// add appends e, its strings bounded, stamped with now (workflow time).
func (t *auditTrail) add(now time.Time, e AuditEntry) {
	e = clipAudit(e)
	e.Time = now
	t.entries = append(t.entries, e)
}

// addIgnored records an ignored decision e of bucket as AuditIgnored with
// why, or only counts it (see auditTrail). It reports whether e was listed.
func (t *auditTrail) addIgnored(now time.Time, e AuditEntry, bucket, why string) bool {
	n := t.ignoredKept[bucket]
	if n >= ignoredAlwaysKept && (n >= maxIgnoredPerApproval || t.ignoredTotal >= maxIgnoredPerRun) {
		if t.ignoredDropped[bucket] == 0 {
			t.dropOrder = append(t.dropOrder, bucket)
		}
		t.ignoredDropped[bucket]++
		return false
	}
	t.ignoredKept[bucket] = n + 1
	t.ignoredTotal++
	e.Kind = AuditIgnored
	e.Reason = why
	t.add(now, e)
	return true
}

// list returns the entries plus, per bucket with counted-only ignored
// decisions, a note that says how many.
func (t *auditTrail) list() []AuditEntry {
	out := slices.Clone(t.entries)
	for _, key := range t.dropOrder {
		n := t.ignoredDropped[key]
		e := AuditEntry{Kind: AuditIgnored, ToolCallID: key}
		if key == "" {
			e.Reason = fmt.Sprintf("%d more ignored decisions that named no approval are not listed (see the workflow history)", n)
		} else {
			e.Reason = fmt.Sprintf("%d more ignored decisions for this call are not listed (see the workflow history)", n)
		}
		out = append(out, e)
	}
	return out
}
