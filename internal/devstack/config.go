package devstack

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hitl/durable-approvals/activities"
	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/loopback"
	"github.com/hitl/durable-approvals/workflows"
)

// modulePath identifies the repository root: the directory whose go.mod
// declares it.
const modulePath = "github.com/hitl/durable-approvals"

// DemoPrompt is the guide's scenario.
const DemoPrompt = "Publish the blog post called 'Introducing our new API'"

// Environment variables of the devstack itself.
const (
	EnvWork        = "DEVSTACK_WORK"
	EnvTemporalCLI = "TEMPORAL_CLI"
)

// Ports are the loopback ports of the parts.
type Ports struct {
	Temporal int // gRPC frontend
	UI       int // Temporal Web UI
	Ably     int // local Ably server
	Auth     int // auth server
	Model    int // scripted model (only when OPENAI_API_KEY is unset)
}

// DefaultPorts are the ports the README and the shared env table assume.
var DefaultPorts = Ports{Temporal: 7233, UI: 8233, Ably: 8090, Auth: 3001, Model: 8095}

// Config is one devstack invocation.
type Config struct {
	Root string // repository root
	// Work, when set, holds the state, the built programs and the posts
	// instead of .devstack, .bin and data/posts under Root (--work, env
	// DEVSTACK_WORK).
	Work string
	// TemporalCLI, when set, is the Temporal CLI binary to run as it is,
	// never built (--temporal-cli, env TEMPORAL_CLI); empty means
	// Root/.bin/temporal at the pinned version, built when missing.
	TemporalCLI string
	// Policy, when set, is the worker's policy file instead of
	// config/policy.json under Root (the benchmark's longer approval
	// timeout).
	Policy string

	IP    string // every part binds this address
	Ports Ports
	// TemporalServer, when set, is the host:port (on loopback) of a
	// Temporal server that is already running: the stack uses it and
	// starts no dev server (Ports.Temporal and Ports.UI are then unused),
	// once checkSharedServer found the namespace there and no other
	// worker on the agent's task queue.
	// `devstack bench -temporal-address` sets it, to measure on a server
	// with another persistence, such as `devstack prod`'s PostgreSQL.
	TemporalServer string
	Namespace      string
	Channel        string

	OpenAIKey     string // passed to the worker; empty means the scripted model
	OpenAIBaseURL string // a model the user runs; with no key it is not replaced
	OpenAIModel   string

	Timeout time.Duration // bound on each wait for a part to become healthy

	Prompt   string // demo: the prompt
	DemoUser string // demo: the approver to log in as
	Web      bool   // demo: wait for the decision from the web inbox, not the terminal

	// endpointsGiven is set when the command line named a port or the
	// namespace, channelGiven when ABLY_CHANNEL is set: env then prints
	// those rather than the stack's record.
	endpointsGiven, channelGiven bool
}

// Scripted reports whether the stack runs the offline scripted model.
func (c Config) Scripted() bool { return c.OpenAIKey == "" && c.OpenAIBaseURL == "" }

// Paths under the repository root.
func (c Config) under(work string, root ...string) string {
	if c.Work != "" {
		return filepath.Join(c.Work, work)
	}
	return filepath.Join(append([]string{c.Root}, root...)...)
}

func (c Config) StateDir() string    { return c.under("state", ".devstack") }
func (c Config) BinDir() string      { return c.under("bin", ".bin") }
func (c Config) ToolsBinDir() string { return filepath.Join(c.Root, ".bin") }
func (c Config) LogDir() string      { return filepath.Join(c.StateDir(), "logs") }
func (c Config) DBFile() string      { return filepath.Join(c.StateDir(), "temporal.db") }
func (c Config) UsersFile() string   { return filepath.Join(c.StateDir(), "users.json") }
func (c Config) BlogDir() string     { return c.under("posts", "data", "posts") }

// noProfileName is the name of the Temporal CLI profile file both stacks
// point their parts at, in a directory of theirs where it does not exist,
// so that no developer's profile reaches them.
const noProfileName = "no-temporal-profile.toml"

// NoProfileFile is the Temporal CLI profile the parts are pointed at (it
// does not exist: inheritedEnv).
func (c Config) NoProfileFile() string {
	return filepath.Join(c.StateDir(), noProfileName)
}

// partEnv is the environment of a part of the stack: devstack's own, as
// inheritedEnv leaves it, with vars set.
func (c Config) partEnv(vars []EnvVar) []string {
	return mergeEnv(inheritedEnv(os.Environ(), c.NoProfileFile()), vars)
}

// PolicyFile is the worker's policy file: Policy, or config/policy.json.
func (c Config) PolicyFile() string {
	if c.Policy != "" {
		return c.Policy
	}
	return filepath.Join(c.Root, "config", "policy.json")
}

func (c Config) hostPort(port int) string { return joinHostPort(c.IP, port) }

// TemporalAddress, UIURL, AblyEndpoint, AuthURL and ModelURL are where
// the parts listen.
func (c Config) TemporalAddress() string {
	if c.TemporalServer != "" {
		return c.TemporalServer
	}
	return c.hostPort(c.Ports.Temporal)
}
func (c Config) UIURL() string        { return "http://" + c.hostPort(c.Ports.UI) }
func (c Config) AblyEndpoint() string { return c.hostPort(c.Ports.Ably) }
func (c Config) AuthURL() string      { return "http://" + c.hostPort(c.Ports.Auth) }
func (c Config) InboxURL() string     { return c.AuthURL() + "/" }
func (c Config) ModelURL() string     { return "http://" + c.hostPort(c.Ports.Model) + "/v1/" }

func joinHostPort(host string, port int) string {
	if bytes.ContainsRune([]byte(host), ':') {
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	return host + ":" + strconv.Itoa(port)
}

// portFlags returns the flags that select c's non-default ports,
// namespace and work directory, each with a leading space, so printed commands reach the same
// stack.
func portFlags(c Config) string {
	var b strings.Builder
	for _, f := range []struct {
		name      string
		got, want int
	}{
		{"temporal-port", c.Ports.Temporal, DefaultPorts.Temporal}, {"ui-port", c.Ports.UI, DefaultPorts.UI},
		{"ably-port", c.Ports.Ably, DefaultPorts.Ably}, {"auth-port", c.Ports.Auth, DefaultPorts.Auth},
	} {
		if f.got != f.want {
			fmt.Fprintf(&b, " --%s %d", f.name, f.got)
		}
	}
	if c.Namespace != config.DefaultTemporalNamespace {
		fmt.Fprintf(&b, " --namespace %s", shellQuote(c.Namespace))
	}
	if c.Work != "" {
		fmt.Fprintf(&b, " --work %s", shellQuote(c.Work))
	}
	return b.String()
}

// parseConfig reads the flags of cmd ("up", "demo" or "env") and the
// environment. cwd locates the repository root unless --root is given;
// relative paths in flags are relative to it.
func parseConfig(cmd string, args []string, env config.Env, cwd string, stderr io.Writer) (Config, error) {
	c := Config{
		IP:            "127.0.0.1",
		Ports:         DefaultPorts,
		Namespace:     env.Or(config.EnvTemporalNamespace, config.DefaultTemporalNamespace),
		Channel:       env.Or(config.EnvChannel, workflows.DefaultChannel),
		OpenAIKey:     env.Get(config.EnvOpenAIAPIKey),
		OpenAIBaseURL: env.Get(config.EnvOpenAIBaseURL),
		OpenAIModel:   env.Or(config.EnvOpenAIModel, activities.DefaultOpenAIModel),
		Timeout:       3 * time.Minute,
		Prompt:        DemoPrompt,
		DemoUser:      "pat",
		channelGiven:  env.Get(config.EnvChannel) != "",
	}
	// Parse errors are returned and printed once, by main.
	fs := config.NewFlagSet("devstack "+cmd, "", stderr)
	fs.StringVar(&c.Root, "root", "", "repository root (default: found from the working directory)")
	fs.IntVar(&c.Ports.Temporal, "temporal-port", c.Ports.Temporal, "Temporal gRPC port")
	fs.IntVar(&c.Ports.UI, "ui-port", c.Ports.UI, "Temporal Web UI port")
	fs.IntVar(&c.Ports.Ably, "ably-port", c.Ports.Ably, "local Ably server port")
	fs.IntVar(&c.Ports.Auth, "auth-port", c.Ports.Auth, "auth server port")
	fs.IntVar(&c.Ports.Model, "model-port", c.Ports.Model, "scripted model port (used when neither OPENAI_API_KEY nor OPENAI_BASE_URL is set)")
	fs.StringVar(&c.Namespace, "namespace", c.Namespace, "Temporal namespace (env TEMPORAL_NAMESPACE)")
	fs.StringVar(&c.Work, "work", env.Get(EnvWork), "directory for the state, built programs and posts instead of .devstack, .bin and data/posts (env "+EnvWork+")")
	if cmd != "env" {
		fs.StringVar(&c.TemporalCLI, "temporal-cli", env.Get(EnvTemporalCLI), "Temporal CLI binary to run, never built (env "+EnvTemporalCLI+"; default: .bin/temporal, built at the pinned version)")
	}
	if cmd != "env" {
		fs.DurationVar(&c.Timeout, "timeout", c.Timeout, "bound on each wait for a part to become healthy (includes builds)")
		fs.StringVar(&c.Policy, "policy", env.Get(config.EnvPolicyFile), "approval policy the worker loads (env "+config.EnvPolicyFile+"; default config/policy.json)")
	}
	if cmd == "demo" {
		fs.StringVar(&c.Prompt, "prompt", c.Prompt, "the prompt of the demo run")
		fs.StringVar(&c.DemoUser, "as", c.DemoUser, "demo approver to log in as: erin (editor), pat (publisher) or ada (admin)")
		fs.BoolVar(&c.Web, "web", false, "decide in the web inbox (the auth server's page) instead of this terminal")
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "temporal-port", "ui-port", "ably-port", "auth-port", "model-port", "namespace":
			c.endpointsGiven = true
		}
	})
	cwd, err := filepath.Abs(cwd)
	if err != nil {
		return Config{}, fmt.Errorf("working directory: %w", err)
	}
	if c.Root == "" {
		root, err := findRoot(cwd)
		if err != nil {
			return Config{}, err
		}
		c.Root = root
	}
	for _, p := range []*string{&c.Root, &c.Work, &c.TemporalCLI, &c.Policy} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(cwd, *p)
		}
	}
	return c, nil
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if err := checkModuleRoot(c.Root); err != nil {
		errs = append(errs, err)
	}
	if err := checkWorkDir(c.Work); err != nil {
		errs = append(errs, err)
	}
	seen := map[int]string{}
	for _, p := range []struct {
		name string
		port int
	}{
		{"temporal-port", c.Ports.Temporal}, {"ui-port", c.Ports.UI}, {"ably-port", c.Ports.Ably},
		{"auth-port", c.Ports.Auth}, {"model-port", c.Ports.Model},
	} {
		switch {
		case p.port < 1 || p.port > 65535:
			errs = append(errs, fmt.Errorf("--%s %d: want 1-65535", p.name, p.port))
		case seen[p.port] != "":
			errs = append(errs, fmt.Errorf("--%s and --%s are both %d", seen[p.port], p.name, p.port))
		default:
			seen[p.port] = p.name
		}
	}
	if c.Namespace == "" {
		errs = append(errs, errors.New("namespace is empty"))
	}
	// The worker would refuse it too, but only once the stack is up.
	if err := ablyconn.ValidateChannel(c.Channel); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", config.EnvChannel, err))
	}
	if c.TemporalServer != "" {
		if err := checkLoopbackHostPort(c.TemporalServer); err != nil {
			errs = append(errs, fmt.Errorf("temporal server %w", err))
		}
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("--timeout must be positive"))
	}
	if c.Policy != "" {
		// The worker would refuse it too, but only once the stack is up.
		if _, err := config.LoadPolicy(c.Policy); err != nil {
			errs = append(errs, fmt.Errorf("--policy: %w", err))
		}
	}
	if c.Prompt == "" {
		errs = append(errs, errors.New("--prompt is empty"))
	}
	if _, ok := demoUser(c.DemoUser); !ok {
		errs = append(errs, fmt.Errorf("--as %q: want one of erin, pat, ada", c.DemoUser))
	}
	return errors.Join(errs...)
}

// findRoot walks up from dir to the directory whose go.mod declares the
// module.
func findRoot(dir string) (string, error) {
	for d, i := dir, 0; i < 64; i++ {
		if isModuleRoot(d) {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	return "", fmt.Errorf("not inside the repository (no go.mod of %s above %s); run from the repository or pass --root", modulePath, dir)
}

// checkModuleRoot says why dir is not the repository root, or nil.
func checkModuleRoot(dir string) error {
	if !isModuleRoot(dir) {
		return fmt.Errorf("%s is not the repository root (no go.mod of %s)", dir, modulePath)
	}
	return nil
}

func isModuleRoot(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	for line := range bytes.Lines(data) {
		if string(bytes.TrimSpace(line)) == "module "+modulePath {
			return true
		}
	}
	return false
}

// checkLoopbackHostPort checks that addr is host:port with a loopback host
// (localhost, 127.0.0.0/8 or ::1): the devstack and its benchmark talk to
// nothing else.
func checkLoopbackHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: want host:port: %w", addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: port %q: want 1-65535", addr, port)
	}
	if !loopback.IsHost(host) {
		return fmt.Errorf("%q: want a loopback host (localhost, 127.0.0.1, ::1)", addr)
	}
	return nil
}

// checkWorkDir refuses a -work that exists and is not a directory (a file
// named by mistake): bad input, said before anything starts. One that does
// not exist yet is made.
func checkWorkDir(work string) error {
	if work == "" {
		return nil
	}
	if info, err := os.Stat(work); err == nil && !info.IsDir() {
		return fmt.Errorf("work directory %s (-work) is not a directory", work)
	}
	return nil
}
