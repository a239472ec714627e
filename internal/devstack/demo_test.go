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
			for _, web := range []bool{false, true} {
				got := demoRoleNote(tt.policy, u, web)
				if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
					t.Errorf("demoRoleNote(web %v) = %q, want %q", web, got, tt.want)
				}
				// The advice fits where the human decides.
				if advice := map[bool]string{false: "`devstack demo -as pat` (or ada) approves it here", true: "sign in as pat (or ada) instead"}[web]; tt.want != "" && !strings.Contains(got, advice) {
					t.Errorf("demoRoleNote(web %v) = %q, want the advice %q", web, got, advice)
				}
			}
		})
	}
}
