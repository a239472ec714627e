package ablylocal

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/hitl/durable-approvals/internal/loopback"
)

// keyFlags collects repeated -key flags.
type keyFlags []Key

func (k *keyFlags) String() string {
	names := make([]string, len(*k))
	for i, key := range *k {
		names[i] = key.Name
	}
	return strings.Join(names, ",")
}

func (k *keyFlags) Set(v string) error {
	key, err := ParseKey(v)
	if err != nil {
		return err
	}
	*k = append(*k, key)
	return nil
}

// CommandConfig is the `devstack ably` command's configuration.
type CommandConfig struct {
	Listen    string
	Keys      []Key
	Retention time.Duration
}

// Validate checks the command configuration.
func (c CommandConfig) Validate() error {
	if c.Listen == "" {
		return errors.New("-listen is required")
	}
	if len(c.Keys) == 0 {
		return errors.New("at least one -key APP.KEY:SECRET is required")
	}
	if c.Retention <= 0 {
		return errors.New("-retention must be positive")
	}
	return Config{Keys: c.Keys}.Validate()
}

// RunCommand runs `devstack ably`: it parses flags (-listen, repeatable
// -key, -retention), serves until ctx is done and returns nil then.
func RunCommand(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("ably", flag.ContinueOnError)
	// A bad flag is one error line (the caller prints it), not the
	// flag package's message plus the usage; -h prints the usage.
	fs.SetOutput(io.Discard)
	var cfg CommandConfig
	var keys keyFlags
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:8090", "address to listen on (host:port)")
	fs.Var(&keys, "key", "API key APP.KEY:SECRET or APP.KEY:SECRET=<capability JSON>; repeatable; no capability = all rights")
	fs.DurationVar(&cfg.Retention, "retention", 24*time.Hour, "how long messages are kept for history, rewind and resume")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "usage: devstack ably [-listen 127.0.0.1:8090] -key APP.KEY:SECRET [-key ...] [-retention 24h]")
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return err
		}
		return &UsageError{fmt.Errorf("ably: %w (devstack ably -h lists the flags)", err)}
	}
	if fs.NArg() > 0 {
		return &UsageError{fmt.Errorf("ably: unexpected arguments %q", fs.Args())}
	}
	cfg.Keys = keys
	if err := cfg.Validate(); err != nil {
		return &UsageError{fmt.Errorf("ably: %w", err)}
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	srv, err := Listen(ctx, cfg.Listen, Config{Keys: cfg.Keys, Retention: cfg.Retention, Logger: logger})
	if err != nil {
		return err
	}
	logger.Info("local Ably server ready", "addr", srv.Addr(), "keys", keys.String(), "retention", cfg.Retention)
	if exposed(cfg.Listen) {
		logger.Warn("listening beyond this machine without TLS: tokens and messages cross the network in clear; the local Ably server is for development on one machine", "listen", cfg.Listen)
	}
	<-ctx.Done()
	if err := srv.Close(); err != nil {
		return fmt.Errorf("ably: close: %w", err)
	}
	logger.Info("local Ably server stopped")
	return nil
}

// exposed reports whether listen reaches beyond this machine: a host that
// is not loopback, or none (every interface).
func exposed(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	return err != nil || !loopback.IsHost(host)
}

// UsageError is RunCommand's error for bad flags or settings, which
// running again unchanged cannot fix (the caller exits with its bad-input
// status).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }
