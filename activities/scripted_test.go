package activities

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hitl/durable-approvals/internal/scriptedmodel"
	"github.com/hitl/durable-approvals/workflows"
)

// TestAgentLoopAgainstScriptedModel drives the activities the way the
// workflow does (model, tools, model) with the real openai-go client
// against the scripted model, and the real blog tools on a temp dir.
func TestAgentLoopAgainstScriptedModel(t *testing.T) {
	srv := httptest.NewServer(scriptedmodel.Handler(nil))
	t.Cleanup(srv.Close)
	model, err := NewOpenAIModel(OpenAIConfig{APIKey: "scripted", BaseURL: srv.URL + "/v1/"})
	if err != nil {
		t.Fatal(err)
	}
	blog, err := NewBlog(BlogConfig{Dir: t.TempDir(), Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := NewRegistry(blog.Tools()...)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := withTrust(t, Deps{Model: model, Tools: reg, Publisher: nopPublisher{t}})
	a, err := New(d)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		prompt string
		calls  int
		want   []string // substrings of the final answer
	}{
		{"Publish the blog post called 'Introducing our new API'", 1,
			[]string{"[scripted model] Done: publish_blog_post → ", `"slug":"introducing-our-new-api"`}},
		{"publish two posts 'Alpha' and 'Beta'", 2,
			[]string{`"title":"Alpha"`, `"title":"Beta"`}},
		{"search posts about alpha", 1,
			[]string{"Done: search_posts → ", `"slug":"alpha"`}},
		{"delete post beta", 1,
			[]string{"Done: delete_post → ", `"deleted":true`}},
	}
	for i, tt := range tests {
		t.Run(tt.prompt, func(t *testing.T) {
			wf := "wf-" + string(rune('a'+i))
			conv := []workflows.ConversationItem{{Type: workflows.ItemMessage, Role: "user", Text: tt.prompt}}
			res, err := callModel(t, a, workflows.ModelRequest{WorkflowID: wf, Turn: 1, Input: conv, Tools: reg.Names()})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.ToolCalls) != tt.calls {
				t.Fatalf("tool calls = %+v, want %d", res.ToolCalls, tt.calls)
			}
			conv = append(conv, res.Output...)
			for _, c := range res.ToolCalls {
				out, err := execTool(t, a, workflows.ToolRequest{WorkflowID: wf, CallID: c.CallID, Name: c.Name, Arguments: c.Arguments, ApprovedBy: "alice"})
				if err != nil {
					t.Fatalf("%s: %v", c.Name, err)
				}
				conv = append(conv, workflows.ConversationItem{Type: workflows.ItemFunctionCallOutput, CallID: c.CallID, Output: out})
			}
			res, err = callModel(t, a, workflows.ModelRequest{WorkflowID: wf, Turn: 2, Input: conv, Tools: reg.Names()})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.ToolCalls) != 0 {
				t.Errorf("second turn asked for more calls: %+v", res.ToolCalls)
			}
			for _, w := range tt.want {
				if !strings.Contains(res.Text, w) {
					t.Errorf("answer %q lacks %q", res.Text, w)
				}
			}
		})
	}
	if got := posts(t, blog.dir); strings.Join(got, ",") != "alpha.md,introducing-our-new-api.md" {
		t.Errorf("posts = %v", got)
	}
}
