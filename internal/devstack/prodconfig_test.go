package devstack

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/config"
)

func TestParseProdConfig(t *testing.T) {
	root, err := findRoot(mustAbs(t, "."))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		env     config.Env
		cwd     string // "": the package's directory
		check   func(t *testing.T, c ProdConfig)
		wantErr string // of parse or Validate
	}{
		{name: "defaults", check: func(t *testing.T, c ProdConfig) {
			if c.Workers != 2 || c.Bridges != 2 || !c.UI || c.Work != "" || c.Trace {
				t.Errorf("config = %+v, want 2 workers, 2 bridges, the UI, a temporary work dir, no tracing", c)
			}
			if c.PolicyFile != filepath.Join(root, "config", "policy.json") || c.PostgresBin != DefaultPostgresBin {
				t.Errorf("policy %s, postgres %s", c.PolicyFile, c.PostgresBin)
			}
		}},
		{name: "flags", args: []string{"-workers", "3", "-bridges", "1", "-ui=false", "-trace", "-temporal-port", "17233"},
			check: func(t *testing.T, c ProdConfig) {
				if c.Workers != 3 || c.Bridges != 1 || c.UI || !c.Trace || c.TemporalPort != 17233 {
					t.Errorf("config = %+v", c)
				}
			}},
		{name: "environment", env: config.Env{"TEMPORAL_NAMESPACE": "ns1", "HITL_POLICY_FILE": filepath.Join(root, "config", "policy.json")},
			check: func(t *testing.T, c ProdConfig) {
				if c.Namespace != "ns1" || c.PolicyFile != filepath.Join(root, "config", "policy.json") {
					t.Errorf("namespace %q policy %q", c.Namespace, c.PolicyFile)
				}
			}},
		{name: "no workers", args: []string{"-workers", "0"}, wantErr: "-workers 0"},
		{name: "bad port", args: []string{"-ui-port", "70000"}, wantErr: "-ui-port 70000"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected arguments"},
		// Said before anything is built or started.
		{name: "two parts on one port", args: []string{"-temporal-port", "28020", "-auth-port", "28020"}, wantErr: "-temporal-port and -auth-port are both 28020"},
		{name: "spare ports are not alike", args: []string{"-temporal-port", "0", "-auth-port", "0", "-ui-port", "28021"},
			check: func(t *testing.T, c ProdConfig) {}},
		{name: "channel Ably would refuse", env: config.Env{"ABLY_CHANNEL": "ai:*"}, wantErr: `ABLY_CHANNEL: channel "ai:*": wildcards are not allowed`},
		{name: "relative paths are from the working directory", args: []string{"-work", "w", "-postgres-bin", "pg/bin", "-policy", "../../config/policy.json"},
			check: func(t *testing.T, c ProdConfig) {
				if c.Work != mustAbs(t, "w") || c.PostgresBin != mustAbs(t, "pg/bin") || c.PolicyFile != mustAbs(t, "../../config/policy.json") {
					t.Errorf("work %q, postgres %q, policy %q", c.Work, c.PostgresBin, c.PolicyFile)
				}
			}},
		{name: "the model and the worker's tuning from the environment",
			env: config.Env{"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": "http://127.0.0.1:11434/v1", "OPENAI_MODEL": "llama3", "HITL_WORKFLOW_CACHE": "64"},
			check: func(t *testing.T, c ProdConfig) {
				if c.OpenAIKey != "sk-x" || c.OpenAIBaseURL != "http://127.0.0.1:11434/v1" || c.OpenAIModel != "llama3" || c.Scripted() {
					t.Errorf("model: key %q, URL %q, model %q, scripted %v", c.OpenAIKey, c.OpenAIBaseURL, c.OpenAIModel, c.Scripted())
				}
				if len(c.WorkerTuning) != len(config.WorkerTuningEnv()) || c.WorkerTuning["HITL_WORKFLOW_CACHE"] != "64" {
					t.Errorf("worker tuning %v, want every variable, HITL_WORKFLOW_CACHE 64", c.WorkerTuning)
				}
			}},
		{name: "not in the repository", cwd: t.TempDir(), wantErr: "not inside the repository"},
		{name: "not in the repository, -root given", cwd: t.TempDir(), args: []string{"-root", root},
			check: func(t *testing.T, c ProdConfig) {
				if c.Root != root {
					t.Errorf("root %q, want %q", c.Root, root)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env
			if env == nil {
				env = config.Env{}
			}
			cwd := tt.cwd
			if cwd == "" {
				cwd = "."
			}
			c, err := parseProdConfig(tt.args, env, cwd, io.Discard)
			if err == nil {
				err = c.Validate()
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
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

// TestValidateProdConfig: Validate refuses each setting the topology
// cannot run with, naming it, and accepts the edges of each range.
func TestValidateProdConfig(t *testing.T) {
	root, err := findRoot(mustAbs(t, "."))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		set     func(c *ProdConfig)
		wantErr string // "": valid
	}{
		{"the defaults", func(c *ProdConfig) {}, ""},
		{"1 worker and 1 bridge", func(c *ProdConfig) { c.Workers, c.Bridges = 1, 1 }, ""},
		{"8 workers and 8 bridges", func(c *ProdConfig) { c.Workers, c.Bridges = 8, 8 }, ""},
		{"9 workers", func(c *ProdConfig) { c.Workers = 9 }, "-workers 9: want 1-8"},
		{"no bridge", func(c *ProdConfig) { c.Bridges = 0 }, "-bridges 0: want 1-8"},
		{"9 bridges", func(c *ProdConfig) { c.Bridges = 9 }, "-bridges 9: want 1-8"},
		{"port 65535", func(c *ProdConfig) { c.AuthPort = 65535 }, ""},
		{"port 65536", func(c *ProdConfig) { c.AuthPort = 65536 }, "-auth-port 65536: want 0-65535"},
		{"port -1", func(c *ProdConfig) { c.TemporalPort = -1 }, "-temporal-port -1: want 0-65535"},
		{"no namespace", func(c *ProdConfig) { c.Namespace = "" }, "namespace is empty"},
		{"no policy file", func(c *ProdConfig) { c.PolicyFile = "" }, "policy file is empty"},
		{"a work directory that is a file", func(c *ProdConfig) {
			c.Work = filepath.Join(t.TempDir(), "file")
			if err := os.WriteFile(c.Work, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "(-work) is not a directory"},
		{"a work directory not made yet", func(c *ProdConfig) { c.Work = filepath.Join(t.TempDir(), "new") }, ""},
		// Refused before PostgreSQL and Temporal start, not by the auth
		// server once they are up.
		{"a policy file that is not there", func(c *ProdConfig) { c.PolicyFile = filepath.Join(t.TempDir(), "none.json") }, "-policy: policy file "},
		{"a policy that does not load", func(c *ProdConfig) {
			c.PolicyFile = filepath.Join(t.TempDir(), "bad.json")
			if err := os.WriteFile(c.PolicyFile, []byte(`{"tools":{"x":{"minRole":"nobody"}}}`), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "-policy: "},
		{"no user for PostgreSQL", func(c *ProdConfig) { c.PostgresOSUser = "" }, "-postgres-user is empty"},
		{"no timeout", func(c *ProdConfig) { c.Timeout = 0 }, "-timeout must be positive"},
		{"not the repository", func(c *ProdConfig) { c.Root = t.TempDir() }, "is not the repository root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultProdConfig(root)
			tt.set(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Validate = %v, want nil", err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestProdServices: the description compose is checked against names every
// service of the topology, and the trusted programs get their keys.
func TestProdServices(t *testing.T) {
	byName := map[string]ProdService{}
	for _, s := range ProdServices() {
		byName[s.Name] = s
	}
	want := map[string][]string{
		"postgresql":      {"POSTGRES_USER", "POSTGRES_PASSWORD"},
		"temporal-schema": {"POSTGRES_SEEDS", "SQL_PASSWORD", "TEMPORAL_SQL_TOOL", "TEMPORAL_SCHEMA_DIR"},
		"temporal":        {"DB", "POSTGRES_PWD", "DYNAMIC_CONFIG_FILE_PATH", "FRONTEND_GRPC_PORT", "PROMETHEUS_ENDPOINT"},
		"temporal-setup":  {"TEMPORAL_ADDRESS", "NAMESPACE", "TEMPORAL_CLI"},
		"temporal-ui":     {"TEMPORAL_ADDRESS", "TEMPORAL_DEFAULT_NAMESPACE"},
		"worker":          {"HITL_DECISION_VERIFY_KEYS", "BLOG_DIR", "HITL_HEALTH_ADDR", "HITL_TRACE_FILE", "ABLY_API_KEY"},
		"bridge":          {"HITL_DECISION_SIGNING_KEY", "HITL_HEALTH_ADDR", "TEMPORAL_ADDRESS"},
		"authserver":      {"HITL_AGENT_CLIENT_ID", "HITL_BRIDGE_CLIENT_ID", "AUTH_TRUSTED_PROXIES", "HITL_HEALTH_ADDR"},
	}
	for name, vars := range want {
		s, ok := byName[name]
		if !ok {
			t.Errorf("no service %s", name)
			continue
		}
		for _, v := range vars {
			if !slices.Contains(s.Env, v) {
				t.Errorf("%s lacks %s: %v", name, v, s.Env)
			}
		}
	}
	for _, secret := range []string{"HITL_DECISION_SIGNING_KEY"} {
		for _, s := range ProdServices() {
			if s.Name != "bridge" && slices.Contains(s.Env, secret) {
				t.Errorf("%s gets %s; only the bridge may", s.Name, secret)
			}
		}
	}
	if byName["temporal-schema"].Script != ProdSchemaScript || byName["temporal-setup"].Script != ProdNamespaceScript {
		t.Error("the one-shot jobs do not name their scripts")
	}
}

func TestSpareProdPorts(t *testing.T) {
	cfg := DefaultProdConfig("/repo")
	cfg.Workers, cfg.Bridges = 3, 2
	p, err := spareProdPorts(cfg)
	if err != nil {
		t.Fatal(err)
	}
	all := append([]int{p.Postgres, p.Frontend, p.FrontendHTTP, p.FrontendMembership, p.History, p.HistoryMembership,
		p.Matching, p.MatchingMembership, p.Worker, p.WorkerMembership, p.TemporalMetrics, p.UI, p.Ably, p.Auth, p.AuthOps, p.Model},
		append(p.WorkerOps, p.BridgeOps...)...)
	seen := map[int]bool{}
	for _, port := range all {
		if port <= 0 || seen[port] {
			t.Fatalf("ports %v: %d is zero or repeated", all, port)
		}
		seen[port] = true
	}
	for _, m := range []int{p.FrontendMembership, p.HistoryMembership, p.MatchingMembership, p.WorkerMembership} {
		if m > 32767 {
			t.Errorf("membership port %d does not fit Temporal's smallint column", m)
		}
	}
	if len(p.WorkerOps) != 3 || len(p.BridgeOps) != 2 {
		t.Errorf("ops ports: %d workers, %d bridges", len(p.WorkerOps), len(p.BridgeOps))
	}
}

// A port given (-temporal-port, -ui-port, -auth-port) that something
// holds is refused before anything starts: a Temporal server there would
// otherwise take this stack's namespace setup and its workers' polls.
func TestSpareProdPortsRefusesAPortInUse(t *testing.T) {
	for _, flag := range []string{"temporal-port", "ui-port", "auth-port"} {
		t.Run(flag, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			port := ln.Addr().(*net.TCPAddr).Port
			cfg := DefaultProdConfig("/repo")
			*map[string]*int{"temporal-port": &cfg.TemporalPort, "ui-port": &cfg.UIPort, "auth-port": &cfg.AuthPort}[flag] = port
			_, err = spareProdPorts(cfg)
			want := fmt.Sprintf("port %d is in use (is another stack running? choose another with -%s)", port, flag)
			if err == nil || err.Error() != want {
				t.Errorf("spareProdPorts = %v, want %q", err, want)
			}
		})
	}
	// A free port given is kept.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := DefaultProdConfig("/repo")
	cfg.TemporalPort = port
	if p, err := spareProdPorts(cfg); err != nil || p.Frontend != port {
		t.Errorf("spareProdPorts with a free -temporal-port %d: %d, %v", port, p.Frontend, err)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// TestBuildBound: the build's bound is three times -timeout, and a
// -timeout so large that three times it overflows time.Duration bounds the
// build by nothing rather than by a negative duration (a context done
// before the build began).
func TestBuildBound(t *testing.T) {
	huge := 1_000_000 * time.Hour
	if old := 3 * huge; old >= 0 {
		t.Fatalf("3 × %s = %s: the case no longer overflows", huge, old)
	}
	for _, tt := range []struct{ timeout, want time.Duration }{
		{3 * time.Minute, 9 * time.Minute},
		{time.Duration(math.MaxInt64 / 3), time.Duration(math.MaxInt64 / 3 * 3)},
		{time.Duration(math.MaxInt64/3 + 1), math.MaxInt64},
		{huge, math.MaxInt64},
		{math.MaxInt64, math.MaxInt64},
	} {
		if got := buildBound(tt.timeout); got != tt.want {
			t.Errorf("buildBound(%s) = %s, want %s", tt.timeout, got, tt.want)
		}
	}
	// The bound a huge -timeout gives is a context that is not done.
	ctx, cancel := context.WithTimeout(t.Context(), buildBound(huge))
	defer cancel()
	if ctx.Err() != nil {
		t.Errorf("build context of -timeout %s: %v", huge, ctx.Err())
	}
}
