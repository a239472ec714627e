package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/ablylocal"
	"github.com/hitl/durable-approvals/internal/scriptedmodel"
	"github.com/hitl/durable-approvals/internal/signing"
	"github.com/hitl/durable-approvals/internal/spareport"
)

// ProdStack is the production topology running on this machine without
// Docker: PostgreSQL, the Temporal server on it (schemas and namespace set
// up by compose's own scripts), the Web UI, the auth server, and several
// workers and bridges as separate processes; the local Ably server and the
// scripted model stand in for the cloud services. Tests drive its failures
// through the methods that stop, kill and restart each part.
type ProdStack struct {
	cfg          ProdConfig
	work         string
	tempWork     bool
	log          *slog.Logger
	logFile      *os.File
	unlock       func() error // releases the state directory (lockState)
	out          io.Writer
	ports        prodPorts
	tools        map[string]string // pinned tool name -> binary
	bins         map[string]string // built main name -> binary
	serverModule string            // go.temporal.io/server's directory in the module cache
	uiModule     string
	secrets      Secrets
	pgPassword   string
	// signingKey (bridges) and verifyKeys (workers): the decision signing
	// key pair, new for each run of the stack.
	signingKey, verifyKeys string

	// Temporal is a client of the stack's Temporal server.
	Temporal client.Client

	pg       *postgres
	temporal *proc
	ui       *proc
	auth     *proc
	workers  []*proc
	bridges  []*proc
	inproc   []func() error
}

// prodPorts are the stack's loopback ports.
type prodPorts struct {
	Postgres                                        int
	Frontend, FrontendHTTP, FrontendMembership      int
	History, HistoryMembership                      int
	Matching, MatchingMembership                    int
	Worker, WorkerMembership                        int
	TemporalMetrics, UI, Ably, Auth, AuthOps, Model int
	WorkerOps, BridgeOps                            []int
}

// Built mains of the production topology.
const (
	binWorker     = "hitl-worker"
	binApprover   = "hitl-approver"
	binAuthServer = "hitl-authserver"
	binStarter    = "hitl-starter"
)

// ProdUp starts the production topology and waits until every part is
// healthy. On error it stops what it started.
func ProdUp(ctx context.Context, cfg ProdConfig, out io.Writer) (st *ProdStack, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st = &ProdStack{cfg: cfg, work: cfg.Work, out: out}
	defer func() {
		if err != nil {
			// Keep the logs the error points to, even in a temporary
			// work directory.
			st.tempWork = false
			err = fmt.Errorf("%w (logs: %s)", err, st.LogDir())
			st.Close()
			st = nil
		}
	}()
	if st.work == "" {
		if st.work, err = os.MkdirTemp("", "hitl-prodstack-"); err != nil {
			return st, err
		}
		st.tempWork = true
	}
	for _, dir := range []string{st.LogDir(), st.stateDir(), st.BlogDir(), filepath.Join(st.work, "bin"),
		filepath.Join(st.work, "temporal", "config"), filepath.Join(st.work, "ui", "config"), filepath.Join(st.work, "traces")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return st, err
		}
	}
	if st.unlock, err = lockState(st.stateDir()); err != nil {
		return st, err
	}
	if st.logFile, err = os.OpenFile(filepath.Join(st.LogDir(), "devstack.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err != nil {
		return st, err
	}
	st.log = slog.New(slog.NewJSONHandler(st.logFile, nil))
	if st.secrets, _, err = loadOrCreateSecrets(st.stateDir(), rand.Reader); err != nil {
		return st, err
	}
	pw := make([]byte, 24)
	if _, err := rand.Read(pw); err != nil {
		return st, err
	}
	st.pgPassword = hex.EncodeToString(pw)
	if st.signingKey, st.verifyKeys, err = signing.Generate("prodstack", rand.Reader); err != nil {
		return st, err
	}
	if st.ports, err = spareProdPorts(cfg); err != nil {
		return st, err
	}

	if err := st.buildAll(ctx); err != nil {
		return st, err
	}
	steps := []struct {
		what string
		run  func(context.Context) error
	}{
		{"PostgreSQL", st.startPostgres},
		{"schemas (" + ProdSchemaScript + ")", st.setupSchema},
		{"Temporal server", st.StartTemporal},
		{"namespace and search attributes (" + ProdNamespaceScript + ")", st.setupNamespace},
		{"Web UI", st.startUI},
		{"local Ably server and model", st.startInProcess},
		{"auth server", st.startAuth},
		{"workers", st.startWorkers},
		{"bridges", st.startBridges},
	}
	for _, s := range steps {
		if s.what == "Web UI" && !cfg.UI {
			continue
		}
		fmt.Fprintf(out, "prodstack: %s...\n", s.what)
		start := time.Now()
		if err := s.run(ctx); err != nil {
			return st, fmt.Errorf("%s: %w", s.what, err)
		}
		st.log.Info("started", "part", s.what, "took", time.Since(start).String())
	}
	return st, nil
}

// buildBound is how long buildAll may take: three times -timeout (each
// wait's bound), or for ever when that would overflow time.Duration (a
// -timeout over about 850,000 h, which 3× made negative: the build's
// context was then done before it began).
func buildBound(timeout time.Duration) time.Duration {
	if timeout > math.MaxInt64/3 {
		return math.MaxInt64
	}
	return 3 * timeout
}

// buildAll builds the pinned tools (once) and the project's mains.
func (st *ProdStack) buildAll(ctx context.Context) error {
	bctx, cancel := context.WithTimeout(ctx, buildBound(st.cfg.Timeout))
	defer cancel()
	st.tools = map[string]string{}
	tools := []pinnedTool{toolTemporalServer, toolTemporalSQL, toolTemporalCLI}
	if st.cfg.UI {
		tools = append(tools, toolTemporalUI)
	}
	for _, t := range tools {
		bin, err := ensurePinnedTool(bctx, st.cfg.Root, filepath.Join(st.cfg.Root, ".bin"), t, st.out)
		if err != nil {
			return err
		}
		st.tools[t.Name] = bin
	}
	v, err := pinnedToolVersion(st.cfg.Root, toolTemporalServer)
	if err != nil {
		return err
	}
	if st.serverModule, err = moduleDir(bctx, st.cfg.Root, toolTemporalServer.Module, v); err != nil {
		return err
	}
	if st.cfg.UI {
		v, err := pinnedToolVersion(st.cfg.Root, toolTemporalUI)
		if err != nil {
			return err
		}
		if st.uiModule, err = moduleDir(bctx, st.cfg.Root, toolTemporalUI.Module, v); err != nil {
			return err
		}
	}
	mains := map[string]string{binWorker: "./worker", binApprover: "./approver", binAuthServer: "./authserver", binStarter: "./starter"}
	st.bins, err = buildMains(bctx, st.cfg.Root, filepath.Join(st.work, "bin"), mains, st.out)
	return err
}

func (st *ProdStack) startPostgres(ctx context.Context) error {
	env := envMap(st.postgresEnv())
	pg, err := newPostgres(ctx, st.cfg.PostgresBin, st.cfg.PostgresOSUser, st.ports.Postgres,
		env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], filepath.Join(st.LogDir(), "postgres.log"))
	if err != nil {
		return err
	}
	st.pg = pg
	return pg.start(ctx, st.cfg.Timeout)
}

// StopPostgres is PostgreSQL's fast shutdown.
func (st *ProdStack) StopPostgres() error {
	st.log.Info("postgres: fast shutdown")
	return st.pg.stopFast(30 * time.Second)
}

// StartPostgres starts PostgreSQL again on the same data and port.
func (st *ProdStack) StartPostgres(ctx context.Context) error {
	st.log.Info("postgres: start")
	return st.pg.start(ctx, st.cfg.Timeout)
}

// PostgresPid is the PostgreSQL server's process id (0 when stopped).
func (st *ProdStack) PostgresPid() int {
	if st.pg == nil || st.pg.proc == nil {
		return 0
	}
	return st.pg.proc.Pid()
}

func (st *ProdStack) setupSchema(ctx context.Context) error {
	return st.runScript(ctx, "temporal-schema", ProdSchemaScript, st.schemaEnv())
}

func (st *ProdStack) setupNamespace(ctx context.Context) error {
	return st.runScript(ctx, "temporal-setup", ProdNamespaceScript, st.setupEnv())
}

// runScript runs a deploy/ script with /bin/sh, as compose's one-shot jobs
// do, with only vars (plus PATH and HOME) in its environment; its output
// goes to the log NAME.log.
func (st *ProdStack) runScript(ctx context.Context, name, script string, vars []EnvVar) error {
	sctx, cancel := context.WithTimeout(ctx, st.cfg.Timeout)
	defer cancel()
	logPath := filepath.Join(st.LogDir(), name+".log")
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.CommandContext(sctx, "/bin/sh", filepath.Join(st.cfg.Root, script))
	cmd.Dir = st.work
	cmd.Env = mergeEnv(st.baseEnv(), vars)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w (log: %s)", script, err, logPath)
	}
	return nil
}

// StartTemporal renders the server's config from the template compose
// mounts and starts the server; it waits until the frontend answers.
func (st *ProdStack) StartTemporal(ctx context.Context) error {
	tmpl, err := os.ReadFile(filepath.Join(st.cfg.Root, ProdServerTemplate))
	if err != nil {
		return err
	}
	cfgYAML, err := renderDockerize(ProdServerTemplate, tmpl, envMap(st.temporalEnv()))
	if err != nil {
		return err
	}
	dir := filepath.Join(st.work, "temporal")
	if err := os.WriteFile(filepath.Join(dir, "config", "docker.yaml"), cfgYAML, 0o600); err != nil {
		return err
	}
	// As the temporalio/server image runs it: temporal-server --env docker start.
	p, err := startProc("temporal", st.tools[toolTemporalServer.Name],
		[]string{"--root", dir, "--config", "config", "--env", "docker", "start"},
		mergeEnv(st.baseEnv(), st.temporalEnv()), dir, filepath.Join(st.LogDir(), "temporal.log"), true)
	if err != nil {
		return err
	}
	st.temporal = p
	if st.Temporal == nil {
		tc, err := st.dial(ctx, p)
		if err != nil {
			return err
		}
		st.Temporal = tc
		return nil
	}
	return st.waitTemporalHealthy(ctx, p)
}

// StopTemporal stops the Temporal server (SIGTERM, as docker stop does).
func (st *ProdStack) StopTemporal() error {
	if st.temporal == nil {
		return nil
	}
	p := st.temporal
	st.temporal = nil
	st.log.Info("temporal: stop", "pid", p.Pid())
	return p.Stop(30 * time.Second)
}

// TemporalPid is the Temporal server's process id (0 when stopped).
func (st *ProdStack) TemporalPid() int {
	if st.temporal == nil {
		return 0
	}
	return st.temporal.Pid()
}

func (st *ProdStack) dial(ctx context.Context, p *proc) (client.Client, error) {
	if err := st.waitTemporalHealthy(ctx, p); err != nil {
		return nil, err
	}
	return client.DialContext(ctx, client.Options{
		HostPort:  st.TemporalAddress(),
		Namespace: st.cfg.Namespace,
		Logger:    tlog.NewStructuredLogger(discardLogger()),
	})
}

// waitTemporalHealthy waits until the frontend answers a health check.
func (st *ProdStack) waitTemporalHealthy(ctx context.Context, p *proc) error {
	ctx, cancel := context.WithTimeout(ctx, st.cfg.Timeout)
	defer cancel()
	var last error
	for {
		hctx, hcancel := context.WithTimeout(ctx, 2*time.Second)
		var err error
		if st.Temporal != nil {
			_, err = st.Temporal.CheckHealth(hctx, &client.CheckHealthRequest{})
		} else {
			var tc client.Client
			tc, err = client.DialContext(hctx, client.Options{HostPort: st.TemporalAddress(), Logger: tlog.NewStructuredLogger(discardLogger())})
			if err == nil {
				_, err = tc.CheckHealth(hctx, &client.CheckHealthRequest{})
				tc.Close()
			}
		}
		hcancel()
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-p.Exited():
			return p.exitedDuringStartup()
		case <-ctx.Done():
			return fmt.Errorf("temporal at %s not healthy after %s: %w", st.TemporalAddress(), st.cfg.Timeout, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// startUI runs the Web UI server with its own docker.yaml template (the
// temporalio/ui image's), bound to loopback.
func (st *ProdStack) startUI(ctx context.Context) error {
	tmpl, err := os.ReadFile(filepath.Join(st.uiModule, "config", "docker.yaml"))
	if err != nil {
		return err
	}
	dir := filepath.Join(st.work, "ui")
	conf := append(tmpl, []byte("\nhost: "+loopbackIP+"\n")...)
	if err := os.WriteFile(filepath.Join(dir, "config", "docker.yaml"), conf, 0o600); err != nil {
		return err
	}
	p, err := startProc("ui", st.tools[toolTemporalUI.Name], []string{"--root", dir, "--config", "config", "--env", "docker", "start"},
		mergeEnv(st.baseEnv(), st.uiEnv()), dir, filepath.Join(st.LogDir(), "ui.log"), true)
	if err != nil {
		return err
	}
	st.ui = p
	return waitHTTPOK(ctx, st.UIURL()+"/", st.cfg.Timeout)
}

// startInProcess starts the local Ably server and, without an OpenAI key,
// the scripted model, in this process.
func (st *ProdStack) startInProcess(ctx context.Context) error {
	name, secret, err := ablyconn.SplitKey(st.secrets.AblyKey)
	if err != nil {
		return err
	}
	srv, err := ablylocal.Listen(context.WithoutCancel(ctx), st.AblyEndpoint(), ablylocal.Config{
		Keys:   []ablylocal.Key{{Name: name, Secret: secret}},
		Logger: st.log.With("part", "ably"),
	})
	if err != nil {
		return err
	}
	st.inproc = append(st.inproc, srv.Close)
	if !st.cfg.Scripted() {
		return nil
	}
	ln, err := net.Listen("tcp", hostPort(st.ports.Model))
	if err != nil {
		return fmt.Errorf("scripted model: %w", err)
	}
	hs := &http.Server{Handler: scriptedmodel.Handler(st.log.With("part", "model")), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	st.inproc = append(st.inproc, func() error {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		err := hs.Shutdown(sctx)
		if serr := <-done; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		return err
	})
	return nil
}

// startAuth adds the demo users with `authserver useradd` (the password on
// stdin, as the README tells operators) and starts `authserver serve`.
func (st *ProdStack) startAuth(ctx context.Context) error {
	env := mergeEnv(st.baseEnv(), st.authEnv())
	for _, u := range st.secrets.Users {
		cmd := exec.CommandContext(ctx, st.bins[binAuthServer], "useradd", "-name", u.Name, "-role", u.Role, "-policy", st.cfg.PolicyFile)
		cmd.Env = env
		cmd.Stdin = strings.NewReader(u.Password + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("authserver useradd %s: %w: %s", u.Name, err, out)
		}
	}
	p, err := startProc("authserver", st.bins[binAuthServer], []string{"serve", "-policy", st.cfg.PolicyFile, "-log-format", "json"},
		env, st.cfg.Root, filepath.Join(st.LogDir(), "authserver.log"), true)
	if err != nil {
		return err
	}
	st.auth = p
	return waitHTTPOK(ctx, st.OpsURL("authserver")+prodHealthz, st.cfg.Timeout)
}

const prodHealthz = "/healthz"

func (st *ProdStack) startWorkers(ctx context.Context) error {
	st.workers = make([]*proc, st.cfg.Workers)
	for i := range st.workers {
		if err := st.StartWorker(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

func (st *ProdStack) startBridges(ctx context.Context) error {
	st.bridges = make([]*proc, st.cfg.Bridges)
	for i := range st.bridges {
		if err := st.StartBridge(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

// StartWorker starts worker i (0-based) and waits until it polls the task
// queue.
func (st *ProdStack) StartWorker(ctx context.Context, i int) error {
	name := workerName(i)
	p, err := startProc(name, st.bins[binWorker], nil, mergeEnv(st.baseEnv(), st.workerEnv(i)), st.cfg.Root,
		filepath.Join(st.LogDir(), name+".log"), true)
	if err != nil {
		return err
	}
	st.workers[i] = p
	if err := waitWorkerPolling(ctx, st.Temporal, p, st.cfg.Timeout); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return waitHTTPOK(ctx, st.OpsURL(name)+prodHealthz, st.cfg.Timeout)
}

// KillWorker sends SIGKILL to worker i and waits for it to die; it
// returns how the process ended.
func (st *ProdStack) KillWorker(i int) error {
	p := st.workers[i]
	st.log.Info("worker: SIGKILL", "name", p.name, "pid", p.Pid())
	p.kill()
	return p.Err()
}

// StartBridge starts bridge i and waits until its /healthz answers.
func (st *ProdStack) StartBridge(ctx context.Context, i int) error {
	name := bridgeName(i)
	p, err := startProc(name, st.bins[binApprover], []string{"bridge"}, mergeEnv(st.baseEnv(), st.bridgeEnv(i)), st.cfg.Root,
		filepath.Join(st.LogDir(), name+".log"), true)
	if err != nil {
		return err
	}
	st.bridges[i] = p
	return waitHTTPOK(ctx, st.OpsURL(name)+prodHealthz, st.cfg.Timeout)
}

// StopBridge stops bridge i gracefully (SIGTERM).
func (st *ProdStack) StopBridge(i int) error {
	p := st.bridges[i]
	st.log.Info("bridge: stop", "name", p.name, "pid", p.Pid())
	return p.Stop(15 * time.Second)
}

// Pid is the process id of the named part (worker-1, bridge-2, authserver,
// temporal, postgres, ui), 0 if it is not running.
func (st *ProdStack) Pid(name string) int {
	p := st.part(name)
	if p == nil {
		return 0
	}
	select {
	case <-p.Exited():
		return 0
	default:
		return p.Pid()
	}
}

func (st *ProdStack) part(name string) *proc {
	switch name {
	case "temporal":
		return st.temporal
	case "ui":
		return st.ui
	case "authserver":
		return st.auth
	case "postgres":
		if st.pg != nil {
			return st.pg.proc
		}
		return nil
	}
	for i, p := range st.workers {
		if name == workerName(i) {
			return p
		}
	}
	for i, p := range st.bridges {
		if name == bridgeName(i) {
			return p
		}
	}
	return nil
}

// Close stops everything in reverse start order and removes the temporary
// directories.
func (st *ProdStack) Close() error {
	var errs []error
	for _, ps := range [][]*proc{st.bridges, st.workers, {st.auth}} {
		for i := len(ps) - 1; i >= 0; i-- {
			if ps[i] != nil {
				errs = append(errs, ps[i].Stop(15*time.Second))
			}
		}
	}
	st.bridges, st.workers, st.auth = nil, nil, nil
	for i := len(st.inproc) - 1; i >= 0; i-- {
		errs = append(errs, st.inproc[i]())
	}
	st.inproc = nil
	if st.ui != nil {
		errs = append(errs, st.ui.Stop(10*time.Second))
		st.ui = nil
	}
	if st.Temporal != nil {
		st.Temporal.Close()
		st.Temporal = nil
	}
	errs = append(errs, st.StopTemporal())
	if st.pg != nil {
		errs = append(errs, st.pg.stopFast(30*time.Second), st.pg.remove())
		st.pg = nil
	}
	if st.logFile != nil {
		errs = append(errs, st.logFile.Close())
		st.logFile = nil
	}
	if st.unlock != nil {
		errs = append(errs, st.unlock())
		st.unlock = nil
	}
	if st.tempWork && st.work != "" {
		errs = append(errs, os.RemoveAll(st.work))
	}
	return errors.Join(errs...)
}

// baseEnv is the part of our environment every child gets: enough to run,
// nothing that configures it (a developer's TEMPORAL_* or Temporal CLI
// profile must not leak into the stack).
func (st *ProdStack) baseEnv() []string {
	env := []string{envTemporalConfigFile + "=" + st.noProfileFile()}
	for _, name := range []string{"PATH", "HOME", "TMPDIR", "LANG", "TZ"} {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	return env
}

func envMap(vars []EnvVar) map[string]string {
	m := make(map[string]string, len(vars))
	for _, v := range vars {
		m[v.Name] = v.Value
	}
	return m
}

// spareProdPorts picks the stack's ports: the configured ones, the rest
// spare loopback ports, all different.
func spareProdPorts(cfg ProdConfig) (prodPorts, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	below := spareport.BelowEphemeral()
	spare := func(fixed int, flag string) (int, error) {
		if fixed != 0 {
			// A port given must be free: a Temporal server already
			// there would take this stack's namespace setup and its
			// workers' polls (another stack's tasks) before this one
			// failed to bind.
			ln, err := claimPort(net.JoinHostPort(loopbackIP, strconv.Itoa(fixed)), fixed, "-"+flag)
			if err != nil {
				return 0, err
			}
			lns = append(lns, ln)
			return fixed, nil
		}
		port, ln, err := spareport.Listen(loopbackIP, below)
		if err != nil {
			return 0, err
		}
		lns = append(lns, ln) // held until all are picked, so none repeats
		return port, nil
	}
	// Temporal stores membership ports in a smallint column (PostgreSQL:
	// at most 32767).
	membership := func(int, string) (int, error) {
		port, ln, err := spareport.Listen(loopbackIP, spareport.Range{Low: 20000, High: 31999})
		if err != nil {
			return 0, err
		}
		lns = append(lns, ln)
		return port, nil
	}
	var p prodPorts
	var err error
	for _, f := range []struct {
		dst   *int
		pick  func(int, string) (int, error)
		fixed int
		flag  string
	}{
		{&p.Postgres, spare, 0, ""}, {&p.Frontend, spare, cfg.TemporalPort, "temporal-port"}, {&p.FrontendHTTP, spare, 0, ""},
		{&p.FrontendMembership, membership, 0, ""}, {&p.History, spare, 0, ""}, {&p.HistoryMembership, membership, 0, ""},
		{&p.Matching, spare, 0, ""}, {&p.MatchingMembership, membership, 0, ""}, {&p.Worker, spare, 0, ""},
		{&p.WorkerMembership, membership, 0, ""}, {&p.TemporalMetrics, spare, 0, ""}, {&p.UI, spare, cfg.UIPort, "ui-port"},
		{&p.Ably, spare, 0, ""}, {&p.Auth, spare, cfg.AuthPort, "auth-port"}, {&p.AuthOps, spare, 0, ""}, {&p.Model, spare, 0, ""},
	} {
		if *f.dst, err = f.pick(f.fixed, f.flag); err != nil {
			return p, err
		}
	}
	for range cfg.Workers {
		port, err := spare(0, "")
		if err != nil {
			return p, err
		}
		p.WorkerOps = append(p.WorkerOps, port)
	}
	for range cfg.Bridges {
		port, err := spare(0, "")
		if err != nil {
			return p, err
		}
		p.BridgeOps = append(p.BridgeOps, port)
	}
	return p, nil
}
