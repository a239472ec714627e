package devstack

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/config"
)

// TestValidateConfig: Validate refuses each setting the stack cannot run
// with, naming the flag, and accepts the edges of each range; it reports
// every problem at once.
func TestValidateConfig(t *testing.T) {
	tests := []struct {
		name    string
		set     func(c *Config)
		wantErr []string // nil: valid
	}{
		{"the defaults", func(c *Config) {}, nil},
		{"port 1 and port 65535", func(c *Config) { c.Ports.Temporal, c.Ports.UI = 1, 65535 }, nil},
		{"port 0", func(c *Config) { c.Ports.Temporal = 0 }, []string{"--temporal-port 0: want 1-65535"}},
		{"port 65536", func(c *Config) { c.Ports.Model = 65536 }, []string{"--model-port 65536: want 1-65535"}},
		{"negative port", func(c *Config) { c.Ports.Auth = -1 }, []string{"--auth-port -1: want 1-65535"}},
		{"no namespace", func(c *Config) { c.Namespace = "" }, []string{"namespace is empty"}},
		{"a work directory that is a file", func(c *Config) {
			c.Work = filepath.Join(t.TempDir(), "file")
			if err := os.WriteFile(c.Work, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, []string{"(-work) is not a directory"}},
		{"no timeout", func(c *Config) { c.Timeout = 0 }, []string{"--timeout must be positive"}},
		{"negative timeout", func(c *Config) { c.Timeout = -1 }, []string{"--timeout must be positive"}},
		{"no prompt", func(c *Config) { c.Prompt = "" }, []string{"--prompt is empty"}},
		{"a Temporal server on loopback", func(c *Config) { c.TemporalServer = "127.0.0.1:7233" }, nil},
		{"a Temporal server off this machine", func(c *Config) { c.TemporalServer = "10.0.0.1:7233" },
			[]string{`temporal server "10.0.0.1:7233": want a loopback host`}},
		{"a Temporal server on every interface", func(c *Config) { c.TemporalServer = "0.0.0.0:7233" },
			[]string{`temporal server "0.0.0.0:7233": want a loopback host`}},
		{"every problem at once", func(c *Config) { c.Ports.UI, c.Namespace, c.Timeout, c.DemoUser = 0, "", 0, "mallory" },
			[]string{"--ui-port 0", "namespace is empty", "--timeout must be positive", `--as "mallory"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testConfig(t, config.Env{})
			tt.set(&c)
			err := c.Validate()
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate = %v, want %q in it", err, want)
				}
			}
		})
	}
}

// TestParseConfigDefaults: what a command gets without flags, and what
// --work changes (the tools the stack pins stay in the repository's .bin,
// shared by every work directory).
func TestParseConfigDefaults(t *testing.T) {
	root := fakeRoot(t)
	c, err := parseConfig("demo", nil, config.Env{}, root, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.DemoUser != "pat" || c.Prompt != DemoPrompt || c.Web || c.Timeout != 3*time.Minute || c.IP != "127.0.0.1" {
		t.Errorf("demo defaults: as %q, prompt %q, web %v, timeout %s, IP %s", c.DemoUser, c.Prompt, c.Web, c.Timeout, c.IP)
	}
	c, err = parseConfig("up", []string{"--work", "w"}, config.Env{}, root, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.ToolsBinDir(), filepath.Join(root, ".bin"); got != want {
		t.Errorf("ToolsBinDir with --work = %s, want %s", got, want)
	}
	if _, err := parseConfig("env", []string{"--temporal-cli", "/bin/temporal"}, config.Env{}, root, io.Discard); err == nil || !strings.Contains(err.Error(), "not defined") {
		t.Errorf("env --temporal-cli: %v, want no such flag", err)
	}
}

// TestModuleRoot: only a go.mod declaring this very module marks the
// repository root, not one of a module whose path begins the same.
func TestModuleRoot(t *testing.T) {
	for _, tt := range []struct {
		gomod string
		want  bool
	}{
		{"module " + modulePath + "\n", true},
		{"// the project\nmodule " + modulePath + "  \n\ngo 1.26\n", true},
		{"  module " + modulePath + "\n", true},
		{"module " + modulePath + "-fork\n", false},
		{"module " + modulePath + "/v2\n", false},
		{"module example.com/other\n", false},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(tt.gomod), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := isModuleRoot(dir); got != tt.want {
			t.Errorf("isModuleRoot(go.mod %q) = %v, want %v", tt.gomod, got, tt.want)
		}
		if err := checkModuleRoot(dir); (err == nil) != tt.want {
			t.Errorf("checkModuleRoot(go.mod %q) = %v", tt.gomod, err)
		}
	}
}

// TestPortFlagsQuoted: the flags up prints for env are read by a shell.
func TestPortFlagsQuoted(t *testing.T) {
	c := testConfig(t, config.Env{})
	c.Namespace, c.Work = "my team", "/tmp/my work"
	if got, want := portFlags(c), " --namespace 'my team' --work '/tmp/my work'"; got != want {
		t.Errorf("portFlags = %q, want %q", got, want)
	}
}
