package authserver

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/internal/testutil"
)

// A certificate renewed in place is served from the next handshake on,
// without a restart; a renewal that does not load (caught halfway, a key
// of another certificate) keeps the last good one and says so.
func TestTLSCertificateReloaded(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pool := x509.NewCertPool()
	pool.AddCert(writeSelfSignedTo(t, certFile, keyFile, "first"))
	addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	var logs testutil.SyncBuffer
	s, _, _ := newTestServer(t, func(c *Config) {
		c.Listen, c.Now, c.TLSCertFile, c.TLSKeyFile = addr, nil, certFile, keyFile
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	s.certs.every = 0 // look at the files at each handshake
	ctx := listenAndServe(t, s)
	served := func() string {
		t.Helper()
		d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 2 * time.Second}, Config: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			t.Fatalf("TLS handshake: %v", err)
		}
		defer conn.Close()
		return conn.(*tls.Conn).ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	testutil.Eventually(t, 20*time.Second, "the server listening", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	steps := []struct {
		name  string
		renew func()
		want  string // the certificate's name served after it
		log   string // in the server's log after it
	}{
		{"as started", func() {}, "first", ""},
		{"renewed in place", func() { pool.AddCert(writeSelfSignedTo(t, certFile, keyFile, "second, renewed")) }, "second, renewed", "certificate reloaded"},
		{"unchanged", func() {}, "second, renewed", ""},
		{"caught halfway", func() {
			if err := os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\nAAAA"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "second, renewed", "does not load; still serving the previous certificate"},
		{"a key of another certificate", func() {
			other := t.TempDir()
			writeSelfSignedTo(t, certFile, filepath.Join(other, "key.pem"), "third")
		}, "second, renewed", "private key does not match public key"},
		{"files gone", func() {
			if err := os.Remove(certFile); err != nil {
				t.Fatal(err)
			}
		}, "second, renewed", ""},
		{"renewed again", func() { pool.AddCert(writeSelfSignedTo(t, certFile, keyFile, "fourth")) }, "fourth", "certificate reloaded"},
	}
	for _, st := range steps {
		before := len(logs.String())
		st.renew()
		if got := served(); got != st.want {
			t.Errorf("%s: served %q, want %q", st.name, got, st.want)
		}
		if got := logs.String()[before:]; st.log != "" && !strings.Contains(got, st.log) {
			t.Errorf("%s: log %q, want %q", st.name, got, st.log)
		} else if st.log == "" && strings.Contains(got, "auth server TLS") {
			t.Errorf("%s: log %q, want nothing about TLS", st.name, got)
		}
	}
}
