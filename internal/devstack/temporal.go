package devstack

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/hitl/durable-approvals/workflows"
)

const (
	temporalCLIModule  = "github.com/temporalio/cli"
	temporalCLIPackage = "github.com/temporalio/cli/cmd/temporal"
	// toolsEnvFile pins the tool versions (also read by the Makefile and
	// scripts/install-tools.sh).
	toolsEnvFile       = "tools.env"
	temporalVersionKey = "TEMPORAL_CLI_VERSION"
)

// pinnedVersion reads KEY=VALUE from a tools.env document.
func pinnedVersion(data []byte, key string) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.TrimSpace(k) == key {
			v = strings.Trim(strings.TrimSpace(v), `"'`)
			if !strings.HasPrefix(v, "v") || v == "v" {
				return "", fmt.Errorf("%s=%q: want a module version like v1.5.1", key, v)
			}
			return v, nil
		}
	}
	return "", fmt.Errorf("%s not set", key)
}

// binaryVersion returns the main module path and version a Go binary was
// built from.
func binaryVersion(path string) (module, version string, err error) {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return "", "", err
	}
	return bi.Main.Path, bi.Main.Version, nil
}

// ensureTemporalCLI returns c.TemporalCLI when set (never building it), or
// the path of .bin/temporal at the pinned version, building it from the Go
// module proxy with `go install` when it is missing or another version. It
// never downloads a binary.
func ensureTemporalCLI(ctx context.Context, c Config, log io.Writer) (string, error) {
	if c.TemporalCLI != "" {
		info, err := os.Stat(c.TemporalCLI)
		if err != nil {
			return "", fmt.Errorf("temporal CLI (--temporal-cli or %s): %w", EnvTemporalCLI, err)
		}
		if !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
			return "", fmt.Errorf("temporal CLI %s (--temporal-cli or %s) is not an executable file", c.TemporalCLI, EnvTemporalCLI)
		}
		return c.TemporalCLI, nil
	}
	data, err := os.ReadFile(filepath.Join(c.Root, toolsEnvFile))
	if err != nil {
		return "", fmt.Errorf("temporal CLI pin: %w", err)
	}
	version, err := pinnedVersion(data, temporalVersionKey)
	if err != nil {
		return "", fmt.Errorf("temporal CLI pin in %s: %w", toolsEnvFile, err)
	}
	path := filepath.Join(c.ToolsBinDir(), "temporal")
	if mod, v, err := binaryVersion(path); err == nil && mod == temporalCLIModule && v == version {
		return path, nil
	}
	fmt.Fprintf(log, "building the Temporal CLI %s into %s with go install (first run only; takes a few minutes)...\n", version, c.ToolsBinDir())
	cmd := exec.CommandContext(ctx, "go", "install", temporalCLIPackage+"@"+version)
	cmd.Dir = c.Root
	cmd.Env = mergeEnv(os.Environ(), []EnvVar{{"GOBIN", c.ToolsBinDir()}, {"GOFLAGS", "-buildvcs=false"}})
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %w", temporalCLIPackage, version, err)
	}
	if mod, v, err := binaryVersion(path); err != nil || mod != temporalCLIModule || v != version {
		return "", fmt.Errorf("go install built %s, but it is not %s %s", path, temporalCLIModule, version)
	}
	return path, nil
}

// temporalArgs are the dev server's arguments. The SQLite file keeps
// workflows (and so pending approvals) across restarts. The search
// attributes are registered when the file is created; ensureSearchAttributes
// adds them to an older file.
//
// The file is in write-ahead-log mode with synchronous=NORMAL: a commit
// survives the server process being killed, and only a crash of the
// machine itself may lose the last ones. SQLite's default (a rollback
// journal, synchronous=FULL) syncs the disk several times per commit, and
// the server commits through one connection: that was most of the time a
// decision waited on this stack (docs/BENCHMARKS.md). Production runs on
// PostgreSQL.
//
// The CLI turns on system.forceSearchAttributesCacheRefreshOnRead, so that
// every read of the search attributes' types (each upsert a workflow makes,
// each visibility record written, each visibility query) reads the cluster
// metadata from the database again, through that one connection; it does
// so for attributes added while the server runs. A server's default is a
// 60 s cache, and it is what this stack gets. Attributes added while the
// server runs may then be refused by some of its services for a while, so
// the stack adds them only to a database made without them, and restarts
// the server then (Stack.ensureSearchAttributes).
// A decision's upsert no longer waits for that read (docs/BENCHMARKS.md).
func temporalArgs(c Config) []string {
	args := []string{
		"server", "start-dev",
		"--ip", c.IP,
		"--port", fmt.Sprint(c.Ports.Temporal),
		"--ui-port", fmt.Sprint(c.Ports.UI),
		"--db-filename", c.DBFile(),
		"--namespace", c.Namespace,
		"--log-level", "warn",
		"--sqlite-pragma", "journal_mode=wal",
		"--sqlite-pragma", "synchronous=normal",
		"--dynamic-config-value", "system.forceSearchAttributesCacheRefreshOnRead=false",
	}
	for _, spec := range workflows.SearchAttributeSpecs() {
		args = append(args, "--search-attribute", spec)
	}
	return args
}

// dialTemporal dials until the frontend answers a health check, the
// process exits, or timeout passes.
func dialTemporal(ctx context.Context, c Config, exited <-chan struct{}, timeout time.Duration) (client.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		dctx, dcancel := context.WithTimeout(ctx, 2*time.Second)
		tc, err := client.DialContext(dctx, client.Options{
			HostPort:  c.TemporalAddress(),
			Namespace: c.Namespace,
			Logger:    tlog.NewStructuredLogger(discardLogger()),
		})
		if err == nil {
			_, err = tc.CheckHealth(dctx, &client.CheckHealthRequest{})
			if err == nil {
				dcancel()
				return tc, nil
			}
			tc.Close()
		}
		dcancel()
		last = err
		select {
		case <-exited:
			return nil, errors.New("the Temporal dev server exited during startup")
		case <-ctx.Done():
			return nil, fmt.Errorf("temporal at %s not healthy after %s: %w", c.TemporalAddress(), timeout, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// ensureSearchAttributes registers the workflow's search attributes that
// the namespace lacks. "Already exists" is success. fresh says how to start
// afresh, in the error about a conflicting type. added reports whether it
// registered any (only a database made without them lacks them).
func ensureSearchAttributes(ctx context.Context, tc client.Client, namespace, fresh string) (added bool, err error) {
	ops := tc.OperatorService()
	list, err := ops.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return false, fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for _, k := range workflows.SearchAttributes() {
		name, typ := k.GetName(), k.GetValueType()
		have, ok := list.GetCustomAttributes()[name]
		switch {
		case !ok:
			missing[name] = typ
		case have != typ:
			return false, fmt.Errorf("search attribute %s is %s in namespace %s, want %s (%s)",
				name, have, namespace, typ, fresh)
		}
	}
	if len(missing) == 0 {
		return false, nil
	}
	_, err = ops.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: namespace, SearchAttributes: missing})
	var exists *serviceerror.AlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return false, fmt.Errorf("add search attributes: %w", err)
	}
	return true, nil
}

// recentPoller is how long after its last poll a poller of the agent's task
// queue counts as still there: a live worker polls again at least every
// 70 s (the SDK's long-poll timeout).
const recentPoller = 90 * time.Second

// checkSharedServer checks, through tc, a server the stack did not start
// (Config.TemporalServer), before the stack starts a worker on it. The
// namespace must exist: the stack creates none on someone else's server.
// And no other worker may poll the agent's task queue there: it would take
// some of the stack's runs, which would then wait for approval requests on
// another Ably until the bench's timeout.
func checkSharedServer(ctx context.Context, tc client.Client, cfg Config) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := tc.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: cfg.Namespace})
	var notFound *serviceerror.NamespaceNotFound
	if errors.As(err, &notFound) {
		return fmt.Errorf("namespace %q does not exist on %s: create one for the bench first, e.g. "+
			"`temporal operator namespace create --address %s --namespace %s` (a new namespace takes a few seconds to be usable)",
			cfg.Namespace, cfg.TemporalAddress(), cfg.TemporalAddress(), cfg.Namespace)
	}
	if err != nil {
		return fmt.Errorf("describe namespace %s: %w", cfg.Namespace, err)
	}
	pollers := map[string]bool{}
	for _, typ := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
		resp, err := tc.DescribeTaskQueue(ctx, workflows.TaskQueue, typ)
		if err != nil {
			return fmt.Errorf("describe task queue %s: %w", workflows.TaskQueue, err)
		}
		for _, p := range resp.GetPollers() {
			if t := p.GetLastAccessTime(); t != nil && time.Since(t.AsTime()) < recentPoller {
				pollers[p.GetIdentity()] = true
			}
		}
	}
	if len(pollers) == 0 {
		return nil
	}
	ids := make([]string, 0, len(pollers))
	for id := range pollers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return fmt.Errorf("task queue %s in namespace %s was polled in the last %s by %s: a worker that still runs there "+
		"would take some of the bench's runs; give the bench a namespace nothing else uses "+
		"(the pollers of an earlier bench run drop out of this check %s after it ended)",
		workflows.TaskQueue, cfg.Namespace, recentPoller, strings.Join(ids, ", "), recentPoller)
}
