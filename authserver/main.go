// Command authserver authenticates approvers and issues their short-lived
// Ably JWTs (see internal/authserver), and manages the users file.
//
//	authserver [serve] [-listen 127.0.0.1:3001] [-users data/users.json] [-ttl 1h] [-channel ai:big-bad-any] [-policy FILE]
//	                   [-tls-cert cert.pem -tls-key key.pem | -insecure-allow-plaintext] [-trusted-proxies 10.0.0.0/8,...]
//	authserver useradd -name alice -role publisher   (password: one line on stdin)
//	authserver userdel -name alice
//
// serve also serves the web approval inbox under / (login form, live list
// of pending requests; see internal/authserver and its web package).
//
// Environment: ABLY_API_KEY (required for serve; never a flag, so it does not
// show in ps), ABLY_CHANNEL, ABLY_ENDPOINT and ABLY_TLS (where the inbox
// page reaches Ably; unset: Ably itself), AUTH_LISTEN, AUTH_USERS_FILE, AUTH_TOKEN_TTL,
// AUTH_TLS_CERT, AUTH_TLS_KEY, AUTH_INSECURE_ALLOW_PLAINTEXT,
// AUTH_TRUSTED_PROXIES, HITL_POLICY_FILE (default of -policy; unset: the
// role hierarchy editor, publisher, admin, not config/policy.json's),
// HITL_AGENT_CLIENT_ID and HITL_BRIDGE_CLIENT_ID (reserved user names), and
// HITL_HEALTH_ADDR (serve: GET /healthz and GET /metrics, the login
// counters, on a listener of their own).
// Flags override the environment.
//
// Tokens live at most 1h (-ttl): deleting or demoting a user takes effect
// when the approver's client next asks for a token, so within the TTL.
//
// serve refuses a listen address that is not loopback unless it serves
// TLS (-tls-cert and -tls-key) or -insecure-allow-plaintext says a
// TLS-terminating proxy is in front: Basic credentials must not travel in
// clear text. Plaintext off loopback also needs -trusted-proxies naming
// that proxy, so that the failed-login limits key on the client address
// from X-Forwarded-For: without it every login would share the proxy's
// address, and serve refuses to start.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/authserver"
	"github.com/hitl/durable-approvals/internal/healthz"
	"github.com/hitl/durable-approvals/internal/telemetry"
)

func main() {
	// A second SIGINT or SIGTERM ends the process at once (config.NotifyContext).
	ctx, stop := config.NotifyContext()
	err := mainErr(ctx, os.Args[1:], config.FromOS(), os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "authserver:", strings.ReplaceAll(err.Error(), "\n", "; "))
		os.Exit(config.ExitCode(err))
	}
}

// mainErr reads the configuration and runs the command; -h prints the
// usage and returns nil.
func mainErr(ctx context.Context, args []string, env config.Env, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(args, env, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return config.Usage(err)
	}
	if err := cfg.Validate(); err != nil {
		return config.Usage(err)
	}
	return run(ctx, cfg, stdin, stdout, stderr)
}

func run(ctx context.Context, cfg Config, stdin io.Reader, stdout, stderr io.Writer) error {
	logger := newLogger(cfg, stderr)
	var roles []string // nil: the default role hierarchy
	if cfg.PolicyFile != "" {
		p, err := config.LoadPolicy(cfg.PolicyFile)
		if err != nil {
			return config.Usage(fmt.Errorf("%w (-policy, %s)", err, config.EnvPolicyFile))
		}
		roles = p.Roles
	}
	switch cfg.Command {
	case "useradd":
		// -name and -role are checked before the password is asked for.
		if err := authserver.CheckNewUser(cfg.Name, cfg.Role, roles, authserver.WithReserved(cfg.Reserved)); err != nil {
			return config.Usage(err)
		}
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
	metrics, err := telemetry.NewMetrics("authserver", logger)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = metrics.Shutdown(sctx)
	}()
	srv, err := authserver.New(authserver.Config{
		Listen:    cfg.Listen,
		UsersFile: cfg.UsersFile,
		TokenTTL:  cfg.TokenTTL,
		AblyKey:   cfg.AblyKey,
		Channel:   cfg.Channel,
		Roles:     roles,
		Reserved:  cfg.Reserved,
		Logger:    logger,
		Meter:     metrics.Meter("hitl-authserver"),

		AgentClientID: cfg.AgentClientID,
		AblyEndpoint:  cfg.Ably.Endpoint,
		AblyTLS:       cfg.Ably.TLS,

		TLSCertFile:    cfg.TLSCert,
		TLSKeyFile:     cfg.TLSKey,
		AllowPlaintext: cfg.AllowPlaintext,
		TrustedProxies: cfg.TrustedProxies,
	})
	var ufe *authserver.UsersFileError
	var tfe *authserver.TLSFilesError
	switch {
	case errors.As(err, &ufe) && errors.Is(err, fs.ErrNotExist):
		return config.Usage(fmt.Errorf("%w (-users, %s): make it with `authserver useradd`", err, config.EnvAuthUsersFile))
	case errors.As(err, &ufe):
		// Bad input, as the policy file's: said before Ably is asked.
		return config.Usage(fmt.Errorf("%w (-users, %s)", err, config.EnvAuthUsersFile))
	case errors.As(err, &tfe):
		// A certificate or key that does not load is bad input: said
		// before anything is contacted (the Ably key check may wait 10 s).
		return config.Usage(fmt.Errorf("-tls-cert, -tls-key (%s, %s): %w", config.EnvAuthTLSCert, config.EnvAuthTLSKey, err))
	case err != nil:
		return err
	}
	// Every token this server signs with a key Ably refuses is refused
	// too: stop here. Ably out of reach is only logged (the browsers may
	// reach it where this server does not).
	kc := cfg.Ably
	kc.APIKey = cfg.AblyKey
	if err := kc.RequireKey(ctx, logger, keyCheckClientID, authserver.Capability(cfg.Channel)); err != nil {
		return err
	}
	if ctx.Err() != nil {
		logger.Info("auth server stopped before it listened")
		return nil
	}
	// The approvers' port first: one another process holds stops the
	// server before its operations endpoint answers for it.
	ln, err := srv.Listen(ctx)
	if err != nil {
		return err
	}
	if cfg.HealthAddr != "" {
		// Unhealthy while the users file is unusable: every login is
		// refused then.
		_, stop, err := healthz.Serve(ctx, cfg.HealthAddr, healthz.Ops(healthz.Alive(logger, srv.Health), metrics.Handler()), logger)
		if err != nil {
			ln.Close()
			return err
		}
		defer stop()
	}
	return srv.ServeOn(ctx, ln)
}

// keyCheckClientID is the clientId of the token the start-up key check
// asks for (the token is not used).
const keyCheckClientID = "hitl-authserver-key-check"

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// maxPasswordLine bounds the line read from a pipe.
const maxPasswordLine = 1024

// readPassword reads the password: on a terminal it prompts on stderr and
// reads one line with echo off (golang.org/x/term); otherwise it reads one
// line from stdin, without a prompt.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	var line string
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		line = string(b)
	} else {
		l, err := bufio.NewReaderSize(io.LimitReader(stdin, maxPasswordLine), maxPasswordLine).ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && l != "") {
			return "", errors.New("read password: want one line on stdin")
		}
		line = l
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return "", errors.New("read password: empty password")
	}
	return password, nil
}
