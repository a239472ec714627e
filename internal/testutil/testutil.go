// Package testutil holds the helpers that tests across the module share:
// polling a condition instead of sleeping (until it holds, or while it
// must keep holding), a goroutine-safe output buffer, a spare loopback
// port, a server that never answers, the module's root, and the digest
// `approver list` shows for a request. It depends only on spareport, so
// any package's tests may import it.
package testutil

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/internal/spareport"
)

// PollInterval is how often WaitFor checks its condition.
const PollInterval = 20 * time.Millisecond

// WaitFor polls cond every PollInterval until it holds, and fails the test
// with what (and cond's last error, if any) after timeout. cond may return
// a nil error while it waits.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond()
		if ok {
			return
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			if last != nil {
				t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, last)
			}
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(PollInterval)
	}
}

// Eventually is WaitFor for a condition that has no error to report.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	WaitFor(t, timeout, what, func() (bool, error) { return cond(), nil })
}

// Consistently checks cond every PollInterval for d, and fails the test
// with what the first time it does not hold: the check that something
// stays true (no duplicate arrives, a connection stays up) for a while.
func Consistently(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(PollInterval) {
		if !cond() {
			t.Fatalf("%s did not hold for %s", what, d)
		}
		if time.Now().After(deadline) {
			return
		}
	}
}

// SyncBuffer is an io.Writer that is safe to read while another goroutine
// (a process's output, a CLI under test) writes to it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far, with carriage returns removed
// (a pty writes "\r\n").
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.ReplaceAll(b.buf.String(), "\r", "")
}

// FreePort returns a loopback TCP port that was free a moment ago, below
// the kernel's ephemeral range, so that no outgoing connection takes it
// before the test's server binds it (spareport).
func FreePort(t testing.TB) int {
	t.Helper()
	ports, err := spareport.Pick("127.0.0.1", 1, spareport.BelowEphemeral())
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	return ports[0]
}

// ModuleRoot is the nearest directory above the working directory that
// holds go.mod: the module's root, since tests run in their package's
// directory. It fails the test when there is none.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// SilentServer is the host:port of a loopback listener that takes
// connections and never answers on them: a service that hangs.
func SilentServer(t testing.TB) string {
	t.Helper()
	addr, _ := SilentServerConns(t)
	return addr
}

// SilentServerConns is SilentServer with the number of connections it has
// taken so far, so that a test can wait (Eventually) until the program
// under test is waiting on it.
func SilentServerConns(t testing.TB) (addr string, taken func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var n atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			n.Add(1)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String(), func() int { return int(n.Load()) }
}

// WaitClosed polls, for at most timeout, until a TCP dial to addr fails
// (its listener closed), and reports whether it did. It does not fail the
// test, so a server's handler or a client's callback may call it off the
// test's goroutine.
func WaitClosed(addr string, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(PollInterval) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return true
		}
		c.Close()
	}
	return false
}
