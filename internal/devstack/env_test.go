package devstack

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/hitl/durable-approvals/activities"
	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/workflows"
)

// envMapOf is vars as a map; a name set twice fails the test.
func envMapOf(t *testing.T, vars []EnvVar) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, v := range vars {
		if _, ok := m[v.Name]; ok {
			t.Errorf("%s is set twice", v.Name)
		}
		m[v.Name] = v.Value
	}
	return m
}

// TestEnvOfEachPart: each part of the dev stack gets exactly these
// variables (a variable dropped, added or with another value is a part
// that talks to something else, or holds a key it must not).
func TestEnvOfEachPart(t *testing.T) {
	c := testConfig(t, config.Env{})
	s := Secrets{AblyKey: "devstack.local:s3cret", SigningKey: "devstack:signing-secret", VerifyKey: "devstack:verify-public"}
	pat := DemoUser{Name: "pat", Role: "publisher", Password: "pat-0123456789"}
	user := map[string]string{
		"TEMPORAL_ADDRESS": "127.0.0.1:7233", "TEMPORAL_NAMESPACE": "default", "TEMPORAL_TLS": "false",
		"TEMPORAL_UI_URL": "http://127.0.0.1:8233", "ABLY_ENDPOINT": "127.0.0.1:8090", "ABLY_TLS": "false",
		"ABLY_CHANNEL": workflows.DefaultChannel, "AUTH_URL": "http://127.0.0.1:3001", "TEMPORAL_CONFIG_FILE": c.NoProfileFile(),
	}
	trusted := with(user, "ABLY_API_KEY", s.AblyKey, "HITL_AGENT_CLIENT_ID", workflows.DefaultAgentClientID,
		"HITL_BRIDGE_CLIENT_ID", workflows.DefaultBridgeClientID, "BLOG_DIR", c.BlogDir(),
		"OPENAI_MODEL", activities.DefaultOpenAIModel, "OPENAI_BASE_URL", "http://127.0.0.1:8095/v1/", "OPENAI_API_KEY", "")
	tests := []struct {
		part string
		vars []EnvVar
		want map[string]string
	}{
		{"user", userEnv(c), user},
		{"worker", workerEnv(c, s), with(trusted, "HITL_POLICY_FILE", c.PolicyFile(),
			"HITL_DECISION_VERIFY_KEYS", s.VerifyKey, "HITL_DECISION_RETIRED_KEYS", "")},
		{"bridge", bridgeEnv(c, s), with(trusted, "HITL_DECISION_SIGNING_KEY", s.SigningKey)},
		{"approver", approverEnv(c, pat), with(user, "APPROVER_USER", "pat", "APPROVER_PASSWORD", pat.Password, "ABLY_API_KEY", "")},
	}
	for _, tt := range tests {
		t.Run(tt.part, func(t *testing.T) {
			got := envMapOf(t, tt.vars)
			for name, want := range tt.want {
				if v, ok := got[name]; !ok || v != want {
					t.Errorf("%s = %q (set %v), want %q", name, v, ok, want)
				}
			}
			for name, v := range got {
				if _, ok := tt.want[name]; !ok {
					t.Errorf("%s = %q is set, want it not set", name, v)
				}
			}
		})
	}
}

// TestEnvOfTheModel: the worker and the bridge reach the scripted model
// with no key, OpenAI with the user's key, or the user's own model (with or
// without a key) at its URL.
func TestEnvOfTheModel(t *testing.T) {
	const unset = "(unset)"
	tests := []struct {
		name                   string
		env                    config.Env
		wantKey, wantURL, want string // want: OPENAI_MODEL
	}{
		{"scripted", config.Env{}, "", "http://127.0.0.1:8095/v1/", activities.DefaultOpenAIModel},
		{"OpenAI", config.Env{"OPENAI_API_KEY": "sk-real"}, "sk-real", unset, activities.DefaultOpenAIModel},
		{"the user's model, no key", config.Env{"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"}, "", "http://127.0.0.1:11434/v1", activities.DefaultOpenAIModel},
		{"the user's model with a key and a model name", config.Env{"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1", "OPENAI_API_KEY": "k", "OPENAI_MODEL": "llama3"},
			"k", "http://127.0.0.1:11434/v1", "llama3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testConfig(t, tt.env)
			for part, vars := range map[string][]EnvVar{"worker": workerEnv(c, Secrets{}), "bridge": bridgeEnv(c, Secrets{})} {
				got := envMapOf(t, vars)
				for name, want := range map[string]string{"OPENAI_API_KEY": tt.wantKey, "OPENAI_BASE_URL": tt.wantURL, "OPENAI_MODEL": tt.want} {
					v, ok := got[name]
					if !ok {
						v = unset
					}
					if v != want {
						t.Errorf("%s: %s = %q, want %q", part, name, v, want)
					}
				}
			}
		})
	}
}

// TestShellQuote: what env prints is read by a shell (eval): a value with
// any character the shell gives a meaning is quoted, and reads back as it
// was.
func TestShellQuote(t *testing.T) {
	for _, s := range []string{"127.0.0.1:7233", "http://127.0.0.1:3001", "ai:big-bad-any", "a_b-c.d/e@f%g+h=i,j", "pat-0123abcd"} {
		if got := shellQuote(s); got != s {
			t.Errorf("shellQuote(%q) = %q, want it as it is", s, got)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"", "''"},
		{"a$b", "'a$b'"},
		{"a`b`", "'a`b`'"},
		{"*", "'*'"},
		{"a?", "'a?'"},
		{"~", "'~'"},
		{"a!b", "'a!b'"},
		{"a;b", "'a;b'"},
		{"a&b", "'a&b'"},
		{"a|b", "'a|b'"},
		{"a>b", "'a>b'"},
		{"a<b", "'a<b'"},
		{"(a)", "'(a)'"},
		{"{a}", "'{a}'"},
		{"[a]", "'[a]'"},
		{"#a", "'#a'"},
		{"a b", "'a b'"},
		{"a\tb", "'a\tb'"},
		{"a\nb", "'a\nb'"},
		{`a\b`, `'a\b'`},
		{`a"b`, `'a"b'`},
		{"it's", `'it'\''s'`},
	} {
		if got := shellQuote(tt.in); got != tt.want {
			t.Errorf("shellQuote(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestShellLinesLeaveNoCloudSettings: a shell that evaluates devstack
// env's lines with a developer's Temporal Cloud settings in its
// environment and profile file then talks to the stack's server alone:
// its address and namespace, in plain text, and nothing else (no API key
// sent to it, no certificate, header, codec or profile of Cloud's).
func TestShellLinesLeaveNoCloudSettings(t *testing.T) {
	c := testConfig(t, config.Env{})
	dir := t.TempDir()
	profile := filepath.Join(dir, "temporal.toml")
	toml := ""
	for _, name := range []string{"default", "prod"} {
		toml += fmt.Sprintf("[profile.%s]\naddress = \"ns.acct.tmprl.cloud:7233\"\nnamespace = \"ns.acct\"\napi_key = \"%s-secret\"\n"+
			"[profile.%[1]s.grpc_meta]\nx-team = \"a\"\n[profile.%[1]s.codec]\nendpoint = \"https://codec.example\"\n", name, name)
	}
	if err := os.WriteFile(profile, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	environ := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_CONFIG_HOME=" + dir,
		"TEMPORAL_ADDRESS=ns.acct.tmprl.cloud:7233", "TEMPORAL_NAMESPACE=ns.acct", "TEMPORAL_TLS=true",
		"TEMPORAL_CONFIG_FILE=" + profile, "TEMPORAL_PROFILE=prod", "TEMPORAL_API_KEY=env-secret",
		"TEMPORAL_CLIENT_AUTHORITY=ns.acct", "TEMPORAL_TLS_SERVER_NAME=ns.acct.tmprl.cloud",
		"TEMPORAL_TLS_CLIENT_CERT_PATH=/c.pem", "TEMPORAL_TLS_CLIENT_KEY_PATH=/k.pem",
		"TEMPORAL_TLS_CLIENT_CERT_DATA=cert", "TEMPORAL_TLS_CLIENT_KEY_DATA=key",
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH=/ca.pem", "TEMPORAL_TLS_SERVER_CA_CERT_DATA=ca",
		"TEMPORAL_TLS_DISABLE_HOST_VERIFICATION=true", "TEMPORAL_CODEC_ENDPOINT=https://codec.example",
		"TEMPORAL_CODEC_AUTH=Bearer c", "TEMPORAL_GRPC_META_AUTHORIZATION=Bearer x", "TEMPORAL_GRPC_META_X_TEAM=b",
		// The Temporal CLI's own: its environment file's and legacy TLS.
		"TEMPORAL_ENV=prod", "TEMPORAL_TLS_CERT=/c.pem", "TEMPORAL_TLS_KEY=/k.pem", "TEMPORAL_TLS_CA=/ca.pem",
		"TEMPORAL_TLS_CERT_DATA=cert", "TEMPORAL_TLS_KEY_DATA=key", "TEMPORAL_TLS_CA_DATA=ca",
	}
	var lines bytes.Buffer
	if err := printEnv(&lines, c, Secrets{Users: []DemoUser{{"pat", "publisher", "pat-0123456789"}}}, environ); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), "/bin/sh", "-c", lines.String()+"\nexec env")
	cmd.Env = environ
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sh: %v\n%s", err, lines.String())
	}
	env := config.Env{}
	for line := range strings.Lines(string(out)) {
		if k, v, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "="); ok {
			env[k] = v
		}
	}
	got, err := envconfig.LoadClientConfigProfile(envconfig.LoadClientConfigProfileOptions{EnvLookup: env})
	if err != nil {
		t.Fatalf("the shell's Temporal settings: %v\n%s", err, lines.String())
	}
	want := envconfig.ClientConfigProfile{Address: c.TemporalAddress(), Namespace: c.Namespace, TLS: &envconfig.ClientConfigTLS{Disabled: true}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the shell's Temporal settings\n%+v, want\n%+v\nafter:\n%s", got, want, lines.String())
	}
	for k := range env {
		if strings.HasPrefix(k, "TEMPORAL_") && !slices.Contains([]string{"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_TLS", "TEMPORAL_UI_URL", "TEMPORAL_CONFIG_FILE"}, k) {
			t.Errorf("%s=%s is left in the shell", k, env[k])
		}
	}
}

// TestShellLinesRunNoNameFromTheEnvironment: a header variable's name is
// whatever a process was given, and the shell evaluates the lines: a name
// that is not a shell variable's is never written into the unset command
// (where "a;cmd" would run cmd and "a b" unset b too), only named, quoted,
// in a comment that says it is left set.
func TestShellLinesRunNoNameFromTheEnvironment(t *testing.T) {
	hostile := []string{"TEMPORAL_GRPC_META_q;echo INJECTED;x", "TEMPORAL_GRPC_META_a b", "TEMPORAL_GRPC_META_x-y",
		"TEMPORAL_GRPC_META_n\necho INJECTED", "TEMPORAL_GRPC_META_$(echo INJECTED)", "TEMPORAL_GRPC_META_`echo INJECTED`"}
	environ := []string{"PATH=" + os.Getenv("PATH"), "b=kept", "TEMPORAL_GRPC_META_OK=1"}
	for _, name := range hostile {
		environ = append(environ, name+"=v")
	}
	lines := shellLines(userEnv(testConfig(t, config.Env{})), environ)
	cmd := exec.CommandContext(t.Context(), "/bin/sh", "-c", lines+"\necho \"b=$b ok=${TEMPORAL_GRPC_META_OK-unset}\"")
	cmd.Env = environ
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sh: %v\n%s\nlines:\n%s", err, out, lines)
	}
	if got := string(out); got != "b=kept ok=unset\n" {
		t.Errorf("the shell said %q, want %q\nlines:\n%s", got, "b=kept ok=unset\n", lines)
	}
	comment, _, _ := strings.Cut(lines, "\n")
	if !strings.HasPrefix(comment, "# left set") {
		t.Fatalf("first line %q, want the comment naming the names left set", comment)
	}
	for _, name := range hostile {
		if !strings.Contains(comment, strconv.Quote(name)) {
			t.Errorf("the comment %q does not name %q", comment, name)
		}
	}
}

func TestIsShellName(t *testing.T) {
	for name, want := range map[string]bool{
		"TEMPORAL_GRPC_META_X": true, "_x": true, "a1": true, "": false, "1a": false, "a-b": false, "a b": false,
		"a;b": false, "a\nb": false, "é": false, "a$": false,
	} {
		if got := isShellName(name); got != want {
			t.Errorf("isShellName(%q) = %v, want %v", name, got, want)
		}
	}
}
