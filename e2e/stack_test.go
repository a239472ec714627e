package e2e

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
	"go.temporal.io/sdk/client"
	"golang.org/x/crypto/bcrypt"

	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/ablylocal"
	"github.com/hitl/durable-approvals/internal/ablylocal/ablytest"
	"github.com/hitl/durable-approvals/internal/authserver"
	"github.com/hitl/durable-approvals/internal/scriptedmodel"
	"github.com/hitl/durable-approvals/internal/signing"
	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

const (
	ablyKeyName   = "e2e.key"
	ablyKeySecret = "e2e-secret-not-for-production"
	channel       = workflows.DefaultChannel
)

// users of the auth server, by role (and, for roles with more than one
// user, by role and number).
var users = map[string]struct{ name, password, role string }{
	"editor":     {"erin", "erin-password-1", "editor"},
	"publisher":  {"pat", "pat-password-1", "publisher"},
	"publisher2": {"quinn", "quinn-password-1", "publisher"},
	"publisher3": {"rosa", "rosa-password-1", "publisher"},
	"admin":      {"ada", "ada-password-1", "admin"},
}

// stack is the whole system on loopback.
type stack struct {
	t        *testing.T // the running (sub)test, for assertions
	root     *testing.T // the test that owns the processes
	dir      string
	bins     *builder
	temporal *devServer
	tc       client.Client
	ably     *ablylocal.Server
	authURL  string
	modelURL string
	blogDir  string
	policy   string
	worker   *proc
	bridge   *proc
	// signingKey (the bridge's) and verifyKey (the worker's) are the
	// decision key pair; retiredKeys the worker's retired keys (none
	// unless a test rotates).
	signingKey, verifyKey, retiredKeys string
	// ablyKey is the ABLY_API_KEY of the worker, the bridge and the auth
	// servers serveAuth starts (empty: the stack's first key).
	ablyKey string
}

var bins builder

// newStack starts Temporal, Ably, the auth server, the scripted model, the
// worker and the bridge.
func newStack(t *testing.T, policyJSON string) *stack {
	t.Helper()
	return newStackWith(t, policyJSON, nil)
}

// newStackWith is newStack with the local Ably server's Config changed by
// ablyConfig (when not nil).
func newStackWith(t *testing.T, policyJSON string, ablyConfig func(*ablylocal.Config)) *stack {
	t.Helper()
	s := &stack{t: t, root: t, dir: t.TempDir(), bins: &bins}
	s.blogDir = filepath.Join(s.dir, "posts")

	// Build first: it is the slow part on a cold cache.
	s.bins.bin(t, "worker")

	s.temporal = startDevServer(t, filepath.Join(s.dir, "temporal.db"))
	s.tc = s.temporal.client(t)

	ablyCfg := ablylocal.Config{Keys: []ablylocal.Key{{Name: ablyKeyName, Secret: ablyKeySecret}}}
	if ablyConfig != nil {
		ablyConfig(&ablyCfg)
	}
	s.ably = ablytest.Start(t, ablyCfg).Server

	for _, u := range users {
		if err := authserver.AddUser(s.usersFile(), u.name, u.role, u.password, workflows.DefaultRoles, authserver.WithCost(bcrypt.MinCost)); err != nil {
			t.Fatal(err)
		}
	}
	// The web inbox's page reaches this Ably server (inbox_test.go).
	s.authURL = s.serveAuth(t, s.ably.Addr())

	model := httptest.NewServer(craftedModel(scriptedmodel.Handler(slog.New(slog.DiscardHandler))))
	t.Cleanup(model.Close)
	s.modelURL = model.URL + "/v1/"

	s.policy = filepath.Join(s.dir, "policy.json")
	if err := os.WriteFile(s.policy, []byte(policyJSON), 0o600); err != nil {
		t.Fatal(err)
	}

	s.signingKey, s.verifyKey = e2eKeys(t)
	s.startWorker()
	s.startBridge()
	return s
}

// apiKey is the stack's ABLY_API_KEY (ablyKey).
func (s *stack) apiKey() string {
	if s.ablyKey != "" {
		return s.ablyKey
	}
	return ablyKeyName + ":" + ablyKeySecret
}

func (s *stack) usersFile() string { return filepath.Join(s.dir, "users.json") }

// serveAuth starts an auth server of the stack's users, key and channel
// whose inbox page reaches Ably at ablyEndpoint (host:port), until the
// test ends, and returns its URL. The stack's own (s.authURL) names the
// local Ably server; another may name a proxy in front of it.
func (s *stack) serveAuth(t *testing.T, ablyEndpoint string) string {
	t.Helper()
	as, err := authserver.New(authserver.Config{
		UsersFile:    s.usersFile(),
		AblyKey:      s.apiKey(),
		Channel:      channel,
		BcryptCost:   bcrypt.MinCost,
		AblyEndpoint: ablyEndpoint,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- as.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + ln.Addr().String()
}

// env is the environment every child process gets.
func (s *stack) env() []string {
	return []string{
		"TEMPORAL_ADDRESS=" + s.temporal.Address,
		"TEMPORAL_NAMESPACE=default",
		"TEMPORAL_UI_URL=http://127.0.0.1:" + fmt.Sprint(s.temporal.UIPort),
		"ABLY_API_KEY=" + s.apiKey(),
		"ABLY_ENDPOINT=" + s.ably.Addr(),
		"ABLY_TLS=false",
		"ABLY_CHANNEL=" + channel,
		"OPENAI_API_KEY=scripted-model-needs-no-key",
		"OPENAI_BASE_URL=" + s.modelURL,
		"HITL_POLICY_FILE=" + s.policy,
		"BLOG_DIR=" + s.blogDir,
		"AUTH_URL=" + s.authURL,
		// Keep the developer's Temporal CLI profile out of the children.
		"TEMPORAL_CONFIG_FILE=" + filepath.Join(s.dir, "no-temporal.toml"),
	}
}

// e2eKeys are the decision key pair of the stack: the bridge signs with
// the first, the worker verifies with the second (internal/signing).
func e2eKeys(t testing.TB) (signingKey, verifyKey string) {
	t.Helper()
	sk, vk, err := signing.Generate("e2e", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return sk, vk
}

func (s *stack) startWorker() {
	s.worker = start(s.root, "worker", append(s.env(), "HITL_DECISION_VERIFY_KEYS="+s.verifyKey, "HITL_DECISION_RETIRED_KEYS="+s.retiredKeys), s.bins.bin(s.root, "worker"))
}

func (s *stack) startBridge() {
	s.bridge = start(s.root, "bridge", append(s.env(), "HITL_DECISION_SIGNING_KEY="+s.signingKey), s.bins.bin(s.root, "approver"), "bridge")
}

// stepper returns a function that runs one named step of t as a subtest
// on this stack: s.t is the step's t while it runs, and a step that fails
// with the worker or the bridge stopped does not leave them stopped.
func (s *stack) stepper(t *testing.T) func(name string, f func(t *testing.T)) {
	return func(name string, f func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			s.t = t
			defer s.ensureRunning()
			f(t)
		})
	}
}

// ensureRunning restarts the worker and the bridge if a failed step left
// them stopped, so one failure does not cascade into the later steps.
func (s *stack) ensureRunning() {
	if s.worker.exited() {
		s.startWorker()
	}
	if s.bridge.exited() {
		s.startBridge()
	}
}

// startRun starts a run with the starter binary and returns its workflow id.
func (s *stack) startRun(prompt string) string {
	s.t.Helper()
	return s.startRunAs("e2e-tester", prompt)
}

// startRunAs starts a run on behalf of requester.
func (s *stack) startRunAs(requester, prompt string) string {
	s.t.Helper()
	out, err := run(context.Background(), s.t, s.env(), s.bins.bin(s.t, "starter"), "--requester", requester, prompt)
	if err != nil {
		s.t.Fatalf("starter: %v\n%s", err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if id, ok := strings.CutPrefix(strings.TrimSpace(line), "Started workflow "); ok {
			return strings.TrimSpace(id)
		}
	}
	s.t.Fatalf("starter printed no workflow id:\n%s", out)
	return ""
}

// approvals queries a run's pending approvals and audit trail.
func (s *stack) approvals(wfID string) (workflows.ApprovalsView, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var v workflows.ApprovalsView
	resp, err := s.tc.QueryWorkflow(ctx, wfID, "", workflows.ApprovalsQuery)
	if err != nil {
		return v, err
	}
	return v, resp.Get(&v)
}

// waitPending waits until the run has exactly n pending approvals and each
// one's approval-request is on Ably: the workflow lists an approval as
// pending before its publish activity completes, and audits "requested"
// after it.
func (s *stack) waitPending(wfID string, n int) []workflows.PendingApproval {
	s.t.Helper()
	var got []workflows.PendingApproval
	testutil.WaitFor(s.t, 60*time.Second, fmt.Sprintf("%d published pending approval(s) on %s", n, wfID), func() (bool, error) {
		v, err := s.approvals(wfID)
		if err != nil || len(v.Pending) != n {
			return false, err
		}
		for _, p := range v.Pending {
			if count(v.Audit, workflows.AuditRequested, p.ToolCallID) == 0 {
				return false, nil
			}
		}
		got = v.Pending
		return true, nil
	})
	return got
}

// waitAudit waits until the run's audit trail has an entry matching ok.
func (s *stack) waitAudit(wfID, what string, ok func(workflows.AuditEntry) bool) workflows.AuditEntry {
	s.t.Helper()
	var found workflows.AuditEntry
	testutil.WaitFor(s.t, 60*time.Second, what+" in the audit of "+wfID, func() (bool, error) {
		v, err := s.approvals(wfID)
		if err != nil {
			return false, err
		}
		for _, e := range v.Audit {
			if ok(e) {
				found = e
				return true, nil
			}
		}
		return false, nil
	})
	return found
}

// result waits for the run's result.
func (s *stack) result(wfID string) workflows.AgentResult {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var res workflows.AgentResult
	if err := s.tc.GetWorkflow(ctx, wfID, "").Get(ctx, &res); err != nil {
		s.t.Fatalf("run %s: %v", wfID, err)
	}
	return res
}

// cli runs the approver CLI as role's user.
func (s *stack) cli(role string, args ...string) (string, error) {
	s.t.Helper()
	return s.cliEnv(role, nil, args...)
}

// cliEnv runs the approver CLI as role's user with extra environment.
func (s *stack) cliEnv(role string, extra []string, args ...string) (string, error) {
	s.t.Helper()
	u := users[role]
	env := append(s.env(), "APPROVER_USER="+u.name, "APPROVER_PASSWORD="+u.password)
	return run(context.Background(), s.t, append(env, extra...), s.bins.bin(s.t, "approver"), args...)
}

// token logs role's user in at the auth server, as the guide's client does.
func (s *stack) token(ctx context.Context, role string) (string, error) {
	u := users[role]
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.authURL+"/api/auth/token", nil)
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(u.name, u.password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("auth server: %s: %s", resp.Status, body)
	}
	return strings.TrimSpace(string(body)), nil
}

// guideResponse publishes like the guide's client.mjs: a client
// authenticated through the auth server (authCallback), publishing data
// {decision} with only extras.headers.toolCallId, plus any extra extras
// given. Over realtime ably-go sends the data as a map; over REST it sends
// it as a JSON string with encoding "json", as ably-js does.
func (s *stack) guideResponse(role, toolCallID, decision string, extraExtras map[string]any) {
	s.t.Helper()
	s.publishResponse(false, role, toolCallID, decision, extraExtras)
}

func (s *stack) publishResponse(viaREST bool, role, toolCallID, decision string, extraExtras map[string]any) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := ablyconn.Config{Endpoint: s.ably.Addr(), TLS: false}
	opts := append(cfg.EndpointOptions(),
		ably.WithAuthCallback(func(ctx context.Context, _ ably.TokenParams) (ably.Tokener, error) {
			tok, err := s.token(ctx, role)
			return ably.TokenString(tok), err
		}),
		ably.WithAutoConnect(false))
	extras := map[string]any{"headers": map[string]any{"toolCallId": toolCallID}}
	for k, v := range extraExtras {
		extras[k] = v
	}
	msg := &ably.Message{Name: workflows.MsgApprovalResponse, Data: map[string]any{"decision": decision}, Extras: extras}
	if viaREST {
		rest, err := ably.NewREST(opts...)
		if err != nil {
			s.t.Fatal(err)
		}
		if err := rest.Channels.Get(channel).PublishMultiple(ctx, []*ably.Message{msg}); err != nil {
			s.t.Fatalf("REST publish approval-response as %s: %v", role, err)
		}
		return
	}
	rt, err := ably.NewRealtime(opts...)
	if err != nil {
		s.t.Fatal(err)
	}
	defer rt.Close()
	rt.Connect()
	if err := rt.Channels.Get(channel).PublishMultiple(ctx, []*ably.Message{msg}); err != nil {
		s.t.Fatalf("publish approval-response as %s: %v", role, err)
	}
}

// posts lists the published posts' files (not the idempotency ledger).
func (s *stack) posts() []string {
	s.t.Helper()
	entries, err := os.ReadDir(s.blogDir)
	if err != nil && !os.IsNotExist(err) {
		s.t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".md") {
			names = append(names, e.Name())
		}
	}
	return names
}

// count returns how many audit entries of kind concern toolCallID.
func count(audit []workflows.AuditEntry, kind, toolCallID string) int {
	n := 0
	for _, e := range audit {
		if e.Kind == kind && e.ToolCallID == toolCallID {
			n++
		}
	}
	return n
}

func dump(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}
