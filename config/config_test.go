package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hitl/durable-approvals/workflows"
)

func TestShippedPolicyIsTheBriefsPolicy(t *testing.T) {
	p, err := LoadPolicy("policy.json")
	if err != nil {
		t.Fatalf("LoadPolicy(policy.json): %v", err)
	}
	if got, want := strings.Join(p.Roles, ","), "editor,publisher,admin"; got != want {
		t.Errorf("roles = %s, want %s", got, want)
	}
	want := map[string]workflows.ToolPolicy{
		"publish_blog_post": {MinRole: "publisher", Timeout: workflows.Duration(10 * 60e9)},
		"search_posts":      {MinRole: workflows.ApprovalNone},
		"delete_post":       {MinRole: "admin", Timeout: workflows.Duration(5 * 60e9)},
	}
	if len(p.Tools) != len(want) {
		t.Fatalf("tools = %v, want %v", p.Tools, want)
	}
	for name, tp := range want {
		if got := p.Tools[name]; !reflect.DeepEqual(got, tp) {
			t.Errorf("tools.%s = %+v, want %+v", name, got, tp)
		}
	}
}

func TestLoadPolicyErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name, path string
		want       []string
	}{
		{"empty path", "", []string{EnvPolicyFile}},
		{"missing", filepath.Join(dir, "nope.json"), []string{"does not exist", "nope.json"}},
		{"not json", write("bad.json", "{"), []string{"bad.json", "policy"}},
		{"two problems on one line", write("two.json", `{"tools":{"a":{"minRole":"owner"},"b":{}}}`),
			[]string{"two.json", `tools.a: minRole "owner"`, "tools.b: minRole is required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadPolicy(tt.path)
			if err == nil {
				t.Fatal("LoadPolicy: no error")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
	var pe *PolicyError
	if _, err := LoadPolicy(write("x.json", `{"tools":{}}`)); !errors.As(err, &pe) {
		t.Errorf("invalid policy error %v is not a *PolicyError", err)
	}
}

func TestTemporalOptions(t *testing.T) {
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "none.toml"))
	tests := []struct {
		name          string
		env           Env
		wantHost, wNS string
	}{
		{"defaults", Env{}, "127.0.0.1:7233", "default"},
		{"blank is unset", Env{EnvTemporalAddress: "  ", EnvTemporalNamespace: ""}, "127.0.0.1:7233", "default"},
		{"env wins", Env{EnvTemporalAddress: "temporal:7233", EnvTemporalNamespace: "hitl"}, "temporal:7233", "hitl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, err := TemporalOptions(tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if opts.HostPort != tt.wantHost || opts.Namespace != tt.wNS {
				t.Errorf("got %s/%s, want %s/%s", opts.HostPort, opts.Namespace, tt.wantHost, tt.wNS)
			}
		})
	}
}

// A boolean the Temporal client's envconfig would silently ignore (it
// reads only 1, 0, true and false) is refused, naming the variable:
// TEMPORAL_TLS=yes must not leave TLS off without a word.
func TestTemporalOptionsBools(t *testing.T) {
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "none.toml"))
	for _, name := range []string{"TEMPORAL_TLS", "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION"} {
		for _, v := range []string{"true", "FALSE", "1", "0", " True "} {
			if _, err := TemporalOptions(Env{name: v}); err != nil {
				t.Errorf("%s=%q: %v", name, v, err)
			}
		}
		for _, v := range []string{"yes", "on", "t", "enabled"} {
			_, err := TemporalOptions(Env{name: v})
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%q: err = %v, want one naming %s", name, v, err, name)
			}
		}
	}
	opts, err := TemporalOptions(Env{"TEMPORAL_TLS": "true"})
	if err != nil || opts.ConnectionOptions.TLS == nil {
		t.Errorf("TEMPORAL_TLS=true: TLS %v, err %v; want TLS on", opts.ConnectionOptions.TLS, err)
	}
}

// A Temporal address that cannot be dialled is reported as such, naming
// the variable, instead of failing in the dial with gRPC's words.
func TestTemporalOptionsAddress(t *testing.T) {
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "none.toml"))
	for _, tt := range []struct {
		addr, wantErr string
	}{
		{"127.0.0.1:7233", ""},
		{"temporal-frontend:7233", ""},
		{"[::1]:7233", ""},
		{"ns.acct.tmprl.cloud:7233", ""},
		{"dns:///temporal-frontend:7233", ""},
		{"unix:/run/temporal.sock", ""},
		{"unix:///run/temporal.sock", ""},
		{"dns:127.0.0.1:7233", ""},
		{"dns://127.0.0.53/temporal-frontend:7233", ""},
		{"unix-abstract:temporal", ""},
		{"passthrough:///127.0.0.1:7233", ""},
		{"localhost:7233", ""},
		{"temporal.example.:7233", ""},
		{"localhost", "want host:port"},
		{"frob:///x", "want host:port"},
		{"garbage", "want host:port"},
		{"127.0.0.1", "want host:port"},
		{"127.0.0.1:http", "want host:port"},
		{"127.0.0.1:0", "out of range"},
		{"127.0.0.1:70000", "out of range"},
		{":7233", "no host"},
	} {
		_, err := TemporalOptions(Env{EnvTemporalAddress: tt.addr})
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tt.addr, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), EnvTemporalAddress)):
			t.Errorf("%q: err = %v, want one naming %s and containing %q", tt.addr, err, EnvTemporalAddress, tt.wantErr)
		}
	}
}

func TestEnv(t *testing.T) {
	e := Env{"A": " x ", "B": " "}
	if got := e.Or("A", "d"); got != "x" {
		t.Errorf("Or(A) = %q", got)
	}
	if got := e.Or("B", "d"); got != "d" {
		t.Errorf("Or(B) = %q", got)
	}
	if _, ok := e.LookupEnv("B"); ok {
		t.Error("blank B looked up as set")
	}
}

// What a URL may carry as a credential stays out of logs and errors.
func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"":                                       "",
		"http://127.0.0.1:8095/v1/":              "http://127.0.0.1:8095/v1/",
		"http://user:s3cret@127.0.0.1:8095/v1":   "http://xxxxx@127.0.0.1:8095/v1",
		"https://sk-s3cret@hooks.example/post":   "https://xxxxx@hooks.example/post",
		"https://hooks.example/post?token=s3cr":  "https://hooks.example/post?xxxxx",
		"http://[::1%zone:bad":                   "http://[::1%zone:bad",
		"http://user:s3cret@[::1%zone:bad":       "(not a URL)",
		"127.0.0.1:3001":                         "127.0.0.1:3001",
		"127.0.0.1:3001/?token=s3cret":           "127.0.0.1:3001/?xxxxx",
		"127.0.0.1:3001/#s3cret@x":               "127.0.0.1:3001/#xxxxx",
		"1.2.3.4:3001/x@y?token=s3cret":          "(not a URL)",
		"localhost:3001":                         "localhost:3001",
		"https://h.example/cb#access_token=s3cr": "https://h.example/cb#xxxxx",
		"https://h.example/p?q=s3cr#s3cr":        "https://h.example/p?xxxxx#xxxxx",
		"user:s3cret@127.0.0.1:3001":             "user:xxxxx",
		"http:user:s3cret@host/x":                "http:xxxxx",
		"https://h.example/p#":                   "https://h.example/p", // nothing after #
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExitCode(t *testing.T) {
	bad := Usage(errors.New("HITL_LEDGER_KEEP=-5m0s: want 0 or at least 24h0m0s"))
	for _, tt := range []struct {
		err  error
		code int
	}{
		{nil, 0},
		{errors.New("temporal refused"), ExitError},
		{bad, ExitUsage},
		{fmt.Errorf("worker: %w", bad), ExitUsage},
		{Usage(nil), 0},
	} {
		if got := ExitCode(tt.err); got != tt.code {
			t.Errorf("ExitCode(%v) = %d, want %d", tt.err, got, tt.code)
		}
	}
	if bad.Error() != "HITL_LEDGER_KEEP=-5m0s: want 0 or at least 24h0m0s" {
		t.Errorf("Usage changed the message: %q", bad)
	}
}
