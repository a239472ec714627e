package devstack

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestStartProcDetach: a detached child is in a process group of its own
// (the terminal's Ctrl-C reaches only the devstack, which stops the
// children in order); one not detached stays in the devstack's.
func TestStartProcDetach(t *testing.T) {
	for _, detach := range []bool{true, false} {
		log := filepath.Join(t.TempDir(), "graceful.log")
		p, err := startProc("graceful", os.Args[0], []string{"-test.run=^$"}, append(os.Environ(), helperEnv+"=graceful"), t.TempDir(), log, detach)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Stop(5 * time.Second) })
		waitLog(t, log, "ready", false)
		pgid, err := syscall.Getpgid(p.Pid())
		if err != nil {
			t.Fatal(err)
		}
		want := syscall.Getpgrp()
		if detach {
			want = p.Pid()
		}
		if pgid != want {
			t.Errorf("detach %v: process group %d, want %d", detach, pgid, want)
		}
	}
}
