// Command worker runs the HITL agent: it polls task queue
// workflows.TaskQueue, runs workflows.AgentWorkflow and the activities
// (model calls, tools, Ably approval messages). Configuration comes from
// the environment (see config.Env*) and flags; the approval policy file is
// validated at startup and checked against the tool registry.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/hitl/durable-approvals/config"
)

func main() {
	// A second SIGINT or SIGTERM ends the process at once (config.NotifyContext).
	ctx, stop := config.NotifyContext()
	err := mainErr(ctx, os.Args[1:], config.FromOS(), os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", strings.ReplaceAll(err.Error(), "\n", "; "))
		os.Exit(config.ExitCode(err))
	}
}

func mainErr(ctx context.Context, args []string, env config.Env, stderr io.Writer) error {
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
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	return run(ctx, cfg, logger)
}
