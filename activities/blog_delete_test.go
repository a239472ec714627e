package activities

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func deleteCall(workflowID, callID, slug string) ToolCall {
	return ToolCall{WorkflowID: workflowID, CallID: callID, Name: ToolDeletePost, Arguments: fmt.Sprintf(`{"slug":%q}`, slug)}
}

// tombstones lists what BLOG_DIR/.deleted holds.
func tombstones(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, deletedDirName))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestDeleteRerun: a delete_post call that is run again, after a crash or on
// a second worker, deletes what its first run deleted and nothing else: a
// post published under the same slug since stays.
func TestDeleteRerun(t *testing.T) {
	const deleted = `{"deleted":true,"slug":"old-news"}`
	call := deleteCall("wf-d", "call_d", "old-news")
	tomb := func(dir string) string {
		return filepath.Join(dir, deletedDirName, keyHash(call.IdempotencyKey())+".md")
	}
	tests := []struct {
		name string
		// before runs after the post of wf-1 was published: the first run
		// of call, up to where it stopped.
		before func(t *testing.T, b *Blog, dir string)
	}{
		{
			name: "crash before the ledger write",
			before: func(t *testing.T, b *Blog, dir string) {
				if out, err := deletePostFile(filepath.Join(dir, "old-news.md"), tomb(dir), "old-news"); err != nil || out != deleted {
					t.Fatalf("first run = %s, %v", out, err)
				}
			},
		},
		{
			name: "crash after the ledger write, before the deleted post went",
			before: func(t *testing.T, b *Blog, dir string) {
				if out, err := b.delete(context.Background(), call); err != nil || out != deleted {
					t.Fatalf("first run = %s, %v", out, err)
				}
				if err := os.WriteFile(tomb(dir), []byte("the deleted post"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			first, restarted := newWorkers(t, dir, 1)[0], newWorkers(t, dir, 1)[0]
			ctx := context.Background()
			if _, err := first.publish(ctx, publishCall("wf-1", "call_p", "Old news", "first")); err != nil {
				t.Fatal(err)
			}
			tt.before(t, first, dir)
			// Meanwhile another run publishes a post under the freed slug.
			if _, err := first.publish(ctx, publishCall("wf-2", "call_p", "Old news", "second")); err != nil {
				t.Fatal(err)
			}
			out, err := restarted.delete(ctx, call)
			if err != nil || out != deleted {
				t.Fatalf("rerun = %s, %v; want %s", out, err, deleted)
			}
			if owner, err := restarted.postOwner("old-news.md"); err != nil || owner != "wf-2:call_p" {
				t.Errorf("old-news.md belongs to %q (%v), want the newer post of wf-2:call_p, untouched", owner, err)
			}
			if got := tombstones(t, dir); len(got) != 0 {
				t.Errorf("%s holds %v after the delete, want nothing", deletedDirName, got)
			}
		})
	}
}

// TestDeleteWithoutTombstoneDir: a BLOG_DIR/.deleted removed while the
// worker runs does not turn a delete into "already absent".
func TestDeleteWithoutTombstoneDir(t *testing.T) {
	dir := t.TempDir()
	b := newWorkers(t, dir, 1)[0]
	ctx := context.Background()
	if _, err := b.publish(ctx, publishCall("wf-1", "call_p", "Old news", "")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, deletedDirName)); err != nil {
		t.Fatal(err)
	}
	if out, err := b.delete(ctx, deleteCall("wf-d", "call_d", "old-news")); err != nil || out != `{"deleted":true,"slug":"old-news"}` {
		t.Fatalf("delete = %s, %v; want deleted", out, err)
	}
	if got := posts(t, dir); len(got) != 0 {
		t.Errorf("posts = %v, want none", got)
	}
}

// TestDeleteSameCallTwoWorkers: one delete_post call run at once on two
// workers deletes its post once, both report the same result, and a post
// of another slug stays.
func TestDeleteSameCallTwoWorkers(t *testing.T) {
	dir := t.TempDir()
	workers := newWorkers(t, dir, 2)
	ctx := context.Background()
	if _, err := workers[0].publish(ctx, publishCall("wf-0", "call_p", "Keep me", "")); err != nil {
		t.Fatal(err)
	}
	const rounds = 20
	for i := range rounds {
		title := fmt.Sprintf("Post %d", i)
		slug := Slugify(title)
		if _, err := workers[0].publish(ctx, publishCall("wf-p", fmt.Sprint("call_", i), title, "")); err != nil {
			t.Fatal(err)
		}
		call := deleteCall("wf-d", fmt.Sprint("call_", i), slug)
		outs := make([]string, len(workers))
		var wg sync.WaitGroup
		for w, b := range workers {
			wg.Go(func() {
				var err error
				if outs[w], err = b.delete(ctx, call); err != nil {
					t.Errorf("round %d, worker %d: %v", i, w, err)
				}
			})
		}
		wg.Wait()
		if want := fmt.Sprintf(`{"deleted":true,"slug":%q}`, slug); outs[0] != want || outs[1] != want {
			t.Errorf("round %d: results %v, want %s from both", i, outs, want)
		}
	}
	if got := posts(t, dir); strings.Join(got, ",") != "keep-me.md" {
		t.Errorf("posts = %v, want [keep-me.md]", got)
	}
	if got := tombstones(t, dir); len(got) != 0 {
		t.Errorf("%s holds %v, want nothing", deletedDirName, got)
	}
}
