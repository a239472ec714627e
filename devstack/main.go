// Command devstack runs the whole system on this machine, with no cloud
// accounts:
//
//	go run ./devstack up     # Temporal dev server, local Ably, auth server,
//	                         # scripted model (without OPENAI_API_KEY),
//	                         # worker and bridge; Ctrl-C stops all
//	go run ./devstack demo   # up + the guide's run + the approver in this terminal
//	go run ./devstack env    # export lines for starter and approver
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
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/ablylocal"
)

const usage = `usage: go run ./devstack COMMAND [flags]

commands:
  up     run the whole system locally until Ctrl-C
  demo   up, then run the guide's scenario; you approve in this terminal
  env    print the export lines for starter and approver
  ably   the local Ably server's commands (go run ./devstack ably -h)

Run "go run ./devstack COMMAND -h" for a command's flags.`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first Ctrl-C the stack shuts down in order; restoring the
	// default handling lets a second one end devstack at once (its children
	// get SIGTERM from the kernel: see sysproc_linux.go).
	go func() { <-ctx.Done(); stop() }()
	err := mainErr(ctx, os.Args[1:], config.FromOS(), os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", strings.ReplaceAll(err.Error(), "\n", "; "))
		os.Exit(1)
	}
}

func mainErr(ctx context.Context, args []string, env config.Env, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errors.New("no command")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "ably":
		if err := ablylocal.RunCommand(ctx, rest, stderr); !errors.Is(err, flag.ErrHelp) {
			return err
		}
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	case "up", "demo", "env":
	default:
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
	cwd, err := os.Getwd()
	if err != nil {
		return err
	}
	cfg, err := parseConfig(cmd, rest, env, cwd, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	switch cmd {
	case "env":
		s, _, err := loadOrCreateSecrets(cfg.StateDir(), rand.Reader)
		if err != nil {
			return err
		}
		return printEnv(stdout, cfg, s)
	case "demo":
		return demo(ctx, cfg, stdin, stdout, stderr)
	}
	st, err := Up(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	st.Summary(stdout)
	waitErr := st.Wait(ctx)
	fmt.Fprintln(stderr, "stopping the dev stack...")
	return errors.Join(waitErr, st.Close())
}

// printEnv writes the export lines for starter and approver; the approver
// logs in as the demo publisher.
func printEnv(w io.Writer, cfg Config, s Secrets) error {
	u, ok := s.User("pat")
	if !ok {
		return errors.New("no demo user pat")
	}
	fmt.Fprintln(w, "# dev stack settings for starter and approver (approver logs in as pat, publisher)")
	fmt.Fprint(w, exportLines(append(userEnv(cfg),
		EnvVar{config.EnvApproverUser, u.Name}, EnvVar{config.EnvApproverPassword, u.Password})))
	for _, other := range s.Users {
		if other.Name != u.Name {
			fmt.Fprintf(w, "# as %s (%s): export APPROVER_USER=%s APPROVER_PASSWORD=%s\n", other.Name, other.Role, other.Name, shellQuote(other.Password))
		}
	}
	return nil
}
