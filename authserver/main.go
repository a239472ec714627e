// Command authserver authenticates approvers and issues their short-lived
// Ably JWTs (see internal/authserver), and manages the users file.
//
//	authserver [serve] [-listen 127.0.0.1:3001] [-users data/users.json] [-ttl 1h] [-channel ai:big-bad-any] [-policy config/policy.json]
//	                   [-tls-cert cert.pem -tls-key key.pem | -insecure-allow-plaintext] [-trusted-proxies 10.0.0.0/8,...]
//	authserver useradd -name alice -role publisher   (password: one line on stdin)
//	authserver userdel -name alice
//
// Environment: ABLY_API_KEY (required for serve; never a flag, so it does not
// show in ps), ABLY_CHANNEL, AUTH_LISTEN, AUTH_USERS_FILE, AUTH_TOKEN_TTL,
// AUTH_TLS_CERT, AUTH_TLS_KEY, AUTH_INSECURE_ALLOW_PLAINTEXT,
// AUTH_TRUSTED_PROXIES, HITL_POLICY_FILE (default of -policy), and
// HITL_AGENT_CLIENT_ID and HITL_BRIDGE_CLIENT_ID (reserved user names).
// Flags override the environment.
//
// Tokens live at most 1h (-ttl): deleting or demoting a user takes effect
// when the approver's client next asks for a token, so within the TTL.
//
// serve refuses a listen address that is not loopback unless it serves
// TLS (-tls-cert and -tls-key) or -insecure-allow-plaintext says a
// TLS-terminating proxy is in front: Basic credentials must not travel in
// clear text. Behind such a proxy, -trusted-proxies names it so that the
// failed-login limits key on the client address from X-Forwarded-For
// instead of the proxy's.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hitl/durable-approvals/internal/authserver"
	"github.com/hitl/durable-approvals/workflows"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	code := 0
	switch {
	case errors.Is(err, flag.ErrHelp):
		code = 2
	case err != nil:
		fmt.Fprintln(os.Stderr, "authserver:", err)
		code = 1
	}
	os.Exit(code)
}

// Config is everything the command reads from flags and the environment.
type Config struct {
	Command    string // serve, useradd or userdel
	Listen     string
	UsersFile  string
	TokenTTL   time.Duration
	AblyKey    string
	Channel    string
	PolicyFile string
	Reserved   []string
	// TLSCert and TLSKey serve HTTPS; AllowPlaintext permits plain HTTP
	// on a non-loopback address (behind a TLS-terminating proxy).
	TLSCert        string
	TLSKey         string
	AllowPlaintext bool
	// TrustedProxies are the proxies whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	LogFormat      string
	LogLevel       slog.Level
	Name           string // useradd, userdel
	Role           string // useradd
}

// Validate checks what the command needs, without touching files.
func (c Config) Validate() error {
	var errs []error
	switch c.Command {
	case "serve":
		if c.AblyKey == "" {
			errs = append(errs, errors.New("ABLY_API_KEY is required"))
		}
		if c.TokenTTL <= 0 || c.TokenTTL > authserver.MaxTokenTTL {
			errs = append(errs, fmt.Errorf("token ttl %s out of range (0, %s]", c.TokenTTL, authserver.MaxTokenTTL))
		}
		if err := authserver.ValidateChannel(c.Channel); err != nil {
			errs = append(errs, err)
		}
		if (c.TLSCert == "") != (c.TLSKey == "") {
			errs = append(errs, errors.New("-tls-cert and -tls-key (AUTH_TLS_CERT, AUTH_TLS_KEY) go together"))
		}
		if c.TLSCert == "" && !c.AllowPlaintext && !authserver.IsLoopbackListen(c.Listen) {
			errs = append(errs, fmt.Errorf("listen address %s is not loopback: serve TLS (-tls-cert/-tls-key) or, behind a TLS-terminating proxy, pass -insecure-allow-plaintext; Basic credentials must not travel in clear text", c.Listen))
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

// parseConfig reads the command, its flags and the environment.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	c := Config{Command: "serve"}
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		c.Command, args = args[0], args[1:]
	}
	env := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	ttl := env("AUTH_TOKEN_TTL", authserver.DefaultTokenTTL.String())
	proxies := env("AUTH_TRUSTED_PROXIES", "")
	plaintext, err := strconv.ParseBool(env("AUTH_INSECURE_ALLOW_PLAINTEXT", "false"))
	if err != nil {
		return Config{}, fmt.Errorf("AUTH_INSECURE_ALLOW_PLAINTEXT=%q: want true or false", getenv("AUTH_INSECURE_ALLOW_PLAINTEXT"))
	}
	c.AblyKey = strings.TrimSpace(getenv("ABLY_API_KEY"))
	c.Reserved = slices.Clone(authserver.DefaultReservedNames)
	for _, name := range []string{"HITL_AGENT_CLIENT_ID", "HITL_BRIDGE_CLIENT_ID"} {
		if v := strings.TrimSpace(getenv(name)); v != "" && !slices.Contains(c.Reserved, v) {
			c.Reserved = append(c.Reserved, v)
		}
	}

	fs := flag.NewFlagSet("authserver "+c.Command, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.UsersFile, "users", env("AUTH_USERS_FILE", authserver.DefaultUsersFile), "users file (AUTH_USERS_FILE)")
	fs.StringVar(&c.PolicyFile, "policy", env("HITL_POLICY_FILE", ""), "policy file whose role hierarchy users must fit (HITL_POLICY_FILE; unset: editor, publisher, admin)")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text or json")
	fs.TextVar(&c.LogLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn, error")
	switch c.Command {
	case "serve":
		fs.StringVar(&c.Listen, "listen", env("AUTH_LISTEN", authserver.DefaultListen), "listen address (AUTH_LISTEN)")
		fs.StringVar(&ttl, "ttl", ttl, "token lifetime, at most 1h; user removal or demotion takes effect at the next token refresh (AUTH_TOKEN_TTL)")
		fs.StringVar(&c.Channel, "channel", env("ABLY_CHANNEL", workflows.DefaultChannel), "approvals channel (ABLY_CHANNEL)")
		fs.StringVar(&c.TLSCert, "tls-cert", env("AUTH_TLS_CERT", ""), "TLS certificate file, PEM (AUTH_TLS_CERT)")
		fs.StringVar(&c.TLSKey, "tls-key", env("AUTH_TLS_KEY", ""), "TLS private key file, PEM (AUTH_TLS_KEY)")
		fs.BoolVar(&c.AllowPlaintext, "insecure-allow-plaintext", plaintext, "allow plain HTTP on a non-loopback address, behind a TLS-terminating proxy (AUTH_INSECURE_ALLOW_PLAINTEXT)")
		fs.StringVar(&proxies, "trusted-proxies", proxies, "comma-separated CIDRs of reverse proxies whose X-Forwarded-For is trusted (AUTH_TRUSTED_PROXIES)")
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
			return Config{}, fmt.Errorf("token ttl %q: want a duration such as 1h", ttl)
		}
		c.TokenTTL = d
		if c.TrustedProxies, err = authserver.ParseTrustedProxies(proxies); err != nil {
			return Config{}, err
		}
	}
	return c, c.Validate()
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	roles, err := loadRoles(cfg.PolicyFile)
	if err != nil {
		return err
	}
	switch cfg.Command {
	case "useradd":
		password, err := readPassword(stdin, stderr)
		if err != nil {
			return err
		}
		if err := authserver.AddUser(cfg.UsersFile, cfg.Name, cfg.Role, password, roles, authserver.WithReserved(cfg.Reserved)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %s saved with role %s in %s\n", cfg.Name, cfg.Role, cfg.UsersFile)
		return nil
	case "userdel":
		if err := authserver.DeleteUser(cfg.UsersFile, cfg.Name, roles, authserver.WithReserved(cfg.Reserved)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %s deleted from %s\n", cfg.Name, cfg.UsersFile)
		return nil
	}
	srv, err := authserver.New(authserver.Config{
		Listen:    cfg.Listen,
		UsersFile: cfg.UsersFile,
		TokenTTL:  cfg.TokenTTL,
		AblyKey:   cfg.AblyKey,
		Channel:   cfg.Channel,
		Roles:     roles,
		Reserved:  cfg.Reserved,
		Logger:    logger,

		TLSCertFile:    cfg.TLSCert,
		TLSKeyFile:     cfg.TLSKey,
		AllowPlaintext: cfg.AllowPlaintext,
		TrustedProxies: cfg.TrustedProxies,
	})
	if err != nil {
		return err
	}
	return srv.ListenAndServe(ctx)
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// loadRoles returns the policy file's role hierarchy, or nil (the default
// hierarchy) without a policy file.
func loadRoles(path string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy file: %w", err)
	}
	p, err := workflows.ParsePolicy(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p.Roles, nil
}

// readPassword reads one line from stdin. On a terminal it prompts and
// turns echo off while reading.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok {
		if restore, err := disableEcho(f); err == nil {
			fmt.Fprint(stderr, "Password: ")
			defer func() {
				restore()
				fmt.Fprintln(stderr)
			}()
		}
	}
	line, err := bufio.NewReaderSize(io.LimitReader(stdin, 1024), 1024).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", errors.New("read password: want one line on stdin")
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return "", errors.New("read password: empty password")
	}
	return password, nil
}
