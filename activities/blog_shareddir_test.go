package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hitl/durable-approvals/workflows"
)

// Compose and devstack prod run several workers on one BLOG_DIR. In these
// tests, several Blog values on one directory stand in for those workers:
// nothing in process memory is shared between them.

func newWorkers(t *testing.T, dir string, n int) []*Blog {
	t.Helper()
	workers := make([]*Blog, n)
	for i := range workers {
		b, err := NewBlog(BlogConfig{Dir: dir, Now: fixedNow})
		if err != nil {
			t.Fatal(err)
		}
		workers[i] = b
	}
	return workers
}

// publishAtOnce runs calls[i] on workers[i], all released together, and
// returns their results.
func publishAtOnce(t *testing.T, workers []*Blog, calls []ToolCall) []PublishResult {
	t.Helper()
	start := make(chan struct{})
	outs := make([]string, len(calls))
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			outs[i], errs[i] = workers[i].publish(context.Background(), calls[i])
		}()
	}
	close(start)
	wg.Wait()
	res := make([]PublishResult, len(calls))
	for i := range calls {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if err := json.Unmarshal([]byte(outs[i]), &res[i]); err != nil {
			t.Fatalf("call %d: result %q: %v", i, outs[i], err)
		}
	}
	return res
}

func publishCall(workflowID, callID, title, body string) ToolCall {
	args, _ := json.Marshal(publishArgs{Title: title, Body: body})
	return ToolCall{WorkflowID: workflowID, CallID: callID, Name: ToolPublishBlogPost, Arguments: string(args)}
}

// TestPublishTwoWorkersSameSlug: two different approved calls whose titles
// give one slug, run at once on two workers, publish two posts under two
// names; neither overwrites the other.
func TestPublishTwoWorkersSameSlug(t *testing.T) {
	dir := t.TempDir()
	workers := newWorkers(t, dir, 2)
	const rounds = 20
	for i := range rounds {
		title := fmt.Sprintf("Round %d", i)
		calls := []ToolCall{
			publishCall("hitl-run-0", fmt.Sprintf("call_%d", i), title, "from run 0"),
			publishCall("hitl-run-1", fmt.Sprintf("call_%d", i), title+"!", "from run 1"),
		}
		res := publishAtOnce(t, workers, calls)
		if res[0].Location == res[1].Location {
			t.Fatalf("round %d: both calls report %s: one post was overwritten", i, res[0].Location)
		}
		for j, r := range res {
			fm, body, err := readPost(filepath.Join(dir, r.Location))
			if err != nil {
				t.Fatalf("round %d, call %d: %v", i, j, err)
			}
			if got, want := IdempotencyKey(fm["workflow_id"], fm["tool_call_id"]), calls[j].IdempotencyKey(); got != want {
				t.Errorf("round %d: %s belongs to %s, want %s", i, r.Location, got, want)
			}
			if got, want := body, fmt.Sprintf("from run %d\n", j); got != want {
				t.Errorf("round %d: %s body = %q, want %q", i, r.Location, got, want)
			}
			if got, want := fm["slug"], strings.TrimSuffix(r.Location, ".md"); got != want || r.Slug != want {
				t.Errorf("round %d: %s has slug %q, result slug %q; want %q", i, r.Location, got, r.Slug, want)
			}
		}
	}
	if got := posts(t, dir); len(got) != 2*rounds {
		t.Errorf("%d posts on disk, want %d: %v", len(got), 2*rounds, got)
	}
	assertNoTemporaries(t, dir)
}

// TestPublishSameCallTwoWorkers: one call run at once on two workers (a
// retry while the first attempt still runs) publishes one post, and both
// report the same location.
func TestPublishSameCallTwoWorkers(t *testing.T) {
	dir := t.TempDir()
	workers := newWorkers(t, dir, 2)
	call := publishCall("hitl-run-0", "call_1", "Hello", "once")
	res := publishAtOnce(t, workers, []ToolCall{call, call})
	want := PublishResult{Published: true, Title: "Hello", Slug: "hello", Location: "hello.md"}
	for i, r := range res {
		if r != want {
			t.Errorf("worker %d: result = %+v, want %+v", i, r, want)
		}
	}
	if got := posts(t, dir); len(got) != 1 {
		t.Errorf("posts = %v, want [hello.md]", got)
	}
	assertNoTemporaries(t, dir)
}

// TestPublishBothNamesTaken: when <slug>.md and <slug>-<key hash>.md both
// hold other calls' posts, the call fails (the model is told) and neither
// post changes.
func TestPublishBothNamesTaken(t *testing.T) {
	a, dir := newBlogActivities(t, BlogConfig{})
	call := workflows.ToolRequest{WorkflowID: "wf-3", CallID: "call_1", Name: ToolPublishBlogPost, Arguments: `{"title":"Hello","body":"three"}`}
	alt := "Hello " + keyHash(IdempotencyKey(call.WorkflowID, call.CallID))[:8]
	for _, other := range []workflows.ToolRequest{
		{WorkflowID: "wf-1", CallID: "call_1", Name: ToolPublishBlogPost, Arguments: `{"title":"Hello","body":"one"}`},
		{WorkflowID: "wf-2", CallID: "call_1", Name: ToolPublishBlogPost, Arguments: fmt.Sprintf(`{"title":%q,"body":"two"}`, alt)},
	} {
		if _, err := execTool(t, a, other); err != nil {
			t.Fatal(err)
		}
	}
	before := readAll(t, dir)
	_, err := execTool(t, a, call)
	if got, want := errType(err), workflows.ErrTypeToolInput; got != want {
		t.Fatalf("err = %v (type %q), want type %q", err, got, want)
	}
	if after := readAll(t, dir); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("posts changed:\nbefore %v\nafter  %v", before, after)
	}
	assertNoTemporaries(t, dir)
}

// readAll returns every post's content by name.
func readAll(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, name := range posts(t, dir) {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		m[name] = string(data)
	}
	return m
}

func assertNoTemporaries(t *testing.T, dir string) {
	t.Helper()
	tmps, err := filepath.Glob(filepath.Join(dir, ".*.tmp"))
	if err != nil || len(tmps) > 0 {
		t.Errorf("temporary files left: %v, %v", tmps, err)
	}
}

// TestPublishRerunFindsSecondName: a call that published under
// <slug>-<key hash>.md and is rerun without its ledger entry (a crash
// before the ledger write) finds its post there, even after the post that
// held <slug>.md was deleted: it does not publish a second time.
func TestPublishRerunFindsSecondName(t *testing.T) {
	dir := t.TempDir()
	b := newWorkers(t, dir, 1)[0]
	ctx := context.Background()
	if _, err := b.publish(ctx, publishCall("wf-1", "call_1", "Hello", "one")); err != nil {
		t.Fatal(err)
	}
	call := publishCall("wf-2", "call_1", "Hello", "two")
	first, err := b.publish(ctx, call)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "hello.md"), filepath.Join(dir, ledgerDirName)} {
		if err := os.RemoveAll(path); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ledgerDirName), 0o755); err != nil {
		t.Fatal(err)
	}
	rerun, err := b.publish(ctx, call)
	if err != nil {
		t.Fatal(err)
	}
	if rerun != first {
		t.Errorf("rerun = %s, want %s", rerun, first)
	}
	if got := posts(t, dir); len(got) != 1 || !strings.HasPrefix(got[0], "hello-") {
		t.Errorf("posts = %v, want only hello-<hash>.md", got)
	}
}

// TestPublishRaceOtherArguments: the same call run at once on two
// workers with different arguments (a reset run's edit racing the
// earlier run's attempt) publishes on both; the one that records second
// fails for good, saying so, rather than retry or report the other's post.
func TestPublishRaceOtherArguments(t *testing.T) {
	dir := t.TempDir()
	workers := newWorkers(t, dir, 2)
	first, second := workers[0], workers[1]
	a := publishCall("wf-r", "call_1", "Title A", "")
	b := publishCall("wf-r", "call_1", "Title B", "")
	ctx := context.Background()
	_, err := second.once(ctx, b, func() (string, error) {
		// While this attempt runs, the other records its result first.
		if _, err := first.publish(ctx, a); err != nil {
			t.Fatalf("the other worker: %v", err)
		}
		return second.publishFile(b, publishArgs{Title: "Title B"})
	})
	if err == nil || !isNonRetryable(err) || errType(err) != workflows.ErrTypeAlreadyRan || !strings.Contains(err.Error(), "ran with this input") {
		t.Fatalf("err = %v; want a non-retryable %s saying this input ran too", err, workflows.ErrTypeAlreadyRan)
	}
}
