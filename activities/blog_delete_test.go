package activities

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/hitl/durable-approvals/workflows"
)

func deleteCall(workflowID, callID, slug string) ToolCall {
	return ToolCall{WorkflowID: workflowID, CallID: callID, Name: ToolDeletePost, Arguments: fmt.Sprintf(`{"slug":%q}`, slug)}
}

// tombstone returns the content of call's tombstone ("" if none) and
// fails the test if .deleted holds anything else.
func tombstone(t *testing.T, dir string, call ToolCall) string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, deletedDirName))
	if err != nil {
		t.Fatal(err)
	}
	name := keyHash(call.IdempotencyKey()) + ".md"
	for _, e := range entries {
		if e.Name() != name {
			t.Errorf("%s holds %s besides the call's tombstone", deletedDirName, e.Name())
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, deletedDirName, name))
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

const (
	deletedOldNews = `{"deleted":true,"slug":"old-news"}`
	absentOldNews  = `{"deleted":false,"slug":"old-news","alreadyAbsent":true}`
)

// TestDeleteLateAttempt: an attempt of a delete_post call that runs late
// (after a crash of the first, or one that stalled while another
// finished the call) reports what the call did and deletes nothing else:
// a post published under the slug since stays.
func TestDeleteLateAttempt(t *testing.T) {
	call := deleteCall("wf-d", "call_d", "old-news")
	tombPath := func(dir string) string {
		return filepath.Join(dir, deletedDirName, keyHash(call.IdempotencyKey())+".md")
	}
	tests := []struct {
		name    string
		publish bool // a post at the slug before the call
		// first runs the call as far as it got, on another worker.
		first func(t *testing.T, other *Blog, dir string)
		// stalled: the late attempt read the ledger before first ran.
		stalled bool
		want    string
	}{
		{
			name: "crash before the ledger write", publish: true, want: deletedOldNews,
			first: func(t *testing.T, other *Blog, dir string) {
				if out, err := deletePostFile(filepath.Join(dir, "old-news.md"), tombPath(dir), "old-news"); err != nil || out != deletedOldNews {
					t.Fatalf("first = %s, %v", out, err)
				}
			},
		},
		{
			name: "crash after the ledger write, before the tombstone was emptied", publish: true, want: deletedOldNews,
			first: func(t *testing.T, other *Blog, dir string) {
				if out, err := other.delete(context.Background(), call); err != nil || out != deletedOldNews {
					t.Fatalf("first = %s, %v", out, err)
				}
				if err := os.WriteFile(tombPath(dir), []byte("---\ntitle: \"Old news\"\n---\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "stalled while another attempt deleted the post", publish: true, stalled: true, want: deletedOldNews,
			first: func(t *testing.T, other *Blog, dir string) {
				if out, err := other.delete(context.Background(), call); err != nil || out != deletedOldNews {
					t.Fatalf("first = %s, %v", out, err)
				}
			},
		},
		{
			name: "stalled while another attempt found no post", stalled: true, want: absentOldNews,
			first: func(t *testing.T, other *Blog, dir string) {
				if out, err := other.delete(context.Background(), call); err != nil || out != absentOldNews {
					t.Fatalf("first = %s, %v", out, err)
				}
			},
		},
		{
			name: "crash before the ledger write, no post", want: absentOldNews,
			first: func(t *testing.T, other *Blog, dir string) {
				if out, err := deletePostFile(filepath.Join(dir, "old-news.md"), tombPath(dir), "old-news"); err != nil || out != absentOldNews {
					t.Fatalf("first = %s, %v", out, err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			workers := newWorkers(t, dir, 2)
			other, late := workers[0], workers[1]
			ctx := context.Background()
			if tt.publish {
				if _, err := other.publish(ctx, publishCall("wf-1", "call_p", "Old news", "first")); err != nil {
					t.Fatal(err)
				}
			}
			// Meanwhile another run publishes a post under the slug.
			firstThenPublish := func() {
				tt.first(t, other, dir)
				if _, err := other.publish(ctx, publishCall("wf-2", "call_p", "Old news", "second")); err != nil {
					t.Fatal(err)
				}
			}
			var out string
			var err error
			if tt.stalled {
				// The late attempt's ledger read finds nothing; then the
				// other attempt does the whole call; then the late one
				// goes on.
				out, err = late.once(ctx, call, func() (string, error) {
					firstThenPublish()
					return deletePostFile(filepath.Join(dir, "old-news.md"), tombPath(dir), "old-news")
				})
			} else {
				firstThenPublish()
				out, err = late.delete(ctx, call)
			}
			if err != nil || out != tt.want {
				t.Fatalf("late attempt = %s, %v; want %s", out, err, tt.want)
			}
			if owner, err := late.postOwner("old-news.md"); err != nil || owner != "wf-2:call_p" {
				t.Errorf("old-news.md belongs to %q (%v), want the newer post of wf-2:call_p, untouched", owner, err)
			}
			if !tt.stalled {
				if got := tombstone(t, dir, call); got != tt.want {
					t.Errorf("tombstone holds %q, want the result %s", got, tt.want)
				}
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
		want := fmt.Sprintf(`{"deleted":true,"slug":%q}`, slug)
		if outs[0] != want || outs[1] != want {
			t.Errorf("round %d: results %v, want %s from both", i, outs, want)
		}
		tomb, err := os.ReadFile(filepath.Join(dir, deletedDirName, keyHash(call.IdempotencyKey())+".md"))
		if err != nil || string(tomb) != want {
			t.Errorf("round %d: tombstone holds %q (%v), want the result", i, tomb, err)
		}
	}
	if got := posts(t, dir); strings.Join(got, ",") != "keep-me.md" {
		t.Errorf("posts = %v, want [keep-me.md]", got)
	}
}

// TestDeleteLateAttemptJSONPost: a moved post that reads as JSON naming the
// slug is still a moved post to a late attempt, not a result.
func TestDeleteLateAttemptJSONPost(t *testing.T) {
	dir := t.TempDir()
	b := newWorkers(t, dir, 1)[0]
	if err := os.WriteFile(filepath.Join(dir, "old-news.md"), []byte(`{"title":"Old news","slug":"old-news","deleted":false}`), 0o644); err != nil {
		t.Fatal(err)
	}
	call := deleteCall("wf-d", "call_d", "old-news")
	tomb := filepath.Join(dir, deletedDirName, keyHash(call.IdempotencyKey())+".md")
	if out, err := deletePostFile(filepath.Join(dir, "old-news.md"), tomb, "old-news"); err != nil || out != deletedOldNews {
		t.Fatalf("first attempt = %s, %v", out, err)
	}
	if out, err := b.delete(context.Background(), call); err != nil || out != deletedOldNews {
		t.Errorf("late attempt = %s, %v; want %s", out, err, deletedOldNews)
	}
}

// TestDeleteMoveFails: a move of the post that fails for another reason
// than a missing post is an error, not "already absent": the post is
// still there. Here .deleted is on another file system (a volume of its
// own), so rename fails with EXDEV.
func TestDeleteMoveFails(t *testing.T) {
	dir := t.TempDir()
	other, err := os.MkdirTemp("/dev/shm", "deleted-")
	if err != nil {
		t.Skipf("no second file system to put .deleted on: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(other) })
	var here, there syscall.Stat_t
	if syscall.Stat(dir, &here) != nil || syscall.Stat(other, &there) != nil || here.Dev == there.Dev {
		t.Skip("/dev/shm is on the same file system as the test's directory")
	}
	b := newWorkers(t, dir, 1)[0]
	post := filepath.Join(dir, "old-news.md")
	if err := os.WriteFile(post, []byte("---\ntitle: \"Old news\"\n---\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deleted := filepath.Join(dir, deletedDirName)
	if err := os.Remove(deleted); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(other, deleted); err != nil {
		t.Fatal(err)
	}
	out, err := b.delete(context.Background(), deleteCall("wf-d", "call_d", "old-news"))
	if err == nil || out != "" || !errors.Is(err, syscall.EXDEV) {
		t.Fatalf("delete = %q, %v; want the move's error", out, err)
	}
	if _, err := os.Stat(post); err != nil {
		t.Errorf("the post: %v", err)
	}
}

// TestBlogToolsNeedBothIDs: a call without its workflow id or its call id
// has no idempotency key and runs nothing.
func TestBlogToolsNeedBothIDs(t *testing.T) {
	for _, ids := range [][2]string{{"wf", ""}, {"", "call_1"}} {
		dir := t.TempDir()
		b := newWorkers(t, dir, 1)[0]
		_, err := b.publish(context.Background(), publishCall(ids[0], ids[1], "No key", ""))
		if err == nil || errType(err) != workflows.ErrTypeBadRequest {
			t.Errorf("publish with ids %q = %v; want a BadRequestError", ids, err)
		}
		if got := posts(t, dir); len(got) != 0 {
			t.Errorf("ids %q: posts %v, want none", ids, got)
		}
	}
}
