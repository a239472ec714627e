package activities

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hitl/durable-approvals/workflows"
)

// The key is part of what running deployments have stored (ledger
// entries, tombstone names, post front matter, the CMS's record of
// Idempotency-Key headers): both forms are pinned.
func TestIdempotencyKey(t *testing.T) {
	for _, tt := range []struct {
		wf, call, want string
	}{
		// Without ':' the key is the one written before the "v2:" form.
		{"hitl-3f9a", "call_1", "hitl-3f9a:call_1"},
		{"wf-9", "fc_9.x@y", "wf-9:fc_9.x@y"},
		{"", "", ":"},
		// The pair that collided as "wf:a:b".
		{"wf:a", "b", "v2:4:wf:a:b"},
		{"wf", "a:b", "v2:2:wf:a:b"},
		{"a:b:c", "d", "v2:5:a:b:c:d"},
		{"a", "b:c:d", "v2:1:a:b:c:d"},
		{"wf", ":", "v2:2:wf::"},
		{"ü:1", "c", "v2:4:ü:1:c"}, // the length counts bytes
	} {
		if got := IdempotencyKey(tt.wf, tt.call); got != tt.want {
			t.Errorf("IdempotencyKey(%q, %q) = %q, want %q", tt.wf, tt.call, got, tt.want)
		}
		if got := (ToolCall{WorkflowID: tt.wf, CallID: tt.call}).IdempotencyKey(); got != tt.want {
			t.Errorf("ToolCall{%q, %q}.IdempotencyKey() = %q, want %q", tt.wf, tt.call, got, tt.want)
		}
	}
	for _, pair := range [][2][2]string{
		{{"wf:a", "b"}, {"wf", "a:b"}},
		{{"a:b:c", "d"}, {"a", "b:c:d"}},
		// An old-form key that looks like a "v2:" one, and that one.
		{{"v2", "2:wf:a:b"}, {"wf", "a:b"}},
	} {
		a, b := IdempotencyKey(pair[0][0], pair[0][1]), IdempotencyKey(pair[1][0], pair[1][1])
		if a == b {
			t.Errorf("%q and %q both have the key %q", pair[0], pair[1], a)
		}
	}
}

// FuzzIdempotencyKey: two different (workflow id, call id) pairs never
// have the same key, and the pruner asks about the workflow id of every
// key. Besides the fuzzed second pair, each first pair is checked against
// the pairs a bare ':' join confuses it with: every split of
// "workflowID:callID", and of its key, at a ':'.
func FuzzIdempotencyKey(f *testing.F) {
	f.Add("wf:a", "b", "wf", "a:b")
	f.Add("hitl-1", "call_1", "hitl-1", "call_2")
	f.Add("v2", "2:wf:a:b", "wf", "a:b")
	f.Add("v2:2:wf", "a:b", "", "")
	f.Add("ü:1", "c", "ü", "1:c")
	f.Fuzz(func(t *testing.T, wf1, call1, wf2, call2 string) {
		key := IdempotencyKey(wf1, call1)
		others := [][2]string{{wf2, call2}}
		for _, s := range []string{wf1 + ":" + call1, key} {
			for i := range len(s) {
				if s[i] == ':' {
					others = append(others, [2]string{s[:i], s[i+1:]})
				}
			}
		}
		for _, o := range others {
			if o != [2]string{wf1, call1} && IdempotencyKey(o[0], o[1]) == key {
				t.Fatalf("(%q, %q) and (%q, %q) both have the key %q", wf1, call1, o[0], o[1], key)
			}
		}
		if wf1 != "" && call1 != "" && !slices.Contains(keyWorkflowIDs(key), wf1) {
			t.Fatalf("the pruner does not ask about workflow %q for the key %q (asks %q)", wf1, key, keyWorkflowIDs(key))
		}
	})
}

// collidingIDs are two calls whose ids joined with ':' were one key.
var collidingIDs = [2][2]string{{"wf:a", "b"}, {"wf", "a:b"}}

// Two calls whose ids had one key under a bare ':' join each publish their
// own post with publish_blog_post (file mode), whether their arguments
// differ (the ledger refused the second) or not (it got the first's post),
// and each, asked again, gets its own result.
func TestCollidingCallsPublishTheirOwnPosts(t *testing.T) {
	for _, tt := range []struct {
		name   string
		titles [2]string
	}{
		{"same arguments", [2]string{"Hello", "Hello"}},
		{"other arguments", [2]string{"Hello", "Goodbye"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, dir := newBlogActivities(t, BlogConfig{})
			var first [2]string
			for i, ids := range collidingIDs {
				req := workflows.ToolRequest{WorkflowID: ids[0], CallID: ids[1], Name: ToolPublishBlogPost,
					Arguments: fmt.Sprintf(`{"body":"call %d","title":%q}`, i, tt.titles[i])}
				for attempt := range 2 {
					out, err := execTool(t, a, req)
					if err != nil {
						t.Fatalf("call %q, attempt %d: %v", ids, attempt, err)
					}
					if attempt == 1 && out != first[i] {
						t.Errorf("call %q asked again = %s, want its first result %s", ids, out, first[i])
					}
					first[i] = out
				}
				var res PublishResult
				if err := json.Unmarshal([]byte(first[i]), &res); err != nil {
					t.Fatal(err)
				}
				if !res.Published || res.Title != tt.titles[i] {
					t.Errorf("call %q: result %s, want its own post %q published", ids, first[i], tt.titles[i])
				}
				fm, body, err := readPost(filepath.Join(dir, res.Location))
				if err != nil {
					t.Fatalf("call %q: %v", ids, err)
				}
				if fm["workflow_id"] != ids[0] || fm["tool_call_id"] != ids[1] || body != fmt.Sprintf("call %d\n", i) {
					t.Errorf("call %q: its result names %s, the post of (%q, %q) with body %q", ids, res.Location, fm["workflow_id"], fm["tool_call_id"], body)
				}
			}
			if first[0] == first[1] {
				t.Errorf("both calls report %s", first[0])
			}
			if got := posts(t, dir); len(got) != 2 {
				t.Errorf("posts = %v, want one per call", got)
			}
		})
	}
}

// Two delete_post calls whose ids had one key under a bare ':' join each
// delete their own post, into a tombstone of their own.
func TestCollidingCallsDeleteTheirOwnPosts(t *testing.T) {
	a, dir := newBlogActivities(t, BlogConfig{})
	slugs := [2]string{"first", "second"}
	for i, slug := range slugs {
		req := workflows.ToolRequest{WorkflowID: "wf-" + slug, CallID: "call_1", Name: ToolPublishBlogPost,
			Arguments: fmt.Sprintf(`{"title":%q}`, slug)}
		if _, err := execTool(t, a, req); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	var calls [2]ToolCall
	for i, ids := range collidingIDs {
		calls[i] = deleteCall(ids[0], ids[1], slugs[i])
		req := workflows.ToolRequest{WorkflowID: ids[0], CallID: ids[1], Name: ToolDeletePost, Arguments: calls[i].Arguments}
		out, err := execTool(t, a, req)
		if err != nil {
			t.Fatalf("delete %q: %v", ids, err)
		}
		if want := fmt.Sprintf(`{"deleted":true,"slug":%q}`, slugs[i]); out != want {
			t.Errorf("delete %q = %s, want %s", ids, out, want)
		}
	}
	if got := posts(t, dir); len(got) != 0 {
		t.Errorf("posts left = %v, want none", got)
	}
	if keyHash(calls[0].IdempotencyKey()) == keyHash(calls[1].IdempotencyKey()) {
		t.Error("both delete calls have one tombstone")
	}
}

// Two webhook publications whose ids had one key under a bare ':' join send
// the CMS different Idempotency-Keys, so it publishes both.
func TestCollidingCallsWebhookKeys(t *testing.T) {
	cms := &fakeCMS{}
	srv := httptest.NewServer(cms)
	t.Cleanup(srv.Close)
	a, _ := newBlogActivities(t, BlogConfig{WebhookURL: srv.URL + "/hooks/publish"})
	for _, ids := range collidingIDs {
		req := workflows.ToolRequest{WorkflowID: ids[0], CallID: ids[1], Name: ToolPublishBlogPost, Arguments: `{"title":"Via CMS"}`}
		if _, err := execTool(t, a, req); err != nil {
			t.Fatalf("call %q: %v", ids, err)
		}
	}
	cms.mu.Lock()
	defer cms.mu.Unlock()
	want := []string{"v2:4:wf:a:b", "v2:2:wf:a:b"}
	if strings.Join(cms.keys, " ") != strings.Join(want, " ") {
		t.Errorf("Idempotency-Keys = %q, want %q", cms.keys, want)
	}
}
