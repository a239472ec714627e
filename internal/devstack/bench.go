package devstack

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hitl/durable-approvals/activities"
	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/bridge"
	"github.com/hitl/durable-approvals/internal/spareport"
	"github.com/hitl/durable-approvals/workflows"
)

// BenchConfig is one `devstack bench` run.
type BenchConfig struct {
	Root        string // repository root
	TemporalCLI string // the Temporal CLI to run; empty: .bin/temporal at the pinned version
	N           int    // concurrent agent runs
	// Approvers is how many approvers decide, each its share of the runs
	// one after another; 0 means min(N, max(20, ⌈N/10⌉)): a team, each
	// with a queue of ten or fewer. -approvers 1 is one person approving
	// every request in one burst.
	Approvers   int
	GuideShaped bool // responses carry only the toolCallId header
	KillWorker  bool // kill the worker (SIGKILL) and restart it while every run waits; no floor
	// Timeout bounds the whole run; 0 means 10 min + 600 ms per run.
	Timeout time.Duration
	Keep    bool // keep the work directory (state, logs, posts)
	// TemporalServer, when set, is the loopback host:port of a running
	// Temporal server to measure on instead of a dev server of the
	// bench's own; Namespace (which must exist there) is then the
	// namespace, and should be one nothing else uses.
	TemporalServer string
	Namespace      string
}

// benchQueuePerApprover is how many requests each approver decides when
// the number of approvers is left to the bench.
const benchQueuePerApprover = 10

// benchConcurrency bounds the bench's own Temporal calls in flight
// (starts, result waits, history reads).
const benchConcurrency = 16

func (c BenchConfig) approvers() int {
	if c.Approvers > 0 {
		return min(c.Approvers, c.N)
	}
	return min(c.N, max(20, (c.N+benchQueuePerApprover-1)/benchQueuePerApprover))
}

func (c BenchConfig) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return 10*time.Minute + time.Duration(c.N)*600*time.Millisecond
}

// Validate reports every problem at once.
func (c BenchConfig) Validate() error {
	var errs []error
	if err := checkModuleRoot(c.Root); err != nil {
		errs = append(errs, err)
	}
	if c.N < 1 || c.N > 100000 {
		errs = append(errs, fmt.Errorf("-n %d: want 1 to 100000", c.N))
	}
	if c.Approvers < 0 || c.Approvers > 10000 {
		errs = append(errs, fmt.Errorf("-approvers %d: want 0 (auto) to 10000", c.Approvers))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("-timeout must not be negative"))
	}
	if c.TemporalServer != "" {
		if err := checkLoopbackHostPort(c.TemporalServer); err != nil {
			errs = append(errs, fmt.Errorf("-temporal-address %w", err))
		}
		if c.Namespace == "" {
			errs = append(errs, errors.New("-namespace is empty"))
		}
	}
	return errors.Join(errs...)
}

// benchArgs is what the bench command's flags ask for.
type benchArgs struct {
	BenchConfig
	json bool   // print JSON instead of markdown
	out  string // append the markdown table to this file
}

// RunBench is the bench command: it parses args, runs Bench, prints the
// markdown table (or JSON with -json) on stdout and appends the table to
// -out. Progress goes to stderr. "-h" prints the flags and returns nil.
func RunBench(ctx context.Context, args []string, env config.Env, stdout, stderr io.Writer) error {
	cwd, err := os.Getwd()
	if err != nil {
		return err
	}
	a, err := parseBenchArgs(args, env, cwd, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return config.Usage(err)
	}
	if a.Root == "" {
		if a.Root, err = findRoot(cwd); err != nil {
			return err
		}
	}
	if err := a.Validate(); err != nil {
		return config.Usage(err)
	}
	bc, jsonOut, out := a.BenchConfig, a.json, a.out
	res, err := Bench(ctx, bc, stderr)
	if err != nil {
		return err
	}
	if jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		res.Markdown(stdout)
	}
	if out != "" {
		f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("-out: %w", err)
		}
		fmt.Fprintln(f)
		res.Markdown(f)
		if err := f.Close(); err != nil {
			return fmt.Errorf("-out: %w", err)
		}
		fmt.Fprintf(stderr, "appended the table to %s\n", out)
	}
	return nil
}

// parseBenchArgs parses the bench command's flags, with relative paths made
// absolute against cwd. Its errors are the flag set's (flag.ErrHelp for
// -h), not yet usage errors.
func parseBenchArgs(args []string, env config.Env, cwd string, stderr io.Writer) (benchArgs, error) {
	a := benchArgs{BenchConfig: BenchConfig{TemporalCLI: env.Get(EnvTemporalCLI)}}
	bc := &a.BenchConfig
	// Parse errors are returned and printed once, by main.
	fs := config.NewFlagSet("devstack bench", `usage: go run ./devstack bench [flags]

Starts its own stack on spare loopback ports (Temporal dev server on SQLite, local Ably, auth server,
scripted model, worker, bridge), starts N agent runs that each wait for a publish_blog_post approval,
approves them all through Ably as approvers logged in at the auth server, and reports from the
workflow histories; then measures, on the same server, the bare floor: a workflow that waits for one
signal and schedules one activity. Prints a markdown table.

With -temporal-address it uses a Temporal server that already runs on loopback (for instance the
one 'devstack prod' starts on PostgreSQL) instead of a dev server, in a namespace of its own that
must exist there (-namespace).

flags:`, stderr)
	fs.StringVar(&bc.Root, "root", "", "repository root (default: found from the working directory)")
	fs.StringVar(&bc.TemporalCLI, "temporal-cli", bc.TemporalCLI, "Temporal CLI binary to run (env "+EnvTemporalCLI+"; default: .bin/temporal, built at the pinned version)")
	fs.IntVar(&bc.N, "n", 200, "concurrent agent runs")
	fs.IntVar(&bc.Approvers, "approvers", 0, "approvers, each deciding its share one after another (0: min(N, max(20, N/10)); 1: one person approves all in one burst)")
	fs.BoolVar(&bc.GuideShaped, "guide-shaped", false, "approval-responses carry only the toolCallId header (the guide's shape; the bridge finds the run from the agent's request it saw on the channel, else in visibility)")
	fs.BoolVar(&bc.KillWorker, "kill-worker", false, "kill the worker with SIGKILL and restart it while every run waits, then check each post is published once (no floor); for -n 10000 by hand")
	fs.DurationVar(&bc.Timeout, "timeout", 0, "bound on the whole run (0: 10m + 600ms per run)")
	fs.BoolVar(&bc.Keep, "keep", false, "keep the work directory (Temporal database, logs, posts) and print where it is")
	fs.StringVar(&bc.TemporalServer, "temporal-address", "", "host:port on loopback of a running Temporal server to measure on, instead of a dev server of the bench's own")
	fs.StringVar(&bc.Namespace, "namespace", config.DefaultTemporalNamespace, "Temporal namespace; with -temporal-address it must exist and nothing else should use it")
	fs.BoolVar(&a.json, "json", false, "print the result as JSON instead of markdown")
	fs.StringVar(&a.out, "out", "", "append the markdown table, with the machine and the date, to this file (e.g. docs/BENCHMARKS.md)")
	if err := fs.Parse(args); err != nil {
		return benchArgs{}, err
	}
	if fs.NArg() > 0 {
		return benchArgs{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, p := range []*string{&bc.Root, &bc.TemporalCLI, &a.out} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(cwd, *p)
		}
	}
	return a, nil
}

// Bench starts a stack of its own in a temporary directory, runs the
// product's approval path and then the bare floor on it, and stops
// everything, also when ctx ends (Ctrl-C). progress receives what it does.
func Bench(ctx context.Context, bc BenchConfig, progress io.Writer) (res BenchResult, err error) {
	if err := bc.Validate(); err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(ctx, bc.timeout())
	defer cancel()
	start := time.Now()
	res = BenchResult{N: bc.N, Approvers: bc.approvers(), GuideShaped: bc.GuideShaped, KillWorker: bc.KillWorker, Machine: thisMachine(start)}
	if per := (bc.N + res.Approvers - 1) / res.Approvers; per > bridge.DefaultBurst {
		fmt.Fprintf(progress, "note: up to %d decisions per approver; the bridge forwards %d per approver at once, then %d a minute: the figures include that limit\n", per, bridge.DefaultBurst, bridge.DefaultPerMinute)
	}

	work, err := os.MkdirTemp("", "devstack-bench-")
	if err != nil {
		return res, err
	}
	defer func() {
		if bc.Keep {
			fmt.Fprintf(progress, "kept the work directory %s\n", work)
			return
		}
		if rerr := os.RemoveAll(work); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}()
	cfg, err := benchStackConfig(bc, work)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(progress, "adding %d approvers (publisher) to the auth server's users...\n", res.Approvers)
	if err := os.MkdirAll(cfg.StateDir(), 0o700); err != nil {
		return res, err
	}
	users, err := addBenchApprovers(cfg.UsersFile(), res.Approvers, rand.Reader)
	if err != nil {
		return res, err
	}

	st, err := Up(ctx, cfg, progress)
	if err != nil {
		return res, err
	}
	defer func() {
		fmt.Fprintln(progress, "stopping the stack...")
		if cerr := st.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	res.Server = describeServer(ctx, st.Temporal, cfg)

	fmt.Fprintf(progress, "logging %d approvers in and connecting them to Ably...\n", len(users))
	approvers := make([]*benchApprover, len(users))
	defer func() {
		for _, a := range approvers {
			if a != nil {
				a.close()
			}
		}
	}()
	err = forEach(ctx, len(users), 8, func(ctx context.Context, i int) error {
		a, err := connectApprover(ctx, cfg, users[i], time.Minute)
		approvers[i] = a
		return err
	})
	if err != nil {
		return res, err
	}

	tag, err := randomHex(rand.Reader, 4)
	if err != nil {
		return res, err
	}
	if res.Product, err = runProduct(ctx, st, approvers, tag, bc.N, bc.GuideShaped, bc.KillWorker, benchConcurrency, progress); err != nil {
		return res, bc.phaseError(ctx, "product", err, cfg.LogDir())
	}
	if !bc.KillWorker {
		floor, err := runFloor(ctx, st.Temporal, tag, bc.N, len(approvers), benchConcurrency, progress)
		if err != nil {
			return res, bc.phaseError(ctx, "floor", err, cfg.LogDir())
		}
		res.Floor = &floor
	}
	res.Elapsed = time.Since(start)
	res.Machine.LoadAvgEnd = loadAvg()
	return res, nil
}

// phaseError says why a phase failed: only that it was stopped after
// Ctrl-C, and otherwise where the logs are (kept with -keep).
func (c BenchConfig) phaseError(ctx context.Context, phase string, err error, logDir string) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("%s: stopped: %w", phase, ctx.Err())
	}
	if c.Keep {
		return fmt.Errorf("%s: %w (logs: %s)", phase, err, logDir)
	}
	return fmt.Errorf("%s: %w (run with -keep to keep the logs)", phase, err)
}

// benchStackConfig is the stack of a bench run: like `devstack up`, in
// work, on spare loopback ports, always with the scripted model, and with
// a policy whose approvals outlive the run.
func benchStackConfig(bc BenchConfig, work string) (Config, error) {
	ports, err := spareport.Pick("127.0.0.1", 5, spareport.BelowEphemeral())
	if err != nil {
		return Config{}, err
	}
	cfg := Config{
		Root:        bc.Root,
		Work:        work,
		TemporalCLI: bc.TemporalCLI,
		IP:          "127.0.0.1",
		Ports:       Ports{Temporal: ports[0], UI: ports[1], Ably: ports[2], Auth: ports[3], Model: ports[4]},
		Namespace:   config.DefaultTemporalNamespace,
		Channel:     workflows.DefaultChannel,
		// empty: the bench's own dev server on Ports.Temporal
		TemporalServer: bc.TemporalServer,
		OpenAIModel:    activities.DefaultOpenAIModel,
		Timeout:        3 * time.Minute,
		Prompt:         DemoPrompt,
		DemoUser:       "pat",
	}
	if bc.Namespace != "" {
		cfg.Namespace = bc.Namespace
	}
	if cfg.Policy, err = writeBenchPolicy(cfg.PolicyFile(), filepath.Join(work, "policy.json"), bc.timeout()); err != nil {
		return Config{}, err
	}
	return cfg, cfg.Validate()
}

// writeBenchPolicy writes to path the policy of from with every approval
// timeout raised to at least atLeast, so that no approval expires while
// the benchmark waits for the others.
func writeBenchPolicy(from, path string, atLeast time.Duration) (string, error) {
	p, err := config.LoadPolicy(from)
	if err != nil {
		return "", err
	}
	atLeast = min(atLeast, workflows.MaxApprovalTimeout)
	for name, tp := range p.Tools {
		if tp.NeedsApproval() && time.Duration(tp.Timeout) < atLeast {
			tp.Timeout = workflows.Duration(atLeast)
			p.Tools[name] = tp
		}
	}
	data, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", fmt.Errorf("bench policy: %w", err)
	}
	return path, nil
}
