package ledger

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPrune(t *testing.T) {
	dir := t.TempDir()
	old := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	now := old
	l, err := Open(dir, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	write := func(tool, key string, at time.Time) {
		t.Helper()
		now = at
		if _, err := l.Once(t.Context(), tool, key, "args", func() (string, error) { return "done " + key, nil }); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, hash(tool+"\x00"+key)+".json")
		if err := os.Chtimes(path, at, at); err != nil {
			t.Fatal(err)
		}
	}
	cutoff := old.Add(30 * 24 * time.Hour)
	write("publish", "wf-gone:call_1", old)
	write("delete", "wf-gone:call_2", old)
	write("publish", "wf-open:call_1", old)
	write("publish", "wf-gone:call_new", cutoff.Add(time.Hour)) // too young, whatever gone says
	if err := os.WriteFile(filepath.Join(dir, "notes.json"), []byte("not an entry"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(dir, "notes.json"), old, old); err != nil {
		t.Fatal(err)
	}
	var asked []string
	gone := func(_ context.Context, tool, key string) (bool, error) {
		asked = append(asked, tool+" "+key)
		return strings.HasPrefix(key, "wf-gone:"), nil
	}

	res, err := l.Prune(t.Context(), cutoff, "", 10, gone)
	if err != nil || res.Next != "" || res.Skipped != 0 {
		t.Fatalf("Prune = %+v, %v", res, err)
	}
	removed := res.Removed
	slices.SortFunc(removed, func(a, b Pruned) int { return strings.Compare(a.Key, b.Key) })
	if want := []Pruned{{"publish", "wf-gone:call_1"}, {"delete", "wf-gone:call_2"}}; !slices.Equal(removed, want) {
		t.Fatalf("removed %+v, want %+v", removed, want)
	}
	if slices.Contains(asked, "publish wf-gone:call_new") {
		t.Error("asked about an entry younger than the cutoff")
	}
	ctx := t.Context()
	ran := false
	if out, _ := l.Once(ctx, "publish", "wf-open:call_1", "args", func() (string, error) { ran = true; return "again", nil }); ran || out != "done wf-open:call_1" {
		t.Errorf("the open run's entry was lost: ran %v, out %q", ran, out)
	}
	if out, _ := l.Once(ctx, "publish", "wf-gone:call_new", "args", func() (string, error) { ran = true; return "again", nil }); ran || out != "done wf-gone:call_new" {
		t.Errorf("the young entry was lost: ran %v, out %q", ran, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.json")); err != nil {
		t.Errorf("a file that is not an entry was touched: %v", err)
	}
}

// At most max old entries are examined per call; the cursor goes on from
// there, so every entry is reached however many stay; an error of gone
// stops the call and nothing is removed for it.
func TestPruneIsBoundedAndResumes(t *testing.T) {
	dir := t.TempDir()
	old := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	l, err := Open(dir, func() time.Time { return old })
	if err != nil {
		t.Fatal(err)
	}
	for i := range 7 {
		key := "wf:call_" + string(rune('a'+i))
		if _, err := l.Once(t.Context(), "publish", key, "args", func() (string, error) { return "ok", nil }); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(filepath.Join(dir, hash("publish\x00"+key)+".json"), old, old); err != nil {
			t.Fatal(err)
		}
	}
	cutoff := old.Add(time.Hour)
	var seen []string
	gone := func(_ context.Context, _, key string) (bool, error) {
		seen = append(seen, key)
		return key == "wf:call_c", nil
	}
	cursor, calls, total := "", 0, 0
	for {
		calls++
		res, err := l.Prune(t.Context(), cutoff, cursor, 3, gone)
		if err != nil {
			t.Fatal(err)
		}
		total += len(res.Removed)
		if res.Next == "" {
			break
		}
		cursor = res.Next
		if calls > 10 {
			t.Fatal("the cursor does not advance")
		}
	}
	if calls != 3 || len(seen) != 7 || total != 1 {
		t.Fatalf("%d calls, %d entries asked about, %d removed; want 3, 7, 1", calls, len(seen), total)
	}
	// Temporal out of reach: three failures in a row stop the call, which
	// removes nothing and leaves the cursor where it was.
	failing := func(context.Context, string, string) (bool, error) { return true, errors.New("temporal unreachable") }
	res, err := l.Prune(t.Context(), cutoff, "", 5, failing)
	if err == nil || len(res.Removed) != 0 || res.Next != "" || res.Skipped != 3 {
		t.Fatalf("Prune with a failing gone = %+v, %v; want an error after 3, nothing removed, the cursor kept", res, err)
	}
	// One key whose question always fails is skipped: the others are
	// pruned, and the pass goes on to the end.
	seen = nil
	oneBad := func(_ context.Context, _, key string) (bool, error) {
		seen = append(seen, key)
		if key == "wf:call_a" {
			return false, errors.New("internal error")
		}
		return true, nil
	}
	res, err = l.Prune(t.Context(), cutoff, "", 100, oneBad)
	if err != nil || res.Skipped != 1 || len(res.Removed) != 5 || res.Next != "" {
		t.Fatalf("Prune with one bad key = %+v, %v; want 1 skipped, the other 5 removed", res, err)
	}
}
