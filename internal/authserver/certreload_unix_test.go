//go:build unix

package authserver

import (
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/internal/testutil"
)

// A check whose read of the files hangs (a stalled network mount; here a
// FIFO no one writes) holds up no other handshake: they are served the
// pair they were.
func TestCertReloaderReadHangs(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writePair(t, certFile, keyFile, selfSignedPair(t, "first", [2][]byte{}), time.Now())
	c, err := newCertReloader(certFile, keyFile, slog.New(slog.DiscardHandler), time.Now)
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
	t.Cleanup(func() {
		// Opening the FIFO's other end, and closing it, ends the read.
		if f, err := os.OpenFile(certFile, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		<-hung
	})
	testutil.Eventually(t, 10*time.Second, "a check reading the FIFO", func() bool {
		if c.mu.TryLock() {
			c.mu.Unlock()
			return false
		}
		return true
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
}
