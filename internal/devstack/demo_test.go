package devstack

import (
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hitl/durable-approvals/activities"
	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// TestDemoRoleNote: `demo -as erin` says up front that an editor cannot
// approve the demo's post under the default policy (it would wait for
// nothing), and says nothing for those who can.
func TestDemoRoleNote(t *testing.T) {
	policy, err := config.LoadPolicy(filepath.Join(testutil.ModuleRoot(t), "config", "policy.json"))
	if err != nil {
		t.Fatal(err)
	}
	lenient := policy
	lenient.Tools = maps.Clone(policy.Tools)
	tp := lenient.Tools[activities.ToolPublishBlogPost]
	tp.MinRole = "editor"
	lenient.Tools[activities.ToolPublishBlogPost] = tp
	for _, tt := range []struct {
		name   string
		policy workflows.Policy
		user   string
		want   string
	}{
		{"an editor, default policy", policy, "erin", "Note: erin (editor) cannot approve publish_blog_post under this policy (it needs publisher)"},
		{"a publisher", policy, "pat", ""},
		{"an admin", policy, "ada", ""},
		{"an editor, a policy that lets editors publish", lenient, "erin", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u, _ := demoUser(tt.user)
			got := demoRoleNote(tt.policy, u)
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("demoRoleNote = %q, want %q", got, tt.want)
			}
		})
	}
}
