package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestKeyLocksHonourContext(t *testing.T) {
	var l keyLocks
	unlock, err := l.lock(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.lock(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("lock of a held key = %v, want deadline exceeded", err)
	}
	other, err := l.lock(t.Context(), "other")
	if err != nil {
		t.Fatalf("another key: %v", err)
	}
	other()
	unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m) != 0 {
		t.Errorf("%d key entries left after unlocking all", len(l.m))
	}
}

func TestOnce(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l, err := Open(dir, func() time.Time { return at })
	if err != nil {
		t.Fatal(err)
	}
	runs := 0
	fn := func(out string, err error) func() (string, error) {
		return func() (string, error) { runs++; return out, err }
	}
	ctx := t.Context()
	if _, err := l.Once(ctx, "publish", "wf-1:call_1", "args", fn("", errors.New("cms down"))); err == nil {
		t.Fatal("a failed run returned no error")
	}
	if out, err := l.Once(ctx, "publish", "wf-1:call_1", "args", fn("first", nil)); err != nil || out != "first" {
		t.Fatalf("Once = %q, %v; want first (a failure is not recorded)", out, err)
	}
	// Another process (a fresh Ledger on the same directory) sees the result.
	l2, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := l2.Once(ctx, "publish", "wf-1:call_1", "args", fn("second", nil)); err != nil || out != "first" {
		t.Fatalf("repeat = %q, %v; want the recorded first", out, err)
	}
	if out, _ := l.Once(ctx, "delete", "wf-1:call_1", "args", fn("other tool", nil)); out != "other tool" {
		t.Errorf("another tool with the same key = %q, want its own run", out)
	}
	if runs != 3 {
		t.Errorf("fn ran %d times, want 3", runs)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) != 2 {
		t.Fatalf("ledger files = %v, %v; want 2", files, err)
	}
}

func TestOnceSerialisesOneKey(t *testing.T) {
	l, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int32
	var wg sync.WaitGroup
	outs := make([]string, 8)
	for i := range outs {
		wg.Go(func() {
			outs[i], _ = l.Once(t.Context(), "publish", "k", "args", func() (string, error) {
				return fmt.Sprint("run ", runs.Add(1)), nil
			})
		})
	}
	wg.Wait()
	if runs.Load() != 1 {
		t.Fatalf("fn ran %d times concurrently for one key, want 1", runs.Load())
	}
	for i, out := range outs {
		if out != "run 1" {
			t.Errorf("caller %d got %q, want run 1", i, out)
		}
	}
}

// TestOnceFirstRecordedWins: the same key on two processes at once (two
// Ledgers on one directory) runs fn on both, and both return the result
// recorded first; an entry that is not one is replaced.
func TestOnceFirstRecordedWins(t *testing.T) {
	tests := []struct {
		name     string
		existing string // file at the entry's path before; "" for none
		other    string // output the other process records while ours runs; "" for none
		want     string
	}{
		{name: "nothing recorded", want: "ours"},
		{name: "the other process recorded first", other: "theirs", want: "theirs"},
		{name: "unreadable entry", existing: "{not json", want: "ours"},
		{name: "entry of another key", existing: `{"key":"other","tool":"publish","output":"x"}`, want: "ours"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ours, theirs := openTwice(t, dir)
			if tt.existing != "" {
				if err := os.WriteFile(filepath.Join(dir, hash("publish\x00k")+".json"), []byte(tt.existing), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out, err := ours.Once(t.Context(), "publish", "k", "args", func() (string, error) {
				if tt.other != "" {
					if got, err := theirs.Once(t.Context(), "publish", "k", "args", func() (string, error) { return tt.other, nil }); err != nil || got != tt.other {
						t.Fatalf("other process: %q, %v", got, err)
					}
				}
				return "ours", nil
			})
			if err != nil || out != tt.want {
				t.Fatalf("Once = %q, %v; want %q", out, err, tt.want)
			}
			if again, err := theirs.Once(t.Context(), "publish", "k", "args", func() (string, error) { return "rerun", nil }); err != nil || again != tt.want {
				t.Errorf("later run = %q, %v; want the recorded %q", again, err, tt.want)
			}
		})
	}
}

// TestOnceUnreadableEntry: an entry that is there but cannot be read (an
// I/O error, no permission; here a directory in its place) is not taken
// for a missing one: Once fails without running fn, which may have run
// already, rather than run the side effect again.
func TestOnceUnreadableEntry(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(l.path("publish", "wf-1:call_1"), 0o755); err != nil {
		t.Fatal(err)
	}
	ran := false
	out, err := l.Once(t.Context(), "publish", "wf-1:call_1", "args", func() (string, error) { ran = true; return "published", nil })
	if err == nil || ran || out != "" || errors.Is(err, ErrNotRecorded) || !strings.Contains(err.Error(), "read ledger") {
		t.Fatalf("Once = %q, %v (ran %v); want a read error, fn not run", out, err, ran)
	}
}

// TestOnceEntryUnreadableAfterRun: fn ran, and meanwhile the entry was
// created (the same call on another process) but cannot be read (an I/O
// error, no permission; here a directory in its place). Once fails with
// the read error, which the activity retries, and replaces nothing: what
// is there may be the result recorded first, which every run of the key
// returns, also the one that lost the race. The retry, the entry readable
// again, gets that result without running fn. (The mutation review found
// the read error after "already exists" untested: taken for a file that
// is not an entry, it was replaced by this run's.)
func TestOnceEntryUnreadableAfterRun(t *testing.T) {
	dir := t.TempDir()
	ours, theirs := openTwice(t, dir)
	path := ours.path("publish", "k")
	runs := 0
	out, err := ours.Once(t.Context(), "publish", "k", "args", func() (string, error) {
		runs++
		// Created while this run's side effect happens, unreadable.
		return "ours", os.Mkdir(path, 0o755)
	})
	if err == nil || out != "" || errors.Is(err, ErrNotRecorded) || errors.Is(err, ErrRecordedOther) || !strings.Contains(err.Error(), "read ledger") {
		t.Fatalf("Once = %q, %v; want the read error, no result", out, err)
	}
	if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
		t.Fatalf("the entry that could not be read was replaced: %v, %v", fi, err)
	}

	// Readable again: the other process's result.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if got, err := theirs.Once(t.Context(), "publish", "k", "args", func() (string, error) { return "theirs", nil }); err != nil || got != "theirs" {
		t.Fatalf("other process: %q, %v", got, err)
	}
	out, err = ours.Once(t.Context(), "publish", "k", "args", func() (string, error) { runs++; return "again", nil })
	if err != nil || out != "theirs" || runs != 1 {
		t.Errorf("retry = %q, %v after %d runs; want the recorded %q, fn run once", out, err, runs, "theirs")
	}
}

// A key's result answers only its own input: the same call with other
// arguments (a run reset to before an edit) gets ErrOtherInput and does not
// run, and an entry written before inputs were recorded answers any input.
func TestOnceOtherInput(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if out, err := l.Once(ctx, "publish", "wf-1:call_1", `{"title":"A"}`, func() (string, error) { return "published A", nil }); err != nil || out != "published A" {
		t.Fatalf("first: %q, %v", out, err)
	}
	ran := false
	out, err := l.Once(ctx, "publish", "wf-1:call_1", `{"title":"B"}`, func() (string, error) { ran = true; return "published B", nil })
	if !errors.Is(err, ErrOtherInput) || ran || out != "" {
		t.Fatalf("other input: %q, %v, ran %v; want ErrOtherInput without running", out, err, ran)
	}
	if out, err := l.Once(ctx, "publish", "wf-1:call_1", `{"title":"A"}`, func() (string, error) { ran = true; return "again", nil }); err != nil || ran || out != "published A" {
		t.Fatalf("same input again: %q, %v, ran %v", out, err, ran)
	}

	// An entry as written before the input was recorded.
	old, err := json.Marshal(entry{Key: "wf-2:call_1", Tool: "publish", Output: "published old", At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.path("publish", "wf-2:call_1"), old, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := l.Once(ctx, "publish", "wf-2:call_1", `{"title":"anything"}`, func() (string, error) { ran = true; return "again", nil }); err != nil || ran || out != "published old" {
		t.Fatalf("entry without input: %q, %v, ran %v", out, err, ran)
	}
}

// Two processes run one key with different input at once: the one that
// records second ran its side effect too, and says so (ErrRecordedOther),
// not that it did not run (ErrOtherInput).
func TestOnceRaceOtherInput(t *testing.T) {
	dir := t.TempDir()
	ours, theirs := openTwice(t, dir)
	ran := false
	_, err := ours.Once(t.Context(), "publish", "k", "B", func() (string, error) {
		if _, err := theirs.Once(t.Context(), "publish", "k", "A", func() (string, error) { return "published A", nil }); err != nil {
			t.Fatalf("other process: %v", err)
		}
		ran = true
		return "published B", nil
	})
	if !ran || !errors.Is(err, ErrRecordedOther) || !errors.Is(err, ErrOtherInput) || !strings.Contains(err.Error(), "ran with this input") {
		t.Fatalf("Once = %v (ran %v), want ErrRecordedOther", err, ran)
	}
}

// TestOnceNotRecorded: fn succeeds but its result cannot be written (the
// ledger's directory is gone: a full disk or a read-only file system does
// the same). Once returns fn's result with ErrNotRecorded, not a bare
// failure: the side effect happened. With no entry, a later run runs fn
// again.
func TestOnceNotRecorded(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "ledger")
	l, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	runs := 0
	breakDir := func() (string, error) {
		runs++
		if err := os.RemoveAll(dir); err != nil {
			return "", err
		}
		// A file where the directory was: every write under it fails.
		return "published", os.WriteFile(dir, []byte("not a directory"), 0o600)
	}
	out, err := l.Once(t.Context(), "publish", "wf-1:call_1", "args", breakDir)
	if !errors.Is(err, ErrNotRecorded) || out != "published" {
		t.Fatalf("Once = %q, %v; want fn's result with ErrNotRecorded", out, err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err = l.Once(t.Context(), "publish", "wf-1:call_1", "args", func() (string, error) { runs++; return "again", nil })
	if err != nil || out != "again" || runs != 2 {
		t.Errorf("after an unrecorded run: Once = %q, %v with %d runs; want fn run again", out, err, runs)
	}
}

// openTwice opens the ledger in dir as two processes would, each with a
// Ledger of its own.
func openTwice(t *testing.T, dir string) (ours, theirs *Ledger) {
	t.Helper()
	var err error
	if ours, err = Open(dir, nil); err != nil {
		t.Fatal(err)
	}
	if theirs, err = Open(dir, nil); err != nil {
		t.Fatal(err)
	}
	return ours, theirs
}
