package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/authserver"
	"github.com/hitl/durable-approvals/internal/healthz"
	"github.com/hitl/durable-approvals/workflows"
)

const usage = `usage: authserver [command] [flags]

Commands:
  serve      issue approvers' Ably JWTs on GET/POST /api/auth/token and serve the web inbox under / (default)
  useradd    add a user or change their role and password (password: one line on stdin)
  userdel    remove a user

Settings come from the environment (see the README); flags override them.
Run "authserver COMMAND -h" for the flags of a command.

Flags of %s:
`

// EnvHealthAddr is the auth server's operations endpoint (empty: none).
const EnvHealthAddr = "HITL_HEALTH_ADDR"

// Config is everything the command reads from flags and the environment.
type Config struct {
	Command    string // serve, useradd or userdel
	Listen     string
	UsersFile  string
	TokenTTL   time.Duration
	AblyKey    string
	Channel    string
	PolicyFile string
	Reserved   []string // configured trusted clientIds
	// AgentClientID is the agent's Ably clientId: the inbox page shows
	// only approval requests published under it.
	AgentClientID string
	// BridgeClientID is HITL_BRIDGE_CLIENT_ID, a reserved name when set.
	BridgeClientID string
	// Ably is where the inbox page's browser reaches Ably (ABLY_ENDPOINT,
	// ABLY_TLS); its key is not used.
	Ably ablyconn.Config
	// TLSCert and TLSKey serve HTTPS; AllowPlaintext permits plain HTTP
	// on a non-loopback address (behind a TLS-terminating proxy).
	TLSCert        string
	TLSKey         string
	AllowPlaintext bool
	// TrustedProxies are the proxies whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	LogFormat      string
	LogLevel       slog.Level
	// HealthAddr, when set, serves the operations endpoint there: GET
	// /healthz and GET /metrics (the login counters), away from the
	// approvers' listener.
	HealthAddr string
	Name       string // useradd, userdel
	Role       string // useradd
}

// loadConfig reads the command, its flags and the environment. It does
// not validate; call Validate.
func loadConfig(args []string, env config.Env, stderr io.Writer) (Config, error) {
	c := Config{Command: "serve"}
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		c.Command, args = args[0], args[1:]
	}
	ttl := env.Or(config.EnvAuthTokenTTL, authserver.DefaultTokenTTL.String())
	proxies := env.Get(config.EnvAuthTrustedProxies)
	plaintext, err := strconv.ParseBool(env.Or(config.EnvAuthInsecureAllowPlaintext, "false"))
	if err != nil {
		return Config{}, fmt.Errorf("%s=%q: want true or false", config.EnvAuthInsecureAllowPlaintext, env[config.EnvAuthInsecureAllowPlaintext])
	}
	c.AblyKey = env.Get(ablyconn.EnvAPIKey)
	c.AgentClientID = env.Or(config.EnvAgentClientID, workflows.DefaultAgentClientID)
	c.BridgeClientID = env.Get(config.EnvBridgeClientID)
	if c.Ably, err = ablyconn.FromEnv(env.Get); err != nil {
		return Config{}, err
	}
	// The trusted programs' clientIds are no user's name; the defaults
	// (authserver.DefaultReservedNames) are reserved in any case.
	for _, name := range []string{config.EnvAgentClientID, config.EnvBridgeClientID} {
		if v := env.Get(name); v != "" {
			c.Reserved = append(c.Reserved, v)
		}
	}

	// Parse errors are returned and printed once, by main.
	fs := config.NewFlagSet("authserver "+c.Command, strings.TrimSuffix(fmt.Sprintf(usage, c.Command), "\n"), stderr)
	fs.StringVar(&c.UsersFile, "users", env.Or(config.EnvAuthUsersFile, authserver.DefaultUsersFile), "users file (env "+config.EnvAuthUsersFile+")")
	fs.StringVar(&c.PolicyFile, "policy", env.Get(config.EnvPolicyFile), "policy file whose role hierarchy users must fit (env "+config.EnvPolicyFile+"; unset: editor, publisher, admin)")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text or json")
	fs.TextVar(&c.LogLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn, error")
	switch c.Command {
	case "serve":
		fs.StringVar(&c.Listen, "listen", env.Or(config.EnvAuthListen, authserver.DefaultListen), "listen address (env "+config.EnvAuthListen+")")
		fs.StringVar(&ttl, "ttl", ttl, "token lifetime, at most 1h; user removal or demotion takes effect at the next token refresh (env "+config.EnvAuthTokenTTL+")")
		fs.StringVar(&c.Channel, "channel", env.Or(config.EnvChannel, workflows.DefaultChannel), "approvals channel (env "+config.EnvChannel+")")
		fs.StringVar(&c.TLSCert, "tls-cert", env.Get(config.EnvAuthTLSCert), "TLS certificate file, PEM (env "+config.EnvAuthTLSCert+")")
		fs.StringVar(&c.TLSKey, "tls-key", env.Get(config.EnvAuthTLSKey), "TLS private key file, PEM (env "+config.EnvAuthTLSKey+")")
		fs.BoolVar(&c.AllowPlaintext, "insecure-allow-plaintext", plaintext, "allow plain HTTP on a non-loopback address, behind a TLS-terminating proxy (env "+config.EnvAuthInsecureAllowPlaintext+")")
		fs.StringVar(&proxies, "trusted-proxies", proxies, "comma-separated CIDRs of reverse proxies whose X-Forwarded-For is trusted (env "+config.EnvAuthTrustedProxies+")")
		fs.StringVar(&c.HealthAddr, "health-addr", env.Get(EnvHealthAddr), "serve GET /healthz and GET /metrics on this host:port, for operators (env "+EnvHealthAddr+"; empty: off)")
	case "useradd":
		fs.StringVar(&c.Name, "name", "", "user name: 1-64 of a-z 0-9 . _ -")
		fs.StringVar(&c.Role, "role", "", "role from the role hierarchy")
	case "userdel":
		fs.StringVar(&c.Name, "name", "", "user name")
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.Command == "serve" {
		d, err := time.ParseDuration(ttl)
		if err != nil {
			return Config{}, fmt.Errorf("token ttl %q (-ttl, %s): want a duration such as 1h", ttl, config.EnvAuthTokenTTL)
		}
		c.TokenTTL = d
		if c.TrustedProxies, err = authserver.ParseTrustedProxies(proxies); err != nil {
			return Config{}, err
		}
	}
	return c, nil
}

// Validate checks what the command needs, without touching files.
func (c Config) Validate() error {
	var errs []error
	switch c.Command {
	case "serve":
		if err := workflows.ValidateTrustedClientID(config.EnvAgentClientID, c.AgentClientID); err != nil {
			errs = append(errs, err)
		}
		if c.BridgeClientID != "" {
			if err := workflows.ValidateTrustedClientID(config.EnvBridgeClientID, c.BridgeClientID); err != nil {
				errs = append(errs, err)
			}
		}
		if c.AblyKey == "" {
			errs = append(errs, errors.New(ablyconn.EnvAPIKey+" is required"))
		}
		if c.TokenTTL < authserver.MinTokenTTL || c.TokenTTL > authserver.MaxTokenTTL {
			errs = append(errs, fmt.Errorf("token ttl %s (-ttl, %s) out of range [%s, %s]", c.TokenTTL, config.EnvAuthTokenTTL, authserver.MinTokenTTL, authserver.MaxTokenTTL))
		}
		if err := ablyconn.ValidateChannel(c.Channel); err != nil {
			errs = append(errs, err)
		}
		if err := c.Ably.Validate(); err != nil {
			errs = append(errs, err)
		} else if c.Ably.Endpoint != "" {
			if err := authserver.ValidateAblyEndpoint(c.Ably.Endpoint); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", ablyconn.EnvEndpoint, err))
			}
		}
		if (c.TLSCert == "") != (c.TLSKey == "") {
			errs = append(errs, fmt.Errorf("-tls-cert and -tls-key (%s, %s) go together", config.EnvAuthTLSCert, config.EnvAuthTLSKey))
		}
		if c.HealthAddr != "" {
			if err := healthz.CheckAddr(c.HealthAddr); err != nil {
				errs = append(errs, fmt.Errorf("%s (-health-addr) %q: %w", EnvHealthAddr, c.HealthAddr, err))
			}
		}
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			errs = append(errs, fmt.Errorf("listen address %q (-listen, %s): want host:port, such as 127.0.0.1:3001", c.Listen, config.EnvAuthListen))
			break
		}
		// The port too: the server listens only after the users file and
		// the Ably key check.
		if err := healthz.CheckAddr(c.Listen); err != nil {
			errs = append(errs, fmt.Errorf("listen address %q (-listen, %s): %w", c.Listen, config.EnvAuthListen, err))
			break
		}
		if c.HealthAddr != "" && sameListenAddr(c.HealthAddr, c.Listen) {
			errs = append(errs, fmt.Errorf("%s (-health-addr) %q is the listen address (-listen, %s) %q: the operations endpoint needs a port of its own", EnvHealthAddr, c.HealthAddr, config.EnvAuthListen, c.Listen))
		}
		switch err := authserver.CheckTransport(c.Listen, c.TLSCert != "", c.AllowPlaintext, c.TrustedProxies); {
		case errors.Is(err, authserver.ErrPlaintext):
			errs = append(errs, fmt.Errorf("listen address %s is not loopback: serve TLS (-tls-cert/-tls-key) or, behind a TLS-terminating proxy, pass -insecure-allow-plaintext; Basic credentials must not travel in clear text", c.Listen))
		case errors.Is(err, authserver.ErrPlaintextWithoutProxy):
			errs = append(errs, fmt.Errorf("listen address %s is not loopback and plain HTTP is allowed (%s), but no trusted proxy is set: every login would share the proxy's address, so one client's failed logins would count for all; set %s (-trusted-proxies) to the TLS-terminating proxy's address, or serve TLS", c.Listen, config.EnvAuthInsecureAllowPlaintext, config.EnvAuthTrustedProxies))
		case err != nil:
			errs = append(errs, err)
		}
	case "useradd":
		if c.Name == "" || c.Role == "" {
			errs = append(errs, errors.New("useradd needs -name and -role"))
		}
	case "userdel":
		if c.Name == "" {
			errs = append(errs, errors.New("userdel needs -name"))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown command %q: want serve, useradd or userdel", c.Command))
	}
	if c.UsersFile == "" {
		errs = append(errs, errors.New("users file path is empty"))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log format %q: want text or json", c.LogFormat))
	}
	return errors.Join(errs...)
}

// sameListenAddr reports whether listeners on a and b, both host:port,
// would want the same port of the same address: the same port number
// (not 0, a spare one) and the same host, or either on every interface.
func sameListenAddr(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil {
		return false
	}
	na, errA := net.LookupPort("tcp", pa)
	nb, errB := net.LookupPort("tcp", pb)
	if errA != nil || errB != nil || na != nb || na == 0 {
		return false
	}
	anyHost := func(h string) bool {
		ip, err := netip.ParseAddr(h)
		return h == "" || err == nil && ip.IsUnspecified()
	}
	return ha == hb || anyHost(ha) || anyHost(hb)
}
