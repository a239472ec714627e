package authserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/workflows"
)

// Defaults and bounds of Config.
const (
	DefaultListen    = "127.0.0.1:3001"
	DefaultUsersFile = "data/users.json"
	DefaultTokenTTL  = time.Hour
	// MaxTokenTTL caps the token lifetime: tokens are short-lived, because
	// removing or demoting a user takes effect only when the approver's
	// client next asks for a token (at the latest after the TTL).
	MaxTokenTTL = time.Hour
	// MinTokenTTL is the shortest token lifetime: a JWT's exp counts
	// whole seconds.
	MinTokenTTL          = time.Second
	DefaultMaxFailures   = 5
	DefaultFailureWindow = time.Minute
	// DefaultAddrFailuresFactor times MaxFailures is the default limit of
	// failed logins per client address (all user names together).
	DefaultAddrFailuresFactor = 4
	DefaultUserSlowdown       = time.Second
	DefaultMaxUserSlowdown    = 5 * time.Second
	// DefaultSessionTTL is how long an inbox login lasts; MaxSessionTTL
	// caps it.
	DefaultSessionTTL = 12 * time.Hour
	MaxSessionTTL     = 24 * time.Hour
	// limiterSize bounds the keys each failure limiter holds.
	limiterSize = 10000
	// shutdownTimeout bounds the graceful shutdown of ListenAndServe.
	shutdownTimeout = 10 * time.Second
)

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
	// Reserved lists the configured Ably clientIds of the trusted programs
	// (HITL_AGENT_CLIENT_ID, HITL_BRIDGE_CLIENT_ID): no user may have them.
	// DefaultReservedNames are reserved in any case.
	Reserved []string
	// BcryptCost is the lowest bcrypt cost accepted in the users file and
	// the cost of the dummy hash checked while the file has no users
	// (default DefaultCost); otherwise the dummy hashes have the file's
	// costs (passwordCheck). Tests use bcrypt.MinCost.
	BcryptCost int
	// MaxFailures is how many failed logins per user name and client
	// address are answered 401 in FailureWindow (default
	// DefaultMaxFailures); further failures of that pair are answered 429
	// until the window ends. It is also the number of failures per user
	// name, from all addresses, after which the name's checks queue (see
	// UserSlowdown). Only failures count, and a correct password is never
	// refused for the failures of its address or pair: behind a shared
	// address they may be someone else's.
	MaxFailures int
	// MaxFailuresPerAddr is how many failed logins per client address, all
	// user names together, are answered 401 in FailureWindow (default
	// DefaultAddrFailuresFactor * MaxFailures); further failures get 429.
	MaxFailuresPerAddr int
	// FailureWindow is the rate-limit window (default DefaultFailureWindow).
	FailureWindow time.Duration
	// UserSlowdown and MaxUserSlowdown cap the password checks per user
	// name from all addresses together (defaults DefaultUserSlowdown and
	// DefaultMaxUserSlowdown): once a name has MaxFailures failed logins
	// in the window, each further login for it waits for its turn, one
	// after another, UserSlowdown × (failures beyond the limit) but at
	// most MaxUserSlowdown after the previous turn; a login whose turn is
	// more than MaxUserSlowdown away is refused (429) without a check.
	// Addresses that logged in as the name in the last 7 days have a queue
	// of their own. With the defaults a name gets at most 19 password
	// checks a minute per queue, whatever the number of addresses.
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
	// that is not loopback (behind a TLS-terminating proxy), provided
	// TrustedProxies names that proxy. Without it, and without TLS, it
	// refuses: Basic credentials would travel in clear.
	AllowPlaintext bool
	// AgentClientID is the Ably clientId of the agent (HITL_AGENT_CLIENT_ID,
	// default workflows.DefaultAgentClientID). The inbox page shows only
	// approval requests published under it, as the CLI does.
	AgentClientID string
	// AblyEndpoint is where the inbox page's browser reaches Ably:
	// "host:port" of a local Ably-protocol server (ABLY_ENDPOINT), or
	// empty for Ably itself. AblyTLS selects https/wss for that endpoint
	// (Ably itself is always TLS). The page's Content-Security-Policy
	// allows exactly that origin besides its own.
	AblyEndpoint string
	AblyTLS      bool
	// SessionTTL is how long an inbox login lasts (default
	// DefaultSessionTTL, at most MaxSessionTTL). Sessions live in memory:
	// a restart of the server ends them.
	SessionTTL time.Duration
	// Logger receives structured logs (default: discard).
	Logger *slog.Logger
	// Meter makes the login counters (metrics.go); nil counts nothing.
	Meter metric.Meter
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
	if c.AgentClientID == "" {
		c.AgentClientID = workflows.DefaultAgentClientID
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = DefaultSessionTTL
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
	if c.TokenTTL < MinTokenTTL || c.TokenTTL > MaxTokenTTL {
		errs = append(errs, fmt.Errorf("token ttl %s out of range [%s, %s]", c.TokenTTL, MinTokenTTL, MaxTokenTTL))
	}
	if err := ablyconn.ValidateChannel(c.Channel); err != nil {
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
	if c.SessionTTL < time.Minute || c.SessionTTL > MaxSessionTTL {
		errs = append(errs, fmt.Errorf("session ttl %s out of range [1m, %s]", c.SessionTTL, MaxSessionTTL))
	}
	if c.AblyEndpoint != "" {
		if err := ValidateAblyEndpoint(c.AblyEndpoint); err != nil {
			errs = append(errs, err)
		}
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen address %q: want host:port", c.Listen))
	}
	return errors.Join(errs...)
}

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

// ValidateAblyEndpoint checks that endpoint, where the inbox page reaches
// Ably, is host:port with a plain host name or IP address and a numeric
// port: it goes into the page's Content-Security-Policy, where a space or
// a ';' would add sources or directives, and whose host names hold only
// letters, digits, '.' and '-'.
func ValidateAblyEndpoint(endpoint string) error {
	host, port, err := net.SplitHostPort(endpoint)
	if err != nil {
		return fmt.Errorf("ably endpoint %q: want host:port", endpoint)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("ably endpoint %q: bad port", endpoint)
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if host == "" || strings.ContainsFunc(host, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-')
	}) {
		return fmt.Errorf("ably endpoint %q: want a host name or IP address", endpoint)
	}
	return nil
}
