// Command devstack runs the whole system on this machine, with no cloud
// accounts:
//
//	go run ./devstack up     # Temporal dev server, local Ably, auth server,
//	                         # scripted model (without OPENAI_API_KEY),
//	                         # worker and bridge; Ctrl-C stops all
//	go run ./devstack demo   # up + the guide's run + the approver in this terminal
//	go run ./devstack env    # shell lines (export, unset) for starter and approver
//	go run ./devstack prod   # the production topology without Docker:
//	                         # PostgreSQL, Temporal server (+ UI), two
//	                         # workers, two bridges, the auth server
//	go run ./devstack bench  # the approval path against Temporal's floor
//	go run ./devstack ably … # the local Ably server's own commands
//
// The Temporal CLI is built from the Go module proxy at the version pinned
// in tools.env, unless --temporal-cli (env TEMPORAL_CLI) names one to use;
// state (SQLite history, generated secrets, logs) lives in .devstack/, the
// built programs in .bin/ and the posts in data/posts/, or all three under
// --work DIR (env DEVSTACK_WORK). The local Ably server keeps no history
// across restarts, so `up` re-announces the approvals still pending in
// Temporal.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/ablylocal"
	"github.com/hitl/durable-approvals/internal/devstack"
	"github.com/hitl/durable-approvals/internal/termtext"
)

const usage = `usage: go run ./devstack COMMAND [flags]

commands:
  up     run the whole system locally until Ctrl-C
  demo   up, then run the guide's scenario; you approve in this terminal
  env    print the shell lines (export, unset) for starter and approver
  prod   run the production topology without Docker (PostgreSQL, Temporal server and UI,
         2 workers, 2 bridges, auth server) until Ctrl-C
  bench  benchmark the approval path (N runs approved through Ably) against the bare Temporal floor
  ably   the local Ably server's commands (go run ./devstack ably -h)

Run "go run ./devstack COMMAND -h" for a command's flags.`

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	caught := make(chan os.Signal, 1)
	go func() {
		// After the first Ctrl-C the stack shuts down in order; restoring
		// the default handling lets a second one end devstack at once (its
		// children get SIGTERM from the kernel: see
		// internal/devstack/sysproc_linux.go).
		if s, ok := <-sigs; ok {
			caught <- s
			signal.Stop(sigs)
			cancel()
		}
	}()
	err := mainErr(ctx, os.Args[1:], config.FromOS(), os.Stdin, os.Stdout, os.Stderr)
	signal.Stop(sigs)
	cancel()
	var sig os.Signal
	select {
	case sig = <-caught:
	default:
	}
	os.Exit(exitCode(os.Stderr, err, sig))
}

// exitCode reports err on w and returns devstack's exit status: 0 without
// an error; 130 or 143 when SIGINT or SIGTERM (sig) stopped a command that
// then failed, the error being its consequence (a build killed, a start-up
// cut short), and everything started is stopped; 2 for bad input on the
// command line or in the environment (config.Usage), as the other mains;
// 1 otherwise.
func exitCode(w io.Writer, err error, sig os.Signal) int {
	switch {
	case err == nil:
		return 0
	case sig != nil:
		fmt.Fprintf(w, "devstack: interrupted (%v); what it started is stopped: %s\n", sig, termtext.Error(err))
		if sig == syscall.SIGTERM {
			return 143
		}
		return 130
	default:
		fmt.Fprintln(w, "devstack:", termtext.Error(err))
		return config.ExitCode(err)
	}
}

func mainErr(ctx context.Context, args []string, env config.Env, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return config.Usage(errors.New("no command"))
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "ably":
		err := ablylocal.RunCommand(ctx, rest, env.Get, stderr)
		var usage *ablylocal.UsageError
		switch {
		case errors.Is(err, flag.ErrHelp):
			return nil
		case errors.As(err, &usage):
			return config.Usage(err)
		}
		return err
	case "prod":
		return devstack.RunProd(ctx, rest, env, stdout, stderr)
	case "bench":
		return devstack.RunBench(ctx, rest, env, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	if !devstack.IsCommand(cmd) {
		fmt.Fprintln(stderr, usage)
		return config.Usage(fmt.Errorf("unknown command %q", cmd))
	}
	return devstack.Run(ctx, cmd, rest, env, stdin, stdout, stderr)
}
