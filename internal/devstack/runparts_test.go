package devstack

import (
	"bytes"
	"crypto/rand"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hitl/durable-approvals/activities"
	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/workflows"
)

func TestIsCommand(t *testing.T) {
	for cmd, want := range map[string]bool{"up": true, "demo": true, "env": true, "prod": false, "bench": false, "": false, "Up": false} {
		if got := IsCommand(cmd); got != want {
			t.Errorf("IsCommand(%q) = %v, want %v", cmd, got, want)
		}
	}
}

// TestRunFlags: -h is no error; a flag value Validate refuses is an error
// before env reads anything (also with no stack record to check it
// against); a command Run does not know starts nothing.
func TestRunFlags(t *testing.T) {
	work := t.TempDir()
	if _, _, err := loadOrCreateSecrets(filepath.Join(work, "state"), rand.Reader); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, cmd string
		args      []string
		wantErr   string // "": none
	}{
		{"env -h", "env", []string{"-h"}, ""},
		{"up -h", "up", []string{"-h"}, ""},
		{"env, a port out of range", "env", []string{"-work", work, "-ably-port", "70000"}, "--ably-port 70000: want 1-65535"},
		{"env, an empty namespace", "env", []string{"-work", work, "-namespace", ""}, "namespace is empty"},
		{"an unknown command", "bogus", []string{"-work", t.TempDir(), "-temporal-cli", filepath.Join(t.TempDir(), "none")}, `unknown command "bogus"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := Run(t.Context(), tt.cmd, tt.args, config.Env{}, strings.NewReader(""), &out, &errOut)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Run = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Run = %v, want %q", err, tt.wantErr)
			}
			if out.Len() != 0 {
				t.Errorf("printed settings:\n%s", out.String())
			}
		})
	}
}

// TestPrintEnvOtherUsers: env's comment lines give the other demo users
// (not pat, whose settings are the exports), each password quoted for the
// shell.
func TestPrintEnvOtherUsers(t *testing.T) {
	c := testConfig(t, config.Env{})
	s := Secrets{Users: []DemoUser{{"erin", "editor", "erin pw$1"}, {"pat", "publisher", "pat-0123456789"}, {"ada", "admin", "ada-0123456789"}}}
	var b bytes.Buffer
	if err := printEnv(&b, c, s, nil); err != nil {
		t.Fatal(err)
	}
	var comments []string
	for line := range strings.Lines(b.String()) {
		if strings.HasPrefix(line, "# as ") {
			comments = append(comments, line)
		}
	}
	want := []string{"# as erin (editor): export APPROVER_USER=erin APPROVER_PASSWORD='erin pw$1'\n",
		"# as ada (admin): export APPROVER_USER=ada APPROVER_PASSWORD=ada-0123456789\n"}
	if !slices.Equal(comments, want) {
		t.Errorf("comments %q, want %q", comments, want)
	}
}

// TestDemoHelpers: the posts are the *.md files, not a directory, the Web UI link
// has one slash whatever the URL ends with, and the role note says
// nothing of a tool that needs no approval.
func TestDemoHelpers(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "draft.md"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.md"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := ListPosts(dir); err != nil || !slices.Equal(got, []string{"a.md"}) {
		t.Errorf("ListPosts = %q, %v; want [a.md]", got, err)
	}

	for _, ui := range []string{"http://127.0.0.1:8233", "http://127.0.0.1:8233/"} {
		if got, want := workflowLink(ui, "default", "hitl-1"), "http://127.0.0.1:8233/namespaces/default/workflows/hitl-1"; got != want {
			t.Errorf("workflowLink(%s) = %s, want %s", ui, got, want)
		}
	}

	policy := workflows.Policy{Roles: workflows.DefaultRoles, Tools: map[string]workflows.ToolPolicy{}}
	free := policy
	free.Tools = maps.Clone(policy.Tools)
	free.Tools[activities.ToolPublishBlogPost] = workflows.ToolPolicy{MinRole: workflows.ApprovalNone}
	erin, _ := demoUser("erin")
	for _, tt := range []struct {
		name   string
		policy workflows.Policy
	}{{"no policy for the tool", policy}, {"the tool needs no approval", free}} {
		if got := demoRoleNote(tt.policy, erin, false); got != "" {
			t.Errorf("%s: demoRoleNote = %q, want none", tt.name, got)
		}
	}
}

// TestPinnedVersionRefusesABareV: "v" is no module version.
func TestPinnedVersionRefusesABareV(t *testing.T) {
	for _, doc := range []string{"TEMPORAL_CLI_VERSION=v\n", "TEMPORAL_CLI_VERSION=\n", "TEMPORAL_CLI_VERSION='v'\n"} {
		if v, err := pinnedVersion([]byte(doc), temporalVersionKey); err == nil {
			t.Errorf("pinnedVersion(%q) = %q, want an error", doc, v)
		}
	}
}

// TestTemporalArgsExactly: the dev server's whole command line: loopback,
// the stack's ports, database and namespace, warnings only, the SQLite
// settings, the cache refresh off, and the search attributes.
func TestTemporalArgsExactly(t *testing.T) {
	c := testConfig(t, config.Env{})
	c.Ports.Temporal, c.Ports.UI, c.Namespace = 17233, 18233, "team"
	want := []string{"server", "start-dev", "--ip", "127.0.0.1", "--port", "17233", "--ui-port", "18233",
		"--db-filename", c.DBFile(), "--namespace", "team", "--log-level", "warn",
		"--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal",
		"--dynamic-config-value", "system.forceSearchAttributesCacheRefreshOnRead=false"}
	for _, spec := range workflows.SearchAttributeSpecs() {
		want = append(want, "--search-attribute", spec)
	}
	if got := temporalArgs(c); !slices.Equal(got, want) {
		t.Errorf("temporalArgs =\n%q\nwant\n%q", got, want)
	}
}
