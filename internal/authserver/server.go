package authserver

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"golang.org/x/crypto/bcrypt"

	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/workflows"
)

// HTTP paths served by Handler.
const (
	TokenPath  = "/api/auth/token"
	HealthPath = "/healthz"
)

// Defaults and bounds of Config.
const (
	DefaultListen    = "127.0.0.1:3001"
	DefaultUsersFile = "data/users.json"
	DefaultTokenTTL  = time.Hour
	// MaxTokenTTL caps the token lifetime: tokens are short-lived, because
	// removing or demoting a user takes effect only when the approver's
	// client next asks for a token (at the latest after the TTL).
	MaxTokenTTL          = time.Hour
	DefaultMaxFailures   = 5
	DefaultFailureWindow = time.Minute
	// DefaultAddrFailuresFactor times MaxFailures is the default limit of
	// failed logins per client address (all user names together).
	DefaultAddrFailuresFactor = 4
	DefaultUserSlowdown       = time.Second
	DefaultMaxUserSlowdown    = 5 * time.Second
	// limiterSize bounds the keys each failure limiter holds.
	limiterSize = 10000
	// shutdownTimeout bounds the graceful shutdown of ListenAndServe.
	shutdownTimeout = 10 * time.Second
)

// Capabilities granted to an approver on the approvals channel, sorted.
var approverOps = []string{"history", "publish", "subscribe"}

// Config configures a Server. The zero values of optional fields mean the
// documented defaults.
type Config struct {
	// Listen is the host:port ListenAndServe binds (default DefaultListen).
	Listen string
	// UsersFile is the users file; it must exist and parse. It is re-read
	// when its modification time, size or identity changes, so useradd
	// takes effect without a restart.
	UsersFile string
	// TokenTTL is the lifetime of issued tokens (default DefaultTokenTTL,
	// at most MaxTokenTTL). Deleting or demoting a user takes effect at the
	// user's next token request, so within TokenTTL.
	TokenTTL time.Duration
	// AblyKey is the Ably API key "appId.keyId:secret" that signs tokens.
	AblyKey string
	// Channel is the approvals channel (default workflows.DefaultChannel).
	Channel string
	// Roles is the role hierarchy (default workflows.DefaultRoles).
	Roles []string
	// Reserved lists user names nobody may have (nil means
	// DefaultReservedNames).
	Reserved []string
	// BcryptCost is the lowest bcrypt cost accepted in the users file and
	// the cost of the dummy hash checked for unknown users (default
	// DefaultCost). Tests use bcrypt.MinCost.
	BcryptCost int
	// MaxFailures is how many failed logins per user name and client
	// address are allowed in FailureWindow (default DefaultMaxFailures);
	// beyond it that pair is refused (429) until the window ends.
	MaxFailures int
	// MaxFailuresPerAddr is how many failed logins per client address, all
	// user names together, are allowed in FailureWindow (default
	// DefaultAddrFailuresFactor * MaxFailures).
	MaxFailuresPerAddr int
	// FailureWindow is the rate-limit window (default DefaultFailureWindow).
	FailureWindow time.Duration
	// UserSlowdown: once a user name has MaxFailures failed logins in the
	// window from all addresses together, every further login for that
	// name waits UserSlowdown per failure beyond the limit, at most
	// MaxUserSlowdown (defaults DefaultUserSlowdown and
	// DefaultMaxUserSlowdown). Failures from other addresses only slow a
	// user down; they never refuse correct credentials.
	UserSlowdown    time.Duration
	MaxUserSlowdown time.Duration
	// TrustedProxies lists the reverse proxies whose X-Forwarded-For is
	// believed: only for a request whose peer is inside one of them, the
	// client address (the rate-limit key) is the right-most entry of
	// X-Forwarded-For that is not a trusted proxy. Empty: the peer address.
	TrustedProxies []netip.Prefix
	// TLSCertFile and TLSKeyFile, both or neither, make ListenAndServe
	// serve HTTPS.
	TLSCertFile string
	TLSKeyFile  string
	// AllowPlaintext lets ListenAndServe serve plain HTTP on an address
	// that is not loopback (behind a TLS-terminating proxy). Without it,
	// and without TLS, it refuses: Basic credentials would travel in clear.
	AllowPlaintext bool
	// Logger receives structured logs (default: discard).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.UsersFile == "" {
		c.UsersFile = DefaultUsersFile
	}
	if c.TokenTTL == 0 {
		c.TokenTTL = DefaultTokenTTL
	}
	if c.Channel == "" {
		c.Channel = workflows.DefaultChannel
	}
	if c.MaxFailures == 0 {
		c.MaxFailures = DefaultMaxFailures
	}
	if c.MaxFailuresPerAddr == 0 {
		c.MaxFailuresPerAddr = DefaultAddrFailuresFactor * c.MaxFailures
	}
	if c.FailureWindow == 0 {
		c.FailureWindow = DefaultFailureWindow
	}
	if c.UserSlowdown == 0 {
		c.UserSlowdown = DefaultUserSlowdown
	}
	if c.MaxUserSlowdown == 0 {
		c.MaxUserSlowdown = DefaultMaxUserSlowdown
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) rules() Rules {
	return Rules{Roles: c.Roles, Reserved: c.Reserved, Cost: c.BcryptCost}
}

// Validate checks the configuration (after defaults) without touching the
// users file or the network.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.AblyKey == "" {
		errs = append(errs, errors.New("ably key is required"))
	} else if _, _, err := ablyconn.SplitKey(c.AblyKey); err != nil {
		errs = append(errs, err)
	}
	if c.TokenTTL < time.Second || c.TokenTTL > MaxTokenTTL {
		errs = append(errs, fmt.Errorf("token ttl %s out of range [1s, %s]", c.TokenTTL, MaxTokenTTL))
	}
	if err := ValidateChannel(c.Channel); err != nil {
		errs = append(errs, err)
	}
	if err := c.rules().validate(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxFailures < 1 {
		errs = append(errs, fmt.Errorf("max failures %d: want at least 1", c.MaxFailures))
	}
	if c.MaxFailuresPerAddr < 1 {
		errs = append(errs, fmt.Errorf("max failures per address %d: want at least 1", c.MaxFailuresPerAddr))
	}
	if c.UserSlowdown < 0 || c.MaxUserSlowdown < 0 || c.MaxUserSlowdown > shutdownTimeout/2 {
		errs = append(errs, fmt.Errorf("user slowdown %s (max %s): want >= 0 and a max of at most %s", c.UserSlowdown, c.MaxUserSlowdown, shutdownTimeout/2))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("TLS needs both a certificate and a key file"))
	}
	if c.FailureWindow < time.Second {
		errs = append(errs, fmt.Errorf("failure window %s: want at least 1s", c.FailureWindow))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen address %q: want host:port", c.Listen))
	}
	return errors.Join(errs...)
}

// ValidateChannel checks that channel is one plain Ably channel name: a
// wildcard, a qualifier such as "[meta]" or a control character would give
// approvers more than the approvals channel.
func ValidateChannel(channel string) error {
	switch {
	case channel == "" || len(channel) > 256:
		return fmt.Errorf("channel %q: want 1 to 256 bytes", channel)
	case strings.Contains(channel, "*"):
		return fmt.Errorf("channel %q: wildcards are not allowed", channel)
	case strings.HasPrefix(channel, "[") || strings.HasPrefix(channel, ":"):
		return fmt.Errorf("channel %q: qualifiers are not allowed", channel)
	case strings.IndexFunc(channel, unicode.IsControl) >= 0:
		return fmt.Errorf("channel %q: control characters are not allowed", channel)
	}
	return nil
}

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

// IsLoopbackListen reports whether the listen address host:port binds
// only loopback: "localhost" or a loopback IP. An empty host (all
// interfaces) or any other name is not.
func IsLoopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// Server issues Ably JWTs to approvers who present valid credentials.
type Server struct {
	cfg        Config
	keyName    string
	keySecret  string
	capability string
	users      *userStore
	// byAddr limits failures per client address, byPair per user name
	// and client address (both refuse with 429); byUser counts failures
	// per user name from all addresses, and only slows logins down.
	byAddr *failureLimiter
	byPair *failureLimiter
	byUser *failureLimiter
	// sleep waits for the slowdown; tests record it.
	sleep func(ctx context.Context, d time.Duration) error
	// hashing bounds concurrent bcrypt comparisons so a flood of logins
	// cannot take every CPU.
	hashing chan struct{}
	// compare is bcrypt.CompareHashAndPassword; tests count calls.
	compare func(hash, password []byte) error
	log     *slog.Logger
	now     func() time.Time
}

// New validates cfg, loads the users file and returns a Server. It fails
// if the users file is missing or does not parse.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("auth server config: %w", err)
	}
	name, secret, _ := ablyconn.SplitKey(cfg.AblyKey)
	rules := cfg.rules()
	store := &userStore{path: cfg.UsersFile, rules: rules, log: cfg.Logger}
	if _, _, _, err := store.lookup(""); err != nil {
		return nil, err
	}
	return &Server{
		cfg:        cfg,
		keyName:    name,
		keySecret:  secret,
		capability: Capability(cfg.Channel),
		users:      store,
		byAddr:     newFailureLimiter(cfg.MaxFailuresPerAddr, cfg.FailureWindow, limiterSize),
		byPair:     newFailureLimiter(cfg.MaxFailures, cfg.FailureWindow, limiterSize),
		byUser:     newFailureLimiter(math.MaxInt, cfg.FailureWindow, limiterSize),
		sleep:      sleepCtx,
		hashing:    make(chan struct{}, max(2, 2*runtime.GOMAXPROCS(0))),
		compare:    bcrypt.CompareHashAndPassword,
		log:        cfg.Logger,
		now:        cfg.Now,
	}, nil
}

// Handler returns the HTTP handler: GET or POST TokenPath, GET HealthPath.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+TokenPath, s.handleToken)
	mux.HandleFunc("POST "+TokenPath, s.handleToken)
	mux.HandleFunc("GET "+HealthPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok"))
	})
	return mux
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

// ListenAndServe binds cfg.Listen and serves until ctx is done, then shuts
// down gracefully. It returns nil after a clean shutdown. It serves HTTPS
// with cfg's certificate and key; plain HTTP only on loopback or with
// cfg.AllowPlaintext.
func (s *Server) ListenAndServe(ctx context.Context) error {
	tls := s.cfg.TLSCertFile != ""
	if !tls && !s.cfg.AllowPlaintext && !IsLoopbackListen(s.cfg.Listen) {
		return fmt.Errorf("auth server on %s: %w", s.cfg.Listen, ErrPlaintext)
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("auth server: %w", err)
	}
	if tls {
		return s.serve(ctx, ln, s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
	}
	return s.Serve(ctx, ln)
}

// Serve serves plain HTTP on ln until ctx is done, then shuts down
// gracefully (in flight requests get up to 10s) and closes ln. It returns
// nil after a clean shutdown. Tests pass a listener on 127.0.0.1:0.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, "", "")
}

// serve serves on ln, over TLS when certFile is set.
func (s *Server) serve(ctx context.Context, ln net.Listener, certFile, keyFile string) error {
	srv := &http.Server{
		Handler:           s.Handler(),
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
		if certFile != "" {
			errc <- srv.ServeTLS(ln, certFile, keyFile)
			return
		}
		errc <- srv.Serve(ln)
	}()
	s.log.Info("auth server listening", "addr", ln.Addr().String(), "tls", certFile != "", "channel", s.cfg.Channel, "tokenTTL", s.cfg.TokenTTL.String())
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
	msgTooMany      = "too many failed attempts, retry later"
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
	now := s.now()
	client := clientAddress(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), s.cfg.TrustedProxies)
	addrKey := clientKey(client)
	log := s.log.With("remote", r.RemoteAddr)
	if client != r.RemoteAddr {
		log = log.With("client", client)
	}

	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		// A challenge, not a failure: browsers and curl ask first.
		if retry, blocked := s.byAddr.blocked(addrKey, now); blocked {
			s.tooMany(w, log, retry, "client")
			return
		}
		s.unauthorized(w)
		return
	}
	// Count the attempt before checking anything, so that parallel requests
	// cannot get more guesses than the limit; take it back unless it fails.
	if retry, ok := s.byAddr.attempt(addrKey, now); !ok {
		s.tooMany(w, log, retry, "client")
		return
	}
	name, password, ok := parseBasic(values[0])
	if !ok || len(values) > 1 {
		log.Warn("auth failed", "reason", "malformed authorization header")
		s.unauthorized(w)
		return
	}
	// Names that cannot exist are not tracked per user (that would let
	// anyone fill the tables); they still cost an attempt per address. Any
	// valid name is tracked, existing or not, so a 429 reveals nothing.
	validName := ValidateName(name, nil) == nil
	userKey := "user:" + name
	pairKey := userKey + "\x00" + addrKey
	var slowdown time.Duration
	if validName {
		// The hard limit is per user name and client address: failures
		// from other addresses never refuse correct credentials.
		if retry, ok := s.byPair.attempt(pairKey, now); !ok {
			s.byAddr.forgive(addrKey)
			s.tooMany(w, log, retry, "user and client")
			return
		}
		// Per user name, from all addresses, failures only slow down.
		slowdown = s.slowdown(s.byUser.failures(userKey, now))
		s.byUser.attempt(userKey, now)
	}
	forgive := func() {
		s.byAddr.forgive(addrKey)
		if validName {
			s.byPair.forgive(pairKey)
			s.byUser.forgive(userKey)
		}
	}
	if slowdown > 0 {
		log.Warn("auth slowed down: many failed logins for this user name", "user", name, "delay", slowdown.String())
		if err := s.sleep(r.Context(), slowdown); err != nil {
			forgive()
			return // the client went away
		}
	}
	user, hash, found, err := s.users.lookup(name)
	if err != nil {
		forgive()
		log.Error("users file unusable, refusing logins", "err", err)
		http.Error(w, msgUnavailable, http.StatusServiceUnavailable)
		return
	}
	ok, err = s.checkPassword(r.Context(), hash, found && validName, password)
	if err != nil {
		forgive()
		return // the client went away while waiting for a bcrypt slot
	}
	if !ok {
		logName := "(invalid)"
		if validName {
			logName = name
		}
		log.Warn("auth failed", "user", logName)
		s.unauthorized(w)
		return
	}
	s.byAddr.forgive(addrKey)
	s.byPair.reset(pairKey)
	s.byUser.forgive(userKey)

	token, exp, err := ablyconn.SignToken(s.keyName, s.keySecret, user.Name, s.capability,
		map[string]any{RoleClaim(s.cfg.Channel): user.Role}, now, s.cfg.TokenTTL)
	if err != nil {
		log.Error("sign token", "err", err)
		http.Error(w, msgUnavailable, http.StatusInternalServerError)
		return
	}
	log.Info("token issued", "user", user.Name, "role", user.Role, "expires", exp.UTC().Format(time.RFC3339))
	h.Set("Content-Type", "application/jwt")
	_, _ = w.Write([]byte(token))
}

// slowdown returns the delay of a login for a user name that already has
// failures failed logins in the window, from all addresses.
func (s *Server) slowdown(failures int) time.Duration {
	over := failures - s.cfg.MaxFailures + 1
	if over <= 0 || s.cfg.UserSlowdown <= 0 {
		return 0
	}
	if over > int(s.cfg.MaxUserSlowdown/s.cfg.UserSlowdown) {
		return s.cfg.MaxUserSlowdown
	}
	return time.Duration(over) * s.cfg.UserSlowdown
}

// checkPassword runs exactly one bcrypt comparison whatever the outcome:
// against the user's hash when the user exists, against a dummy hash of
// the users file's highest cost otherwise, so the response time does not
// tell whether a user exists. It returns an error only if ctx ends while
// waiting for a bcrypt slot.
func (s *Server) checkPassword(ctx context.Context, hash []byte, found bool, password string) (bool, error) {
	select {
	case s.hashing <- struct{}{}:
		defer func() { <-s.hashing }()
	case <-ctx.Done():
		return false, ctx.Err()
	}
	pw := password
	if len(pw) > MaxPasswordLen {
		pw = pw[:MaxPasswordLen]
	}
	err := s.compare(hash, []byte(pw))
	return err == nil && found && len(password) <= MaxPasswordLen, nil
}

func (s *Server) unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="approvers"`)
	http.Error(w, msgUnauthorized, http.StatusUnauthorized)
}

func (s *Server) tooMany(w http.ResponseWriter, log *slog.Logger, retry time.Duration, by string) {
	secs := int(math.Ceil(retry.Seconds()))
	if secs < 1 {
		secs = 1
	}
	log.Warn("auth rate limited", "by", by, "retryAfter", secs)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	http.Error(w, msgTooMany, http.StatusTooManyRequests)
}

// userStore holds the parsed users file and re-reads it when the file's
// modification time, size or identity changes. A file that becomes
// unreadable, invalid or writable by group or others fails closed: lookups
// return an error until it is fixed. It also holds the dummy hash compared
// for unknown users, at the highest bcrypt cost in the file.
type userStore struct {
	path  string
	rules Rules
	log   *slog.Logger

	mu        sync.Mutex
	stat      os.FileInfo
	users     map[string]User
	err       error
	dummy     []byte
	dummyCost int
}

// lookup returns the user called name, and the hash to compare the
// password with: the user's own, or the dummy hash if there is no such
// user.
func (s *userStore) lookup(name string) (User, []byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fi, err := os.Stat(s.path)
	if err != nil {
		if s.err == nil || s.stat != nil {
			s.log.Error("users file unreadable", "path", s.path, "err", err)
		}
		s.stat, s.users, s.err = nil, nil, fmt.Errorf("users file: %w", err)
		return User{}, nil, false, s.err
	}
	if s.stat == nil || !os.SameFile(fi, s.stat) || !fi.ModTime().Equal(s.stat.ModTime()) || fi.Size() != s.stat.Size() || fi.Mode() != s.stat.Mode() {
		s.stat = fi
		s.users, s.err = nil, nil
		if err := s.load(fi); err != nil {
			s.log.Error("users file refused", "path", s.path, "err", err)
			s.err = err
		}
	}
	if s.err != nil {
		return User{}, nil, false, s.err
	}
	if u, ok := s.users[name]; ok {
		return u, []byte(u.PasswordHash), true, nil
	}
	return User{}, s.dummy, false, nil
}

// load reads the users file whose stat is fi. The caller holds s.mu.
func (s *userStore) load(fi os.FileInfo) error {
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("users file %s is writable by group or others (mode %s): anyone who can write it can make themselves an approver; run chmod 600 %s", s.path, perm, s.path)
	}
	users, err := ReadUsersFile(s.path, s.rules)
	if err != nil {
		return err
	}
	cost := s.rules.cost()
	for _, u := range users {
		if c, err := bcrypt.Cost([]byte(u.PasswordHash)); err == nil && c > cost {
			cost = c
		}
	}
	if s.dummy == nil || cost != s.dummyCost {
		pw := make([]byte, 32)
		_, _ = rand.Read(pw)
		dummy, err := bcrypt.GenerateFromPassword(pw, cost)
		if err != nil {
			return fmt.Errorf("dummy hash: %w", err)
		}
		s.dummy, s.dummyCost = dummy, cost
	}
	if fi.Mode().Perm()&0o044 != 0 {
		s.log.Warn("users file is readable by others; want mode 0600", "path", s.path, "mode", fi.Mode().Perm().String())
	}
	s.log.Info("users file loaded", "path", s.path, "users", len(users), "dummyCost", cost)
	s.users = users
	return nil
}

// dummyHash returns the current dummy hash (tests).
func (s *userStore) dummyHash() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dummy
}
