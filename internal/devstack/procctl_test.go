package devstack

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/internal/testutil"
)

// startNamed starts the test binary as helper mode under name, with extra
// environment variables, its log in a new directory, and stops it when the
// test ends.
func startNamed(t *testing.T, mode, name string, extra ...string) (*proc, string) {
	t.Helper()
	log := filepath.Join(t.TempDir(), name+".log")
	env := append(os.Environ(), helperEnv+"="+mode, recordNameEnv+"="+name)
	p, err := startProc(name, os.Args[0], []string{"-test.run=^$"}, append(env, extra...), t.TempDir(), log, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.kill() })
	waitLog(t, log, "ready", false)
	return p, log
}

// TestStartProcEnvDirAndLog: a child gets exactly the environment given
// (nothing of the devstack's own), runs in the directory given, and its
// log is the user's alone (0600).
func TestStartProcEnvDirAndLog(t *testing.T) {
	t.Setenv("DEVSTACK_TEST_PARENT", "leaked")
	dir := t.TempDir()
	log := filepath.Join(t.TempDir(), "env.log")
	p, err := startProc("env", os.Args[0], []string{"-test.run=^$"}, []string{helperEnv + "=env", "DEVSTACK_TEST_VAR=given"}, dir, log, true)
	if err != nil {
		t.Fatal(err)
	}
	<-p.Exited()
	if p.Err() != nil {
		t.Fatalf("helper: %v", p.Err())
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cwd=" + realDir + "\n", "var=given\n", "parent=\n"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("log lacks %q:\n%s", want, data)
		}
	}
	fi, err := os.Stat(log)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("log mode %v, want 0600", m)
	}
}

// TestStopSignals: Stop sends SIGTERM (what the stack's programs drain
// on), PostgreSQL's stopFast SIGINT (its fast shutdown); a process that
// exits on it is no error, and a second stop does nothing.
func TestStopSignals(t *testing.T) {
	for _, tt := range []struct {
		name string
		stop func(p *proc) error
		want string
	}{
		{"Stop", func(p *proc) error { return p.Stop(10 * time.Second) }, "got terminated"},
		{"stopFast", func(p *proc) error {
			pg := &postgres{proc: p}
			err := pg.stopFast(10 * time.Second)
			if pg.proc != nil {
				t.Error("stopFast left the process set")
			}
			if err := pg.stopFast(time.Second); err != nil {
				t.Errorf("second stopFast: %v", err)
			}
			return err
		}, "got interrupt"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, log := startNamed(t, "signals", "signals")
			if err := tt.stop(p); err != nil {
				t.Fatalf("stop: %v", err)
			}
			if p.Err() != nil {
				t.Errorf("exit %v, want a clean one", p.Err())
			}
			if data, _ := os.ReadFile(log); !strings.Contains(string(data), tt.want+"\n") {
				t.Errorf("log lacks %q:\n%s", tt.want, data)
			}
			if err := p.Stop(time.Second); err != nil {
				t.Errorf("Stop after the exit: %v", err)
			}
		})
	}
}

// TestStopKillsAStubbornProcess: a process still there after the grace
// is killed, not waited for.
func TestStopKillsAStubbornProcess(t *testing.T) {
	p, _ := startNamed(t, "stubborn", "stubborn")
	err := p.Stop(100 * time.Millisecond)
	if err == nil || err.Error() != "stubborn did not stop within 100ms; killed" {
		t.Errorf("Stop = %v, want it to say it killed stubborn", err)
	}
	if p.Err() == nil || p.Err().Error() != "signal: killed" {
		t.Errorf("exit %v, want signal: killed", p.Err())
	}
}

// TestWaitAll: waitAll skips the parts not started, returns nil once ctx
// is done (Ctrl-C is no failure), and names the part that died and its log.
func TestWaitAll(t *testing.T) {
	t.Run("ctx done", func(t *testing.T) {
		p, _ := startNamed(t, "signals", "running")
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := waitAll(ctx, []*proc{nil, p, nil}, "/logs"); err != nil {
			t.Errorf("waitAll = %v, want nil", err)
		}
	})
	t.Run("a part dies", func(t *testing.T) {
		running, _ := startNamed(t, "signals", "running")
		dead, _ := startHelper(t, "crash")
		err := waitAll(t.Context(), []*proc{running, nil, dead}, "/logs")
		if want := "crash exited unexpectedly (exit status 7); see /logs/crash.log"; err == nil || err.Error() != want {
			t.Errorf("waitAll = %v, want %s", err, want)
		}
	})
}

// TestLastLine: the last line of a log of any length, whole up to 500
// bytes, and quoted when it holds control characters.
func TestLastLine(t *testing.T) {
	long := strings.Repeat("x", 600)
	mid := strings.Repeat("why ", 75) // 300 bytes
	for _, tt := range []struct {
		name, log, want string
	}{
		{"a line of 300 bytes", "=== header\n" + mid + "\n", strings.TrimSpace(mid)},
		{"a line of 600 bytes", "=== header\n" + long + "\n", long[:500] + "…"},
		{"the end of a long log", "=== header\n" + strings.Repeat("earlier line\n", 1000) + "the reason\n\n", "the reason"},
		{"control characters", "=== header\nbad \x1b[2J line\n", `"bad \x1b[2J line"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.log")
			if err := os.WriteFile(path, []byte(tt.log), 0o600); err != nil {
				t.Fatal(err)
			}
			if got := lastLine(path); got != tt.want {
				t.Errorf("lastLine = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestWaitTCP: waitTCP is done once the address accepts a connection, says
// at once why a process that exited did, and names the address once the
// time is up.
func TestWaitTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	running, _ := startNamed(t, "signals", "postgres")
	if err := waitTCP(t.Context(), ln.Addr().String(), running, 10*time.Second); err != nil {
		t.Errorf("waitTCP of a listening address: %v", err)
	}
	closed := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	crashed, _ := startHelper(t, "crash")
	<-crashed.Exited()
	if err := waitTCP(t.Context(), closed, crashed, time.Minute); err == nil || !strings.HasPrefix(err.Error(), "crash exited during startup: exit status 7: worker:") {
		t.Errorf("waitTCP of an exited process = %v, want its exit", err)
	}
	err = waitTCP(t.Context(), closed, running, 300*time.Millisecond)
	if want := "postgres not listening on " + closed + " after 300ms: "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("waitTCP = %v, want %q", err, want)
	}
}
