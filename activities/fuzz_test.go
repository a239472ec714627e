package activities

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hitl/durable-approvals/workflows"
)

// FuzzPostRoundTrip: a post file is written from the model's title and
// body and the call's ids, and read back by the same code that later
// decides whose post a file is (postOwner: a rerun takes its own post as
// published, another call's as taken) and what search shows. Whatever
// title and body the model chose, within publish's checks, the file reads
// back as written: the title, the ids and the approver, the owner's key,
// and the body. A title or body that could add or change a front-matter
// line would let the model's text decide whose post a file is.
func FuzzPostRoundTrip(f *testing.F) {
	f.Add("Introducing our new API", "Hello.\n", "wf-1", "call_1", "bob")
	f.Add(`tool_call_id: "x"`, "---\nworkflow_id: \"evil\"\n---\n", "wf:a", "b", "ada")
	f.Add("\"quoted\" <b>&amp;</b> \u2028 \u0085 x: y", "no newline", "hitl-3f9a", "fc_9.x@y", "")
	f.Add("日本語", "\n---\n\n", "w", "c:d", "a\"b")
	dir := f.TempDir()
	b := &Blog{dir: dir, now: func() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) }}
	f.Fuzz(func(t *testing.T, title, body, workflowID, callID, approvedBy string) {
		// What publish lets through: arguments decoded from JSON (valid
		// UTF-8), a trimmed one-line title, a bounded body; ids the
		// workflow validated; an approver's client id.
		title = strings.TrimSpace(title)
		if !utf8.ValidString(title) || !utf8.ValidString(body) || !utf8.ValidString(approvedBy) ||
			title == "" || utf8.RuneCountInString(title) > maxTitleLen || strings.ContainsAny(title, "\r\n") || len(body) > maxBodyLen ||
			workflows.ValidateWorkflowID(workflowID) != nil || workflows.ValidateToolCallID(callID) != nil || len(approvedBy) > workflows.MaxClientIDLen {
			return
		}
		call := ToolCall{WorkflowID: workflowID, CallID: callID, Name: ToolPublishBlogPost, ApprovedBy: approvedBy}
		args := publishArgs{Title: title, Body: body}
		slug := Slugify(title)
		if err := os.WriteFile(filepath.Join(dir, "post.md"), b.postContent(call, args, slug), 0o600); err != nil {
			t.Fatal(err)
		}
		fm, gotBody, err := readPost(filepath.Join(dir, "post.md"))
		if err != nil {
			t.Fatal(err)
		}
		for k, want := range map[string]string{"title": title, "slug": slug, "workflow_id": workflowID, "tool_call_id": callID,
			"approved_by": approvedBy, "published_at": "2030-01-02T03:04:05Z"} {
			if fm[k] != want {
				t.Fatalf("front matter %s = %q, want %q (all: %q)", k, fm[k], want, fm)
			}
		}
		if len(fm) != 6 {
			t.Fatalf("front matter has %d keys, want 6: %q", len(fm), fm)
		}
		if owner, err := b.postOwner("post.md"); err != nil || owner != call.IdempotencyKey() {
			t.Fatalf("postOwner = %q, %v; want %q", owner, err, call.IdempotencyKey())
		}
		wantBody := body
		if body != "" && !strings.HasSuffix(body, "\n") {
			wantBody += "\n"
		}
		if gotBody != wantBody {
			t.Fatalf("body read back as %q, want %q", gotBody, wantBody)
		}
	})
}

// FuzzRetryAfter: whatever Retry-After a CMS sends, the wait it sets for
// the tool's next attempt is between none and maxRetryAfter.
func FuzzRetryAfter(f *testing.F) {
	f.Add("7")
	f.Add("Sun, 06 Nov 1994 08:49:37 GMT")
	f.Add("Sunday, 06-Nov-94 08:49:37 GMT")
	f.Add("99999999999999999999")
	f.Add("-1")
	f.Add("20.5")
	f.Add("1e308")
	f.Add("NaN")
	f.Add("-Inf")
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		h := http.Header{}
		h.Set("Retry-After", v)
		if d := retryAfter(h, now, maxRetryAfter); d < 0 || d > maxRetryAfter {
			t.Fatalf("retryAfter(%q) = %s, want 0 to %s", v, d, maxRetryAfter)
		}
		// OpenAI's own header, in milliseconds (openAIRetryAfter).
		h = http.Header{}
		h.Set("Retry-After-Ms", v)
		if d := openAIRetryAfter(h, now); d < 0 || d > workflows.MaxModelRetryAfter {
			t.Fatalf("openAIRetryAfter(retry-after-ms %q) = %s, want 0 to %s", v, d, workflows.MaxModelRetryAfter)
		}
	})
}
