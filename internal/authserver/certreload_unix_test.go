//go:build unix

package authserver

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/internal/testutil"
)

// A check whose read of the files hangs (a stalled network mount; here a
// FIFO no one writes) holds up no other handshake: they are served the
// pair they were; one that finds it reading for certReadStall says so, once,
// and the check's return is said too.
func TestCertReloaderReadHangs(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writePair(t, certFile, keyFile, selfSignedPair(t, "first", [2][]byte{}), time.Now())
	var clock atomic.Int64 // the reloader's now, Unix nanoseconds
	clock.Store(time.Now().UnixNano())
	var logs testutil.SyncBuffer
	c, err := newCertReloader(certFile, keyFile, slog.New(slog.NewTextHandler(&logs, nil)), func() time.Time { return time.Unix(0, clock.Load()) })
	if err != nil {
		t.Fatal(err)
	}
	c.every = 0
	if err := os.Remove(certFile); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(certFile, 0o600); err != nil {
		t.Fatal(err)
	}
	hung := make(chan struct{})
	go func() {
		defer close(hung)
		_, _ = c.GetCertificate(nil)
	}()
	unblock := func() {
		// Opening the FIFO's other end, and closing it, ends the read.
		if f, err := os.OpenFile(certFile, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		<-hung
	}
	t.Cleanup(func() {
		select {
		case <-hung:
		default:
			unblock()
		}
	})
	// The check holds c.mu a moment before it notes when its read began,
	// which is what a handshake measures the stall from: wait for that
	// (it is set, and c.mu held, until the read returns).
	testutil.Eventually(t, 10*time.Second, "a check reading the FIFO", func() bool {
		return c.readingSince.Load() != 0
	})
	served := make(chan string, 1)
	go func() {
		cert, err := c.GetCertificate(nil)
		if err != nil {
			served <- err.Error()
			return
		}
		served <- cert.Leaf.Subject.CommonName
	}()
	select {
	case got := <-served:
		if got != "first" {
			t.Errorf("served %q while a check hangs, want %q", got, "first")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a handshake still waits, 10 s on, for a check whose read hangs")
	}
	if strings.Contains(logs.String(), "auth server TLS") {
		t.Errorf("logged before certReadStall:\n%s", logs.String())
	}
	for range 3 {
		clock.Add(int64(certReadStall))
		if _, err := c.GetCertificate(nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(logs.String(), "has not returned"); n != 1 {
		t.Errorf("a read stalled past certReadStall said %d times, want once:\n%s", n, logs.String())
	}
	unblock()
	if !strings.Contains(logs.String(), "stalled returned") {
		t.Errorf("the stalled check's return not said:\n%s", logs.String())
	}
}
