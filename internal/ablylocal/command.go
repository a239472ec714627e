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

// envAPIKey is the variable RunCommand takes its key from when no -key is
// given: the one the programs read their key from.
const envAPIKey = "ABLY_API_KEY"

// keyFlags collects repeated -key flags as given; they are parsed after
// the flags, so that a refused one is named without its secret (the flag
// package's error would quote the whole value).
type keyFlags []string

func (k *keyFlags) String() string { return "" }

func (k *keyFlags) Set(v string) error {
	*k = append(*k, v)
	return nil
}

// parse returns the keys, or the error of the first refused one, naming
// it as "NAME:xxxxx".
func (k keyFlags) parse() ([]Key, error) {
	keys := make([]Key, 0, len(k))
	for _, raw := range k {
		key, err := ParseKey(raw)
		if err != nil {
			// Without a ':' the whole value may be the secret: none of it
			// is shown.
			name, _, ok := strings.Cut(strings.TrimSpace(raw), ":")
			if !ok {
				return nil, fmt.Errorf("-key (not shown: it has no ':'): %w", err)
			}
			return nil, fmt.Errorf("-key %q: %w", name+":xxxxx", err)
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// CommandConfig is the `devstack ably` command's configuration.
type CommandConfig struct {
	Listen    string
	Keys      []Key
	Retention time.Duration
	// ResumeWindow is Config.ResumeWindow: how long back a re-attach may
	// replay (Ably's 2 minutes by default), at most Retention.
	ResumeWindow time.Duration
}

// Validate checks the command configuration.
func (c CommandConfig) Validate() error {
	if c.Listen == "" {
		return errors.New("-listen is required")
	}
	if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("-listen %q: want host:port", c.Listen)
	} else if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("-listen %q: want host:port with a port number from 0 to 65535", c.Listen)
	}
	if len(c.Keys) == 0 {
		return errors.New("at least one -key APP.KEY:SECRET is required (or ABLY_API_KEY, which keeps the secret out of the process list)")
	}
	if c.Retention <= 0 {
		return errors.New("-retention must be positive")
	}
	if c.ResumeWindow <= 0 || c.ResumeWindow > c.Retention {
		return fmt.Errorf("-resume-window %s: want more than 0 and at most -retention (%s): a message replayed must still be kept", c.ResumeWindow, c.Retention)
	}
	return Config{Keys: c.Keys}.Validate()
}

// RunCommand runs `devstack ably`: it parses flags (-listen, repeatable
// -key, -retention, -resume-window), with ABLY_API_KEY (read through getenv) as the key
// when no -key is given, serves until ctx is done and returns nil then.
func RunCommand(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("ably", flag.ContinueOnError)
	// A bad flag is one error line (the caller prints it), not the
	// flag package's message plus the usage; -h prints the usage.
	fs.SetOutput(io.Discard)
	var cfg CommandConfig
	var keys keyFlags
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:8090", "address to listen on (host:port)")
	fs.Var(&keys, "key", "API key APP.KEY:SECRET or APP.KEY:SECRET=<capability JSON>; repeatable; no capability = all rights")
	fs.DurationVar(&cfg.Retention, "retention", 24*time.Hour, "how long messages are kept for history and rewind")
	fs.DurationVar(&cfg.ResumeWindow, "resume-window", defaultResumeWindow, "how far back a re-attach replays a channel's messages (Ably keeps 2 minutes; shorter tries a client's catch-up from history sooner); at most -retention")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "usage: devstack ably [-listen 127.0.0.1:8090] -key APP.KEY:SECRET [-key ...] [-retention 24h] [-resume-window 2m]\n(without -key, the key is ABLY_API_KEY's: a flag's value shows in the process list)")
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return err
		}
		return &UsageError{fmt.Errorf("ably: %w (devstack ably -h lists the flags)", err)}
	}
	if fs.NArg() > 0 {
		return &UsageError{fmt.Errorf("ably: unexpected arguments %q", fs.Args())}
	}
	// A flag's value shows in the process list, to every user of the
	// machine: without -key, the key is ABLY_API_KEY's, as the programs
	// read it.
	from := "-key"
	if len(keys) == 0 {
		if v := strings.TrimSpace(getenv(envAPIKey)); v != "" {
			keys, from = keyFlags{v}, envAPIKey
		}
	}
	var err error
	if cfg.Keys, err = keys.parse(); err != nil {
		if from != "-key" {
			err = &renamedError{msg: strings.Replace(err.Error(), "-key", from, 1), err: err}
		}
		return &UsageError{fmt.Errorf("ably: %w", err)}
	}
	if err := cfg.Validate(); err != nil {
		return &UsageError{fmt.Errorf("ably: %w", err)}
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	srv, err := Listen(ctx, cfg.Listen, Config{Keys: cfg.Keys, Retention: cfg.Retention, ResumeWindow: cfg.ResumeWindow, Logger: logger})
	if err != nil {
		return err
	}
	logger.Info("local Ably server ready", "addr", srv.Addr(), "keys", keyNames(cfg.Keys), "retention", srv.cfg.Retention, "resumeWindow", srv.cfg.ResumeWindow)
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

// keyNames lists the keys' names, comma-separated.
func keyNames(keys []Key) string {
	names := make([]string, len(keys))
	for i, key := range keys {
		names[i] = key.Name
	}
	return strings.Join(names, ",")
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

// renamedError is err with its text naming the key's source as it was
// given (ABLY_API_KEY rather than -key); errors.Is and errors.As see err.
type renamedError struct {
	msg string
	err error
}

func (e *renamedError) Error() string { return e.msg }
func (e *renamedError) Unwrap() error { return e.err }
