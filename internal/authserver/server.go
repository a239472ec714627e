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
	DefaultListen        = "127.0.0.1:3001"
	DefaultUsersFile     = "data/users.json"
	DefaultTokenTTL      = time.Hour
	MaxTokenTTL          = 24 * time.Hour
	DefaultMaxFailures   = 5
	DefaultFailureWindow = time.Minute
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
	// at most MaxTokenTTL).
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
	// MaxFailures is how many failed logins per client address and per
	// user name are allowed in FailureWindow (default DefaultMaxFailures).
	MaxFailures int
	// FailureWindow is the rate-limit window (default DefaultFailureWindow).
	FailureWindow time.Duration
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
	if c.FailureWindow == 0 {
		c.FailureWindow = DefaultFailureWindow
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

// Server issues Ably JWTs to approvers who present valid credentials.
type Server struct {
	cfg        Config
	keyName    string
	keySecret  string
	capability string
	users      *userStore
	dummyHash  []byte
	byAddr     *failureLimiter
	byUser     *failureLimiter
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
	if _, _, err := store.lookup(""); err != nil {
		return nil, err
	}
	pw := make([]byte, 32)
	_, _ = rand.Read(pw)
	dummy, err := bcrypt.GenerateFromPassword(pw, rules.cost())
	if err != nil {
		return nil, fmt.Errorf("dummy hash: %w", err)
	}
	return &Server{
		cfg:        cfg,
		keyName:    name,
		keySecret:  secret,
		capability: Capability(cfg.Channel),
		users:      store,
		dummyHash:  dummy,
		byAddr:     newFailureLimiter(cfg.MaxFailures, cfg.FailureWindow, limiterSize),
		byUser:     newFailureLimiter(cfg.MaxFailures, cfg.FailureWindow, limiterSize),
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

// ListenAndServe binds cfg.Listen and serves until ctx is done, then shuts
// down gracefully. It returns nil after a clean shutdown.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("auth server: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is done, then shuts down gracefully (in
// flight requests get up to 10s) and closes ln. It returns nil after a
// clean shutdown. Tests pass a listener on 127.0.0.1:0.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
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
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("auth server listening", "addr", ln.Addr().String(), "channel", s.cfg.Channel, "tokenTTL", s.cfg.TokenTTL.String())
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
	addrKey := clientKey(r.RemoteAddr)
	log := s.log.With("remote", r.RemoteAddr)

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
	// anyone fill the table); they still cost an attempt per address. Any
	// valid name is tracked, existing or not, so a 429 reveals nothing.
	validName := ValidateName(name, nil) == nil
	userKey := "user:" + name
	if validName {
		if retry, ok := s.byUser.attempt(userKey, now); !ok {
			s.byAddr.forgive(addrKey)
			s.tooMany(w, log, retry, "user")
			return
		}
	}
	forgive := func() {
		s.byAddr.forgive(addrKey)
		if validName {
			s.byUser.forgive(userKey)
		}
	}
	user, found, err := s.users.lookup(name)
	if err != nil {
		forgive()
		log.Error("users file unusable, refusing logins", "err", err)
		http.Error(w, msgUnavailable, http.StatusServiceUnavailable)
		return
	}
	ok, err = s.checkPassword(r.Context(), user, found && validName, password)
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
	s.byUser.reset(userKey)

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

// checkPassword runs exactly one bcrypt comparison whatever the outcome:
// against the user's hash when the user exists, against a dummy hash
// otherwise, so the response time does not tell whether a user exists.
// It returns an error only if ctx ends while waiting for a bcrypt slot.
func (s *Server) checkPassword(ctx context.Context, user User, found bool, password string) (bool, error) {
	select {
	case s.hashing <- struct{}{}:
		defer func() { <-s.hashing }()
	case <-ctx.Done():
		return false, ctx.Err()
	}
	hash := s.dummyHash
	if found {
		hash = []byte(user.PasswordHash)
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
// unreadable or invalid fails closed: lookups return an error until it is
// fixed.
type userStore struct {
	path  string
	rules Rules
	log   *slog.Logger

	mu    sync.Mutex
	stat  os.FileInfo
	users map[string]User
	err   error
}

func (s *userStore) lookup(name string) (User, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fi, err := os.Stat(s.path)
	if err != nil {
		if s.err == nil || s.stat != nil {
			s.log.Error("users file unreadable", "path", s.path, "err", err)
		}
		s.stat, s.users, s.err = nil, nil, fmt.Errorf("users file: %w", err)
		return User{}, false, s.err
	}
	if s.stat == nil || !os.SameFile(fi, s.stat) || !fi.ModTime().Equal(s.stat.ModTime()) || fi.Size() != s.stat.Size() {
		s.stat = fi
		users, err := ReadUsersFile(s.path, s.rules)
		if err != nil {
			s.log.Error("users file invalid", "path", s.path, "err", err)
			s.users, s.err = nil, err
		} else {
			if fi.Mode().Perm()&0o077 != 0 {
				s.log.Warn("users file is readable by others; want mode 0600", "path", s.path, "mode", fi.Mode().Perm().String())
			}
			s.log.Info("users file loaded", "path", s.path, "users", len(users))
			s.users, s.err = users, nil
		}
	}
	if s.err != nil {
		return User{}, false, s.err
	}
	u, ok := s.users[name]
	return u, ok, nil
}
