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
	"sync"
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
		c.AllowPlaintext = true // which TLS makes moot: said at start
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
	// Its log says it listens after the warning; the port takes a
	// connection before either (ListenAndServe binds, then serves).
	testutil.Eventually(t, 20*time.Second, "the server listening", func() bool {
		return strings.Contains(logs.String(), "auth server listening")
	})

	if got := strings.Count(logs.String(), "plain HTTP is allowed (insecure-allow-plaintext) but has no effect"); got != 1 {
		t.Errorf("the setting TLS makes moot said %d times at start, want once:\n%s", got, logs.String())
	}

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

// selfSignedPair is a new certificate for cn and its key, as the PEM files
// writeSelfSignedTo writes, in the sizes of like, when like is given
// (renewals of one key type often are: only the mtime would tell them
// apart, and not when a copy keeps it or the clock's tick is coarse).
func selfSignedPair(t *testing.T, cn string, like [2][]byte) [2][]byte {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for range 200 {
		writeSelfSignedTo(t, certFile, keyFile, cn)
		var p [2][]byte
		var err error
		if p[0], err = os.ReadFile(certFile); err != nil {
			t.Fatal(err)
		}
		if p[1], err = os.ReadFile(keyFile); err != nil {
			t.Fatal(err)
		}
		if like[0] == nil || len(p[0]) == len(like[0]) && len(p[1]) == len(like[1]) {
			return p
		}
	}
	t.Fatal("no certificate of the size wanted")
	return [2][]byte{}
}

// writePair writes p to certFile and keyFile, with the modification time
// mod.
func writePair(t *testing.T, certFile, keyFile string, p [2][]byte, mod time.Time) {
	t.Helper()
	for i, f := range []string{certFile, keyFile} {
		if err := os.WriteFile(f, p[i], 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(f, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
}

func servedName(t *testing.T, c *certReloader) string {
	t.Helper()
	cert, err := c.GetCertificate(nil)
	if err != nil {
		t.Fatalf("GetCertificate: %v", err)
	}
	return cert.Leaf.Subject.CommonName
}

// A renewal is served whatever the files' times and sizes say: one of the
// same sizes written in place within the mtime's tick, or a Kubernetes
// secret volume's ..data symlink swapped to files copied with their times.
func TestCertReloaderSeesSameSizeRenewals(t *testing.T) {
	mod := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		// layout writes the first pair and returns the paths to serve
		// and a func that renews them with the second.
		layout func(t *testing.T, dir string, first, second [2][]byte) (certFile, keyFile string, renew func())
	}{
		{"rewritten in place", func(t *testing.T, dir string, first, second [2][]byte) (string, string, func()) {
			certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
			writePair(t, certFile, keyFile, first, mod)
			return certFile, keyFile, func() { writePair(t, certFile, keyFile, second, mod) }
		}},
		{"symlinked directory swapped", func(t *testing.T, dir string, first, second [2][]byte) (string, string, func()) {
			version := func(name string, p [2][]byte) {
				if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
					t.Fatal(err)
				}
				writePair(t, filepath.Join(dir, name, "tls.crt"), filepath.Join(dir, name, "tls.key"), p, mod)
			}
			link := func(target, name string) {
				if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
					t.Fatal(err)
				}
			}
			version("..2026_01_02_first", first)
			link("..2026_01_02_first", "..data")
			link("..data/tls.crt", "tls.crt")
			link("..data/tls.key", "tls.key")
			return filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), func() {
				version("..2026_01_02_second", second)
				link("..2026_01_02_second", "..data_tmp")
				if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
					t.Fatal(err)
				}
				if err := os.RemoveAll(filepath.Join(dir, "..2026_01_02_first")); err != nil {
					t.Fatal(err)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := selfSignedPair(t, "first", [2][]byte{})
			second := selfSignedPair(t, "other", first)
			certFile, keyFile, renew := tt.layout(t, t.TempDir(), first, second)
			var logs testutil.SyncBuffer
			c, err := newCertReloader(certFile, keyFile, slog.New(slog.NewTextHandler(&logs, nil)), time.Now)
			if err != nil {
				t.Fatal(err)
			}
			c.every = 0
			if got, want := servedName(t, c), "first"; got != want {
				t.Fatalf("served %q, want %q", got, want)
			}
			renew()
			if got, want := servedName(t, c), "other"; got != want {
				t.Errorf("after the renewal: served %q, want %q (log %q)", got, want, logs.String())
			}
		})
	}
}

// The files are looked at by a handshake at most every certCheckEvery, and
// a pair that does not load is logged once, not at each look.
func TestCertReloaderChecksEvery(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	first := selfSignedPair(t, "first", [2][]byte{})
	writePair(t, certFile, keyFile, first, time.Now())
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var logs testutil.SyncBuffer
	c, err := newCertReloader(certFile, keyFile, slog.New(slog.NewTextHandler(&logs, nil)), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		advance time.Duration
		renew   [2][]byte // written before the handshake when set
		want    string
		errors  int // the ERROR lines logged so far
	}{
		{"renewed", 0, selfSignedPair(t, "second", [2][]byte{}), "first", 0},
		{"before certCheckEvery", certCheckEvery - time.Nanosecond, [2][]byte{}, "first", 0},
		{"at certCheckEvery", time.Nanosecond, [2][]byte{}, "second", 0},
		{"renewed again", certCheckEvery / 2, selfSignedPair(t, "third", [2][]byte{}), "second", 0},
		{"not yet since the last look", certCheckEvery/2 - time.Nanosecond, [2][]byte{}, "second", 0},
		{"its time", time.Nanosecond, [2][]byte{}, "third", 0},
		{"caught halfway", certCheckEvery, [2][]byte{[]byte("-----BEGIN CERTIFICATE-----\nAAAA"), first[1]}, "third", 1},
		{"still halfway", certCheckEvery, [2][]byte{}, "third", 1},
		{"and later", 3 * certCheckEvery, [2][]byte{}, "third", 1},
		{"the key of another", certCheckEvery, [2][]byte{first[0], selfSignedPair(t, "x", [2][]byte{})[1]}, "third", 2},
		{"mended", certCheckEvery, first, "first", 2},
	}
	for _, st := range steps {
		now = now.Add(st.advance)
		if st.renew[0] != nil {
			writePair(t, certFile, keyFile, st.renew, now)
		}
		if got := servedName(t, c); got != st.want {
			t.Errorf("%s: served %q, want %q", st.name, got, st.want)
		}
		if got := strings.Count(logs.String(), "level=ERROR"); got != st.errors {
			t.Errorf("%s: %d errors logged, want %d: %s", st.name, got, st.errors, logs.String())
		}
	}
}

// Handshakes at once, while the files are renewed, each get a whole pair
// (run with -race).
func TestCertReloaderConcurrentHandshakes(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	pairs := [][2][]byte{selfSignedPair(t, "first", [2][]byte{}), selfSignedPair(t, "other", [2][]byte{})}
	writePair(t, certFile, keyFile, pairs[0], time.Now())
	c, err := newCertReloader(certFile, keyFile, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	c.every = 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				cert, err := c.GetCertificate(nil)
				if err != nil || cert.Leaf == nil || cert.PrivateKey == nil {
					t.Errorf("GetCertificate = %v, %v", cert, err)
					return
				}
			}
		})
	}
	for i := range 20 {
		writePair(t, certFile, keyFile, pairs[i%2], time.Now())
	}
	wg.Wait()
}

// Files that stay unreadable, and a served certificate near its end, are
// said at WARN, once and not at each look, so a renewal that stopped is
// told before clients refuse the certificate; a file gone for a moment
// (a renewal replacing it) is not.
func TestCertReloaderSaysWhenRenewalsStop(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	first := selfSignedPair(t, "first", [2][]byte{})
	writePair(t, certFile, keyFile, first, time.Now())
	var logs testutil.SyncBuffer
	var now time.Time
	c, err := newCertReloader(certFile, keyFile, slog.New(slog.NewTextHandler(&logs, nil)), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	end := c.cert.Load().Leaf.NotAfter
	now = end.Add(-20 * 24 * time.Hour)
	remove := func() {
		if err := os.Remove(keyFile); err != nil {
			t.Fatal(err)
		}
	}
	restore := func() { writePair(t, certFile, keyFile, first, now) }
	steps := []struct {
		name    string
		advance time.Duration
		left    time.Duration // when set, the clock is put this long before the certificate's end instead
		do      func()
		log     string // the new log's lines that mention TLS, joined by "|"
	}{
		{"readable, far from its end", certCheckEvery, 0, nil, ""},
		{"the key gone for a moment", certCheckEvery, 0, remove, ""},
		{"back within the grace", certUnreadableGrace - 2*certCheckEvery, 0, restore, ""},
		{"gone again", certCheckEvery, 0, remove, ""},
		{"still gone, within the grace", certUnreadableGrace - certCheckEvery, 0, nil, ""},
		{"gone for the grace", certCheckEvery, 0, nil, "WARN cannot be read"},
		{"and later", time.Hour, 0, nil, ""},
		{"readable again", certCheckEvery, 0, restore, "INFO read again"},
		{"a week before its end", 0, certExpiryWarning, nil, ""},
		{"under a week left", 0, certExpiryWarning - certCheckEvery, nil, "WARN expires soon"},
		{"an hour later", time.Hour, 0, nil, ""},
		{"a day later", certExpiryRepeat, 0, nil, "WARN expires soon"},
		{"unreadable near its end", certCheckEvery, 0, remove, ""},
		{"for the grace", certUnreadableGrace, 0, nil, "WARN cannot be read"},
		{"past its end", 0, -time.Nanosecond, nil, "WARN has expired"},
	}
	for _, st := range steps {
		now = now.Add(st.advance)
		if st.left != 0 {
			now = end.Add(-st.left)
		}
		if st.do != nil {
			st.do()
		}
		before := len(logs.String())
		if got := servedName(t, c); got != "first" {
			t.Errorf("%s: served %q, want %q", st.name, got, "first")
		}
		var said []string
		for _, line := range strings.Split(logs.String()[before:], "\n") {
			if !strings.Contains(line, "auth server TLS") {
				continue
			}
			level, msg := "", ""
			if _, rest, ok := strings.Cut(line, "level="); ok {
				level, _, _ = strings.Cut(rest, " ")
			}
			for _, m := range []string{"cannot be read", "read again", "expires soon", "has expired"} {
				if strings.Contains(line, m) {
					msg = m
				}
			}
			said = append(said, level+" "+msg)
		}
		if got := strings.Join(said, "|"); got != st.log {
			t.Errorf("%s: logged %q, want %q:\n%s", st.name, got, st.log, logs.String()[before:])
		}
	}
}

// A key file every user of the machine may read or write is said at WARN
// when a pair is loaded (at start, and a renewal); the owner's and a
// group's modes are not.
func TestCertReloaderWarnsOfAnOpenKey(t *testing.T) {
	tests := []struct {
		name string
		mode os.FileMode
		warn bool
	}{
		{"owner only", 0o600, false},
		{"owner read only", 0o400, false},
		{"a group reads", 0o640, false},
		{"everyone reads (a Kubernetes secret's default)", 0o644, true},
		{"everyone writes", 0o602, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
			now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			writePair(t, certFile, keyFile, selfSignedPair(t, "first", [2][]byte{}), now)
			if err := os.Chmod(keyFile, tt.mode); err != nil {
				t.Fatal(err)
			}
			var logs testutil.SyncBuffer
			c, err := newCertReloader(certFile, keyFile, slog.New(slog.NewTextHandler(&logs, nil)), func() time.Time { return now })
			if err != nil {
				t.Fatal(err)
			}
			c.every = 0
			// A renewal written with the mode kept (as writePair does
			// after a chmod of the old file: os.WriteFile keeps it).
			writePair(t, certFile, keyFile, selfSignedPair(t, "second", [2][]byte{}), now)
			if got := servedName(t, c); got != "second" {
				t.Fatalf("served %q after the renewal", got)
			}
			want := 0
			if tt.warn {
				want = 2 // the start and the renewal
			}
			if got := strings.Count(logs.String(), "key file is open to every user"); got != want {
				t.Errorf("%d warnings of the key's mode, want %d: %s", got, want, logs.String())
			}
			if tt.warn && !strings.Contains(logs.String(), "mode="+tt.mode.String()) {
				t.Errorf("the warning does not give the mode %s: %s", tt.mode, logs.String())
			}
		})
	}
}
