package devstack

import (
	"strings"
	"testing"

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
