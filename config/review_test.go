package config

import (
	"errors"
	"flag"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// Every bad Temporal boolean is named, not only the first.
func TestTemporalOptionsNamesEveryBadBool(t *testing.T) {
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "none.toml"))
	_, err := TemporalOptions(Env{"TEMPORAL_TLS": "yes", "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION": "on"})
	if err == nil || !strings.Contains(err.Error(), `TEMPORAL_TLS="yes"`) || !strings.Contains(err.Error(), `TEMPORAL_TLS_DISABLE_HOST_VERIFICATION="on"`) {
		t.Errorf("err = %v, want both variables named", err)
	}
}

// The port range is 1 to 65535 exactly, and a host is required.
func TestTemporalAddressBounds(t *testing.T) {
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "none.toml"))
	for _, tt := range []struct{ addr, wantErr string }{
		{"127.0.0.1:1", ""},
		{"127.0.0.1:65535", ""},
		{"127.0.0.1:65536", "out of range"},
		{"127.0.0.1:-1", "out of range"},
		{"[]:7233", "no host"},
	} {
		_, err := TemporalOptions(Env{EnvTemporalAddress: tt.addr})
		if (tt.wantErr == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%q: err = %v, want %q", tt.addr, err, tt.wantErr)
		}
	}
}

// TEMPORAL_GRPC_META_* reach the client as gRPC headers (envconfig finds
// them through Env.Environ), and a profile file envconfig cannot read is an
// error that says it is the Temporal client's configuration.
func TestTemporalOptionsEnvironAndProfileErrors(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(dir, "none.toml"))
	opts, err := TemporalOptions(Env{"TEMPORAL_GRPC_META_X_TENANT": "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if opts.HeadersProvider == nil {
		t.Fatal("TEMPORAL_GRPC_META_X_TENANT: no headers")
	}
	h, err := opts.HeadersProvider.GetHeaders(t.Context())
	if err != nil || h["x-tenant"] != "acme" {
		t.Errorf("headers = %v, %v; want x-tenant: acme", h, err)
	}

	// One set blank removes the profile's header of that name.
	prof := filepath.Join(dir, "prof.toml")
	if err := os.WriteFile(prof, []byte("[profile.default.grpc_meta]\nx-tenant = \"acme\"\nx-team = \"a\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if opts, err = TemporalOptions(Env{"TEMPORAL_CONFIG_FILE": prof, "TEMPORAL_GRPC_META_X_TENANT": " "}); err != nil {
		t.Fatal(err)
	}
	if h, err := opts.HeadersProvider.GetHeaders(t.Context()); err != nil || !maps.Equal(h, map[string]string{"x-team": "a"}) {
		t.Errorf("headers = %v, %v; want only x-team: a", h, err)
	}

	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("[profile.default\naddress = "), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = TemporalOptions(Env{"TEMPORAL_CONFIG_FILE": bad})
	if err == nil || !strings.Contains(err.Error(), "temporal client config") {
		t.Errorf("bad profile file: err = %v, want one saying temporal client config", err)
	}
}

func TestEnvironAndFromOS(t *testing.T) {
	got := Env{"A": "1", "B": "x=y", "C": " padded\t", "D": "  "}.Environ()
	slices.Sort(got)
	if want := []string{"A=1", "B=x=y", "C=padded", "D="}; !reflect.DeepEqual(got, want) {
		t.Errorf("Environ = %q, want %q", got, want)
	}
	t.Setenv("HITL_CONFIG_TEST_FROM_OS", "a=b")
	if v := FromOS()["HITL_CONFIG_TEST_FROM_OS"]; v != "a=b" {
		t.Errorf("FromOS: %q, want a=b", v)
	}
}

// ParseHTTPURL takes only http(s) URLs with a host, and its errors never
// show what the URL may carry as a credential.
func TestParseHTTPURL(t *testing.T) {
	for _, tt := range []struct {
		in      string
		wantErr string
	}{
		{"http://127.0.0.1:8095/v1/", ""},
		{"https://api.openai.com/v1", ""},
		{"ftp://host/x", "want http(s)://host"},
		{"127.0.0.1:8095", "not a URL"},
		{"http:///path", "want http(s)://host"},
		{"http://:8095/v1/", "want http(s)://host"},
		{"https://user@:443/hook", "want http(s)://host"},
		{"http://[::1]:8095/v1/", ""},
		{"/v1/responses", "want http(s)://host"},
		{"unix:///run/x.sock", "want http(s)://host"},
		{"ftp://user:s3cret@host/x?token=s3cret", "want http(s)://host"},
		{"http://user:s3cret@[::1%zone:bad", "not a URL"},
	} {
		u, err := ParseHTTPURL(tt.in)
		switch {
		case tt.wantErr == "" && (err != nil || u.String() != tt.in):
			t.Errorf("%q: %v, %v", tt.in, u, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%q: err = %v, want %q", tt.in, err, tt.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%q: error %q shows the credential", tt.in, err)
		}
	}
}

func TestPolicyErrorsWrap(t *testing.T) {
	dir := t.TempDir()
	// A directory cannot be read as a file: the error keeps the cause.
	_, err := LoadPolicy(dir)
	var pe *fs.PathError
	if err == nil || !errors.As(err, &pe) {
		t.Errorf("LoadPolicy(dir) = %v, want it to wrap the *fs.PathError", err)
	}
	path := filepath.Join(dir, "p.json")
	if err := os.WriteFile(path, []byte(`{"tools":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadPolicy(path)
	var perr *PolicyError
	if !errors.As(err, &perr) || perr.Err == nil || errors.Unwrap(perr) != perr.Err {
		t.Errorf("LoadPolicy(invalid) = %v, want a *PolicyError unwrapping to its cause", err)
	}
}

// WorkerTuningEnv is what compose and devstack prod pass on to the worker.
func TestWorkerTuningEnv(t *testing.T) {
	want := []string{"HITL_WORKFLOW_CACHE", "HITL_LEDGER_KEEP", "HITL_REANNOUNCE_EVERY", "HITL_TOOL_ATTEMPTS", "HITL_MODEL_RETRY_FOR", "HITL_MODEL_TIMEOUT", "GOMEMLIMIT"}
	if got := WorkerTuningEnv(); !reflect.DeepEqual(got, want) {
		t.Errorf("WorkerTuningEnv = %q, want %q", got, want)
	}
}

type otherSignal struct{}

func (otherSignal) String() string { return "other" }
func (otherSignal) Signal()        {}

func TestExitCodeChains(t *testing.T) {
	sentinel := errors.New("HITL_TOOL_ATTEMPTS=0: want at least 1")
	if err := Usage(sentinel); !errors.Is(err, sentinel) {
		t.Errorf("Usage(err) does not wrap err")
	}
	// A usage error is bad input whatever else the chain holds.
	both := errors.Join(Interrupted{Signal: syscall.SIGTERM}, Usage(sentinel))
	if got := ExitCode(both); got != ExitUsage {
		t.Errorf("ExitCode(interrupted and usage) = %d, want %d", got, ExitUsage)
	}
	// A signal that is no syscall.Signal counts as SIGINT.
	if got := ExitCode(Interrupted{Signal: otherSignal{}}); got != 130 {
		t.Errorf("ExitCode(Interrupted{other}) = %d, want 130", got)
	}
	if got := (Interrupted{Signal: syscall.SIGTERM}).Error(); got != "interrupted by terminated" {
		t.Errorf("Interrupted.Error() = %q", got)
	}
}

// The flag package never prints a parse error itself, not even after the
// usage was printed once.
func TestNewFlagSetStaysQuiet(t *testing.T) {
	var stderr strings.Builder
	fs := NewFlagSet("prog", "", &stderr)
	for range 2 {
		if err := fs.Parse([]string{"-bogus"}); err == nil || errors.Is(err, flag.ErrHelp) {
			t.Fatalf("Parse(-bogus) = %v", err)
		}
	}
	if out := stderr.String(); strings.Contains(out, "not defined") {
		t.Errorf("the error was printed: %q", out)
	}
}
