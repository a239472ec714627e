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

// oldEntry records key's entry in l, its file and its At both at: an entry
// written then.
func oldEntry(t *testing.T, l *Ledger, key string, at time.Time) {
	t.Helper()
	now := l.now
	l.now = func() time.Time { return at }
	defer func() { l.now = now }()
	if _, err := l.Once(t.Context(), "publish", key, "args", func() (string, error) { return "done " + key, nil }); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(l.path("publish", key), at, at); err != nil {
		t.Fatal(err)
	}
}

// TestPruneEdges: what Prune must not remove, or report, besides what
// TestPrune covers.
func TestPruneEdges(t *testing.T) {
	old := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	cutoff := old.Add(time.Hour)
	t.Run("an entry recorded after the cutoff in an old file", func(t *testing.T) {
		// Its file's time says old (a copy that kept times, a clock
		// set back), its At young: At decides.
		l, err := Open(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		oldEntry(t, l, "wf:young", cutoff.Add(time.Hour))
		if err := os.Chtimes(l.path("publish", "wf:young"), old, old); err != nil {
			t.Fatal(err)
		}
		asked := false
		res, err := l.Prune(t.Context(), cutoff, "", 10, func(context.Context, string, string) (bool, error) { asked = true; return true, nil })
		if err != nil || asked || len(res.Removed) != 0 {
			t.Fatalf("Prune = %+v, %v (gone asked: %v); want the young entry left alone", res, err, asked)
		}
	})
	t.Run("files at an entry's name that are not entries", func(t *testing.T) {
		// Without a key or a time nothing says whose or how old it is.
		l, err := Open(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		files := map[string]string{
			l.path("publish", ""):         `{"key":"","tool":"publish","output":"x","at":"2026-10-01T00:00:00Z"}`,
			l.path("publish", "wf:no-at"): `{"key":"wf:no-at","tool":"publish","output":"x"}`,
		}
		for path, data := range files {
			if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(path, old, old); err != nil {
				t.Fatal(err)
			}
		}
		var asked []string
		res, err := l.Prune(t.Context(), cutoff, "", 10, func(_ context.Context, _, key string) (bool, error) {
			asked = append(asked, key)
			return true, nil
		})
		if err != nil || len(asked) != 0 || len(res.Removed) != 0 {
			t.Fatalf("Prune = %+v, %v (asked about %q); want them left alone", res, err, asked)
		}
		for path := range files {
			if _, err := os.Stat(path); err != nil {
				t.Error(err)
			}
		}
	})
	t.Run("an entry another worker pruned meanwhile", func(t *testing.T) {
		// gone is asked under the key's lock; the other worker sharing
		// the directory removes the entry while it answers.
		l, err := Open(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		oldEntry(t, l, "wf:a", old)
		res, err := l.Prune(t.Context(), cutoff, "", 10, func(_ context.Context, tool, key string) (bool, error) {
			return true, os.Remove(l.path(tool, key))
		})
		if err != nil || len(res.Removed) != 0 || res.Skipped != 0 {
			t.Fatalf("Prune = %+v, %v; want nothing reported removed by this call", res, err)
		}
	})
	t.Run("failures apart from each other", func(t *testing.T) {
		// Only failures in a row stop the pass: every other key answers.
		l, err := Open(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for i := range 6 {
			keys = append(keys, "wf:call_"+string(rune('a'+i)))
			oldEntry(t, l, keys[i], old)
		}
		fails := 0
		res, err := l.Prune(t.Context(), cutoff, "", 100, func(context.Context, string, string) (bool, error) {
			if fails++; fails%2 == 1 {
				return false, errors.New("internal error")
			}
			return true, nil
		})
		if err != nil || res.Skipped != 3 || len(res.Removed) != 3 || res.Next != "" {
			t.Fatalf("Prune = %+v, %v; want 3 skipped, 3 removed, the pass ended", res, err)
		}
	})
	t.Run("an entry whose key is in use", func(t *testing.T) {
		// A run of the key holds its lock (a delete_post between its
		// tombstone and its entry): gone is not asked until it ends.
		l, err := Open(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		oldEntry(t, l, "wf:busy", old)
		asked := false
		unlock, err := l.keys.lock(t.Context(), "publish\x00wf:busy")
		if err != nil {
			t.Fatal(err)
		}
		defer unlock()
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		res, _ := l.Prune(ctx, cutoff, "", 10, func(context.Context, string, string) (bool, error) { asked = true; return true, nil })
		if asked || len(res.Removed) != 0 {
			t.Fatalf("Prune = %+v (gone asked: %v) while the key was locked; want it to wait", res, asked)
		}
		if _, err := os.Stat(l.path("publish", "wf:busy")); err != nil {
			t.Fatalf("the entry of the busy key: %v", err)
		}
	})
}
