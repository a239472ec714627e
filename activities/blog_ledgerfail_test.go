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
