package main

import (
	"crypto/rand"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/signing"
	"github.com/hitl/durable-approvals/workflows"
)

const testKey = "app.key:secret"

func baseEnv(t *testing.T) config.Env {
	t.Helper()
	return config.Env{
		"TEMPORAL_CONFIG_FILE": filepath.Join(t.TempDir(), "none.toml"),
		"ABLY_API_KEY":         testKey,
		"OPENAI_API_KEY":       "sk-test",
		// The public key of the seed of 32 zero bytes (32 zero bytes are a
		// point of small order, which the worker refuses).
		"HITL_DECISION_VERIFY_KEYS": "k1:O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=",
	}
}

func TestLoadConfigDefaultsAndFlags(t *testing.T) {
	env := baseEnv(t)
	c, err := loadConfig([]string{"-policy", "p.json", "-log-level", "debug"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	checks := []struct{ name, got, want string }{
		{"host", c.Temporal.HostPort, "127.0.0.1:7233"},
		{"namespace", c.Temporal.Namespace, "default"},
		{"policy", c.PolicyFile, "p.json"},
		{"model", c.OpenAIModel, "gpt-4o"},
		{"client id", c.AgentClientID, "hitl:agent"},
		{"channel", c.Channel, "ai:big-bad-any"},
		{"blog dir", c.BlogDir, "data/posts"},
		{"workflow cache", strconv.Itoa(c.WorkflowCache), "1000"},
		{"memory limit", strconv.FormatInt(c.MemoryLimit, 10), "268435456"},
		{"ledger keep", c.LedgerKeep.String(), "744h0m0s"},
		{"reannounce every", c.ReannounceEvery.String(), "10m0s"},
		{"tool attempts", strconv.Itoa(c.ToolAttempts), "10"},
		{"model retry for", c.ModelRetryFor.String(), "1h0m0s"},
		{"model timeout", c.ModelTimeout.String(), "2m0s"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.name, ch.got, ch.want)
		}
	}
	if c.LogLevel != slog.LevelDebug {
		t.Errorf("log level = %v", c.LogLevel)
	}
	if !c.Ably.TLS || c.Ably.Endpoint != "" {
		t.Errorf("ably = %+v, want Ably cloud over TLS", c.Ably)
	}
}

// The model's retry and attempt timeout, as set, are what the worker
// hands its runs (workflows.ModelRetry, recorded at a run's start).
func TestModelRetryFromEnv(t *testing.T) {
	env := baseEnv(t)
	env["HITL_MODEL_RETRY_FOR"], env["HITL_MODEL_TIMEOUT"] = "3h", "10m"
	c, err := loadConfig(nil, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	want := workflows.ModelRetry{For: 3 * time.Hour, AttemptTimeout: 10 * time.Minute}
	if got := c.modelRetry(); got != want {
		t.Errorf("model retry = %+v, want %+v", got, want)
	}
	if err := c.modelRetry().Validate(); err != nil {
		t.Errorf("the worker's model retry: %v", err)
	}
}

func TestLoadConfigRejects(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string // substrings of the Validate or load error
	}{
		{"no openai key", nil, map[string]string{"OPENAI_API_KEY": ""}, []string{"OPENAI_API_KEY is required"}},
		{"remote base url needs key", nil, map[string]string{"OPENAI_API_KEY": "", "OPENAI_BASE_URL": "https://example.com/v1"},
			[]string{"OPENAI_API_KEY is required for OPENAI_BASE_URL"}},
		{"bad base url", nil, map[string]string{"OPENAI_BASE_URL": "ftp://x"}, []string{"OPENAI_BASE_URL"}},
		{"remote base url with a password needs key", nil, map[string]string{"OPENAI_API_KEY": "", "OPENAI_BASE_URL": "https://user:s3cret@example.com/v1"},
			[]string{"OPENAI_API_KEY is required for OPENAI_BASE_URL=https://example.com/…"}},
		{"remote base url with a secret path needs key", nil, map[string]string{"OPENAI_API_KEY": "", "OPENAI_BASE_URL": "https://gw.example/s3cret/v1?key=s3cret"},
			[]string{"OPENAI_API_KEY is required for OPENAI_BASE_URL=https://gw.example/…"}},
		{"bad webhook with a password", nil, map[string]string{"BLOG_WEBHOOK_URL": "ftp://user:s3cret@cms.example/"}, []string{"BLOG_WEBHOOK_URL", "ftp://cms.example/…"}},
		// A webhook's credential may be its path (Slack-style hooks) or
		// query: its errors show the scheme and host only, as the run's do.
		{"bad webhook with a secret path", nil, map[string]string{"BLOG_WEBHOOK_URL": "ftp://cms.example/hooks/T0/s3cret?token=s3cret"}, []string{"BLOG_WEBHOOK_URL", "ftp://cms.example/…"}},
		{"webhook over plain http with a secret path", nil, map[string]string{"BLOG_WEBHOOK_URL": "http://cms.example.com/hooks/T0/s3cret?token=s3cret"},
			[]string{"BLOG_WEBHOOK_URL=http://cms.example.com/…: plain HTTP"}},
		{"key over plain http off this machine", nil, map[string]string{"OPENAI_BASE_URL": "http://llm.example.com/v1/"},
			[]string{"OPENAI_BASE_URL=http://llm.example.com/…: plain HTTP", "WORKER_INSECURE_ALLOW_PLAINTEXT=true"}},
		{"webhook over plain http off this machine", nil, map[string]string{"BLOG_WEBHOOK_URL": "http://hook:s3cret@cms.example.com/publish"},
			[]string{"BLOG_WEBHOOK_URL=http://cms.example.com/…: plain HTTP", "WORKER_INSECURE_ALLOW_PLAINTEXT=true"}},
		{"allow plaintext not a bool", nil, map[string]string{"WORKER_INSECURE_ALLOW_PLAINTEXT": "yes"}, []string{`WORKER_INSECURE_ALLOW_PLAINTEXT="yes": want true or false`}},
		{"no ably key", nil, map[string]string{"ABLY_API_KEY": ""}, []string{"ABLY_API_KEY is required"}},
		{"bad ably key", nil, map[string]string{"ABLY_API_KEY": "nokey"}, []string{"ably key"}},
		{"bad ably tls", nil, map[string]string{"ABLY_TLS": "maybe"}, []string{"ABLY_TLS"}},
		{"bad webhook", nil, map[string]string{"BLOG_WEBHOOK_URL": "not a url"}, []string{"BLOG_WEBHOOK_URL"}},
		{"no verify keys", nil, map[string]string{"HITL_DECISION_VERIFY_KEYS": ""}, []string{"HITL_DECISION_VERIFY_KEYS is required"}},
		{"bad verify keys", nil, map[string]string{"HITL_DECISION_VERIFY_KEYS": "k1:short"}, []string{"HITL_DECISION_VERIFY_KEYS: verify key k1: want a base64 Ed25519 public key of 32 bytes"}},
		{"bad retired keys", nil, map[string]string{"HITL_DECISION_RETIRED_KEYS": "k0:short"}, []string{"HITL_DECISION_RETIRED_KEYS: retired key k0: want a base64 Ed25519 public key of 32 bytes"}},
		// Both lists' faults are told at once, not the second only once
		// the first is mended.
		{"no verify keys and bad retired keys", nil, map[string]string{"HITL_DECISION_VERIFY_KEYS": "", "HITL_DECISION_RETIRED_KEYS": "k0:short"},
			[]string{"HITL_DECISION_VERIFY_KEYS is required", "HITL_DECISION_RETIRED_KEYS: retired key k0: want a base64 Ed25519 public key of 32 bytes"}},
		{"bad verify keys and bad retired keys", nil, map[string]string{"HITL_DECISION_VERIFY_KEYS": "k1:short", "HITL_DECISION_RETIRED_KEYS": "k0"},
			[]string{"HITL_DECISION_VERIFY_KEYS: verify key k1: want a base64 Ed25519 public key of 32 bytes", "HITL_DECISION_RETIRED_KEYS: retired keys: want <id>:<base64 Ed25519 public key>"}},
		{"a key both verify and retired", nil, map[string]string{"HITL_DECISION_RETIRED_KEYS": "k1:O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik="},
			[]string{"HITL_DECISION_RETIRED_KEYS: retired keys: key id k1 is also a verify key"}},
		{"empty model flag", []string{"-model", ""}, nil, []string{"OPENAI_MODEL (-model) is empty"}},
		{"empty blog dir flag", []string{"-blog-dir", ""}, nil, []string{"BLOG_DIR (-blog-dir) is empty"}},
		{"stray argument", []string{"extra"}, nil, []string{"unexpected arguments"}},
		{"cache not a number", nil, map[string]string{"HITL_WORKFLOW_CACHE": "lots"}, []string{`HITL_WORKFLOW_CACHE="lots"`}},
		{"cache zero", []string{"-workflow-cache", "0"}, nil, []string{"workflow cache 0 (-workflow-cache, HITL_WORKFLOW_CACHE): want 1 to 1000000"}},
		{"cache too big", nil, map[string]string{"HITL_WORKFLOW_CACHE": "1000001"}, []string{"workflow cache 1000001 (-workflow-cache, HITL_WORKFLOW_CACHE)"}},
		{"ledger keep not a duration", nil, map[string]string{"HITL_LEDGER_KEEP": "31"}, []string{`HITL_LEDGER_KEEP="31": want a duration`}},
		{"ledger keep too short", nil, map[string]string{"HITL_LEDGER_KEEP": "1h"}, []string{"HITL_LEDGER_KEEP=1h0m0s: want 0 (keep for ever) or at least 24h0m0s"}},
		{"reannounce not a duration", nil, map[string]string{"HITL_REANNOUNCE_EVERY": "10"}, []string{`HITL_REANNOUNCE_EVERY="10": want a duration`}},
		{"reannounce too often", nil, map[string]string{"HITL_REANNOUNCE_EVERY": "5s"}, []string{"HITL_REANNOUNCE_EVERY=5s: want 0 (never) or at least 1m0s"}},
		{"tool attempts not a number", nil, map[string]string{"HITL_TOOL_ATTEMPTS": "many"}, []string{`HITL_TOOL_ATTEMPTS="many": want a number of attempts`}},
		{"tool attempts zero", nil, map[string]string{"HITL_TOOL_ATTEMPTS": "0"}, []string{"HITL_TOOL_ATTEMPTS=0: want 1 to 20"}},
		{"tool attempts negative", nil, map[string]string{"HITL_TOOL_ATTEMPTS": "-3"}, []string{"HITL_TOOL_ATTEMPTS=-3: want 1 to 20"}},
		{"tool attempts too many", nil, map[string]string{"HITL_TOOL_ATTEMPTS": "21"}, []string{"HITL_TOOL_ATTEMPTS=21: want 1 to 20"}},
		{"tool attempts past int32", nil, map[string]string{"HITL_TOOL_ATTEMPTS": "4294967297"}, []string{"HITL_TOOL_ATTEMPTS=4294967297: want 1 to 20"}},
		{"model retry not a duration", nil, map[string]string{"HITL_MODEL_RETRY_FOR": "60"}, []string{`HITL_MODEL_RETRY_FOR="60": want a duration such as 1h`}},
		{"model retry too short", nil, map[string]string{"HITL_MODEL_RETRY_FOR": "30s"}, []string{"HITL_MODEL_RETRY_FOR=30s: want 1m0s to 24h0m0s"}},
		{"model retry zero", nil, map[string]string{"HITL_MODEL_RETRY_FOR": "0"}, []string{"HITL_MODEL_RETRY_FOR=0s: want 1m0s to 24h0m0s"}},
		{"model retry too long", nil, map[string]string{"HITL_MODEL_RETRY_FOR": "25h"}, []string{"HITL_MODEL_RETRY_FOR=25h0m0s: want 1m0s to 24h0m0s"}},
		{"model timeout not a duration", nil, map[string]string{"HITL_MODEL_TIMEOUT": "300"}, []string{`HITL_MODEL_TIMEOUT="300": want a duration such as 5m`}},
		{"model timeout too short", nil, map[string]string{"HITL_MODEL_TIMEOUT": "10s"}, []string{"HITL_MODEL_TIMEOUT=10s: want 30s to 30m0s"}},
		{"model timeout too long", nil, map[string]string{"HITL_MODEL_TIMEOUT": "1h"}, []string{"HITL_MODEL_TIMEOUT=1h0m0s: want 30s to 30m0s"}},
		{"unknown flag", []string{"-nope"}, nil, []string{"nope"}},
		{"health addr port out of range", nil, map[string]string{"HITL_HEALTH_ADDR": ":99999"}, []string{`HITL_HEALTH_ADDR (-health-addr) ":99999"`, "port"}},
		// A wildcard or a qualifier would widen the agent's publish token.
		{"channel a wildcard", nil, map[string]string{"ABLY_CHANNEL": "ai:*"}, []string{"ABLY_CHANNEL", "wildcards are not allowed"}},
		{"channel with a qualifier", nil, map[string]string{"ABLY_CHANNEL": "[meta]ai"}, []string{"ABLY_CHANNEL", "qualifiers are not allowed"}},
		{"health addr port not a number", []string{"-health-addr", "127.0.0.1:abc"}, nil, []string{`HITL_HEALTH_ADDR (-health-addr) "127.0.0.1:abc"`, "port"}},
		// Approvers match the agent's messages by its clientId.
		{"agent client id a wildcard", nil, map[string]string{"HITL_AGENT_CLIENT_ID": "*"}, []string{`HITL_AGENT_CLIENT_ID "*" is Ably's wildcard`}},
		{"agent client id unprintable", nil, map[string]string{"HITL_AGENT_CLIENT_ID": "agent\x1b"}, []string{"HITL_AGENT_CLIENT_ID", "unprintable"}},
		{"every problem at once", nil, map[string]string{"OPENAI_API_KEY": "", "ABLY_API_KEY": ""},
			[]string{"OPENAI_API_KEY", "ABLY_API_KEY"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := baseEnv(t)
			for k, v := range tt.env {
				env[k] = v
			}
			c, err := loadConfig(tt.args, env, io.Discard)
			if err == nil {
				err = c.Validate()
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows the URL's password", err)
			}
		})
	}
}

func TestLocalScriptedModelNeedsNoKey(t *testing.T) {
	for _, base := range []string{"http://127.0.0.1:8095/v1/", "http://localhost:1/v1", "http://[::1]:9/"} {
		env := baseEnv(t)
		env["OPENAI_API_KEY"] = ""
		env["OPENAI_BASE_URL"] = base
		env["ABLY_ENDPOINT"] = "127.0.0.1:8090"
		c, err := loadConfig(nil, env, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: Validate: %v", base, err)
		}
		if c.Ably.TLS {
			t.Errorf("%s: local Ably endpoint defaults to TLS", base)
		}
	}
}

// Plain HTTP is fine to this machine, over https anywhere, and off this
// machine when explicitly allowed.
func TestPlaintextAllowed(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"https model and webhook", map[string]string{"OPENAI_BASE_URL": "https://llm.example.com/v1/", "BLOG_WEBHOOK_URL": "https://cms.example.com/publish"}},
		{"loopback model with a key, loopback webhook", map[string]string{"OPENAI_BASE_URL": "http://127.0.0.1:8095/v1/", "BLOG_WEBHOOK_URL": "http://localhost:9/publish"}},
		{"allowed", map[string]string{"OPENAI_BASE_URL": "http://llm.internal/v1/", "BLOG_WEBHOOK_URL": "http://cms.internal/publish", "WORKER_INSECURE_ALLOW_PLAINTEXT": "true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := baseEnv(t)
			maps.Copy(env, tt.env)
			c, err := loadConfig(nil, env, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
		})
	}
}

func TestCheckPolicyTools(t *testing.T) {
	policy := workflows.Policy{Roles: workflows.DefaultRoles, Tools: map[string]workflows.ToolPolicy{
		"publish_blog_post": {MinRole: "publisher"},
		"search_posts":      {MinRole: workflows.ApprovalNone},
	}}
	tests := []struct {
		name         string
		registered   []string
		wantErr      string
		wantWarnings int
	}{
		{"exact", []string{"publish_blog_post", "search_posts"}, "", 0},
		{"extra registered tool warns", []string{"publish_blog_post", "search_posts", "delete_post"}, "", 1},
		{"policy tool missing", []string{"search_posts"}, "publish_blog_post", 0},
		{"nothing registered", nil, "publish_blog_post, search_posts", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			warns, err := checkPolicyTools(policy, tt.registered)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error = %v, want one naming %s", err, tt.wantErr)
			}
			if len(warns) != tt.wantWarnings {
				t.Errorf("warnings = %q, want %d", warns, tt.wantWarnings)
			}
		})
	}
}

func TestMemoryLimitYieldsToGOMEMLIMIT(t *testing.T) {
	for _, tt := range []struct {
		gomemlimit string
		want       int64
	}{
		{"", DefaultMemoryLimit},
		{"1GiB", 0}, // the runtime applied it; the worker leaves it alone
	} {
		env := baseEnv(t)
		env["GOMEMLIMIT"] = tt.gomemlimit
		c, err := loadConfig(nil, env, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if c.MemoryLimit != tt.want {
			t.Errorf("GOMEMLIMIT=%q: MemoryLimit = %d, want %d", tt.gomemlimit, c.MemoryLimit, tt.want)
		}
	}
}

func TestWebhookWarnings(t *testing.T) {
	policy := workflows.Policy{Tools: map[string]workflows.ToolPolicy{
		"publish_blog_post": {MinRole: "publisher"},
		"search_posts":      {MinRole: workflows.ApprovalNone},
		"delete_post":       {MinRole: "admin"},
	}}
	publishOnly := workflows.Policy{Tools: map[string]workflows.ToolPolicy{"publish_blog_post": {MinRole: "publisher"}}}
	tests := []struct {
		name    string
		policy  workflows.Policy
		webhook string
		want    []string // tools warned about
	}{
		{"files", policy, "", nil},
		{"webhook", policy, "https://cms.example.com/hooks", []string{"search_posts", "delete_post"}},
		{"webhook, publish only", publishOnly, "https://cms.example.com/hooks", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := webhookWarnings(tt.policy, tt.webhook)
			if len(got) != len(tt.want) {
				t.Fatalf("warnings = %q, want one for each of %v", got, tt.want)
			}
			for i, tool := range tt.want {
				if !strings.Contains(got[i], `"`+tool+`"`) || !strings.Contains(got[i], "BLOG_WEBHOOK_URL") {
					t.Errorf("warning %q does not name %s and BLOG_WEBHOOK_URL", got[i], tool)
				}
			}
		})
	}
}

// The worker's verifier takes HITL_DECISION_RETIRED_KEYS beside its verify
// keys: the rotation's old key, retired.
func TestRetiredKeysFromEnv(t *testing.T) {
	_, old, err := signing.Generate("k0", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	env := baseEnv(t)
	env["HITL_DECISION_RETIRED_KEYS"] = old
	c, err := loadConfig(nil, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	v, err := c.verifier()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(v.KeyIDs(), []string{"k1"}) || !slices.Equal(v.RetiredKeyIDs(), []string{"k0"}) {
		t.Errorf("verify keys %v, retired %v; want [k1] and [k0]", v.KeyIDs(), v.RetiredKeyIDs())
	}
}
