package config

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// envStopHelper makes TestStopRestoresSignals's own binary, run again, a
// process that stops its NotifyContext and then sends itself SIGTERM.
const envStopHelper = "HITL_CONFIG_TEST_STOP_HELPER"

// After stop, a signal has its default action again: the process dies of
// it, rather than a channel nobody reads swallowing it.
func TestStopRestoresSignals(t *testing.T) {
	if os.Getenv(envStopHelper) == "1" {
		_, stop := NotifyContext()
		stop()
		_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
		// Only reached when the signal was swallowed; the bound is not
		// what the test measures.
		time.Sleep(10 * time.Second)
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStopRestoresSignals$")
	cmd.Env = append(os.Environ(), envStopHelper+"=1")
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("helper: %v, want it killed by SIGTERM", err)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Errorf("helper: %v, want it killed by SIGTERM", err)
	}
}
