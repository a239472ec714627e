package devstack

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/hitl/durable-approvals/activities"
	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/workflows"
)

// ProdConfig is one run of the production topology without Docker
// (`devstack prod`, ProdUp).
type ProdConfig struct {
	Root string // repository root
	// Work holds the stack's files (logs, built programs, posts, rendered
	// configs, traces). Empty: a new temporary directory, removed on
	// Close. PostgreSQL's data always lives in a temporary directory of
	// its own.
	Work string

	Workers int // worker processes (default 2)
	Bridges int // bridge processes (default 2)
	UI      bool

	// Loopback ports a human uses; 0 picks a spare one. Every other port
	// (PostgreSQL, Temporal's services, membership, metrics) is spare.
	TemporalPort, UIPort, AuthPort int

	Namespace string
	Channel   string
	// PolicyFile is the approval policy of the workers and the auth
	// server (default config/policy.json).
	PolicyFile string

	// PostgresBin holds initdb and postgres (default DefaultPostgresBin);
	// PostgresOSUser runs them when devstack runs as root.
	PostgresBin    string
	PostgresOSUser string

	// OpenAI settings as in Config: without a key, the scripted model.
	OpenAIKey     string
	OpenAIBaseURL string
	OpenAIModel   string

	// BlogWebhookURL, when set, makes publish_blog_post POST each post
	// there (BLOG_WEBHOOK_URL) instead of writing a file.
	BlogWebhookURL string

	// Trace makes every worker and bridge append OpenTelemetry spans to
	// Work/traces/NAME.jsonl (HITL_TRACE_FILE).
	Trace bool

	// WorkerTuning holds the worker's tuning variables
	// (config.WorkerTuningEnv) as devstack's environment sets them; each
	// worker gets them all ("" keeps the worker's default), as compose
	// passes them on.
	WorkerTuning map[string]string

	Timeout time.Duration // bound on each wait for a part (builds included)
}

// Scripted reports whether the stack runs the offline scripted model.
func (c ProdConfig) Scripted() bool { return c.OpenAIKey == "" && c.OpenAIBaseURL == "" }

// DefaultProdConfig is the production topology with root as the
// repository root: two workers, two bridges, the UI.
func DefaultProdConfig(root string) ProdConfig {
	return ProdConfig{
		Root:           root,
		Workers:        2,
		Bridges:        2,
		UI:             true,
		Namespace:      config.DefaultTemporalNamespace,
		Channel:        workflows.DefaultChannel,
		PolicyFile:     filepath.Join(root, "config", "policy.json"),
		PostgresBin:    DefaultPostgresBin,
		PostgresOSUser: "postgres",
		OpenAIModel:    activities.DefaultOpenAIModel,
		Timeout:        3 * time.Minute,
	}
}

// parseProdConfig reads the flags of `devstack prod` and the environment.
func parseProdConfig(args []string, env config.Env, cwd string, stderr io.Writer) (ProdConfig, error) {
	cwd, err := filepath.Abs(cwd)
	if err != nil {
		return ProdConfig{}, fmt.Errorf("working directory: %w", err)
	}
	root, rootErr := findRoot(cwd)
	c := DefaultProdConfig(root)
	c.Namespace = env.Or(config.EnvTemporalNamespace, c.Namespace)
	c.Channel = env.Or(config.EnvChannel, c.Channel)
	c.OpenAIKey = env.Get(config.EnvOpenAIAPIKey)
	c.OpenAIBaseURL = env.Get(config.EnvOpenAIBaseURL)
	c.OpenAIModel = env.Or(config.EnvOpenAIModel, c.OpenAIModel)
	c.WorkerTuning = map[string]string{}
	for _, name := range config.WorkerTuningEnv() {
		c.WorkerTuning[name] = env.Get(name)
	}
	c.PolicyFile = ""
	// Parse errors are returned and printed once, by main.
	fs := config.NewFlagSet("devstack prod", "", stderr)
	c.Root = ""
	fs.StringVar(&c.Root, "root", "", "repository root (default: found from the working directory)")
	fs.StringVar(&c.Work, "work", "", "directory for logs, built programs, posts and configs (default: a temporary one, removed on exit)")
	fs.IntVar(&c.Workers, "workers", c.Workers, "worker processes")
	fs.IntVar(&c.Bridges, "bridges", c.Bridges, "bridge processes")
	fs.BoolVar(&c.UI, "ui", c.UI, "run the Temporal Web UI server")
	fs.IntVar(&c.TemporalPort, "temporal-port", 0, "Temporal frontend port on 127.0.0.1 (0: a spare one)")
	fs.IntVar(&c.UIPort, "ui-port", 0, "Web UI port (0: a spare one)")
	fs.IntVar(&c.AuthPort, "auth-port", 0, "auth server port (0: a spare one)")
	fs.StringVar(&c.Namespace, "namespace", c.Namespace, "Temporal namespace (env TEMPORAL_NAMESPACE)")
	fs.StringVar(&c.PolicyFile, "policy", env.Get(config.EnvPolicyFile), "approval policy (env "+config.EnvPolicyFile+"; default config/policy.json)")
	fs.StringVar(&c.PostgresBin, "postgres-bin", c.PostgresBin, "directory of PostgreSQL's initdb and postgres")
	fs.StringVar(&c.PostgresOSUser, "postgres-user", c.PostgresOSUser, "unprivileged user to run PostgreSQL as, when devstack runs as root")
	fs.BoolVar(&c.Trace, "trace", false, "write OpenTelemetry spans of the workers and bridges to WORK/traces")
	fs.DurationVar(&c.Timeout, "timeout", c.Timeout, "bound on each wait for a part to become healthy (includes builds)")
	if err := fs.Parse(args); err != nil {
		return ProdConfig{}, err
	}
	if fs.NArg() > 0 {
		return ProdConfig{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.Root == "" {
		if rootErr != nil {
			return ProdConfig{}, rootErr
		}
		c.Root = root
	}
	for _, p := range []*string{&c.Root, &c.Work, &c.PolicyFile, &c.PostgresBin} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(cwd, *p)
		}
	}
	if c.PolicyFile == "" {
		c.PolicyFile = filepath.Join(c.Root, "config", "policy.json")
	}
	return c, nil
}

// Validate reports every problem at once.
func (c ProdConfig) Validate() error {
	var errs []error
	if err := checkModuleRoot(c.Root); err != nil {
		errs = append(errs, err)
	}
	if err := checkWorkDir(c.Work); err != nil {
		errs = append(errs, err)
	}
	if c.Workers < 1 || c.Workers > 8 {
		errs = append(errs, fmt.Errorf("-workers %d: want 1-8", c.Workers))
	}
	if c.Bridges < 1 || c.Bridges > 8 {
		errs = append(errs, fmt.Errorf("-bridges %d: want 1-8", c.Bridges))
	}
	seen := map[int]string{}
	for _, p := range []struct {
		name string
		port int
	}{{"temporal-port", c.TemporalPort}, {"ui-port", c.UIPort}, {"auth-port", c.AuthPort}} {
		switch {
		case p.port < 0 || p.port > 65535:
			errs = append(errs, fmt.Errorf("-%s %d: want 0-65535", p.name, p.port))
		case p.port == 0: // a spare one each
		case seen[p.port] != "":
			errs = append(errs, fmt.Errorf("-%s and -%s are both %d", seen[p.port], p.name, p.port))
		default:
			seen[p.port] = p.name
		}
	}
	if c.Namespace == "" {
		errs = append(errs, errors.New("namespace is empty"))
	}
	if err := ablyconn.ValidateChannel(c.Channel); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", config.EnvChannel, err))
	}
	if c.PolicyFile == "" {
		errs = append(errs, errors.New("policy file is empty"))
	} else if _, err := config.LoadPolicy(c.PolicyFile); err != nil {
		// The auth server and the workers would refuse it too, but
		// only once PostgreSQL and Temporal were up.
		errs = append(errs, fmt.Errorf("-policy: %w", err))
	}
	if c.PostgresOSUser == "" {
		errs = append(errs, errors.New("-postgres-user is empty"))
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("-timeout must be positive"))
	}
	return errors.Join(errs...)
}
