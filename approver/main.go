// Command approver is the human side of durable approvals, plus the trusted
// bridge that forwards approvers' decisions from Ably to Temporal.
//
//	approver [watch]                 interactive approval screen (default)
//	approver list                    print pending requests and exit
//	approver approve TOOLCALLID      approve one request and exit (--digest: the arguments listed; --edit: with edits)
//	approver reject TOOLCALLID --reason TEXT
//	approver bridge                  run the Ably → Temporal bridge
//	approver keygen [-id ID]         make a decision signing key pair
//
// Configuration comes from flags and the environment (see --help).
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/approvercli"
	"github.com/hitl/durable-approvals/internal/bridge"
	"github.com/hitl/durable-approvals/internal/healthz"
	"github.com/hitl/durable-approvals/internal/loglimit"
	"github.com/hitl/durable-approvals/internal/signing"
	"github.com/hitl/durable-approvals/internal/telemetry"
	"github.com/hitl/durable-approvals/internal/temporalconn"
	"github.com/hitl/durable-approvals/internal/termtext"
	"github.com/hitl/durable-approvals/workflows"
)

const usage = `usage: approver [command] [flags]

Commands:
  watch                      interactive approval screen (default)
  list                       print pending approval requests and exit
  approve TOOLCALLID [--digest HEX] [--reason TEXT] [--force] [--wait 10s] [--wait-outcome 10s] [--edit | --arguments JSON]
                             prints the request it approves; --digest is the Digest
                             "list" showed for the arguments you reviewed (needed once
                             the arguments were edited since they were published)
  reject  TOOLCALLID --reason TEXT [--force] [--wait 10s] [--wait-outcome 10s]
  bridge                     forward approval-responses from Ably to Temporal
  keygen [--id ID]           print a new decision signing key pair (bridge and worker; id: k-<12 hex> of its key)
  help                       show this help

Environment:
  ABLY_ENDPOINT, ABLY_TLS     Ably endpoint (empty = Ably itself); plain ws:// only to loopback
  ABLY_INSECURE_ALLOW_PLAINTEXT   allow ABLY_TLS=false off loopback (tokens in clear text)
  ABLY_CHANNEL                approvals channel (default ai:big-bad-any)
  HITL_AGENT_CLIENT_ID        the agent's clientId (default hitl:agent)
  AUTH_URL                    auth server (default http://127.0.0.1:3001); https:// off loopback
  APPROVER_INSECURE_ALLOW_PLAINTEXT   allow an http:// AUTH_URL off loopback (password in clear text)
  APPROVER_USER, APPROVER_PASSWORD   approver credentials
  VISUAL, EDITOR              editor of approve --edit (default vi)
  bridge only:
  ABLY_API_KEY                Ably key (appId.keyId:secret)
  HITL_BRIDGE_CLIENT_ID       the bridge's clientId (default hitl:bridge)
  HITL_DECISION_SIGNING_KEY   <id>:<base64 Ed25519 seed> the bridge signs decisions with (approver keygen)
  TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, ...   Temporal client (envconfig)
  HITL_HEALTH_ADDR            serve GET /healthz and GET /metrics there (empty = off)
  HITL_TRACE_FILE             append OpenTelemetry spans to this file (empty = off)

Run "approver COMMAND --help" for the flags of a command.
`

// Exit codes.
const (
	exitOK    = 0
	exitError = config.ExitError
	exitUsage = config.ExitUsage
)

func main() {
	// A second SIGINT or SIGTERM ends the process at once (config.NotifyContext).
	ctx, stop := config.NotifyContext()
	code := run(ctx, os.Args[1:], config.FromOS(), os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, env config.Env, stdin io.Reader, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, env, stdin, stdout, stderr)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case config.ExitCode(err) == exitUsage:
		fmt.Fprintf(stderr, "approver: %s\n(run \"approver --help\" for usage)\n", termtext.Error(err))
		return exitUsage
	default:
		fmt.Fprintf(stderr, "approver: %s\n", termtext.Error(err))
		return exitError
	}
}

func dispatch(ctx context.Context, args []string, env config.Env, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 1 {
		switch args[0] {
		case "help", "-h", "-help", "--help":
			fmt.Fprint(stdout, usage)
			return nil
		}
	}
	cmd := "watch"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "watch", "list", "approve", "reject":
		return runCLI(ctx, cmd, args, env, stdin, stdout, stderr)
	case "bridge":
		return runBridge(ctx, args, env, stderr)
	case "keygen":
		return runKeygen(args, stdout, stderr)
	default:
		return config.Usage(fmt.Errorf("unknown command %q", cmd))
	}
}

// parseInterspersed parses flags that may follow positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// newFlagSet is the flag set of the command name, whose usage line names
// its operands. Its errors are returned, and printed once by run as the
// command's one error line; the flag package prints only the usage.
func newFlagSet(name, operands string, stderr io.Writer) *flag.FlagSet {
	return config.NewFlagSet("approver "+name, fmt.Sprintf("usage: approver %s [flags]%s", name, operands), stderr)
}

func runCLI(ctx context.Context, cmd string, args []string, env config.Env, stdin io.Reader, stdout, stderr io.Writer) error {
	c, err := parseCLI(cmd, args, env, stdin, stdout, stderr)
	if err != nil {
		return err
	}
	switch cmd {
	case "list":
		return approvercli.List(ctx, c.cfg, stdout)
	case "watch":
		return approvercli.Watch(ctx, c.cfg, stdin, stdout)
	}
	return approvercli.Decide(ctx, c.cfg, c.decide, stdout)
}

// cliCommand is an approver command read from its flags, operands and
// the environment, and validated.
type cliCommand struct {
	cfg    approvercli.Config
	decide approvercli.DecideArgs // approve and reject
}

// parseCLI reads command cmd (watch, list, approve or reject); bad input
// is a config.Usage error.
func parseCLI(cmd string, args []string, env config.Env, stdin io.Reader, stdout, stderr io.Writer) (cliCommand, error) {
	ablyCfg, err := ablyconn.FromEnv(env.Get)
	if err != nil {
		return cliCommand{}, config.Usage(err)
	}
	cfg := approvercli.Config{
		Ably:          ablyCfg,
		Channel:       env.Or(config.EnvChannel, workflows.DefaultChannel),
		AgentClientID: env.Or(config.EnvAgentClientID, workflows.DefaultAgentClientID),
		AuthURL:       env.Or(config.EnvAuthURL, config.DefaultAuthURL),
		User:          env.Get(config.EnvApproverUser),
		Password:      env[config.EnvApproverPassword],
		Log:           slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if v := env.Get(config.EnvApproverInsecureAllowPlaintext); v != "" {
		if cfg.AllowPlaintext, err = strconv.ParseBool(v); err != nil {
			return cliCommand{}, config.Usage(fmt.Errorf("%s=%q: want true or false", config.EnvApproverInsecureAllowPlaintext, v))
		}
	}
	operands := ""
	if cmd == "approve" || cmd == "reject" {
		operands = " TOOLCALLID"
	}
	fs := newFlagSet(cmd, operands, stderr)
	fs.StringVar(&cfg.Channel, "channel", cfg.Channel, "approvals channel (ABLY_CHANNEL)")
	fs.StringVar(&cfg.AgentClientID, "agent-client-id", cfg.AgentClientID, "clientId of the agent; requests from anyone else are ignored (HITL_AGENT_CLIENT_ID)")
	fs.StringVar(&cfg.AuthURL, "auth-url", cfg.AuthURL, "auth server base URL (AUTH_URL)")
	// -h shows AUTH_URL as the default: without a password or token it may hold.
	fs.Lookup("auth-url").DefValue = config.RedactURL(cfg.AuthURL)
	fs.BoolVar(&cfg.AllowPlaintext, "insecure-allow-plaintext", cfg.AllowPlaintext, "allow an http:// auth URL to a host that is not loopback: the password travels in clear text ("+config.EnvApproverInsecureAllowPlaintext+")")
	fs.StringVar(&cfg.User, "user", cfg.User, "approver user name (APPROVER_USER); the password is read from APPROVER_PASSWORD only")
	fs.IntVar(&cfg.HistoryPages, "history-pages", 10, "pages of 100 history messages read at start")
	if cmd == "watch" {
		fs.StringVar(&cfg.Workflow, "workflow", "", "ask only about the requests of this workflow `ID` (the others are left for other approvers, or a watch without it)")
	}
	var da approvercli.DecideArgs
	if cmd == "approve" || cmd == "reject" {
		fs.StringVar(&da.Reason, "reason", "", "reason for the decision (required for reject)")
		fs.BoolVar(&da.Force, "force", false, "send even if no pending request for the tool call is known (only headers.toolCallId), or if your role is below the required one (the agent records it and keeps waiting)")
		fs.DurationVar(&da.Wait, "wait", approvercli.DefaultDecideWait, "how long to wait for the approval request if it is not published yet (0 or negative: do not wait)")
		fs.DurationVar(&da.Outcome, "wait-outcome", approvercli.DefaultOutcomeWait, "how long to wait, once the decision is sent, for the agent's word on it: resolved, counted, or not counted with the reason (exit status 1); 0: do not wait")
	}
	if cmd == "approve" {
		fs.BoolVar(&da.Edit, "edit", false, "approve with edits: edit the arguments in $VISUAL or $EDITOR first (editable policies only)")
		fs.StringVar(&da.Arguments, "arguments", "", "approve with these edited arguments (a JSON object; editable policies only)")
		fs.StringVar(&da.Digest, "digest", "", fmt.Sprintf("the `HEX` Digest that \"approver list\" showed for the arguments you reviewed (sha256: optional, at least %d hex digits): refuse unless the pending arguments have it; needed once the arguments were edited", approvercli.MinDigestPrefix))
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cliCommand{}, err
		}
		return cliCommand{}, config.Usage(err)
	}
	if cfg.HistoryPages == 0 {
		// 0 is the library's "default"; on the command line it is a mistake.
		return cliCommand{}, config.Usage(fmt.Errorf("-history-pages 0: want 1 to %d", approvercli.MaxHistoryPages))
	}
	if err := cfg.Validate(); err != nil {
		return cliCommand{}, config.Usage(err)
	}
	switch cmd {
	case "watch", "list":
		if len(pos) != 0 {
			return cliCommand{}, config.Usage(fmt.Errorf("%s takes no arguments, got %q", cmd, pos))
		}
		return cliCommand{cfg: cfg}, nil
	}
	if len(pos) != 1 {
		return cliCommand{}, config.Usage(fmt.Errorf("%s needs exactly one TOOLCALLID", cmd))
	}
	da.ToolCallID = pos[0]
	da.Decision = workflows.DecisionApproved
	if cmd == "reject" {
		da.Decision = workflows.DecisionRejected
		if strings.TrimSpace(da.Reason) == "" {
			return cliCommand{}, config.Usage(errors.New("reject needs --reason"))
		}
	}
	if da.Edit {
		da.Editor = approvercli.EditorFromEnv(env.Get, stdin, stdout, stderr)
	}
	if da.Wait == 0 {
		// 0 is the library's "default" (DefaultDecideWait); on the command
		// line it means what --wait-outcome 0 means: do not wait.
		da.Wait = -1
	}
	if err := da.Validate(); err != nil {
		return cliCommand{}, config.Usage(err)
	}
	return cliCommand{cfg: cfg, decide: da}, nil
}

// bridgeFlags is the bridge's configuration from flags and environment.
type bridgeFlags struct {
	Ably       ablyconn.Config
	Channel    string
	ClientID   string
	SigningKey string // HITL_DECISION_SIGNING_KEY
	// AgentClientID is the agent's clientId, whose messages the bridge
	// learns the open requests from (HITL_AGENT_CLIENT_ID).
	AgentClientID string
	// HealthAddr, when set, serves GET /healthz (200 while Temporal
	// answers and the Ably channel is attached) for container health
	// checks, and GET /metrics.
	HealthAddr string
	// TraceFile, when set, appends OpenTelemetry spans there.
	TraceFile string
}

// envHealthAddr is the bridge's health endpoint address (empty: none).
const envHealthAddr = "HITL_HEALTH_ADDR"

func (b bridgeFlags) Validate() error {
	var errs []error
	if err := b.Ably.Validate(); err != nil {
		errs = append(errs, err)
	}
	if b.Ably.APIKey == "" {
		errs = append(errs, fmt.Errorf("%s is required for the bridge", ablyconn.EnvAPIKey))
	}
	if err := ablyconn.ValidateChannel(b.Channel); err != nil {
		errs = append(errs, fmt.Errorf("%s (-channel): %w", config.EnvChannel, err))
	}
	if err := workflows.ValidateTrustedClientID(config.EnvBridgeClientID+" (-client-id)", b.ClientID); err != nil {
		errs = append(errs, err)
	}
	if err := workflows.ValidateTrustedClientID(config.EnvAgentClientID, b.AgentClientID); err != nil {
		errs = append(errs, err)
	}
	if b.SigningKey == "" {
		errs = append(errs, fmt.Errorf("%s is required for the bridge (make one with `approver keygen`)", config.EnvDecisionSigningKey))
	} else if _, err := signing.ParseSigner(b.SigningKey); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", config.EnvDecisionSigningKey, err))
	}
	if b.HealthAddr != "" {
		if err := healthz.CheckAddr(b.HealthAddr); err != nil {
			errs = append(errs, fmt.Errorf("%s (-health-addr) %q: %w", envHealthAddr, b.HealthAddr, err))
		}
	}
	return errors.Join(errs...)
}

// bridgeLogger is the bridge's logger: JSON lines, at most
// loglimit.DefaultPerWindow warnings or errors of one message a minute
// (the bridge logs each message it drops, and any approver can publish on
// the channel); the drops are all counted in hitl_bridge_decisions_dropped_total.
func bridgeLogger(w io.Writer) *slog.Logger {
	return slog.New(loglimit.New(slog.NewJSONHandler(w, nil), loglimit.Options{}))
}

func runBridge(ctx context.Context, args []string, env config.Env, stderr io.Writer) error {
	ablyCfg, err := ablyconn.FromEnv(env.Get)
	if err != nil {
		return config.Usage(err)
	}
	bf := bridgeFlags{
		Ably:       ablyCfg,
		Channel:    env.Or(config.EnvChannel, workflows.DefaultChannel),
		ClientID:   env.Or(config.EnvBridgeClientID, workflows.DefaultBridgeClientID),
		SigningKey: env.Get(config.EnvDecisionSigningKey),
		HealthAddr: env.Get(envHealthAddr),
		TraceFile:  env.Get(telemetry.EnvTraceFile),

		AgentClientID: env.Or(config.EnvAgentClientID, workflows.DefaultAgentClientID),
	}
	fs := newFlagSet("bridge", "", stderr)
	fs.StringVar(&bf.HealthAddr, "health-addr", bf.HealthAddr, "serve GET /healthz and GET /metrics on this host:port ("+envHealthAddr+"; empty: off)")
	fs.StringVar(&bf.TraceFile, "trace-file", bf.TraceFile, "append OpenTelemetry spans to this file ("+telemetry.EnvTraceFile+"; empty: off)")
	fs.StringVar(&bf.Channel, "channel", bf.Channel, "approvals channel (ABLY_CHANNEL)")
	fs.StringVar(&bf.ClientID, "client-id", bf.ClientID, "the bridge's Ably clientId (HITL_BRIDGE_CLIENT_ID)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return config.Usage(err)
	}
	if fs.NArg() != 0 {
		return config.Usage(fmt.Errorf("bridge takes no arguments, got %q", fs.Args()))
	}
	if err := bf.Validate(); err != nil {
		return config.Usage(err)
	}
	topts, err := config.TemporalOptions(env)
	if err != nil {
		return config.Usage(err)
	}
	signer, err := signing.ParseSigner(bf.SigningKey)
	if err != nil {
		return config.Usage(err)
	}
	log := bridgeLogger(stderr)
	// The workers log theirs ("decision verify keys"): this one must be
	// among them.
	log.Info("decision signing key", "keyId", signer.KeyID())
	metrics, err := telemetry.NewMetrics("bridge", log)
	if err != nil {
		return err
	}
	defer shutdown(ctx, log, "metrics", metrics.Shutdown)
	tracing, err := telemetry.NewTracing("hitl-bridge", bf.TraceFile)
	if err != nil {
		return config.Usage(err)
	}
	defer shutdown(ctx, log, "tracing", tracing.Shutdown)
	interceptors, err := tracing.ClientInterceptors()
	if err != nil {
		return err
	}
	topts.MetricsHandler = metrics.TemporalMetrics()
	topts.Interceptors = append(topts.Interceptors, interceptors...)
	tc, err := temporalconn.Dial(ctx, topts, log)
	if err != nil {
		if ctx.Err() != nil {
			log.Info("bridge stopped before Temporal answered")
			return nil
		}
		return err
	}
	defer tc.Close()
	status := &bridge.Status{}
	if bf.HealthAddr != "" {
		// Healthy only while Temporal answers and the channel is
		// attached: a bridge Ably refuses receives no decision.
		_, stop, err := healthz.Serve(ctx, bf.HealthAddr, healthz.Ops(healthz.Handler(tc, log, status.Check), metrics.Handler()), log)
		if err != nil {
			return err
		}
		defer stop()
	}
	err = bridge.Run(ctx, bridge.Config{
		Ably:     bf.Ably,
		Channel:  bf.Channel,
		ClientID: bf.ClientID,
		Temporal: tc,
		Log:      log,
		Signer:   signer,
		Status:   status,
		Meter:    metrics.Meter("hitl-bridge"),
		// The bridge learns the open requests from the agent's messages.
		AgentClientID: bf.AgentClientID,
	})
	if err == nil {
		log.Info("bridge stopped")
	}
	return err
}

// shutdown runs stop with a short deadline of its own, logging a failure.
func shutdown(ctx context.Context, log *slog.Logger, what string, stop func(context.Context) error) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := stop(sctx); err != nil {
		log.Warn("shutdown", "part", what, "err", err)
	}
}

// runKeygen prints a new decision signing key pair: the bridge's
// HITL_DECISION_SIGNING_KEY and the worker's HITL_DECISION_VERIFY_KEYS.
func runKeygen(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keygen", "", stderr)
	id := fs.String("id", "", "key id (a-z 0-9 . _ -), so that keys can be rotated (default: k- and 12 hex digits of the public key's SHA-256, so each new pair has its own)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return config.Usage(err)
	}
	if fs.NArg() != 0 {
		return config.Usage(fmt.Errorf("keygen takes no arguments, got %q", fs.Args()))
	}
	sk, vk, err := signing.Generate(*id, rand.Reader)
	if err != nil {
		return config.Usage(err)
	}
	fmt.Fprintf(stdout, "# the approver bridge only (secret):\n%s=%s\n"+
		"# every worker (public; while rotating, list the old and the new key, comma-separated, before the bridges switch\n"+
		"# to the new one; then move the old one to %s until the policy's longest approval timeout after,\n"+
		"# or calls approved with it are refused):\n%s=%s\n",
		config.EnvDecisionSigningKey, sk, config.EnvDecisionRetiredKeys, config.EnvDecisionVerifyKeys, vk)
	return nil
}
