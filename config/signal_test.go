package config

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// envNotifyHelper makes TestSecondSignalExitStatus's own binary, run again,
// be a main with NotifyContext whose graceful stop takes 30 s.
const envNotifyHelper = "HITL_CONFIG_TEST_NOTIFY_HELPER"

func notifyHelper() {
	ctx, stop := NotifyContext()
	defer stop()
	fmt.Println("ready")
	<-ctx.Done()
	fmt.Println("stopping")
	time.Sleep(30 * time.Second)
	os.Exit(0)
}

// TestSecondSignalExitStatus: a second SIGTERM during the graceful stop
// ends the process with status 143 (128 + 15), as a shell reports a
// process SIGTERM killed; also when the process is PID 1 of its PID
// namespace, as the compose images run the mains (no init): there the
// signal's default action is refused by the kernel and Go's runtime
// exits 2, the status of bad input (ExitUsage), which a supervisor told
// not to restart on 2 would take for a bad setting.
func TestSecondSignalExitStatus(t *testing.T) {
	if os.Getenv(envNotifyHelper) == "1" {
		notifyHelper()
		return
	}
	self := []string{os.Args[0], "-test.run=^TestSecondSignalExitStatus$"}
	t.Run("process", func(t *testing.T) {
		cmd := exec.Command(self[0], self[1:]...)
		secondSignal(t, cmd, func() *os.Process { return cmd.Process })
	})
	t.Run("pid1", func(t *testing.T) {
		unshare, err := exec.LookPath("unshare")
		if err != nil || os.Geteuid() != 0 {
			t.Skip("needs root and unshare(1) to run a process as PID 1 of a PID namespace")
		}
		if err := exec.Command(unshare, "--pid", "--fork", "true").Run(); err != nil {
			t.Skipf("unshare --pid: %v", err)
		}
		cmd := exec.Command(unshare, append([]string{"--pid", "--fork", "--kill-child"}, self...)...)
		secondSignal(t, cmd, func() *os.Process {
			// unshare --fork waits for its child, the namespace's PID 1.
			out, err := exec.Command("pgrep", "-P", fmt.Sprint(cmd.Process.Pid)).Output()
			if err != nil {
				t.Fatalf("find unshare's child: %v", err)
			}
			var pid int
			if _, err := fmt.Sscan(strings.TrimSpace(string(out)), &pid); err != nil {
				t.Fatalf("unshare's child %q: %v", out, err)
			}
			p, err := os.FindProcess(pid)
			if err != nil {
				t.Fatal(err)
			}
			return p
		})
	})
}

// secondSignal starts cmd (the helper), sends the process target names two
// SIGTERMs, the second once the graceful stop is under way, and wants cmd
// to exit with status 143 at once.
func secondSignal(t *testing.T, cmd *exec.Cmd, target func() *os.Process) {
	t.Helper()
	cmd.Env = append(os.Environ(), envNotifyHelper+"=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 4)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			lines <- s.Text()
		}
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})
	want := func(line string) {
		select {
		case got := <-lines:
			if got != line {
				t.Fatalf("helper said %q, want %q", got, line)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("helper did not say %q", line)
		}
	}
	want("ready")
	p := target()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	want("stopping")
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 128+int(syscall.SIGTERM) {
			t.Fatalf("after the second SIGTERM: %v, want exit status %d", err, 128+int(syscall.SIGTERM))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second SIGTERM did not end the process")
	}
}

// A signal's NotifyContext names it as the context's cause, and an error
// wrapping that cause exits 128 and the signal's number; stop cancels the
// context without one.
func TestNotifyContextCause(t *testing.T) {
	ctx, stop := NotifyContext()
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		stop()
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		stop()
		t.Fatal("SIGTERM did not cancel the context")
	}
	stop() // before any other signal could end the test binary
	var in Interrupted
	if cause := context.Cause(ctx); !errors.As(cause, &in) || in.Signal != syscall.SIGTERM {
		t.Fatalf("cause = %v, want Interrupted by SIGTERM", cause)
	}
	if code := ExitCode(fmt.Errorf("stopped waiting (%w)", context.Cause(ctx))); code != 143 {
		t.Errorf("exit status %d, want 143", code)
	}
	if code := ExitCode(Interrupted{Signal: os.Interrupt}); code != 130 {
		t.Errorf("SIGINT: exit status %d, want 130", code)
	}

	ctx2, stop2 := NotifyContext()
	stop2()
	if cause := context.Cause(ctx2); !errors.Is(cause, context.Canceled) {
		t.Errorf("cause after stop = %v, want context.Canceled", cause)
	}
}
