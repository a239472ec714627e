// Command recordhistory records the workflow histories that
// workflows.TestReplay replays. It is run by hand (make record-replay) after
// a deliberate change of AgentWorkflow: it starts its own Temporal dev
// server from the pinned CLI on a free loopback port (in memory), runs a
// worker with fake activities (the worker's policy and a real decision
// verifier included), drives the approve, reject, expire and parallel
// scenarios through real, bridge-signed signals, cancels a run with pending
// approvals (cancel), fails an approval-request publish (unpublished),
// sends a forged decision (forged) and ambiguous arguments (ambiguous),
// sends the decisions the review of 2026-12-05 found wrongly applied
// (edit-digestless, burned-id, before-start), an edit the probe of
// 2026-12-06 found wrongly applied (edit-surrogate) and a decision that
// came in time while no worker ran (in-time-decision, in-time-escalated)
// and one that came while an escalation was due (due-escalation),
// and decides calls by the policy rules beyond one approver (quorum,
// change-of-mind, escalate, edit, and an edit whose tool fails: edit-tool-fails), runs a run of the version before the
// fast path (ignored-activity, through worker.Options.
// PreferredVersionProvider), writes each history as JSON into -out with -prefix (histories recorded
// by older code keep their names and must still replay), checks that it
// replays, and stops the server.
//
//	go run ./workflows/internal/recordhistory [-temporal .bin/temporal] [-out workflows/testdata/replay] [-prefix v10-] [-only quorum,edit]
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/hitl/durable-approvals/internal/signing"
	"github.com/hitl/durable-approvals/internal/temporaltest"
	"github.com/hitl/durable-approvals/workflows"
)

type config struct {
	TemporalCLI string        // path of the temporal CLI binary
	OutDir      string        // where the histories go
	Prefix      string        // of the file names, so that histories of older code are kept
	Timeout     time.Duration // bound of the whole recording
	Only        []string      // scenario names to record; empty: all
	Overwrite   bool          // replace histories that exist (else refused)
}

// nextPrefixHint says which prefix the histories in dir use last and which
// a change of the workflow's commands takes next.
func nextPrefixHint(dir string) string {
	entries, _ := os.ReadDir(dir)
	newest := 0
	for _, e := range entries {
		var n int
		if _, err := fmt.Sscanf(e.Name(), "v%d-", &n); err == nil && n > newest {
			newest = n
		}
	}
	if newest == 0 {
		return "for instance -prefix v1-"
	}
	return fmt.Sprintf("the newest histories are v%d-*.json; a change of the workflow's commands records under -prefix v%d- (-only adds scenarios under an existing prefix)", newest, newest+1)
}

// path is where scenario name's history goes.
func (c config) path(name string) string {
	return filepath.Join(c.OutDir, c.Prefix+name+".json")
}

// selected reports whether scenario name is to be recorded.
func (c config) selected(name string) bool {
	return len(c.Only) == 0 || slices.Contains(c.Only, name)
}

func (c config) Validate() error {
	var errs []error
	if c.TemporalCLI == "" {
		errs = append(errs, errors.New("-temporal: path of the temporal CLI is required"))
	} else if st, err := os.Stat(c.TemporalCLI); err != nil || st.IsDir() {
		errs = append(errs, fmt.Errorf("-temporal: %s is not a file (run make tools)", c.TemporalCLI))
	}
	if st, err := os.Stat(c.OutDir); err != nil || !st.IsDir() {
		errs = append(errs, fmt.Errorf("-out: %s is not a directory", c.OutDir))
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("-timeout must be positive"))
	}
	if c.Prefix == "" {
		errs = append(errs, fmt.Errorf("-prefix is required: %s", nextPrefixHint(c.OutDir)))
	}
	for _, name := range c.Only {
		if !slices.ContainsFunc(scenarios(), func(sc scenario) bool { return sc.name == name }) {
			errs = append(errs, fmt.Errorf("-only: no scenario %q", name))
		}
	}
	// A history recorded by older code must stay as it is: runs of that
	// code may still be open, and TestReplay is what shows they replay.
	if !c.Overwrite && c.Prefix != "" {
		for _, sc := range scenarios() {
			if !c.selected(sc.name) {
				continue
			}
			if _, err := os.Lstat(c.path(sc.name)); err == nil {
				errs = append(errs, fmt.Errorf("%s exists: it replays the code that recorded it; record under a new -prefix (after a change of the workflow's commands), or -only the new scenarios (-overwrite replaces it)", c.path(sc.name)))
			}
		}
	}
	return errors.Join(errs...)
}

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cli := os.Getenv("TEMPORAL_CLI")
	if cli == "" {
		cli = ".bin/temporal"
	}
	cfg := config{}
	fs := flag.NewFlagSet("recordhistory", flag.ContinueOnError)
	fs.StringVar(&cfg.TemporalCLI, "temporal", cli, "temporal CLI binary (env TEMPORAL_CLI)")
	fs.StringVar(&cfg.OutDir, "out", filepath.Join("workflows", "testdata", "replay"), "directory for the history JSON files")
	fs.StringVar(&cfg.Prefix, "prefix", "", "prefix of the file names (required), such as v12-: histories recorded by older code keep theirs and must still replay")
	fs.DurationVar(&cfg.Timeout, "timeout", 2*time.Minute, "bound of the whole recording")
	only := fs.String("only", "", "comma-separated scenarios to record (default: all)")
	fs.BoolVar(&cfg.Overwrite, "overwrite", false, "replace histories that exist (by default a history that exists is refused: it replays the code that recorded it)")
	err := fs.Parse(os.Args[1:])
	if *only != "" {
		cfg.Only = strings.Split(*only, ",")
	}
	if err == nil {
		err = cfg.Validate()
	}
	if err == nil {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		err = run(ctx, cfg, logger)
		stop()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "recordhistory:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, logger *slog.Logger) (err error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath: cfg.TemporalCLI,
		ClientOptions: &client.Options{
			Logger: tlog.NewStructuredLogger(logger.With("component", "temporal")),
		},
		LogLevel:  "error",
		ExtraArgs: temporaltest.SearchAttributeArgs(),
		Stdout:    os.Stderr,
		Stderr:    os.Stderr,
	})
	if err != nil {
		return fmt.Errorf("start dev server: %w", err)
	}
	defer func() {
		if stopErr := srv.Stop(); stopErr != nil && err == nil {
			err = fmt.Errorf("stop dev server: %w", stopErr)
		}
	}()
	c := srv.Client()
	logger.Info("dev server up", "address", srv.FrontendHostPort())

	signer, verifier, retiredSigner, err := recorderKeys()
	if err != nil {
		return err
	}
	fake := &fakeActivities{resolved: map[string]string{}, policies: map[string]workflows.Policy{}, activityTools: map[string][]string{}, verifier: verifier, requests: map[string]int{}, noticed: map[string][]string{}}
	wk := &recorderWorker{c: c, fake: fake}
	if err := wk.start(); err != nil {
		return err
	}
	defer wk.stop()

	for _, sc := range scenarios() {
		if !cfg.selected(sc.name) {
			continue
		}
		if err := record(ctx, c, wk, signers{current: signer, retired: retiredSigner}, sc, cfg, logger); err != nil {
			return fmt.Errorf("scenario %s: %w", sc.name, err)
		}
	}
	return nil
}

// recorderKeys makes the recording's keys: the bridge's signing key, the
// worker's verifier, and a signing key the verifier has retired (a bridge
// that missed a rotation), all made for this recording.
func recorderKeys() (*signing.Signer, *signing.Verifier, *signing.Signer, error) {
	sk, vk, err := signing.Generate("recorder", rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	oldSK, oldVK, err := signing.Generate("recorder-old", rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	signer, err := signing.ParseSigner(sk)
	if err != nil {
		return nil, nil, nil, err
	}
	retired, err := signing.ParseSigner(oldSK)
	if err != nil {
		return nil, nil, nil, err
	}
	verifier, err := signing.ParseVerifierRetired(vk, oldVK)
	if err != nil {
		return nil, nil, nil, err
	}
	return signer, verifier, retired, nil
}
