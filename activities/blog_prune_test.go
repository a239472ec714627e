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
		return id == "wf:open", nil
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
	if left, _ := os.ReadDir(ledgerDir); len(left) != 1 {
		t.Errorf("%d ledger entries left, want the known run's only", len(left))
	}
	if tombstone(t, dir, openDelete) == "" {
		t.Error("the known run's tombstone was removed")
	}
	if _, err := os.Stat(filepath.Join(dir, deletedDirName, keyHash(goneDelete.IdempotencyKey())+".md")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the gone run's tombstone is still there: %v", err)
	}
	// "wf:open:call_3" may be run "wf" or run "wf:open": kept because one
	// of them is known; "wf:gone:call_1" was kept by neither.
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
	if res, err := b.Prune(ctx, time.Now().Add(time.Minute), "", 100, failing); err != nil || res.Skipped != 1 || len(res.Removed) != 0 {
		t.Errorf("a failing RunKnown = %+v, %v; want the one entry left skipped", res, err)
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
