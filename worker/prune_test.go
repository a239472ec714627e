package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/hitl/durable-approvals/activities"
	"github.com/hitl/durable-approvals/internal/temporaltest"
)

// The worker's pruner against a real Temporal: the result of a call of a
// run Temporal knows stays; that of a run it does not know goes; with
// Temporal gone, nothing is removed and the cursor stays.
func TestPrunerAgainstTemporal(t *testing.T) {
	srv := temporaltest.StartDevServer(t)
	c := srv.Client()
	if _, err := c.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{ID: "wf-open", TaskQueue: "nobody-polls"}, "Anything"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	blog, tool, publish := blogWithPublish(t, dir)
	publish("wf-open")
	publish("wf-unknown")
	ledgerDir := filepath.Join(dir, ".ledger")
	entries, err := os.ReadDir(ledgerDir)
	if err != nil || len(entries) != 2 {
		t.Fatalf("ledger: %d entries, %v", len(entries), err)
	}
	now := time.Now().Add(40 * 24 * time.Hour) // the entries are 40 days old
	p := pruner{blog: blog, known: temporalRunKnown(c), keep: DefaultLedgerKeep, now: func() time.Time { return now }, log: slog.New(slog.NewTextHandler(io.Discard, nil))}

	if next := p.sweep(t.Context(), ""); next != "" {
		t.Fatalf("sweep of two entries left cursor %q", next)
	}
	if entries, _ := os.ReadDir(ledgerDir); len(entries) != 1 {
		t.Fatalf("after the sweep: %d entries, want the open run's only", len(entries))
	}
	// The open run's call, asked again, is not run again: with its own
	// arguments it gets its first result, with others it is refused (a
	// pruned entry would have let both run).
	out, err := tool.Run(t.Context(), activities.ToolCall{WorkflowID: "wf-open", CallID: "call_1", Name: tool.Name, Arguments: `{"title":"Post of wf-open"}`})
	if err != nil || !strings.Contains(out, "post-of-wf-open") {
		t.Fatalf("the open run's call again = %q, %v; want its first result", out, err)
	}
	if out, err := tool.Run(t.Context(), activities.ToolCall{WorkflowID: "wf-open", CallID: "call_1", Name: tool.Name, Arguments: `{"title":"Another title"}`}); err == nil || !strings.Contains(err.Error(), "already ran with other input") {
		t.Fatalf("the open run's call with other arguments = %q, %v; want it refused", out, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "another-title.md")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("another-title.md: %v, want none", err)
	}

	// Temporal gone: no answer is no removal.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	dead, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	var logs bytes.Buffer
	p.known, p.log = temporalRunKnown(dead), slog.New(slog.NewTextHandler(&logs, nil))
	p.sweep(ctx, "")
	if entries, _ := os.ReadDir(ledgerDir); len(entries) != 1 {
		t.Errorf("Temporal out of reach removed results: %d left", len(entries))
	}
	if !strings.Contains(logs.String(), "could not be checked") {
		t.Errorf("no warning that results could not be checked:\n%s", logs.String())
	}
}

// blogWithPublish opens a blog in dir and returns it, its publish tool,
// and a function that publishes a post as call call_1 of run workflowID,
// so that the tools' ledger holds that call's result.
func blogWithPublish(t *testing.T, dir string) (*activities.Blog, activities.Tool, func(workflowID string)) {
	t.Helper()
	blog, err := activities.NewBlog(activities.BlogConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	registry, err := activities.NewRegistry(blog.Tools()...)
	if err != nil {
		t.Fatal(err)
	}
	tool, _ := registry.Lookup(activities.ToolPublishBlogPost)
	return blog, tool, func(workflowID string) {
		t.Helper()
		if _, err := tool.Run(t.Context(), activities.ToolCall{WorkflowID: workflowID, CallID: "call_1", Name: tool.Name, Arguments: `{"title":"Post of ` + workflowID + `"}`}); err != nil {
			t.Fatal(err)
		}
	}
}
