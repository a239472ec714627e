package activities

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Prune forgets the calls of runs Temporal no longer knows, with their
// tombstones, and keeps the rest: a call of a known run, asked again, does
// not run again.
func TestBlogPrune(t *testing.T) {
	dir := t.TempDir()
	b, err := NewBlog(BlogConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	gonePublish := publishCall("wf:gone", "call_1", "Gone", "x")
	goneDelete := deleteCall("wf:gone", "call_2", "gone")
	openDelete := deleteCall("wf:open", "call_3", "kept")
	first := map[string]string{}
	for _, c := range []ToolCall{gonePublish, goneDelete, openDelete} {
		run := b.publish
		if c.Name == ToolDeletePost {
			run = b.delete
		}
		out, err := run(ctx, c)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		first[c.CallID] = out
	}
	// An entry written before the "v2:" form, of run "wf" or run
	// "wf:legacy".
	legacy := "wf:legacy:call_4"
	if _, err := b.ledger.Once(ctx, ToolPublishBlogPost, legacy, "{}", func() (string, error) { return "{}", nil }); err != nil {
		t.Fatal(err)
	}
	// Make every entry a month old.
	old := time.Now().Add(-40 * 24 * time.Hour)
	ledgerDir := filepath.Join(dir, ledgerDirName)
	entries, err := os.ReadDir(ledgerDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.Chtimes(filepath.Join(ledgerDir, e.Name()), old, old); err != nil {
			t.Fatal(err)
		}
	}
	var asked []string
	known := func(_ context.Context, id string) (bool, error) {
		asked = append(asked, id)
		return id == "wf:open" || id == "wf", nil
	}
	// The entries' own time is now: with a cutoff of a month ago nothing
	// is old enough.
	if res, err := b.Prune(ctx, time.Now().Add(-30*24*time.Hour), "", 100, known); err != nil || len(res.Removed) != 0 {
		t.Fatalf("Prune before the entries' time = %+v, %v; want nothing removed", res, err)
	}
	res, err := b.Prune(ctx, time.Now().Add(time.Minute), "", 100, known)
	if err != nil || len(res.Removed) != 2 || res.Next != "" {
		t.Fatalf("Prune = %+v, %v; want 2 removed", res, err)
	}
	if left, _ := os.ReadDir(ledgerDir); len(left) != 2 {
		t.Errorf("%d ledger entries left, want the known runs' two", len(left))
	}
	if tombstone(t, dir, openDelete) == "" {
		t.Error("the known run's tombstone was removed")
	}
	if _, err := os.Stat(filepath.Join(dir, deletedDirName, keyHash(goneDelete.IdempotencyKey())+".md")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the gone run's tombstone is still there: %v", err)
	}
	// The "v2:" keys of the calls are asked about their runs "wf:gone" and
	// "wf:open"; the legacy key, of run "wf" or "wf:legacy", is kept
	// because "wf" is known.
	for _, id := range []string{"wf", "wf:gone", "wf:open"} {
		found := false
		for _, a := range asked {
			found = found || a == id
		}
		if !found {
			t.Errorf("run %q was not asked about (asked %q)", id, asked)
		}
	}
	out, err := b.delete(ctx, openDelete)
	if err != nil || out != first[openDelete.CallID] {
		t.Errorf("the known run's delete again = %q, %v; want its first result", out, err)
	}
	failing := func(context.Context, string) (bool, error) { return false, errors.New("temporal down") }
	if res, err := b.Prune(ctx, time.Now().Add(time.Minute), "", 100, failing); err != nil || res.Skipped != 2 || len(res.Removed) != 0 {
		t.Errorf("a failing RunKnown = %+v, %v; want the two entries left skipped", res, err)
	}
}

func TestKeyGone(t *testing.T) {
	for _, tt := range []struct {
		key   string
		known []string
		want  bool
	}{
		{"wf-1:call_1", nil, true},
		{"wf-1:call_1", []string{"wf-1"}, false},
		{"a:b:c", []string{"a:b"}, false},
		{"a:b:c", []string{"a"}, false},
		{"a:b:c", []string{"b"}, true},
		{"nocolon", nil, false},
		{":call", nil, false},
		{"wf:", nil, false},
		// The "v2:" form of ("a:b", "c"): also asks "a:b" itself.
		{"v2:3:a:b:c", nil, true},
		{"v2:3:a:b:c", []string{"a:b"}, false},
		{"v2:3:a:b:c", []string{"v2:3:a"}, false}, // an old-form key's reading
		{"v2:9:a:b:c", []string{"a:b"}, true},
		// Not of the "v2:" form (no ':' after its 1 byte): an old-form key
		// of workflow "v2", whose id is not "a".
		{"v2:1:ab:c", []string{"a"}, true},
	} {
		got, err := keyGone(t.Context(), tt.key, func(_ context.Context, id string) (bool, error) {
			for _, k := range tt.known {
				if k == id {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil || got != tt.want {
			t.Errorf("keyGone(%q, known %q) = %v, %v; want %v", tt.key, tt.known, got, err, tt.want)
		}
	}
}

// TestBlogPruneTombstones: a delete_post entry goes only after its
// tombstone, and a tombstone already gone (a crash between the two
// removals) does not keep its entry.
func TestBlogPruneTombstones(t *testing.T) {
	tests := []struct {
		name        string
		tomb        func(t *testing.T, path string) // what becomes of the call's tombstone before Prune
		wantRemoved int
		wantSkipped int
	}{
		{name: "a tombstone that cannot be removed", tomb: func(t *testing.T, path string) {
			// A directory that is not empty in its place: os.Remove fails.
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(path, "x"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, wantSkipped: 1},
		{name: "a tombstone removed already", tomb: func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, wantRemoved: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			b, err := NewBlog(BlogConfig{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			call := deleteCall("wf-gone", "call_1", "gone")
			if _, err := b.delete(t.Context(), call); err != nil {
				t.Fatal(err)
			}
			tt.tomb(t, filepath.Join(dir, deletedDirName, keyHash(call.IdempotencyKey())+".md"))
			entries, err := filepath.Glob(filepath.Join(dir, ledgerDirName, "*.json"))
			if err != nil || len(entries) != 1 {
				t.Fatalf("ledger entries %v, %v; want the call's", entries, err)
			}
			entry := entries[0]
			old := time.Now().Add(-40 * 24 * time.Hour)
			if err := os.Chtimes(entry, old, old); err != nil {
				t.Fatal(err)
			}
			gone := func(context.Context, string) (bool, error) { return false, nil }
			res, err := b.Prune(t.Context(), time.Now().Add(time.Minute), "", 100, gone)
			if err != nil || len(res.Removed) != tt.wantRemoved || res.Skipped != tt.wantSkipped {
				t.Fatalf("Prune = %+v, %v; want %d removed, %d skipped", res, err, tt.wantRemoved, tt.wantSkipped)
			}
			if _, err := os.Stat(entry); (err == nil) != (tt.wantRemoved == 0) {
				t.Errorf("the entry after Prune: %v", err)
			}
		})
	}
}
