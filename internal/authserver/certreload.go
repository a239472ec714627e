package authserver

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certCheckEvery is how often, at most, a TLS handshake looks whether the
// certificate or key file changed.
const certCheckEvery = 10 * time.Second

// TLSFilesError is New's error for a certificate and key that do not load
// (missing, unreadable, not PEM, not a pair).
type TLSFilesError struct{ Err error }

func (e *TLSFilesError) Error() string { return e.Err.Error() }
func (e *TLSFilesError) Unwrap() error { return e.Err }

// certReloader serves the auth server's certificate from its files and
// reads them again when either one changes, so a certificate renewed in
// place (certbot, cert-manager, a Kubernetes secret's volume) is served
// without a restart, before the old one expires. A pair that does not
// load (a renewal caught halfway, a key that does not match) keeps the
// last good pair, logged at ERROR once per change of the files.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	now               func() time.Time
	every             time.Duration // certCheckEvery; 0 in tests: each handshake

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   [2]fileStamp // of certFile and keyFile when cert was read, or a pair refused
	checked time.Time
}

// fileStamp tells a file's versions apart.
type fileStamp struct {
	mod  time.Time
	size int64
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size()}, nil
}

// newCertReloader reads the pair once: an error is a *TLSFilesError.
func newCertReloader(certFile, keyFile string, log *slog.Logger, now func() time.Time) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile, log: log, now: now, every: certCheckEvery}
	cert, err := loadPair(certFile, keyFile)
	if err != nil {
		return nil, &TLSFilesError{Err: err}
	}
	stamp, err := c.stamps()
	if err != nil {
		return nil, &TLSFilesError{Err: err}
	}
	c.cert, c.stamp, c.checked = cert, stamp, now()
	return c, nil
}

func (c *certReloader) stamps() ([2]fileStamp, error) {
	var s [2]fileStamp
	var err error
	if s[0], err = stampOf(c.certFile); err != nil {
		return s, err
	}
	s[1], err = stampOf(c.keyFile)
	return s, err
}

// loadPair reads a certificate and key, and the leaf's validity for the
// log.
func loadPair(certFile, keyFile string) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
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
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if now.Sub(c.checked) < c.every {
		return c.cert, nil
	}
	c.checked = now
	stamp, err := c.stamps()
	if err != nil || stamp == c.stamp {
		// A file gone for a moment (a renewal replacing it) keeps the
		// pair; it is read once both are there again.
		return c.cert, nil
	}
	c.stamp = stamp
	cert, err := loadPair(c.certFile, c.keyFile)
	if err != nil {
		c.log.Error("auth server TLS: the certificate or key changed but does not load; still serving the previous certificate",
			"certFile", c.certFile, "keyFile", c.keyFile, "notAfter", c.cert.Leaf.NotAfter, "error", err)
		return c.cert, nil
	}
	c.cert = cert
	c.log.Info("auth server TLS: certificate reloaded", "certFile", c.certFile, "subject", cert.Leaf.Subject.String(), "notAfter", cert.Leaf.NotAfter)
	return c.cert, nil
}
