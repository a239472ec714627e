package prod

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/devstack"
	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// Bounds of the waits (never assertions on speed).
const (
	startupTimeout = 4 * time.Minute // per part, builds included
	stepTimeout    = 2 * time.Minute // one run to finish, a part to come back
)

// harness is the running production stack plus what the tests observe
// beside it: the CMS webhook that counts every post the tool publishes.
type harness struct {
	t       *testing.T // the running (sub)test
	st      *devstack.ProdStack
	webhook *webhook
}

// repoRoot is the module root, two levels above this package.
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller")
	}
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// startStack runs the production topology for the test, with tracing on
// and publish_blog_post posting to a counting webhook. Its logs are
// printed when the test fails.
func startStack(t *testing.T) *harness {
	t.Helper()
	wh := newWebhook(t)
	cfg := devstack.DefaultProdConfig(repoRoot(t))
	cfg.Work = t.TempDir()
	cfg.Trace = true
	cfg.BlogWebhookURL = wh.URL()
	cfg.Timeout = startupTimeout
	var out testutil.SyncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	st, err := devstack.ProdUp(ctx, cfg, &out)
	if err != nil {
		t.Fatalf("production stack did not start: %v\n%s", err, out.String())
	}
	h := &harness{t: t, st: st, webhook: wh}
	t.Cleanup(func() {
		if t.Failed() {
			h.dumpLogs()
		}
		if err := st.Close(); err != nil {
			t.Logf("closing the stack: %v", err)
		}
	})
	return h
}

// dumpLogs prints the tail of every part's log.
func (h *harness) dumpLogs() {
	files, _ := filepath.Glob(filepath.Join(h.st.LogDir(), "*.log"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := string(b)
		if len(s) > 6000 {
			s = "…" + s[len(s)-6000:]
		}
		h.t.Logf("---- %s ----\n%s", filepath.Base(f), s)
	}
}

// run runs a program of the stack (starter, approver) with the user's
// environment plus extra, bounded in time, and returns its output.
func (h *harness) run(extra []string, program string, args ...string) (string, error) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.st.Program(program), args...)
	cmd.Dir = repoRoot(h.t)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"TEMPORAL_CONFIG_FILE=" + filepath.Join(h.t.TempDir(), "none.toml")}
	for _, v := range h.st.UserEnv() {
		env = append(env, v.Name+"="+v.Value)
	}
	cmd.Env = append(env, extra...)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// startRun starts a run with the starter and returns its workflow id.
func (h *harness) startRun(prompt string) string {
	h.t.Helper()
	out, err := h.run(nil, "starter", "--requester", "prod-e2e", prompt)
	if err != nil {
		h.t.Fatalf("starter: %v\n%s", err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if id, ok := strings.CutPrefix(strings.TrimSpace(line), "Started workflow "); ok {
			return strings.TrimSpace(id)
		}
	}
	h.t.Fatalf("starter printed no workflow id:\n%s", out)
	return ""
}

// user returns the demo user of role.
func (h *harness) user(role string) devstack.DemoUser {
	h.t.Helper()
	for _, u := range h.st.Users() {
		if u.Role == role {
			return u
		}
	}
	h.t.Fatalf("no demo user with role %s", role)
	return devstack.DemoUser{}
}

// approve sends role's approval of toolCallID with the approver CLI.
func (h *harness) approve(role, toolCallID string) {
	h.t.Helper()
	u := h.user(role)
	out, err := h.run([]string{"APPROVER_USER=" + u.Name, "APPROVER_PASSWORD=" + u.Password}, "approver", "approve", toolCallID)
	if err != nil {
		h.t.Fatalf("approver approve %s: %v\n%s", toolCallID, err, out)
	}
}

// token logs role's user in at the auth server, as the guide's client
// does, with password (the user's own when empty).
func (h *harness) token(ctx context.Context, role, password string) (string, int, error) {
	u := h.user(role)
	if password == "" {
		password = u.Password
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.st.AuthURL()+"/api/auth/token", nil)
	if err != nil {
		return "", 0, err
	}
	req.SetBasicAuth(u.Name, password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return "", resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK {
		return "", resp.StatusCode, fmt.Errorf("auth server: %s: %s", resp.Status, body)
	}
	return strings.TrimSpace(string(body)), resp.StatusCode, nil
}

// guideResponse publishes the guide's approval-response: data {decision}
// and only extras.headers.toolCallId, from a client that logged in at the
// auth server. The bridges route it by the visibility query on
// PostgreSQL.
func (h *harness) guideResponse(role, toolCallID, decision string) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := ablyconn.Config{Endpoint: h.st.AblyEndpoint(), TLS: false}
	opts := append(cfg.EndpointOptions(),
		ably.WithAuthCallback(func(ctx context.Context, _ ably.TokenParams) (ably.Tokener, error) {
			tok, _, err := h.token(ctx, role, "")
			return ably.TokenString(tok), err
		}),
		ably.WithAutoConnect(false), ably.WithLogLevel(ably.LogNone))
	rt, err := ably.NewRealtime(opts...)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rt.Close()
	rt.Connect()
	msg := &ably.Message{
		Name:   workflows.MsgApprovalResponse,
		Data:   map[string]any{"decision": decision},
		Extras: map[string]any{"headers": map[string]any{"toolCallId": toolCallID}},
	}
	if err := rt.Channels.Get(workflows.DefaultChannel).PublishMultiple(ctx, []*ably.Message{msg}); err != nil {
		h.t.Fatalf("publish the guide's approval-response: %v", err)
	}
}
