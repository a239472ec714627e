package devstack

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/internal/testutil"
)

// helperEnv makes the test binary act as a child process (see TestMain).
const helperEnv = "DEVSTACK_TEST_HELPER"

// recordEnv names a file the "signals" helper appends its recordNameEnv
// and the signal to when it stops: the order in which a stack stopped its
// parts, and how.
const (
	recordEnv     = "DEVSTACK_TEST_RECORD"
	recordNameEnv = "DEVSTACK_TEST_NAME"
)

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "graceful": // exits 0 on SIGTERM
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM)
		fmt.Println("ready")
		select {
		case <-ch:
			fmt.Println("got SIGTERM")
			os.Exit(0)
		case <-time.After(time.Minute):
			os.Exit(3)
		}
	case "stubborn": // ignores SIGTERM
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ready")
		time.Sleep(time.Minute)
		os.Exit(3)
	case "signals": // exits 0 on SIGTERM or SIGINT, saying which (and recording its name, see recordEnv)
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
		fmt.Println("ready")
		select {
		case sig := <-ch:
			fmt.Printf("got %v\n", sig)
			if path := os.Getenv(recordEnv); path != "" {
				f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
				if err != nil {
					os.Exit(4)
				}
				fmt.Fprintf(f, "%s %v\n", os.Getenv(recordNameEnv), sig)
				f.Close()
			}
			os.Exit(0)
		case <-time.After(time.Minute):
			os.Exit(3)
		}
	case "env": // says where it runs and what it got
		wd, _ := os.Getwd()
		fmt.Printf("cwd=%s\nvar=%s\nparent=%s\n", wd, os.Getenv("DEVSTACK_TEST_VAR"), os.Getenv("DEVSTACK_TEST_PARENT"))
		os.Exit(0)
	case "crash":
		fmt.Println("crashing")
		fmt.Fprintln(os.Stderr, "worker: HITL_REANNOUNCE_EVERY=\"10\": want a duration")
		os.Exit(7)
	}
	os.Exit(2)
}

func startHelper(t *testing.T, mode string) (*proc, string) {
	t.Helper()
	log := filepath.Join(t.TempDir(), mode+".log")
	p, err := startProc(mode, os.Args[0], []string{"-test.run=^$"}, append(os.Environ(), helperEnv+"="+mode), t.TempDir(), log, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(time.Second) })
	waitLog(t, log, "ready", mode == "crash")
	return p, log
}

// waitLog polls the log until it contains want (or, for a crashing
// helper, until the process wrote anything).
func waitLog(t *testing.T, path, want string, any bool) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, fmt.Sprintf("%s to log %q", path, want), func() bool {
		data, _ := os.ReadFile(path)
		return strings.Contains(string(data), want) || any && strings.Contains(string(data), "crashing")
	})
}

func TestProcStop(t *testing.T) {
	t.Run("graceful", func(t *testing.T) {
		p, log := startHelper(t, "graceful")
		if err := p.Stop(10 * time.Second); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		select {
		case <-p.Exited():
		default:
			t.Fatal("Exited not closed after Stop")
		}
		if p.Err() != nil {
			t.Errorf("exit error %v, want a clean exit", p.Err())
		}
		waitLog(t, log, "got SIGTERM", false)
		if err := p.Stop(time.Second); err != nil {
			t.Errorf("second Stop: %v", err)
		}
	})
	t.Run("stubborn is killed", func(t *testing.T) {
		p, _ := startHelper(t, "stubborn")
		err := p.Stop(300 * time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("Stop = %v, want a killed error", err)
		}
	})
	t.Run("crash is reported", func(t *testing.T) {
		p, _ := startHelper(t, "crash")
		select {
		case <-p.Exited():
		case <-time.After(10 * time.Second):
			t.Fatal("crashing helper did not exit")
		}
		if p.Err() == nil || !strings.Contains(p.Err().Error(), "exit status 7") {
			t.Errorf("Err = %v, want exit status 7", p.Err())
		}
		if err := waitStaysUp(t.Context(), p, time.Second); err == nil {
			t.Error("waitStaysUp accepted a dead process")
		}
	})
	t.Run("missing binary", func(t *testing.T) {
		if _, err := startProc("none", filepath.Join(t.TempDir(), "nope"), nil, nil, t.TempDir(), filepath.Join(t.TempDir(), "x.log"), true); err == nil {
			t.Error("startProc of a missing binary: no error")
		}
	})
}

func TestWaitStaysUp(t *testing.T) {
	p, _ := startHelper(t, "graceful")
	if err := waitStaysUp(t.Context(), p, 200*time.Millisecond); err != nil {
		t.Errorf("waitStaysUp: %v", err)
	}
}

// TestExitedDuringStartupSaysWhy: the error names the exit status and the
// last line the program wrote, where the stack's programs say why.
func TestExitedDuringStartupSaysWhy(t *testing.T) {
	p, _ := startHelper(t, "crash")
	<-p.Exited()
	err := p.exitedDuringStartup()
	if want := `crash exited during startup: exit status 7: worker: HITL_REANNOUNCE_EVERY="10": want a duration`; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
	if got := lastLine(filepath.Join(t.TempDir(), "none.log")); got != "" {
		t.Errorf("lastLine of a missing file = %q", got)
	}
	// A process that wrote nothing: only startProc's header is there.
	silent := filepath.Join(t.TempDir(), "silent.log")
	if err := os.WriteFile(silent, []byte("\n=== 2026-12-06T08:00:00Z: /bin/x []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := lastLine(silent); got != "" {
		t.Errorf("lastLine of a silent process's log = %q, want none", got)
	}
}
