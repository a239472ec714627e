package devstack

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/signing"
	"github.com/hitl/durable-approvals/workflows"
)

// fakeRoot makes a directory that looks like the repository root.
func fakeRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module "+modulePath+"\n\ngo 1.26.0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestParseConfig(t *testing.T) {
	root := fakeRoot(t)
	sub := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	policy, err := os.ReadFile(filepath.Join("..", "..", "config", "policy.json"))
	if err != nil {
		t.Fatal(err)
	}
	policyDir := t.TempDir()
	policyFile, badPolicy := filepath.Join(policyDir, "mine.json"), filepath.Join(policyDir, "bad.json")
	if err := os.WriteFile(policyFile, policy, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(badPolicy, []byte(`{"tools":`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cmd     string
		args    []string
		env     config.Env
		cwd     string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		{name: "defaults from a subdirectory", cmd: "up", cwd: sub, check: func(t *testing.T, c Config) {
			if c.Root != root || c.Ports != DefaultPorts || c.TemporalAddress() != "127.0.0.1:7233" ||
				c.UIURL() != "http://127.0.0.1:8233" || c.AblyEndpoint() != "127.0.0.1:8090" || c.AuthURL() != "http://127.0.0.1:3001" {
				t.Errorf("config = %+v", c)
			}
			if !c.Scripted() || c.ModelURL() != "http://127.0.0.1:8095/v1/" {
				t.Errorf("want the scripted model at 8095, got scripted=%v %s", c.Scripted(), c.ModelURL())
			}
			if c.DBFile() != filepath.Join(root, ".devstack", "temporal.db") || c.BlogDir() != filepath.Join(root, "data", "posts") {
				t.Errorf("paths: %s %s", c.DBFile(), c.BlogDir())
			}
		}},
		{name: "ports overridden", cmd: "up", cwd: root, args: []string{"--temporal-port", "17233", "--ui-port", "18233", "--ably-port", "18090", "--auth-port", "13001", "--model-port", "18095"},
			check: func(t *testing.T, c Config) {
				if c.Ports != (Ports{17233, 18233, 18090, 13001, 18095}) {
					t.Errorf("ports = %+v", c.Ports)
				}
			}},
		{name: "openai key means no scripted model", cmd: "up", cwd: root, env: config.Env{"OPENAI_API_KEY": "sk-x"},
			check: func(t *testing.T, c Config) {
				if c.Scripted() {
					t.Error("scripted with a key")
				}
			}},
		{name: "demo flags", cmd: "demo", cwd: root, args: []string{"--as", "erin", "--prompt", "Delete it"},
			check: func(t *testing.T, c Config) {
				if c.DemoUser != "erin" || c.Prompt != "Delete it" || c.Web {
					t.Errorf("demo = %s %q web %v", c.DemoUser, c.Prompt, c.Web)
				}
			}},
		{name: "demo in the web inbox", cmd: "demo", cwd: root, args: []string{"--web", "--auth-port", "3101"},
			check: func(t *testing.T, c Config) {
				if !c.Web || c.InboxURL() != "http://127.0.0.1:3101/" {
					t.Errorf("web %v, inbox %s", c.Web, c.InboxURL())
				}
			}},
		{name: "only demo waits for the web inbox", cmd: "up", cwd: root, args: []string{"--web"}, wantErr: "not defined"},
		{name: "work and temporal CLI from flags", cmd: "up", cwd: root, args: []string{"--work", "w", "--temporal-cli", "bin/temporal"},
			check: func(t *testing.T, c Config) {
				if c.StateDir() != filepath.Join(root, "w", "state") || c.BinDir() != filepath.Join(root, "w", "bin") ||
					c.BlogDir() != filepath.Join(root, "w", "posts") || c.DBFile() != filepath.Join(root, "w", "state", "temporal.db") {
					t.Errorf("paths under --work: %s %s %s %s", c.StateDir(), c.BinDir(), c.BlogDir(), c.DBFile())
				}
				if c.TemporalCLI != filepath.Join(root, "bin", "temporal") {
					t.Errorf("TemporalCLI = %q", c.TemporalCLI)
				}
			}},
		{name: "work and temporal CLI from env", cmd: "up", cwd: root, env: config.Env{EnvWork: "/tmp/w", EnvTemporalCLI: "/opt/temporal"},
			check: func(t *testing.T, c Config) {
				if c.Work != "/tmp/w" || c.TemporalCLI != "/opt/temporal" {
					t.Errorf("Work %q TemporalCLI %q", c.Work, c.TemporalCLI)
				}
			}},
		{name: "env has no demo flags", cmd: "env", cwd: root, args: []string{"--as", "erin"}, wantErr: "not defined"},
		{name: "duplicate ports", cmd: "up", cwd: root, args: []string{"--ui-port", "7233"}, wantErr: "--temporal-port and --ui-port are both 7233"},
		{name: "port out of range", cmd: "up", cwd: root, args: []string{"--ably-port", "70000"}, wantErr: "--ably-port 70000"},
		{name: "unknown demo user", cmd: "demo", cwd: root, args: []string{"--as", "mallory"}, wantErr: "--as"},
		{name: "not in the repo", cmd: "up", cwd: t.TempDir(), wantErr: "not inside the repository"},
		{name: "wrong root", cmd: "up", cwd: root, args: []string{"--root", t.TempDir()}, wantErr: "not the repository root"},
		{name: "stray argument", cmd: "up", cwd: root, args: []string{"now"}, wantErr: "unexpected arguments"},
		{name: "policy from the environment", cmd: "up", cwd: root, env: config.Env{"HITL_POLICY_FILE": policyFile}, check: func(t *testing.T, c Config) {
			if c.PolicyFile() != policyFile {
				t.Errorf("PolicyFile() = %q, want %q", c.PolicyFile(), policyFile)
			}
			if got := envValue(workerEnv(c, Secrets{}), "HITL_POLICY_FILE"); got != policyFile {
				t.Errorf("the worker's HITL_POLICY_FILE = %q, want %q", got, policyFile)
			}
		}},
		{name: "policy flag, relative", cmd: "demo", cwd: filepath.Dir(policyFile), args: []string{"--root", root, "--policy", filepath.Base(policyFile)}, check: func(t *testing.T, c Config) {
			if c.PolicyFile() != policyFile {
				t.Errorf("PolicyFile() = %q, want %q", c.PolicyFile(), policyFile)
			}
		}},
		{name: "policy that does not load", cmd: "up", cwd: root, args: []string{"--policy", badPolicy}, wantErr: "--policy: "},
		{name: "env has no policy flag", cmd: "env", cwd: root, args: []string{"--policy", policyFile}, wantErr: "not defined"},
		// Said before anything is built or started, not by the worker.
		{name: "channel Ably would refuse", cmd: "up", cwd: root, env: config.Env{"ABLY_CHANNEL": "[?rewind=1]ai"}, wantErr: "ABLY_CHANNEL: channel \"[?rewind=1]ai\": qualifiers are not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env
			if env == nil {
				env = config.Env{}
			}
			c, err := parseConfig(tt.cmd, tt.args, env, tt.cwd, io.Discard)
			if err == nil {
				err = c.Validate()
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func testConfig(t *testing.T, env config.Env) Config {
	t.Helper()
	c, err := parseConfig("up", nil, env, fakeRoot(t), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEnvBuilding(t *testing.T) {
	secrets := Secrets{AblyKey: "devstack.local:s3cret", Users: []DemoUser{{"pat", "publisher", "pat-pw"}},
		SigningKey: "devstack:signing-secret", VerifyKey: "devstack:verify-public"}
	t.Run("scripted", func(t *testing.T) {
		c := testConfig(t, config.Env{})
		vars := workerEnv(c, secrets)
		want := map[string]string{
			"TEMPORAL_ADDRESS": "127.0.0.1:7233", "TEMPORAL_NAMESPACE": "default", "ABLY_ENDPOINT": "127.0.0.1:8090",
			"ABLY_TLS": "false", "ABLY_API_KEY": "devstack.local:s3cret", "AUTH_URL": "http://127.0.0.1:3001",
			"OPENAI_BASE_URL": "http://127.0.0.1:8095/v1/", "OPENAI_API_KEY": "", "BLOG_DIR": c.BlogDir(),
			"HITL_POLICY_FILE": c.PolicyFile(), "ABLY_CHANNEL": "ai:big-bad-any", "HITL_AGENT_CLIENT_ID": "hitl:agent",
		}
		for k, v := range want {
			if got, ok := lookupVar(vars, k); !ok || got != v {
				t.Errorf("%s = %q (set %v), want %q", k, got, ok, v)
			}
		}
	})
	t.Run("only the bridge holds the signing key", func(t *testing.T) {
		c := testConfig(t, config.Env{})
		if v, _ := lookupVar(workerEnv(c, secrets), "HITL_DECISION_VERIFY_KEYS"); v != secrets.VerifyKey {
			t.Errorf("worker: HITL_DECISION_VERIFY_KEYS = %q", v)
		}
		// Set, and empty: the shell's retired keys are not the stack's.
		if v, ok := lookupVar(workerEnv(c, secrets), "HITL_DECISION_RETIRED_KEYS"); !ok || v != "" {
			t.Errorf("worker: HITL_DECISION_RETIRED_KEYS = %q (set %v), want set and empty", v, ok)
		}
		if v, _ := lookupVar(bridgeEnv(c, secrets), "HITL_DECISION_SIGNING_KEY"); v != secrets.SigningKey {
			t.Errorf("bridge: HITL_DECISION_SIGNING_KEY = %q", v)
		}
		for name, vars := range map[string][]EnvVar{"worker": workerEnv(c, secrets), "user": userEnv(c), "approver": approverEnv(c, secrets.Users[0])} {
			if _, ok := lookupVar(vars, "HITL_DECISION_SIGNING_KEY"); ok {
				t.Errorf("%s env holds the signing key", name)
			}
		}
	})
	t.Run("real openai", func(t *testing.T) {
		c := testConfig(t, config.Env{"OPENAI_API_KEY": "sk-real"})
		vars := trustedEnv(c, secrets)
		if v, _ := lookupVar(vars, "OPENAI_API_KEY"); v != "sk-real" {
			t.Errorf("OPENAI_API_KEY = %q", v)
		}
		if _, ok := lookupVar(vars, "OPENAI_BASE_URL"); ok {
			t.Error("OPENAI_BASE_URL set with a real key")
		}
	})
	t.Run("user env holds no ably key", func(t *testing.T) {
		c := testConfig(t, config.Env{})
		if _, ok := lookupVar(userEnv(c), "ABLY_API_KEY"); ok {
			t.Error("ABLY_API_KEY in the user's env")
		}
		if v, ok := lookupVar(approverEnv(c, secrets.Users[0]), "ABLY_API_KEY"); !ok || v != "" {
			t.Errorf("approver env: ABLY_API_KEY = %q (set %v), want it emptied", v, ok)
		}
		if v, _ := lookupVar(approverEnv(c, secrets.Users[0]), "APPROVER_PASSWORD"); v != "pat-pw" {
			t.Errorf("APPROVER_PASSWORD = %q", v)
		}
	})
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"PATH=/bin", "OPENAI_API_KEY=sk-leak", "A=1"}, []EnvVar{{"OPENAI_API_KEY", ""}, {"B", "2"}})
	want := []string{"PATH=/bin", "A=1", "OPENAI_API_KEY=", "B=2"}
	if !slices.Equal(got, want) {
		t.Errorf("mergeEnv = %q, want %q", got, want)
	}
}

// TestInheritedEnv: a part takes devstack's environment but every
// TEMPORAL_* of it (a developer's Temporal Cloud address, API key, TLS
// files, gRPC headers, profile), and is pointed at no profile file.
func TestInheritedEnv(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    []string
	}{
		{"nothing to leave out", []string{"PATH=/bin", "HOME=/h"}, []string{"PATH=/bin", "HOME=/h", "TEMPORAL_CONFIG_FILE=/s/none.toml"}},
		{"a developer's Temporal Cloud settings", []string{
			"PATH=/bin", "TEMPORAL_ADDRESS=ns.acct.tmprl.cloud:7233", "TEMPORAL_API_KEY=cloud-secret", "TEMPORAL_TLS_CLIENT_CERT_PATH=/c.pem",
			"TEMPORAL_GRPC_META_AUTHORIZATION=Bearer x", "TEMPORAL_PROFILE=prod", "TEMPORAL_CONFIG_FILE=/home/x/temporal.toml", "HITL_WORKFLOW_CACHE=50",
		}, []string{"PATH=/bin", "HITL_WORKFLOW_CACHE=50", "TEMPORAL_CONFIG_FILE=/s/none.toml"}},
		// Only the prefix, in its case: another variable that holds the
		// word is kept.
		{"names that only hold the word", []string{"MY_TEMPORAL_ADDRESS=x", "temporal_x=y", "TEMPORALX=z"}, []string{"MY_TEMPORAL_ADDRESS=x", "temporal_x=y", "TEMPORALX=z", "TEMPORAL_CONFIG_FILE=/s/none.toml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := inheritedEnv(tt.environ, "/s/none.toml"); !slices.Equal(got, tt.want) {
				t.Errorf("inheritedEnv = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestExportLines(t *testing.T) {
	got := exportLines([]EnvVar{{"A", "127.0.0.1:7233"}, {"B", "it's"}, {"C", ""}, {"D", "a b$c"}})
	want := "export A=127.0.0.1:7233\nexport B='it'\\''s'\nexport C=''\nexport D='a b$c'\n"
	if got != want {
		t.Errorf("exportLines =\n%s\nwant\n%s", got, want)
	}
}

func TestSecrets(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".devstack")
	s1, created, err := loadOrCreateSecrets(dir, rand.Reader)
	if err != nil || !created {
		t.Fatalf("first load: created=%v err=%v", created, err)
	}
	if !strings.HasPrefix(s1.AblyKey, "devstack.local:") || len(s1.Users) != 3 {
		t.Errorf("secrets = %+v", s1)
	}
	info, err := os.Stat(filepath.Join(dir, SecretsFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("secrets file mode: %v %v", info, err)
	}
	s2, created, err := loadOrCreateSecrets(dir, iotest.ErrReader(io.ErrUnexpectedEOF))
	if err != nil || created {
		t.Fatalf("second load: created=%v err=%v", created, err)
	}
	if s2.AblyKey != s1.AblyKey || !slices.Equal(s2.Users, s1.Users) {
		t.Error("secrets changed between runs")
	}
	for _, name := range []string{"erin", "pat", "ada"} {
		if u, ok := s2.User(name); !ok || len(u.Password) < 12 {
			t.Errorf("user %s = %+v", name, u)
		}
	}
	if _, err := signing.ParseSigner(s2.SigningKey); err != nil || s2.SigningKey != s1.SigningKey || s2.VerifyKey != s1.VerifyKey {
		t.Errorf("decision keys = %q / %q (%v), want the first run's", s2.SigningKey, s2.VerifyKey, err)
	}
	// A state directory from before decisions were signed gets a key pair
	// and keeps the rest.
	old := s1
	old.SigningKey, old.VerifyKey = "", ""
	b, _ := json.Marshal(old)
	if err := os.WriteFile(filepath.Join(dir, SecretsFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	s3, created, err := loadOrCreateSecrets(dir, rand.Reader)
	if err != nil || created || s3.AblyKey != s1.AblyKey || !slices.Equal(s3.Users, s1.Users) || s3.SigningKey == "" {
		t.Fatalf("upgrade of old secrets = %+v, created=%v, %v", s3, created, err)
	}
	if s4, _, _ := loadOrCreateSecrets(dir, iotest.ErrReader(io.ErrUnexpectedEOF)); s4.SigningKey != s3.SigningKey {
		t.Error("the added key pair was not kept")
	}
	if err := os.WriteFile(filepath.Join(dir, SecretsFile), []byte(`{"ablyKey":"nope"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := loadOrCreateSecrets(dir, rand.Reader); err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Errorf("corrupt secrets: %v", err)
	}
	if _, _, err := loadOrCreateSecrets(t.TempDir(), iotest.ErrReader(io.ErrUnexpectedEOF)); err == nil {
		t.Error("no error without randomness")
	}
}

func TestPinnedVersion(t *testing.T) {
	tests := []struct {
		doc, want, wantErr string
	}{
		{"# pins\nTEMPORAL_CLI_VERSION=v1.5.1\nSTATICCHECK_VERSION=v0.8.2\n", "v1.5.1", ""},
		{"TEMPORAL_CLI_VERSION = \"v1.5.1\"\n", "v1.5.1", ""},
		{"STATICCHECK_VERSION=v0.8.2\n", "", "not set"},
		{"TEMPORAL_CLI_VERSION=latest\n", "", "module version"},
	}
	for _, tt := range tests {
		got, err := pinnedVersion([]byte(tt.doc), temporalVersionKey)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("pinnedVersion(%q) err = %v, want %q", tt.doc, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("pinnedVersion(%q) = %q, %v", tt.doc, got, err)
		}
	}
}

func TestRepositoryPinsTheTemporalCLI(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", toolsEnvFile))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := pinnedVersion(data, temporalVersionKey); err != nil || v != "v1.5.1" {
		t.Errorf("tools.env pins %q, %v; want v1.5.1", v, err)
	}
}

func TestTemporalArgs(t *testing.T) {
	c := testConfig(t, config.Env{})
	c.Ports.Temporal, c.Ports.UI = 17233, 18233
	got := strings.Join(temporalArgs(c), " ")
	for _, want := range []string{
		"server start-dev", "--ip 127.0.0.1", "--port 17233", "--ui-port 18233",
		"--db-filename " + c.DBFile(), "--namespace default",
		"--search-attribute ApprovalToolCallIDs=KeywordList", "--search-attribute PendingApprovals=Int",
		"--sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("args %q lack %q", got, want)
		}
	}
}

func TestPrintEnv(t *testing.T) {
	c := testConfig(t, config.Env{})
	s, _, err := loadOrCreateSecrets(c.StateDir(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := printEnv(&b, c, s, nil); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	pat, _ := s.User("pat")
	for _, want := range []string{"export TEMPORAL_ADDRESS=127.0.0.1:7233\n", "export AUTH_URL=http://127.0.0.1:3001\n",
		"export APPROVER_USER=pat\n", "export APPROVER_PASSWORD=" + pat.Password + "\n", "# as ada (admin)"} {
		if !strings.Contains(out, want) {
			t.Errorf("env output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, s.AblyKey) {
		t.Error("env output leaks the Ably key")
	}
}

func TestNewPosts(t *testing.T) {
	if got := newPosts([]string{"a.md"}, []string{"a.md", "b.md"}); !slices.Equal(got, []string{"b.md"}) {
		t.Errorf("newPosts = %q", got)
	}
	dir := t.TempDir()
	for _, n := range []string{"x.md", "y.txt"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ".ledger"), 0o700); err != nil {
		t.Fatal(err)
	}
	got, err := ListPosts(dir)
	if err != nil || !slices.Equal(got, []string{"x.md"}) {
		t.Errorf("ListPosts = %q, %v", got, err)
	}
	if got, err := ListPosts(filepath.Join(dir, "none")); err != nil || got != nil {
		t.Errorf("ListPosts(missing) = %q, %v", got, err)
	}
}

func TestPortFlags(t *testing.T) {
	c := testConfig(t, config.Env{})
	if got := portFlags(c); got != "" {
		t.Errorf("default portFlags = %q", got)
	}
	c.Ports.Temporal, c.Ports.Auth, c.Namespace, c.Work = 17233, 13001, "dev", "/tmp/w"
	if got, want := portFlags(c), " --temporal-port 17233 --auth-port 13001 --namespace dev --work /tmp/w"; got != want {
		t.Errorf("portFlags = %q, want %q", got, want)
	}
	// The printed flags select the same stack.
	c2, err := parseConfig("env", strings.Fields(portFlags(c)), config.Env{}, c.Root, io.Discard)
	if err != nil || c2.Ports != c.Ports || c2.Namespace != "dev" || c2.StateDir() != c.StateDir() {
		t.Errorf("round trip: %+v, %v", c2, err)
	}
}

func TestEnsureTemporalCLIGiven(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "temporal")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The root has no tools.env: a given CLI is used without reading the
	// pin or building anything.
	c := testConfig(t, config.Env{})
	tests := []struct {
		path, wantErr string
	}{
		{exe, ""},
		{filepath.Join(dir, "missing"), "no such file"},
		{plain, "not an executable file"},
		{dir, "not an executable file"},
	}
	for _, tt := range tests {
		c.TemporalCLI = tt.path
		var log bytes.Buffer
		got, err := ensureTemporalCLI(t.Context(), c, &log)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "--temporal-cli") {
				t.Errorf("ensureTemporalCLI(%s) = %q, %v; want an error with %q naming --temporal-cli", tt.path, got, err, tt.wantErr)
			}
		} else if err != nil || got != tt.path {
			t.Errorf("ensureTemporalCLI(%s) = %q, %v", tt.path, got, err)
		}
		if log.Len() != 0 {
			t.Errorf("ensureTemporalCLI(%s) built something: %s", tt.path, log.String())
		}
	}
}

// The demo prints what the approver and the model wrote quoted when it
// holds control characters.
func TestPrintDemoResultQuotesControlCharacters(t *testing.T) {
	res := workflows.AgentResult{Answer: "Done.\x1b[2J", Audit: []workflows.AuditEntry{
		{Time: time.Now(), Kind: workflows.AuditRejected, Tool: "publish_blog_post", Actor: "ada", Role: "admin", Reason: "no\x1b[31m"},
	}}
	var b bytes.Buffer
	printDemoResult(&b, res, nil, "/tmp/posts", "http://ui/wf")
	if out := b.String(); strings.ContainsRune(out, 0x1b) || !strings.Contains(out, `"no\x1b[31m"`) || !strings.Contains(out, `"Done.\x1b[2J"`) {
		t.Fatalf("output %q: want the reason and the answer quoted", out)
	}
}

// The demo says an answer with no text, and a failed run's failure once.
func TestDemoEnds(t *testing.T) {
	var b bytes.Buffer
	printDemoResult(&b, workflows.AgentResult{Answer: "\n"}, nil, "/tmp/posts", "http://ui/wf")
	if want := "Answer: " + noAnswer + "\n"; !strings.Contains(b.String(), want) {
		t.Errorf("output %q, want %q in it", b.String(), want)
	}
	const gaveUp = "model call, turn 2: openai: 503 Service Unavailable; gave up after 65 attempts"
	modelCall := temporal.NewApplicationErrorWithOptions("openai: 503 Service Unavailable (retryable)", "wrapError", temporal.ApplicationErrorOptions{})
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"the workflow's failure", fmt.Errorf("workflow execution error (type: AgentWorkflowV2): %w",
			temporal.NewApplicationErrorWithOptions(gaveUp, "ModelError", temporal.ApplicationErrorOptions{NonRetryable: true, Cause: modelCall})),
			"run hitl-1 failed: " + gaveUp + "; see http://ui/wf"},
		{"another end", errors.New("workflow execution error (type: AgentWorkflowV2): terminated"),
			"run hitl-1 failed: workflow execution error (type: AgentWorkflowV2): terminated; see http://ui/wf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := demoFailed("hitl-1", "http://ui/wf", tt.err).Error(); got != tt.want {
				t.Errorf("demoFailed = %q\nwant          %q", got, tt.want)
			}
		})
	}
}

// envValue is the value of name in vars, "" if absent.
func envValue(vars []EnvVar, name string) string {
	for _, v := range vars {
		if v.Name == name {
			return v.Value
		}
	}
	return ""
}
