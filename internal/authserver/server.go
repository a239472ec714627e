package authserver

import (
	"context"
	"crypto/rand"
	cryptotls "crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/hitl/durable-approvals/internal/ablyconn"
)

// HTTP paths served by Handler.
const (
	TokenPath  = "/api/auth/token"
	HealthPath = "/healthz"
)

// Capabilities granted to an approver on the approvals channel, sorted.
var approverOps = []string{"history", "publish", "subscribe"}

// Capability returns the x-ably-capability claim granted to approvers: the
// channel only, with history, publish and subscribe.
func Capability(channel string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(map[string][]string{channel: approverOps}) // cannot fail for strings
	return strings.TrimSuffix(b.String(), "\n")
}

// RoleClaim returns the name of the JWT claim that carries the approver's
// role; Ably copies its value into extras.userClaim.
func RoleClaim(channel string) string { return "ably.channel." + channel }

// Server issues Ably JWTs to approvers who present valid credentials.
type Server struct {
	cfg        Config
	keyName    string
	keySecret  string
	capability string
	users      *userStore
	// byAddr counts failed logins per client address, byPair per user
	// name and client address: over the limit a failure is answered 429,
	// a correct password never. byName caps the password checks per user
	// name from all addresses (nameGate).
	byAddr *failureLimiter
	byPair *failureLimiter
	byName *nameGate
	// sleep waits for a check's turn; tests record it.
	sleep func(ctx context.Context, d time.Duration) error
	// slots bounds concurrent bcrypt comparisons so a flood of logins
	// cannot take every CPU, nor one address every slot.
	slots *hashSlots
	// forwardedIgnored logs once that forwarding headers arrive that are
	// not believed (no trusted proxy, or a peer that is not one).
	forwardedIgnored sync.Once
	// logKey keys the hashes that stand for unknown user names in the log
	// (logName); random per process.
	logKey [32]byte
	// certs serves cfg's TLS certificate, read again when its files
	// change; nil without TLS.
	certs *certReloader
	// compare is bcrypt.CompareHashAndPassword; tests count calls.
	compare func(hash, password []byte) error
	log     *slog.Logger
	now     func() time.Time
	count   loginCounters

	// The web inbox: its sessions, its pages and files, its policy, and
	// whether its cookies are Secure (everywhere but plain HTTP on
	// loopback).
	sessions      *sessionStore
	pages         *inboxPages
	csp           string
	secureCookies bool
}

// UsersFileError is New's error for a users file it cannot use: missing,
// unreadable, in a directory others may write, or not a valid users file.
type UsersFileError struct{ Err error }

func (e *UsersFileError) Error() string { return e.Err.Error() }
func (e *UsersFileError) Unwrap() error { return e.Err }

// New validates cfg, loads the users file and returns a Server. It fails
// if the users file is missing or does not parse (a *UsersFileError), or
// the TLS certificate and key do not load (a *TLSFilesError).
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("auth server config: %w", err)
	}
	name, secret, _ := ablyconn.SplitKey(cfg.AblyKey)
	rules := cfg.rules()
	store := &userStore{path: cfg.UsersFile, rules: rules, log: cfg.Logger}
	if _, _, _, err := store.lookup(""); err != nil {
		return nil, &UsersFileError{Err: err} // the caller reports it: the store did not log it
	}
	pages, err := loadInboxPages()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:        cfg,
		keyName:    name,
		keySecret:  secret,
		capability: Capability(cfg.Channel),
		users:      store,
		byAddr:     newFailureLimiter(cfg.MaxFailuresPerAddr, cfg.FailureWindow, limiterSize),
		byPair:     newFailureLimiter(cfg.MaxFailures, cfg.FailureWindow, limiterSize),
		byName:     newNameGate(cfg.MaxFailures, cfg.FailureWindow, cfg.UserSlowdown, cfg.MaxUserSlowdown, limiterSize),
		sleep:      sleepCtx,
		slots:      newHashSlots(hashSlotsFor(runtime.GOMAXPROCS(0))),
		compare:    bcrypt.CompareHashAndPassword,
		log:        cfg.Logger,
		now:        cfg.Now,
		count:      newLoginCounters(cfg.Meter),

		sessions:      newSessionStore(cfg.SessionTTL, maxSessions, maxSessionsPerUser),
		pages:         pages,
		csp:           contentSecurityPolicy(cfg.AblyEndpoint, cfg.AblyTLS),
		secureCookies: cfg.TLSCertFile != "" || cfg.AllowPlaintext || !IsLoopbackListen(cfg.Listen) || len(cfg.TrustedProxies) > 0,
	}
	if _, err := rand.Read(s.logKey[:]); err != nil {
		return nil, fmt.Errorf("auth server: log key: %w", err)
	}
	if cfg.TLSCertFile != "" {
		if s.certs, err = newCertReloader(cfg.TLSCertFile, cfg.TLSKeyFile, cfg.Logger, cfg.Now); err != nil {
			return nil, err // a *TLSFilesError: the caller reports it
		}
	}
	return s, nil
}

// Health reports whether the server can log users in: nil, or why not
// (the users file is unreadable, invalid or writable by others, and every
// login is refused until it is fixed). The operations endpoint serves it.
func (s *Server) Health(context.Context) error {
	if err := s.users.check(); err != nil {
		return fmt.Errorf("logins refused: %w", err)
	}
	return nil
}

// handlePublicHealth answers GET HealthPath on the public listener, for a
// proxy's or load balancer's probe: 503 while logins are refused (Health),
// else 200 "ok". The reason, which names the users file, is only on the
// operations endpoint (HITL_HEALTH_ADDR).
func (s *Server) handlePublicHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.Health(r.Context()); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("logins refused: the operations endpoint's /healthz says why"))
		return
	}
	_, _ = w.Write([]byte("ok"))
}

// Handler returns the HTTP handler: GET or POST TokenPath, GET
// HealthPath, and the web inbox (GET InboxPath, POST LoginPath and
// LogoutPath, GET AssetsPath…), all behind the cross-origin protection
// of csrf.go.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+TokenPath, s.handleToken)
	mux.HandleFunc("POST "+TokenPath, s.handleToken)
	mux.HandleFunc("GET "+HealthPath, s.handlePublicHealth)
	mux.HandleFunc("GET "+InboxPath+"{$}", s.handleInbox)
	mux.HandleFunc("POST "+LoginPath, s.handleLogin)
	mux.HandleFunc("POST "+LogoutPath, s.handleLogout)
	mux.HandleFunc("GET "+AssetsPath+"{file}", s.handleAsset)
	return s.crossOriginProtection(mux)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ErrPlaintext is returned by ListenAndServe for plain HTTP on an address
// that is not loopback without Config.AllowPlaintext.
var ErrPlaintext = errors.New("refusing plain HTTP on a non-loopback address: Basic credentials would travel in clear text; configure TLS (certificate and key) or explicitly allow plaintext behind a TLS-terminating proxy")

// ErrPlaintextWithoutProxy is returned by ListenAndServe for plain HTTP on
// an address that is not loopback, allowed by Config.AllowPlaintext, but
// without Config.TrustedProxies.
var ErrPlaintextWithoutProxy = errors.New("refusing plain HTTP on a non-loopback address without trusted proxies: behind the TLS-terminating proxy that plaintext implies, every login would share the proxy's address, so the failed-login limits of every client would be one; list the proxy's address as a trusted proxy so that X-Forwarded-For names each client")

// CheckTransport reports whether ListenAndServe may serve on listen: TLS
// anywhere; plain HTTP on loopback; plain HTTP elsewhere only when
// allowPlaintext says a TLS-terminating proxy is in front and
// trustedProxies names it (ErrPlaintext, ErrPlaintextWithoutProxy).
func CheckTransport(listen string, tls, allowPlaintext bool, trustedProxies []netip.Prefix) error {
	switch {
	case tls || IsLoopbackListen(listen):
		return nil
	case !allowPlaintext:
		return ErrPlaintext
	case len(trustedProxies) == 0:
		return ErrPlaintextWithoutProxy
	}
	return nil
}

// ListenAndServe binds cfg.Listen and serves until ctx is done, then shuts
// down gracefully. It returns nil after a clean shutdown. It serves HTTPS
// with cfg's certificate and key; plain HTTP only on loopback, or with
// cfg.AllowPlaintext and cfg.TrustedProxies (see CheckTransport).
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := s.Listen(ctx)
	if err != nil {
		return err
	}
	return s.ServeOn(ctx, ln)
}

// Listen checks the transport (CheckTransport) and binds cfg.Listen, for
// ServeOn: a program binds its port before it starts anything else that
// would have to be stopped again. (New read the TLS files.)
func (s *Server) Listen(ctx context.Context) (net.Listener, error) {
	if err := CheckTransport(s.cfg.Listen, s.certs != nil, s.cfg.AllowPlaintext, s.cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("auth server on %s: %w", s.cfg.Listen, err)
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("auth server: %w", err)
	}
	return ln, nil
}

// ServeOn serves on ln, a listener from Listen, over TLS with cfg's
// certificate and key when set (read again when their files change:
// certReloader), until ctx is done (as Serve).
func (s *Server) ServeOn(ctx context.Context, ln net.Listener) error {
	if s.certs != nil {
		return s.serve(ctx, ln, true)
	}
	return s.Serve(ctx, ln)
}

// Serve serves plain HTTP on ln until ctx is done, then shuts down
// gracefully (in flight requests get up to 10s) and closes ln. It returns
// nil after a clean shutdown. Tests pass a listener on 127.0.0.1:0.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, false)
}

// serve serves on ln, over TLS when certFile is set.
func (s *Server) serve(ctx context.Context, ln net.Listener, useTLS bool) error {
	h := s.Handler()
	if useTLS {
		h = strictTransport(h)
	}
	if useTLS && s.cfg.AllowPlaintext {
		// Said, so that whoever set it does not believe plain HTTP is
		// served too (behind a proxy that does not speak TLS to it).
		s.log.Warn("plain HTTP is allowed (insecure-allow-plaintext) but has no effect: with a certificate the server serves TLS only")
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() {
		if useTLS {
			srv.TLSConfig = &cryptotls.Config{MinVersion: cryptotls.VersionTLS12, GetCertificate: s.certs.GetCertificate}
			errc <- srv.ServeTLS(ln, "", "")
			return
		}
		errc <- srv.Serve(ln)
	}()
	s.log.Info("auth server listening", "addr", ln.Addr().String(), "tls", useTLS, "channel", s.cfg.Channel, "tokenTTL", s.cfg.TokenTTL.String())
	select {
	case err := <-errc:
		return fmt.Errorf("auth server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("auth server shutdown: %w", err)
	}
	s.log.Info("auth server stopped")
	return nil
}

// Response bodies (http.Error adds a newline). Every authentication
// failure gets the same one.
const (
	msgUnauthorized = "invalid or missing credentials"
	msgTooMany      = "too many failed attempts, or too many at once; retry later"
	msgUnavailable  = "service unavailable"
)

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodHead {
		h.Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	log, addrKey := s.requestLog(r)

	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		// The inbox page asks with its session cookie instead.
		if s.hasSessionCookie(r) {
			s.sessionToken(w, r, log)
			return
		}
		// A challenge, not a failure: browsers and curl ask first.
		s.unauthorized(w)
		return
	}
	name, password, ok := parseBasic(values[0])
	if !ok || len(values) > 1 {
		log.Warn("auth failed", "reason", "malformed authorization header")
		s.answerFailure(w, log, s.failure(addrKey, ""))
		return
	}
	res := s.checkLogin(r.Context(), log, addrKey, name, password)
	if res.outcome != loginOK {
		s.answerFailure(w, log, res)
		return
	}
	s.issueToken(w, log, res.user, s.now(), s.cfg.TokenTTL)
}

// requestLog returns the request's logger and its client address's
// rate-limit key.
func (s *Server) requestLog(r *http.Request) (*slog.Logger, string) {
	xff := r.Header.Values("X-Forwarded-For")
	client := clientAddress(r.RemoteAddr, xff, s.cfg.TrustedProxies)
	if len(xff) > 0 && client == r.RemoteAddr {
		s.forwardedIgnored.Do(func() {
			why := "no trusted proxies are set, so every client behind a proxy shares its address for the login limits (and, behind a TLS proxy on this machine, session cookies lack Secure)"
			if len(s.cfg.TrustedProxies) > 0 {
				why = "it came from " + r.RemoteAddr + ", which is not a trusted proxy (a client may write the header; if a proxy of yours is at that address, every client behind it shares its address for the login limits)"
			}
			s.log.Warn("X-Forwarded-For ignored (said once): " + why + "; AUTH_TRUSTED_PROXIES lists the proxies believed")
		})
	}
	log := s.log.With("remote", r.RemoteAddr)
	if client != r.RemoteAddr {
		log = log.With("client", client)
	}
	return log, clientKey(client)
}

// answerFailure answers a token request whose login did not succeed.
func (s *Server) answerFailure(w http.ResponseWriter, log *slog.Logger, res loginResult) {
	switch res.outcome {
	case loginTooMany:
		s.tooMany(w, log, res.retry, res.by)
	case loginUnavailable:
		s.unavailable(w, log, res.err)
	case loginGone:
		// The client went away; nobody reads an answer.
	default:
		s.unauthorized(w)
	}
}

// issueToken signs and writes user's Ably JWT, issued at now and valid
// for ttl; the role comes from the users file, never from the request.
func (s *Server) issueToken(w http.ResponseWriter, log *slog.Logger, user User, now time.Time, ttl time.Duration) {
	token, exp, err := ablyconn.SignToken(s.keyName, s.keySecret, user.Name, s.capability,
		map[string]any{RoleClaim(s.cfg.Channel): user.Role}, now, ttl)
	if err != nil {
		log.Error("sign token", "err", err)
		http.Error(w, msgUnavailable, http.StatusInternalServerError)
		return
	}
	log.Info("token issued", "user", user.Name, "role", user.Role, "expires", exp.UTC().Format(time.RFC3339))
	w.Header().Set("Content-Type", "application/jwt")
	_, _ = w.Write([]byte(token))
}

func (s *Server) unavailable(w http.ResponseWriter, log *slog.Logger, err error) {
	log.Error("users file unusable, refusing logins", "err", err)
	http.Error(w, msgUnavailable, http.StatusServiceUnavailable)
}

func (s *Server) unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="approvers"`)
	http.Error(w, msgUnauthorized, http.StatusUnauthorized)
}

func (s *Server) tooMany(w http.ResponseWriter, log *slog.Logger, retry time.Duration, by string) {
	secs := retrySeconds(retry)
	log.Warn("auth rate limited", "by", by, "retryAfter", secs)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	http.Error(w, msgTooMany, http.StatusTooManyRequests)
}

// retrySeconds is the Retry-After of a wait: whole seconds, at least 1.
func retrySeconds(retry time.Duration) int {
	return max(1, int(math.Ceil(retry.Seconds())))
}

// strictTransport tells browsers to come back only over HTTPS for a year
// (HSTS), on every response of a server that serves TLS itself. Behind a
// TLS-terminating proxy that header is the proxy's to send.
func strictTransport(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		h.ServeHTTP(w, r)
	})
}
