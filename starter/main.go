// Command starter starts one agent run: `starter "PROMPT"` starts
// workflows.AgentWorkflow on workflows.TaskQueue with a hitl-<random> id,
// and prints the id and the Temporal Web UI link. With --wait it also waits
// for the run and prints the answer and the audit trail. It sends no policy:
// the run takes the policy of the worker that starts it.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/temporalconn"
	"github.com/hitl/durable-approvals/internal/termtext"
	"github.com/hitl/durable-approvals/workflows"
)

func main() {
	// A second SIGINT or SIGTERM ends the process at once (config.NotifyContext).
	ctx, stop := config.NotifyContext()
	err := mainErr(ctx, os.Args[1:], config.FromOS(), os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starter:", termtext.Error(err))
		os.Exit(config.ExitCode(err))
	}
}

func mainErr(ctx context.Context, args []string, env config.Env, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(args, env, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return config.Usage(err)
	}
	if err := cfg.Validate(); err != nil {
		return config.Usage(err)
	}
	return run(ctx, cfg, stdout)
}

// run starts the workflow and, with cfg.Wait, waits for its result.
func run(ctx context.Context, cfg Config, stdout io.Writer) error {
	c, err := dial(ctx, cfg)
	if err != nil {
		return cutShort(ctx, err)
	}
	defer c.Close()

	id, err := newWorkflowID(rand.Reader)
	if err != nil {
		return err
	}
	in := workflows.AgentInput{Prompt: cfg.Prompt, Requester: cfg.Requester, MaxTurns: cfg.MaxTurns}
	wr, err := c.ExecuteWorkflow(ctx, startOptions(id, cfg.Prompt, cfg.Requester), workflows.WorkflowName, in)
	if err != nil {
		if ctx.Err() != nil {
			// The start may have reached the server before the signal.
			return cutShort(ctx, fmt.Errorf("start workflow %s (it may have started: the Web UI shows it, %s): %w",
				id, workflowLink(cfg.UIURL, cfg.Temporal.Namespace, id), err))
		}
		return fmt.Errorf("start workflow: %w", err)
	}
	fmt.Fprintf(stdout, "Started workflow %s\n%s\n", wr.GetID(),
		workflowLink(cfg.UIURL, cfg.Temporal.Namespace, wr.GetID()))
	if !cfg.Wait {
		return nil
	}
	fmt.Fprintln(stdout, "Waiting for the run to finish (approvals may take a while; Ctrl-C stops waiting, not the run)...")
	every := cfg.RetryWatchEvery
	if every <= 0 {
		every = DefaultRetryWatchEvery
	}
	return wait(ctx, c, wr, every, stdout)
}

// cutShort adds to err the signal that cut its step short, if one did, so
// that the starter exits 130 or 143 (config.ExitCode), as in the wait.
func cutShort(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	return fmt.Errorf("%w; %w", err, context.Cause(ctx))
}

// failedAuditTimeout bounds the query of a failed run's audit trail.
const failedAuditTimeout = 10 * time.Second

// printFailedAudit prints the audit trail of a run that failed, as its
// approvals query answers it (a worker replays the closed run): the run
// has no result, and its tools may have run before it failed (a human
// approved a post, it was published, then the model's next turn failed),
// which whoever started it must know before starting it again. A query
// that fails within failedAuditTimeout (no worker) is said, briefly.
func printFailedAudit(ctx context.Context, c client.Client, workflowID, runID string, w io.Writer) {
	qctx, cancel := context.WithTimeout(ctx, failedAuditTimeout)
	defer cancel()
	var view workflows.ApprovalsView
	v, err := c.QueryWorkflow(qctx, workflowID, runID, workflows.ApprovalsQuery)
	if err == nil {
		err = v.Get(&view)
	}
	fmt.Fprintln(w)
	if err != nil {
		if ctx.Err() != nil {
			err = context.Cause(ctx) // Ctrl-C, say, not the SDK's "context canceled"
		}
		fmt.Fprintf(w, "Audit trail: not read (%s); the Web UI shows what the run did\n", termtext.Line(truncate(err.Error(), 200)))
		return
	}
	_ = printAudit(w, view.Audit)
}

// runFailed is the error of a run that failed: the failure the workflow
// ended with, its message alone, as the Web UI shows it first. The SDK's
// error adds the failure's causes, whose text that message holds already
// (a model call's error twice over, and "(retryable)" of an attempt after
// which Temporal gave up); the Web UI and `temporal workflow show` keep
// them. Another end (terminated, timed out) is the SDK's word.
func runFailed(workflowID string, err error) error {
	var failure *temporal.ApplicationError
	if errors.As(err, &failure) {
		return fmt.Errorf("run %s failed: %s", workflowID, failure.Message())
	}
	return fmt.Errorf("run %s failed: %w", workflowID, err)
}

// dial connects to Temporal, giving up after cfg.DialTimeout.
func dial(ctx context.Context, cfg Config) (client.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	opts := cfg.Temporal
	opts.Logger = tlog.NewStructuredLogger(discardLogger())
	c, err := client.DialContext(dctx, opts)
	if err != nil {
		gaveUp := ""
		if dctx.Err() != nil && ctx.Err() == nil {
			gaveUp = fmt.Sprintf(" (gave up after --dial-timeout %s)", cfg.DialTimeout)
		}
		return nil, fmt.Errorf("cannot reach Temporal at %s (namespace %s)%s: is a Temporal server running there? (TEMPORAL_ADDRESS or a profile names it; `make demo` or `go run ./devstack up` runs one locally): %w",
			opts.HostPort, opts.Namespace, gaveUp, err)
	}
	// A run started where the workflow cannot upsert its search
	// attributes would wait forever (the worker refuses such a namespace).
	// The namespace is asked again within the dial timeout (a server that
	// just restarted may not know it for a moment); any other failure of
	// this check is left to the start itself.
	if err := temporalconn.WaitNamespace(dctx, c, opts.Namespace); errors.Is(err, temporalconn.ErrNamespace) {
		c.Close()
		gaveUp := ""
		if dctx.Err() != nil && ctx.Err() == nil {
			gaveUp = fmt.Sprintf(" (gave up after --dial-timeout %s)", cfg.DialTimeout)
		}
		return nil, fmt.Errorf("temporal at %s%s: %w", opts.HostPort, gaveUp, err)
	}
	return c, nil
}
