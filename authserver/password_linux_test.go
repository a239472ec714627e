package main

import (
	"bytes"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/hitl/durable-approvals/internal/testutil"
)

// signalWriter records writes and closes ready on the first one.
type signalWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	once  sync.Once
	ready chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.once.Do(func() { close(w.ready) })
	return w.buf.Write(p)
}

func echoOn(t *testing.T, fd uintptr) bool {
	t.Helper()
	termios, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return termios.Lflag&unix.ECHO != 0
}

// On a terminal the password is read with echo off, and echo is restored.
func TestReadPasswordTerminalNoEcho(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	if !echoOn(t, tty.Fd()) {
		t.Fatal("a new pty has echo off; the test would prove nothing")
	}

	stderr := &signalWriter{ready: make(chan struct{})}
	type result struct {
		pw  string
		err error
	}
	done := make(chan result, 1)
	go func() {
		pw, err := readPassword(tty, stderr)
		done <- result{pw, err}
	}()
	select {
	case <-stderr.ready:
	case <-time.After(5 * time.Second):
		t.Fatal("no prompt on the terminal")
	}
	// A person types after the prompt; the test waits until echo is off
	// (x/term turns it off right after the prompt) so it cannot win a race
	// no person could.
	testutil.Eventually(t, 5*time.Second, "echo off on the terminal", func() bool { return !echoOn(t, tty.Fd()) })
	if _, err := ptmx.Write([]byte("tty-secret-1\n")); err != nil {
		t.Fatal(err)
	}
	var res result
	select {
	case res = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("readPassword did not return")
	}
	if res.err != nil || res.pw != "tty-secret-1" {
		t.Fatalf("readPassword = %q, %v; want tty-secret-1", res.pw, res.err)
	}
	if !echoOn(t, tty.Fd()) {
		t.Errorf("echo not restored")
	}
	tty.Close()
	echoed, _ := io.ReadAll(ptmx) // ends with EIO once the terminal side is closed
	if bytes.Contains(echoed, []byte("tty-secret-1")) {
		t.Errorf("password echoed on the terminal: %q", echoed)
	}
	if !bytes.Contains(echoed, []byte("Password: ")) && !bytes.Contains(stderr.buf.Bytes(), []byte("Password: ")) {
		t.Errorf("no prompt written")
	}
}
