package activities

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPublishLedgerWriteFails: the post is written, then the ledger cannot
// take the result (a chaos probe filled BLOG_DIR's file system so that the
// post fit and its ledger entry did not). The call reports the post it
// published, not a failure: the run's audit and the model were told "tool
// failed" while the post was live. A rerun, once the ledger is writable
// again, finds the same post and publishes no second one.
func TestPublishLedgerWriteFails(t *testing.T) {
	dir := t.TempDir()
	ledgerDir := filepath.Join(dir, ledgerDirName)
	broken := false
	now := func() time.Time {
		// Called for the post's front matter, then for the ledger entry:
		// once the post exists, the ledger's directory is gone.
		if _, err := os.Stat(filepath.Join(dir, "hello.md")); err == nil && !broken {
			broken = true
			if err := os.RemoveAll(ledgerDir); err != nil {
				t.Error(err)
			}
			if err := os.WriteFile(ledgerDir, nil, 0o600); err != nil {
				t.Error(err)
			}
		}
		return fixedNow()
	}
	b, err := NewBlog(BlogConfig{Dir: dir, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	call := publishCall("hitl-run-1", "call_1", "Hello", "body")
	out, err := b.publish(t.Context(), call)
	if !broken {
		t.Fatal("the ledger was not broken: the test did not reach its case")
	}
	if err != nil {
		t.Fatalf("publish with the post written and the ledger not = %v; want the post's result", err)
	}
	var res PublishResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || !res.Published || res.Location != "hello.md" {
		t.Fatalf("result %q (%v); want published as hello.md", out, err)
	}
	if err := os.Remove(ledgerDir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(ledgerDir, 0o755); err != nil {
		t.Fatal(err)
	}
	again, err := b.publish(t.Context(), call)
	if err != nil || again != out {
		t.Errorf("rerun = %q, %v; want the same result %q", again, err, out)
	}
	posts, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	if len(posts) != 1 {
		t.Errorf("posts %v; want one", posts)
	}
}

// TestDeleteLedgerWriteFails: delete_post moved the post to the call's
// tombstone, then neither the ledger entry nor the tombstone's rewrite
// could be written (a full disk). The post is deleted, so the call reports
// it deleted, not a failure the model and the run's audit would take for
// "the post is still there". A rerun, once the disk has room, finds the
// call done in its tombstone and deletes nothing published since.
func TestDeleteLedgerWriteFails(t *testing.T) {
	dir := t.TempDir()
	ledgerDir := filepath.Join(dir, ledgerDirName)
	deletedDir := filepath.Join(dir, deletedDirName)
	aside := deletedDir + "-aside"
	post := filepath.Join(dir, "old-news.md")
	broken := false
	now := func() time.Time {
		// Called for the ledger entry, once the post is moved: from then
		// on nothing can be written in the ledger nor in .deleted.
		if _, err := os.Stat(post); err != nil && !broken {
			broken = true
			for _, err := range []error{
				os.RemoveAll(ledgerDir), os.WriteFile(ledgerDir, nil, 0o600),
				os.Rename(deletedDir, aside), os.WriteFile(deletedDir, nil, 0o600),
			} {
				if err != nil {
					t.Error(err)
				}
			}
		}
		return fixedNow()
	}
	b, err := NewBlog(BlogConfig{Dir: dir, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(post, []byte("---\ntitle: \"Old news\"\n---\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	call := deleteCall("hitl-run-1", "call_1", "old-news")
	out, err := b.delete(t.Context(), call)
	if !broken {
		t.Fatal("the disk was not filled: the test did not reach its case")
	}
	if err != nil || out != deletedOldNews {
		t.Fatalf("delete with the post moved and nothing else written = %q, %v; want %s", out, err, deletedOldNews)
	}
	for _, err := range []error{os.Remove(ledgerDir), os.Mkdir(ledgerDir, 0o755), os.Remove(deletedDir), os.Rename(aside, deletedDir)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(post, []byte("---\ntitle: \"Old news, again\"\n---\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := b.delete(t.Context(), call)
	if err != nil || again != deletedOldNews {
		t.Errorf("rerun = %q, %v; want %s", again, err, deletedOldNews)
	}
	if _, err := os.Stat(post); err != nil {
		t.Errorf("the post published since: %v", err)
	}
	if got := tombstone(t, dir, call); got != deletedOldNews {
		t.Errorf("tombstone %q; want the result", got)
	}
}
