package main

import (
	"bytes"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
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

// On a terminal the password is read with echo off, and echo is restored.
func TestReadPasswordTerminalNoEcho(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	t.Cleanup(func() { ptmx.Close(); tty.Close() })

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
	case <-stderr.ready: // the prompt is written after echo is off
	case <-time.After(5 * time.Second):
		t.Fatal("no prompt on the terminal")
	}
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
	termios, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if termios.Lflag&unix.ECHO == 0 {
		t.Errorf("echo not restored")
	}
	tty.Close()
	echoed, _ := io.ReadAll(ptmx) // ends with EIO once the terminal side is closed
	if bytes.Contains(echoed, []byte("tty-secret-1")) {
		t.Errorf("password echoed on the terminal: %q", echoed)
	}
}
