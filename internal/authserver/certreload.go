package authserver

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// certCheckEvery is how often, at most, a TLS handshake looks whether the
// certificate or key file changed.
const certCheckEvery = 10 * time.Second

// certUnreadableGrace is how long the files may stay unreadable before
// the check says so at WARN: a renewal that replaces them takes moments.
const certUnreadableGrace = time.Minute

// certReadStall is how long a check may read the files before the
// handshakes that find it still reading say so at WARN: a read that hangs
// (a stalled network mount) holds no handshake up, but no renewal is read
// until it returns.
const certReadStall = 30 * time.Second

// certExpiryWarning: a check that finds the served certificate with less
// than this left says so at WARN, at most once every certExpiryRepeat, so a
// renewal that stopped (a directory removed for good, a renewal job that
// fails) is told before clients refuse the certificate.
const (
	certExpiryWarning = 7 * 24 * time.Hour
	certExpiryRepeat  = 24 * time.Hour
)

// TLSFilesError is New's error for a certificate and key that do not load
// (missing, unreadable, not PEM, not a pair).
type TLSFilesError struct{ Err error }

func (e *TLSFilesError) Error() string { return e.Err.Error() }
func (e *TLSFilesError) Unwrap() error { return e.Err }

// certReloader serves the auth server's certificate from its files and
// reads them again when either one changes, so a certificate renewed in
// place (certbot, cert-manager, a Kubernetes secret's volume) is served
// without a restart, before the old one expires. A change is told by the
// files' content, which a check reads (two small files, at most every
// certCheckEvery): their time and size do not tell a renewal of the same
// sizes written within the clock's tick, or copied with its times kept.
// A pair that does not load (a renewal caught halfway, a key that does not
// match) keeps the last good pair, logged at ERROR once per change of the
// files; files unreadable for longer than certUnreadableGrace are logged
// at WARN once until they are read again, a check whose read hangs past
// certReadStall at WARN once, and a served certificate close to its end at
// WARN once a day. One handshake checks at a time; the others meanwhile are served
// the current pair without waiting for its read (which a stalled network
// mount could hang).
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	now               func() time.Time
	every             time.Duration // certCheckEvery; 0 in tests: each handshake

	cert atomic.Pointer[tls.Certificate]
	// readingSince is when the check under way began to read the files
	// (Unix nanoseconds), 0 when none reads; stallLogged whether a read
	// past certReadStall was said.
	readingSince atomic.Int64
	stallLogged  atomic.Bool

	mu      sync.Mutex // held by the handshake that checks the files, and guards:
	pem     [2][]byte  // certFile's and keyFile's content when cert was read, or of a pair refused
	checked time.Time
	// unreadableSince is when a check first failed to read the files, zero
	// while they read; unreadableLogged whether that was logged.
	unreadableSince  time.Time
	unreadableLogged bool
	expiryLogged     time.Time // when the certificate's near end was last logged
}

// newCertReloader reads the pair once: an error is a *TLSFilesError.
func newCertReloader(certFile, keyFile string, log *slog.Logger, now func() time.Time) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile, log: log, now: now, every: certCheckEvery}
	pair, err := c.read()
	if err != nil {
		return nil, &TLSFilesError{Err: err}
	}
	cert, err := loadPair(pair)
	if err != nil {
		return nil, &TLSFilesError{Err: err}
	}
	c.cert.Store(cert)
	c.pem, c.checked = pair, now()
	c.noteKeyMode()
	return c, nil
}

// read returns the content of certFile and keyFile.
func (c *certReloader) read() ([2][]byte, error) {
	var p [2][]byte
	var err error
	if p[0], err = os.ReadFile(c.certFile); err != nil {
		return p, err
	}
	p[1], err = os.ReadFile(c.keyFile)
	return p, err
}

// loadPair parses a certificate and key, and the leaf's validity for the
// log.
func loadPair(pair [2][]byte) (*tls.Certificate, error) {
	cert, err := tls.X509KeyPair(pair[0], pair[1])
	if err != nil {
		return nil, err
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("certificate: %w", err)
		}
	}
	return &cert, nil
}

// GetCertificate is the server's tls.Config.GetCertificate.
func (c *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if !c.mu.TryLock() {
		c.noteStall()
		return c.cert.Load(), nil // another handshake checks the files
	}
	defer c.mu.Unlock()
	now := c.now()
	if now.Sub(c.checked) < c.every {
		return c.cert.Load(), nil
	}
	c.checked = now
	c.readingSince.Store(now.UnixNano())
	pair, err := c.read()
	c.readingSince.Store(0)
	if c.stallLogged.Swap(false) {
		c.log.Info("auth server TLS: the check of the certificate files that stalled returned", "certFile", c.certFile, "keyFile", c.keyFile, "error", err)
	}
	c.noteRead(now, err)
	if err != nil || bytes.Equal(pair[0], c.pem[0]) && bytes.Equal(pair[1], c.pem[1]) {
		// A file gone for a moment (a renewal replacing it) keeps the
		// pair; it is read once both are there again.
		cert := c.cert.Load()
		c.noteExpiry(now, cert)
		return cert, nil
	}
	c.pem = pair
	cert, err := loadPair(pair)
	if err != nil {
		old := c.cert.Load()
		c.log.Error("auth server TLS: the certificate or key changed but does not load; still serving the previous certificate",
			"certFile", c.certFile, "keyFile", c.keyFile, "notAfter", old.Leaf.NotAfter, "error", err)
		c.noteExpiry(now, old)
		return old, nil
	}
	c.cert.Store(cert)
	c.log.Info("auth server TLS: certificate reloaded", "certFile", c.certFile, "subject", cert.Leaf.Subject.String(), "notAfter", cert.Leaf.NotAfter)
	c.noteKeyMode()
	c.expiryLogged = time.Time{}
	c.noteExpiry(now, cert)
	return cert, nil
}

// noteKeyMode logs at WARN, each time a pair is loaded, a key file that
// every user of the machine may read or write: the key is the auth
// server's identity, to which the approvers send their passwords. A group
// may read it (a Kubernetes secret mounted for the server's fsGroup). A
// file whose mode cannot be read now was read a moment ago: nothing is
// said.
func (c *certReloader) noteKeyMode() {
	fi, err := os.Stat(c.keyFile)
	if err != nil || fi.Mode().Perm()&0o006 == 0 {
		return
	}
	c.log.Warn("auth server TLS: the key file is open to every user of this machine; want mode 0600 (0640 for a group that serves it; a Kubernetes secret: defaultMode 0400 or 0440)",
		"keyFile", c.keyFile, "mode", fi.Mode().Perm().String())
}

// noteStall logs, once per stall, a check of the files that has been
// reading for certReadStall or longer; a handshake that finds c.mu held
// calls it.
func (c *certReloader) noteStall() {
	since := c.readingSince.Load()
	if since == 0 || c.now().Sub(time.Unix(0, since)) < certReadStall || !c.stallLogged.CompareAndSwap(false, true) {
		return
	}
	c.log.Warn("auth server TLS: reading the certificate and key files has not returned (a stalled mount?); still serving the previous certificate, and no renewal is read until it returns",
		"certFile", c.certFile, "keyFile", c.keyFile, "since", time.Unix(0, since), "notAfter", c.cert.Load().Leaf.NotAfter)
}

// noteRead logs, once, files that stayed unreadable past
// certUnreadableGrace, and that they read again after it; c.mu is held.
func (c *certReloader) noteRead(now time.Time, err error) {
	if err == nil {
		if c.unreadableLogged {
			c.log.Info("auth server TLS: the certificate and key files read again", "certFile", c.certFile, "keyFile", c.keyFile)
		}
		c.unreadableSince, c.unreadableLogged = time.Time{}, false
		return
	}
	if c.unreadableSince.IsZero() {
		c.unreadableSince = now
	}
	if c.unreadableLogged || now.Sub(c.unreadableSince) < certUnreadableGrace {
		return
	}
	c.unreadableLogged = true
	c.log.Warn("auth server TLS: the certificate or key file cannot be read; still serving the previous certificate, which no renewal can replace until they read",
		"certFile", c.certFile, "keyFile", c.keyFile, "since", c.unreadableSince, "notAfter", c.cert.Load().Leaf.NotAfter, "error", err)
}

// noteExpiry logs, at most once every certExpiryRepeat, a served
// certificate with less than certExpiryWarning left; c.mu is held.
func (c *certReloader) noteExpiry(now time.Time, cert *tls.Certificate) {
	left := cert.Leaf.NotAfter.Sub(now)
	if left >= certExpiryWarning || !c.expiryLogged.IsZero() && now.Sub(c.expiryLogged) < certExpiryRepeat {
		return
	}
	c.expiryLogged = now
	msg := "auth server TLS: the served certificate expires soon and no renewal was read"
	if left <= 0 {
		msg = "auth server TLS: the served certificate has expired and no renewal was read"
	}
	c.log.Warn(msg, "certFile", c.certFile, "subject", cert.Leaf.Subject.String(), "notAfter", cert.Leaf.NotAfter, "left", left.Round(time.Second))
}
