package devstack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/temporaltest"
	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// TestUpRunsTheSystem starts the whole stack the way `devstack up` does
// (pinned Temporal dev server, local Ably, auth server, scripted model,
// worker and bridge as processes), runs an agent run that needs no human
// and one that waits for a human, and stops everything.
func TestUpRunsTheSystem(t *testing.T) {
	temporaltest.CLI(t)
	// A developer's Temporal Cloud settings in the shell reach no part:
	// the key would go to the dev server, the profile point elsewhere.
	t.Setenv("TEMPORAL_API_KEY", "cloud-secret")
	t.Setenv("TEMPORAL_GRPC_META_X_LEAK", "cloud-secret")
	t.Setenv("TEMPORAL_CONFIG_FILE", "/nonexistent/temporal.toml")
	cfg, err := parseConfig("up", nil, config.Env{}, "../..", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Work = t.TempDir()
	cfg.Ports = Ports{Temporal: testutil.FreePort(t), UI: testutil.FreePort(t), Ably: testutil.FreePort(t), Auth: testutil.FreePort(t), Model: testutil.FreePort(t)}
	cfg.Timeout = 3 * time.Minute
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	st, err := Up(t.Context(), cfg, &out)
	if err != nil {
		t.Fatalf("Up: %v\n%s", err, out.String())
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = st.Close()
		}
	})
	// env finds this stack's ports without being given them.
	if r, ok, err := readStackRecord(cfg.StateDir()); err != nil || !ok || r != recordOf(cfg) {
		t.Errorf("stack record = %+v, %v, %v; want %+v", r, ok, err, recordOf(cfg))
	}
	policy, err := config.LoadPolicy(cfg.PolicyFile())
	if err != nil {
		t.Fatal(err)
	}
	start := func(id, prompt string) client.WorkflowRun {
		t.Helper()
		run, err := st.Temporal.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue},
			workflows.WorkflowName, workflows.AgentInput{Prompt: prompt, Requester: "test", Policy: policy})
		if err != nil {
			t.Fatal(err)
		}
		return run
	}

	// A read-only tool runs without a human, through the scripted model.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var res workflows.AgentResult
	if err := start("devstack-test-search", "Search the posts about API").Get(ctx, &res); err != nil {
		t.Fatalf("search run: %v", err)
	}
	if !strings.HasPrefix(res.Answer, "[scripted model]") {
		t.Errorf("answer %q is not from the scripted model", res.Answer)
	}
	kinds := make([]string, 0, len(res.Audit))
	for _, e := range res.Audit {
		kinds = append(kinds, e.Kind)
	}
	if !slices.Contains(kinds, workflows.AuditAutoApproved) || !slices.Contains(kinds, workflows.AuditExecuted) {
		t.Errorf("audit kinds %v, want auto-approved and executed", kinds)
	}

	// Publishing waits for a human: the approval shows as pending.
	start("devstack-test-publish", "Publish the blog post called 'Devstack test'")
	testutil.WaitFor(t, time.Minute, "a pending approval", func() (bool, error) {
		v, err := st.Temporal.QueryWorkflow(t.Context(), "devstack-test-publish", "", workflows.ApprovalsQuery)
		var view workflows.ApprovalsView
		if err == nil && v.Get(&view) == nil && len(view.Pending) == 1 {
			if p := view.Pending[0]; p.Tool != "publish_blog_post" || p.RequiredRole != "publisher" {
				t.Errorf("pending = %+v", p)
			}
			return true, nil
		}
		return false, err
	})
	if posts, err := ListPosts(cfg.BlogDir()); err != nil || len(posts) != 0 {
		t.Errorf("posts before any approval: %q, %v", posts, err)
	}

	for _, name := range []string{ChildWorker, ChildBridge} {
		pid, ok := st.ChildPid(name)
		if !ok {
			t.Fatalf("no %s running", name)
		}
		environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			t.Fatal(err)
		}
		vars := strings.Split(strings.TrimRight(string(environ), "\x00"), "\x00")
		if i := slices.IndexFunc(vars, func(kv string) bool { return strings.Contains(kv, "cloud-secret") }); i >= 0 {
			t.Errorf("the %s got the shell's %s", name, vars[i])
		}
		if !slices.Contains(vars, "TEMPORAL_CONFIG_FILE="+cfg.NoProfileFile()) || !slices.Contains(vars, "TEMPORAL_ADDRESS="+cfg.TemporalAddress()) {
			t.Errorf("the %s's Temporal settings are not the stack's: %q", name, slices.DeleteFunc(vars, func(kv string) bool { return !strings.HasPrefix(kv, "TEMPORAL_") }))
		}
	}

	var summary bytes.Buffer
	st.Summary(&summary)
	for _, want := range []string{cfg.UIURL(), "Web inbox       " + cfg.InboxURL(), "SCRIPTED", "pid ", "export TEMPORAL_ADDRESS=" + cfg.TemporalAddress(), "--temporal-port",
		"unset TEMPORAL_API_KEY ", "export TEMPORAL_CONFIG_FILE=" + cfg.NoProfileFile()} {
		if !strings.Contains(summary.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, summary.String())
		}
	}

	procs := append([]*proc{st.temporal}, st.children...)
	closed = true
	if err := st.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	for _, p := range procs {
		select {
		case <-p.Exited():
		default:
			t.Errorf("%s still running after Close", p.name)
		}
	}
	for _, port := range []int{cfg.Ports.Temporal, cfg.Ports.UI, cfg.Ports.Ably, cfg.Ports.Auth, cfg.Ports.Model} {
		ln, err := net.Listen("tcp", cfg.hostPort(port))
		if err != nil {
			t.Errorf("port %d still in use after Close: %v", port, err)
			continue
		}
		ln.Close()
	}
}
