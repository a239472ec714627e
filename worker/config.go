package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/hitl/durable-approvals/activities"
	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/healthz"
	"github.com/hitl/durable-approvals/internal/loopback"
	"github.com/hitl/durable-approvals/internal/signing"
	"github.com/hitl/durable-approvals/internal/telemetry"
	"github.com/hitl/durable-approvals/workflows"
)

// Config is everything the worker needs, read once from flags and the
// environment. Flags override the environment.
type Config struct {
	Temporal   client.Options
	PolicyFile string

	OpenAIAPIKey  string
	OpenAIBaseURL string // empty: the openai-go default (api.openai.com)
	OpenAIModel   string

	Ably          ablyconn.Config
	AgentClientID string
	Channel       string

	BlogDir        string
	BlogWebhookURL string

	// AllowPlaintext lets OPENAI_BASE_URL (with a key) and BLOG_WEBHOOK_URL
	// be http:// to a host that is not loopback (config.EnvWorkerInsecureAllowPlaintext):
	// the key, the posts and any credential in the URL would travel in
	// clear, so without it such a URL is refused.
	AllowPlaintext bool

	// VerifyKeys are the bridge's public keys (HITL_DECISION_VERIFY_KEYS)
	// that decisions must be signed with.
	VerifyKeys string
	// RetiredKeys are public keys a rotation has retired
	// (HITL_DECISION_RETIRED_KEYS): a new decision signed with one is
	// refused, a call its run counted under one before still runs.
	RetiredKeys string

	// HealthAddr, when set, serves GET /healthz there: 200 while the
	// worker runs and Temporal answers, 503 otherwise (for container
	// health checks).
	HealthAddr string
	// TraceFile, when set, appends OpenTelemetry spans there (JSON lines).
	TraceFile string

	// WorkflowCache is how many runs the worker keeps in memory between
	// their workflow tasks (Temporal's sticky cache). A run that is not
	// cached replays its history on its next task, which costs time but
	// not correctness; each cached run waiting for an approval costs about
	// 100 kB (docs/BENCHMARKS.md), so the cache, not the number of waiting
	// runs, bounds the worker's memory.
	WorkflowCache int

	// MemoryLimit is the Go runtime's soft memory limit in bytes (Go's
	// own GOMEMLIMIT, which wins when set): the garbage collector works
	// harder near it instead of letting the heap grow to twice what is
	// live. 0 means none.
	MemoryLimit int64

	// LedgerKeep is how long tool results are kept at least (0: for
	// ever); see config.EnvLedgerKeep.
	LedgerKeep time.Duration

	// ReannounceEvery is how often the worker publishes again the pending
	// approval requests that left approvers' view (0: never); see
	// config.EnvReannounceEvery.
	ReannounceEvery time.Duration

	// ToolAttempts is how many times a run tries a tool before its
	// failure goes to the model (config.EnvToolAttempts): the run's
	// workflows.ToolRetry, recorded at its start.
	ToolAttempts int

	// ModelRetryFor is how long a run tries a model call before it fails
	// (config.EnvModelRetryFor): the run's workflows.ModelRetry, recorded
	// at its start.
	ModelRetryFor time.Duration
	// ModelTimeout bounds one attempt of a model call
	// (config.EnvModelTimeout): the run's ModelRetry.AttemptTimeout.
	ModelTimeout time.Duration

	LogLevel slog.Level
}

// EnvHealthAddr is the worker's operations endpoint address, /healthz and
// /metrics (empty: none).
const EnvHealthAddr = "HITL_HEALTH_ADDR"

// DefaultWorkflowCache is the default of Config.WorkflowCache (Temporal's
// own default is 10,000).
const DefaultWorkflowCache = 1000

// DefaultMemoryLimit is the worker's soft memory limit unless GOMEMLIMIT
// is set.
const DefaultMemoryLimit = 256 << 20

// maxWorkflowCache bounds HITL_WORKFLOW_CACHE.
const maxWorkflowCache = 1_000_000

// loadConfig reads flags from args and settings from env. It does not
// validate; call Validate.
func loadConfig(args []string, env config.Env, stderr io.Writer) (Config, error) {
	topts, err := config.TemporalOptions(env)
	if err != nil {
		return Config{}, err
	}
	ablyCfg, err := ablyconn.FromEnv(env.Get)
	if err != nil {
		return Config{}, err
	}
	c := Config{
		Temporal:        topts,
		PolicyFile:      env.Or(config.EnvPolicyFile, config.DefaultPolicyFile),
		OpenAIAPIKey:    env.Get(config.EnvOpenAIAPIKey),
		OpenAIBaseURL:   env.Get(config.EnvOpenAIBaseURL),
		OpenAIModel:     env.Or(config.EnvOpenAIModel, activities.DefaultOpenAIModel),
		Ably:            ablyCfg,
		AgentClientID:   env.Or(config.EnvAgentClientID, workflows.DefaultAgentClientID),
		Channel:         env.Or(config.EnvChannel, workflows.DefaultChannel),
		BlogDir:         env.Or(config.EnvBlogDir, config.DefaultBlogDir),
		BlogWebhookURL:  env.Get(config.EnvBlogWebhookURL),
		VerifyKeys:      env.Get(config.EnvDecisionVerifyKeys),
		RetiredKeys:     env.Get(config.EnvDecisionRetiredKeys),
		HealthAddr:      env.Get(EnvHealthAddr),
		TraceFile:       env.Get(telemetry.EnvTraceFile),
		WorkflowCache:   DefaultWorkflowCache,
		LedgerKeep:      DefaultLedgerKeep,
		ReannounceEvery: DefaultReannounceEvery,
		ToolAttempts:    workflows.DefaultToolAttempts,
		ModelRetryFor:   workflows.DefaultModelRetryFor,
		ModelTimeout:    workflows.DefaultModelAttemptTimeout,
		MemoryLimit:     DefaultMemoryLimit,
	}
	if v := env.Get(config.EnvWorkerInsecureAllowPlaintext); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, fmt.Errorf("%s=%q: want true or false", config.EnvWorkerInsecureAllowPlaintext, v)
		}
		c.AllowPlaintext = b
	}
	if env.Get(config.EnvGoMemLimit) != "" {
		c.MemoryLimit = 0 // the runtime applied it already
	}
	if v := env.Get(config.EnvWorkflowCache); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return Config{}, fmt.Errorf("%s=%q: want a number of runs", config.EnvWorkflowCache, v)
		}
		c.WorkflowCache = n
	}
	if err := durationEnv(env, config.EnvLedgerKeep, "want a duration such as 744h, or 0 for never", &c.LedgerKeep); err != nil {
		return Config{}, err
	}
	if err := durationEnv(env, config.EnvReannounceEvery, "want a duration such as 10m, or 0 for never", &c.ReannounceEvery); err != nil {
		return Config{}, err
	}
	if v := env.Get(config.EnvToolAttempts); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return Config{}, fmt.Errorf("%s=%q: want a number of attempts", config.EnvToolAttempts, v)
		}
		c.ToolAttempts = n
	}
	if err := durationEnv(env, config.EnvModelRetryFor, "want a duration such as 1h", &c.ModelRetryFor); err != nil {
		return Config{}, err
	}
	if err := durationEnv(env, config.EnvModelTimeout, "want a duration such as 5m", &c.ModelTimeout); err != nil {
		return Config{}, err
	}
	// Parse errors are returned and printed once, by main.
	fs := config.NewFlagSet("worker", "usage: worker [flags]\n\nRuns the HITL agent worker (workflow and activities) on task queue "+workflows.TaskQueue+".\nSettings come from the environment (see the README); flags override them.", stderr)
	fs.StringVar(&c.PolicyFile, "policy", c.PolicyFile, "approval policy file (env "+config.EnvPolicyFile+")")
	fs.StringVar(&c.OpenAIModel, "model", c.OpenAIModel, "OpenAI model (env "+config.EnvOpenAIModel+")")
	fs.StringVar(&c.BlogDir, "blog-dir", c.BlogDir, "directory publish_blog_post writes to (env "+config.EnvBlogDir+")")
	fs.StringVar(&c.HealthAddr, "health-addr", c.HealthAddr, "serve GET /healthz and GET /metrics on this host:port (env "+EnvHealthAddr+"; empty: off)")
	fs.StringVar(&c.TraceFile, "trace-file", c.TraceFile, "append OpenTelemetry spans to this file (env "+telemetry.EnvTraceFile+"; empty: off)")
	fs.IntVar(&c.WorkflowCache, "workflow-cache", c.WorkflowCache, "runs kept in memory between workflow tasks (env "+config.EnvWorkflowCache+")")
	fs.TextVar(&c.LogLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return c, nil
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.Temporal.HostPort == "" {
		errs = append(errs, errors.New(config.EnvTemporalAddress+" is empty"))
	}
	if c.PolicyFile == "" {
		errs = append(errs, errors.New("no policy file (-policy, "+config.EnvPolicyFile+")"))
	}
	if err := validateOpenAI(c.OpenAIAPIKey, c.OpenAIBaseURL, c.AllowPlaintext); err != nil {
		errs = append(errs, err)
	}
	if c.OpenAIModel == "" {
		errs = append(errs, errors.New(config.EnvOpenAIModel+" (-model) is empty"))
	}
	if c.Ably.APIKey == "" {
		errs = append(errs, errors.New(ablyconn.EnvAPIKey+" is required: the agent signs its own Ably token with it"))
	} else if err := c.Ably.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := workflows.ValidateTrustedClientID(config.EnvAgentClientID, c.AgentClientID); err != nil {
		errs = append(errs, err)
	}
	if err := ablyconn.ValidateChannel(c.Channel); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", config.EnvChannel, err))
	}
	if c.BlogDir == "" {
		errs = append(errs, errors.New(config.EnvBlogDir+" (-blog-dir) is empty"))
	}
	if c.VerifyKeys == "" {
		errs = append(errs, fmt.Errorf("%s is required: the bridge's public keys that decisions must be signed with (approver keygen)", config.EnvDecisionVerifyKeys),
			c.retiredKeysErr())
	} else if _, err := c.verifier(); err != nil {
		errs = append(errs, err)
	}
	if c.BlogWebhookURL != "" {
		// A webhook's credential may be anywhere in its URL (the user
		// information, the query, or the path itself, as in Slack-style
		// hooks): its errors show the scheme and host only, as the run's do.
		if u, err := config.ParseHTTPURL(c.BlogWebhookURL); err != nil {
			errs = append(errs, fmt.Errorf("%s=%s: want an absolute http(s) URL, http(s)://host[:port]/path", config.EnvBlogWebhookURL, activities.ShownURL(c.BlogWebhookURL)))
		} else if !c.AllowPlaintext && loopback.InClear(u) {
			errs = append(errs, fmt.Errorf("%s=%s: %w (the posts, and any credential in the URL)", config.EnvBlogWebhookURL, activities.ShownURL(c.BlogWebhookURL), errPlaintext))
		}
	}
	if c.HealthAddr != "" {
		if err := healthz.CheckAddr(c.HealthAddr); err != nil {
			errs = append(errs, fmt.Errorf("%s (-health-addr) %q: %w", EnvHealthAddr, c.HealthAddr, err))
		}
	}
	if c.WorkflowCache < 1 || c.WorkflowCache > maxWorkflowCache {
		errs = append(errs, fmt.Errorf("workflow cache %d (-workflow-cache, %s): want 1 to %d runs", c.WorkflowCache, config.EnvWorkflowCache, maxWorkflowCache))
	}
	if c.LedgerKeep != 0 && c.LedgerKeep < minLedgerKeep {
		errs = append(errs, fmt.Errorf("%s=%s: want 0 (keep for ever) or at least %s", config.EnvLedgerKeep, c.LedgerKeep, minLedgerKeep))
	}
	if err := c.toolRetry().Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%s=%d: want 1 to %d", config.EnvToolAttempts, c.ToolAttempts, workflows.MaxToolAttempts))
	}
	if c.ModelRetryFor < workflows.MinModelRetryFor || c.ModelRetryFor > workflows.MaxModelRetryFor {
		errs = append(errs, fmt.Errorf("%s=%s: want %s to %s", config.EnvModelRetryFor, c.ModelRetryFor, workflows.MinModelRetryFor, workflows.MaxModelRetryFor))
	}
	if c.ModelTimeout < workflows.MinModelAttemptTimeout || c.ModelTimeout > workflows.MaxModelAttemptTimeout {
		errs = append(errs, fmt.Errorf("%s=%s: want %s to %s", config.EnvModelTimeout, c.ModelTimeout, workflows.MinModelAttemptTimeout, workflows.MaxModelAttemptTimeout))
	}
	if c.ReannounceEvery != 0 && c.ReannounceEvery < minReannounceEvery {
		errs = append(errs, fmt.Errorf("%s=%s: want 0 (never) or at least %s", config.EnvReannounceEvery, c.ReannounceEvery, minReannounceEvery))
	}
	return errors.Join(errs...)
}

// validateOpenAI requires an API key unless the base URL points at a model
// on this machine (the dev stack's scripted model), and refuses to send a
// key over plain HTTP off this machine unless allowPlaintext.
func validateOpenAI(key, baseURL string, allowPlaintext bool) error {
	if baseURL != "" {
		u, err := config.ParseHTTPURL(baseURL)
		if err != nil {
			return fmt.Errorf("%s: %w", config.EnvOpenAIBaseURL, err)
		}
		if key == "" && !loopback.IsHost(u.Hostname()) {
			return fmt.Errorf("%s is required for %s=%s (only a model on 127.0.0.1/localhost runs without a key)",
				config.EnvOpenAIAPIKey, config.EnvOpenAIBaseURL, activities.ShownURL(baseURL))
		}
		if key != "" && !allowPlaintext && loopback.InClear(u) {
			return fmt.Errorf("%s=%s: %w (%s, and every prompt)", config.EnvOpenAIBaseURL, activities.ShownURL(baseURL), errPlaintext, config.EnvOpenAIAPIKey)
		}
		return nil
	}
	if key == "" {
		return fmt.Errorf("%s is required (or set %s to a local scripted model)", config.EnvOpenAIAPIKey, config.EnvOpenAIBaseURL)
	}
	return nil
}

// errPlaintext is the error of a URL that would travel in clear off this
// machine (loopback.InClear) without WORKER_INSECURE_ALLOW_PLAINTEXT.
var errPlaintext = errors.New("plain HTTP to a host that is not this machine would send it in clear: use https, or set " + config.EnvWorkerInsecureAllowPlaintext + "=true where something else protects the network path")

// checkPolicyTools compares the policy with the tools the worker
// implements. A policy tool the worker lacks is an error (the policy would
// promise a tool that cannot run); a registered tool without policy is
// only a warning, since the workflow denies its calls anyway.
func checkPolicyTools(p workflows.Policy, registered []string) (warnings []string, err error) {
	var missing []string
	for _, name := range p.ToolNames() {
		if !slices.Contains(registered, name) {
			missing = append(missing, name)
		}
	}
	for _, name := range registered {
		if _, ok := p.Tools[name]; !ok {
			warnings = append(warnings, fmt.Sprintf("tool %q has no policy: every call of it will be denied", name))
		}
	}
	if len(missing) > 0 {
		return warnings, fmt.Errorf("policy names tools the worker does not implement: %s (implemented: %s)",
			strings.Join(missing, ", "), strings.Join(registered, ", "))
	}
	return warnings, nil
}

// webhookWarnings warns about the policy's tools that act on post files in
// BLOG_DIR when posts go to the CMS webhook webhookURL instead: every call
// of them fails, after an approval where one is needed.
func webhookWarnings(p workflows.Policy, webhookURL string) []string {
	if webhookURL == "" {
		return nil
	}
	var warnings []string
	for _, name := range []string{activities.ToolSearchPosts, activities.ToolDeletePost} {
		if _, ok := p.Tools[name]; ok {
			warnings = append(warnings, fmt.Sprintf("tool %q works on the post files in BLOG_DIR, but posts go to BLOG_WEBHOOK_URL: every call of it will fail (remove it from the policy)", name))
		}
	}
	return warnings
}

// durationEnv sets *into from the variable name of env when it is set, or
// says it is not a duration, and what is wanted (hint).
func durationEnv(env config.Env, name, hint string, into *time.Duration) error {
	v := env.Get(name)
	if v == "" {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("%s=%q: %s", name, v, hint)
	}
	*into = d
	return nil
}

// modelRetry is the workflows.ModelRetry the worker hands its runs.
func (c Config) modelRetry() workflows.ModelRetry {
	return workflows.ModelRetry{For: c.ModelRetryFor, AttemptTimeout: c.ModelTimeout}
}

// toolRetry is the workflows.ToolRetry the worker hands its runs.
func (c Config) toolRetry() workflows.ToolRetry {
	r := workflows.DefaultToolRetry()
	r.MaxAttempts = int32(min(max(c.ToolAttempts, 0), workflows.MaxToolAttempts+1))
	return r
}

// retiredKeysErr is what is wrong with the retired keys on their own,
// named by their variable, or nil.
func (c Config) retiredKeysErr() error {
	if err := signing.CheckRetiredKeys(c.RetiredKeys); err != nil {
		return fmt.Errorf("%s: %w", config.EnvDecisionRetiredKeys, err)
	}
	return nil
}

// verifier parses the verify and retired keys; its error names the
// variable at fault, both when both are.
func (c Config) verifier() (*signing.Verifier, error) {
	if _, err := signing.ParseVerifier(c.VerifyKeys); err != nil {
		return nil, errors.Join(fmt.Errorf("%s: %w", config.EnvDecisionVerifyKeys, err), c.retiredKeysErr())
	}
	v, err := signing.ParseVerifierRetired(c.VerifyKeys, c.RetiredKeys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", config.EnvDecisionRetiredKeys, err)
	}
	return v, nil
}
