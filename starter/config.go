package main

import (
	"errors"
	"fmt"
	"io"
	"os/user"
	"strings"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/client"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/workflows"
)

// Config is one starter invocation.
type Config struct {
	Temporal    client.Options
	UIURL       string // Temporal Web UI base URL, for the printed link
	Prompt      string
	Requester   string
	Wait        bool
	DialTimeout time.Duration
	MaxTurns    int
	// RetryWatchEvery is how often --wait asks Temporal about the run's
	// failed attempts (watchRetries); 0: DefaultRetryWatchEvery.
	RetryWatchEvery time.Duration
}

const usage = `usage: starter [flags] "PROMPT"

Starts one agent run on Temporal and prints its workflow id and Web UI link.
Settings: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_UI_URL. The policy is the worker's.
Flags may come before or after the prompt.

flags:`

// loadConfig reads flags and the prompt from args and settings from env.
// Flags may appear before and after the prompt; several positional
// arguments are joined with spaces.
func loadConfig(args []string, env config.Env, stderr io.Writer) (Config, error) {
	topts, err := config.TemporalOptions(env)
	if err != nil {
		return Config{}, err
	}
	c := Config{
		Temporal: topts,
		UIURL:    env.Or(config.EnvTemporalUIURL, config.DefaultTemporalUIURL),
	}
	// Parse errors are returned and printed once, by main.
	fs := config.NewFlagSet("starter", usage, stderr)
	fs.StringVar(&c.Requester, "requester", "", "who asks; shown to approvers (default $USER, else the OS user name, else "+unknownRequester+")")
	fs.BoolVar(&c.Wait, "wait", false, "wait for the run to finish, then print the answer and the audit trail")
	fs.StringVar(&c.UIURL, "ui", c.UIURL, "Temporal Web UI base URL (env "+config.EnvTemporalUIURL+")")
	fs.DurationVar(&c.DialTimeout, "dial-timeout", 10*time.Second, "how long to wait for Temporal to answer and know the namespace (a refused connection fails at once)")
	fs.IntVar(&c.MaxTurns, "max-turns", 0, "bound on model calls (0: the workflow's default)")
	var words []string
	for {
		if err := fs.Parse(args); err != nil {
			return Config{}, err
		}
		if fs.NArg() == 0 {
			break
		}
		words = append(words, fs.Arg(0))
		args = fs.Args()[1:]
	}
	c.Prompt = strings.TrimSpace(strings.Join(words, " "))
	if c.Requester = strings.TrimSpace(c.Requester); c.Requester == "" {
		c.Requester = defaultRequester(env, user.Current)
	}
	return c, nil
}

// unknownRequester is the requester when nothing names one.
const unknownRequester = "unknown"

// defaultRequester is $USER, else the name of the OS user (containers and
// CI often run without $USER), else unknownRequester: a missing name must
// not stop a run.
func defaultRequester(env config.Env, current func() (*user.User, error)) string {
	if u := env.Get("USER"); u != "" {
		return u
	}
	if u, err := current(); err == nil {
		if name := strings.TrimSpace(u.Username); name != "" {
			return name
		}
	}
	return unknownRequester
}

// maxPromptBytes bounds the prompt; the whole conversation lives in the
// workflow history.
const maxPromptBytes = 16 << 10

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Prompt == "" {
		errs = append(errs, errors.New(`no prompt: usage: starter [flags] "PROMPT"`))
	} else if len(c.Prompt) > maxPromptBytes {
		errs = append(errs, fmt.Errorf("prompt is %d bytes, at most %d", len(c.Prompt), maxPromptBytes))
	} else if !utf8.ValidString(c.Prompt) {
		// JSON would carry U+FFFD in place of the bytes.
		errs = append(errs, errors.New("prompt is not valid UTF-8"))
	}
	if len(c.Requester) > workflows.MaxClientIDLen {
		// The requester is compared with approvers' Ably clientIds
		// (distinctFromRequester): a longer one could never match.
		errs = append(errs, fmt.Errorf("--requester is %d bytes, at most %d (an Ably clientId's limit)", len(c.Requester), workflows.MaxClientIDLen))
	} else if err := workflows.ValidatePrintable("--requester", c.Requester, workflows.MaxClientIDLen); err != nil {
		// Approvers are shown it; JSON would carry U+FFFD in place of
		// bytes that are not UTF-8.
		errs = append(errs, err)
	}
	if c.DialTimeout <= 0 {
		errs = append(errs, errors.New("--dial-timeout must be positive"))
	}
	if c.MaxTurns < 0 || c.MaxTurns > workflows.MaxTurnsLimit {
		errs = append(errs, fmt.Errorf("--max-turns %d: want 0 (the workflow's default, %d) to %d", c.MaxTurns, workflows.DefaultMaxTurns, workflows.MaxTurnsLimit))
	}
	if c.Temporal.HostPort == "" {
		errs = append(errs, errors.New(config.EnvTemporalAddress+" is empty"))
	}
	if _, err := config.ParseHTTPURL(c.UIURL); err != nil {
		errs = append(errs, fmt.Errorf("--ui %q (%s): want the Web UI's http(s) base URL, such as %s", config.RedactURL(c.UIURL), config.EnvTemporalUIURL, config.DefaultTemporalUIURL))
	}
	return errors.Join(errs...)
}
