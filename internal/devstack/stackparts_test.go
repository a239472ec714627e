package devstack

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/testutil"
)

// stopRecord is a file the "signals" helpers started with recordTo, and
// the in-process stops of recordStop, append to as they stop.
func stopRecord(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "stopped")
}

// recordTo is the environment that has a "signals" helper record its stop.
func recordTo(path string) string { return recordEnv + "=" + path }

// recordStop is an in-process part's stop that records name.
func recordStop(path, name string) func() error {
	return func() error {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		fmt.Fprintf(f, "%s in process\n", name)
		return f.Close()
	}
}

func recorded(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// TestStackClose: Close stops the bridge, then the worker (the reverse of
// their start, each with SIGTERM), then the in-process servers in reverse,
// then Temporal; it releases the work directory; a second Close does
// nothing.
func TestStackClose(t *testing.T) {
	rec := stopRecord(t)
	worker, _ := startNamed(t, "signals", ChildWorker, recordTo(rec))
	bridge, _ := startNamed(t, "signals", ChildBridge, recordTo(rec))
	temporal, _ := startNamed(t, "signals", "temporal", recordTo(rec))
	state := t.TempDir()
	unlock, err := lockState(state)
	if err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(t.TempDir(), "devstack.log"))
	if err != nil {
		t.Fatal(err)
	}
	st := &Stack{children: []*proc{worker, bridge}, temporal: temporal, unlock: unlock, logFile: logFile,
		inproc: []func() error{recordStop(rec, "ably"), recordStop(rec, "auth"), recordStop(rec, "model")}}
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	want := []string{"bridge terminated", "worker terminated", "model in process", "auth in process", "ably in process", "temporal terminated"}
	if got := recorded(t, rec); !slices.Equal(got, want) {
		t.Errorf("stopped %q, want %q", got, want)
	}
	if _, err := logFile.WriteString("x"); err == nil {
		t.Error("the log file is still open")
	}
	release, err := lockState(state)
	if err != nil {
		t.Fatalf("the work directory is still locked: %v", err)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if got := recorded(t, rec); len(got) != len(want) {
		t.Errorf("second Close stopped more: %q", got)
	}
}

// TestStackWaitAndChildPid: Wait names a part that died, the dev server
// too; ChildPid gives the pid of a running child only.
func TestStackWaitAndChildPid(t *testing.T) {
	worker, _ := startNamed(t, "signals", ChildWorker)
	bridge, _ := startHelper(t, "crash")
	<-bridge.Exited()
	bridge.name = ChildBridge
	st := &Stack{children: []*proc{worker, bridge}}
	for _, tt := range []struct {
		name    string
		wantPid int
		wantOK  bool
	}{
		{ChildWorker, worker.Pid(), true},
		{ChildBridge, 0, false}, // exited
		{"approver", 0, false},  // none
	} {
		if pid, ok := st.ChildPid(tt.name); pid != tt.wantPid || ok != tt.wantOK {
			t.Errorf("ChildPid(%s) = %d, %v; want %d, %v", tt.name, pid, ok, tt.wantPid, tt.wantOK)
		}
	}

	temporal, _ := startHelper(t, "crash")
	<-temporal.Exited()
	temporal.name = "temporal"
	st = &Stack{cfg: Config{Work: "/w"}, children: []*proc{worker}, temporal: temporal}
	if err := st.Wait(t.Context()); err == nil || !strings.HasPrefix(err.Error(), "temporal exited unexpectedly") || !strings.Contains(err.Error(), "/w/state/logs/temporal.log") {
		t.Errorf("Wait = %v, want the dev server named, with its log", err)
	}
}

// TestCheckPortsFree: a port the stack binds that is taken on 127.0.0.1 is
// an error naming its flag; the model's port only with the scripted model,
// Temporal's only when the stack starts the dev server; a port taken on
// another address is no conflict (the stack binds 127.0.0.1 only).
func TestCheckPortsFree(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taken.Close() })
	port := taken.Addr().(*net.TCPAddr).Port
	free := func() Ports {
		return Ports{Temporal: testutil.FreePort(t), UI: testutil.FreePort(t), Ably: testutil.FreePort(t), Auth: testutil.FreePort(t), Model: testutil.FreePort(t)}
	}
	tests := []struct {
		name    string
		env     config.Env
		set     func(c *Config)
		wantErr string // "": none
	}{
		{"all free", nil, func(c *Config) {}, ""},
		{"temporal", nil, func(c *Config) { c.Ports.Temporal = port }, "--temporal-port"},
		{"ui", nil, func(c *Config) { c.Ports.UI = port }, "--ui-port"},
		{"ably", nil, func(c *Config) { c.Ports.Ably = port }, "--ably-port"},
		{"auth", nil, func(c *Config) { c.Ports.Auth = port }, "--auth-port"},
		{"model, scripted", nil, func(c *Config) { c.Ports.Model = port }, "--model-port"},
		{"model, OpenAI", config.Env{"OPENAI_API_KEY": "sk-x"}, func(c *Config) { c.Ports.Model = port }, ""},
		{"temporal, a server given", nil, func(c *Config) { c.Ports.Temporal, c.TemporalServer = port, "127.0.0.1:7233" }, ""},
		{"ui, a server given", nil, func(c *Config) { c.Ports.UI, c.TemporalServer = port, "127.0.0.1:7233" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testConfig(t, tt.env)
			c.Ports = free()
			tt.set(&c)
			err := checkPortsFree(c)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("checkPortsFree = %v, want nil", err)
				}
				return
			}
			want := fmt.Sprintf("port %d is in use (is another stack running? choose another with %s)", port, tt.wantErr)
			if err == nil || err.Error() != want {
				t.Errorf("checkPortsFree = %v, want %s", err, want)
			}
		})
	}
	t.Run("taken on another loopback address", func(t *testing.T) {
		other, err := net.Listen("tcp", "127.0.0.2:0")
		if err != nil {
			t.Skipf("no 127.0.0.2 here: %v", err)
		}
		defer other.Close()
		c := testConfig(t, nil)
		c.Ports = free()
		c.Ports.Ably = other.Addr().(*net.TCPAddr).Port
		if err := checkPortsFree(c); err != nil {
			t.Errorf("checkPortsFree = %v, want nil: the stack binds 127.0.0.1 only", err)
		}
	})
}

// TestEnsureUsers: the auth server's users file is written when the
// secrets are new (even over an older file: its passwords are not the
// new ones) or when it is missing, and otherwise left as it is.
func TestEnsureUsers(t *testing.T) {
	for _, tt := range []struct {
		name        string
		created     bool
		fileBefore  bool
		wantRewrite bool
	}{
		{"new secrets, no file", true, false, true},
		{"new secrets, an older file", true, true, true},
		{"kept secrets, no file", false, false, true},
		{"kept secrets, the file", false, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := testConfig(t, config.Env{})
			s, _, err := loadOrCreateSecrets(c.StateDir(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			var before []byte
			if tt.fileBefore {
				if err := ensureUsers(c, s, true); err != nil {
					t.Fatal(err)
				}
				if before, err = os.ReadFile(c.UsersFile()); err != nil {
					t.Fatal(err)
				}
			}
			if err := ensureUsers(c, s, tt.created); err != nil {
				t.Fatalf("ensureUsers: %v", err)
			}
			after, err := os.ReadFile(c.UsersFile())
			if err != nil {
				t.Fatalf("users file: %v", err)
			}
			if rewritten := !bytes.Equal(before, after); rewritten != tt.wantRewrite {
				t.Errorf("users file rewritten %v, want %v", rewritten, tt.wantRewrite)
			}
			for _, u := range s.Users {
				if !bytes.Contains(after, []byte(`"`+u.Name+`"`)) || bytes.Contains(after, []byte(u.Password)) {
					t.Errorf("users file: want %s, without the password:\n%s", u.Name, after)
				}
			}
		})
	}
}

// TestStackSummary: the summary shows the passwords only when this run
// made them, never the Ably key or the signing key, and paths under the
// repository relative to it, others whole.
func TestStackSummary(t *testing.T) {
	c := testConfig(t, config.Env{})
	s, _, err := loadOrCreateSecrets(c.StateDir(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	outside := c
	outside.Work = t.TempDir()
	for _, tt := range []struct {
		name          string
		cfg           Config
		created       bool
		wantPasswords bool
		wantLogs      string
	}{
		{"new secrets", c, true, true, filepath.Join(".devstack", "logs")},
		{"kept secrets", c, false, false, filepath.Join(".devstack", "logs")},
		{"a work directory outside the repository", outside, false, false, outside.LogDir()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			(&Stack{cfg: tt.cfg, secrets: s, created: tt.created}).Summary(&b)
			out := b.String()
			for _, u := range s.Users {
				if got := strings.Contains(out, u.Password); got != tt.wantPasswords {
					t.Errorf("password of %s shown %v, want %v", u.Name, got, tt.wantPasswords)
				}
			}
			for _, secret := range []string{s.AblyKey, s.SigningKey, strings.TrimPrefix(s.AblyKey, "devstack.local:")} {
				if strings.Contains(out, secret) {
					t.Errorf("summary shows a key:\n%s", out)
				}
			}
			if want := "  Logs            " + tt.wantLogs + "\n"; !strings.Contains(out, want) {
				t.Errorf("summary lacks %q:\n%s", want, out)
			}
		})
	}
}

// TestRestartWorkerStops: RestartWorker sends the signal given and waits
// for the old worker's exit before it starts a new one (here one that
// cannot start); a worker still there after the grace is an error, and so
// is a stack without one.
func TestRestartWorkerStops(t *testing.T) {
	t.Run("the old worker exits", func(t *testing.T) {
		rec := stopRecord(t)
		worker, _ := startNamed(t, "signals", ChildWorker, recordTo(rec))
		st := &Stack{cfg: Config{Work: t.TempDir()}, children: []*proc{worker}, bins: map[string]string{BinWorker: filepath.Join(t.TempDir(), "none")}}
		err := st.RestartWorker(t.Context(), syscall.SIGINT, 10*time.Second)
		if err == nil || !strings.HasPrefix(err.Error(), "restart the worker: worker: log file") { // no log directory: the new one cannot start
			t.Errorf("RestartWorker = %v, want the new worker's start to fail", err)
		}
		if got := recorded(t, rec); !slices.Equal(got, []string{"worker interrupt"}) {
			t.Errorf("the old worker got %q, want SIGINT", got)
		}
	})
	t.Run("the old worker stays", func(t *testing.T) {
		worker, _ := startNamed(t, "stubborn", ChildWorker)
		st := &Stack{children: []*proc{worker}}
		err := st.RestartWorker(t.Context(), syscall.SIGTERM, 100*time.Millisecond)
		if want := fmt.Sprintf("the worker (pid %d) did not exit within 100ms of terminated", worker.Pid()); err == nil || err.Error() != want {
			t.Errorf("RestartWorker = %v, want %s", err, want)
		}
		select {
		case <-worker.Exited():
			t.Error("RestartWorker waited for the worker beyond the grace")
		default:
		}
	})
	t.Run("no worker", func(t *testing.T) {
		if err := (&Stack{}).RestartWorker(t.Context(), syscall.SIGTERM, time.Second); err == nil || err.Error() != "the stack has no worker" {
			t.Errorf("RestartWorker = %v", err)
		}
	})
}

// TestWaitHTTPOK: only a 200 is healthy; until then the last answer is
// said once the time is up.
func TestWaitHTTPOK(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/later" && calls.Add(1) > 1 {
			return // 200
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	if err := waitHTTPOK(t.Context(), srv.URL+"/later", 10*time.Second); err != nil {
		t.Errorf("waitHTTPOK of a server that becomes healthy: %v", err)
	}
	err := waitHTTPOK(t.Context(), srv.URL+"/never", 300*time.Millisecond)
	if want := srv.URL + "/never not healthy after 300ms: status 503 Service Unavailable"; err == nil || err.Error() != want {
		t.Errorf("waitHTTPOK = %v, want %s", err, want)
	}
}
