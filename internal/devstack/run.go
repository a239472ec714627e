package devstack

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/hitl/durable-approvals/config"
)

// IsCommand reports whether Run knows cmd: up, demo or env.
func IsCommand(cmd string) bool { return cmd == "up" || cmd == "demo" || cmd == "env" }

// Run runs one devstack command (up, demo or env) with its flags and the
// environment. "-h" prints the command's flags and returns nil.
func Run(ctx context.Context, cmd string, args []string, env config.Env, stdin io.Reader, stdout, stderr io.Writer) error {
	cwd, err := os.Getwd()
	if err != nil {
		return err
	}
	cfg, err := parseConfig(cmd, args, env, cwd, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return config.Usage(err)
	}
	if err := cfg.Validate(); err != nil {
		return config.Usage(err)
	}
	switch cmd {
	case "env":
		// env only reads: a -work that holds no stack (a typo, or env
		// run before up) gets an error, not new passwords that the
		// running stack's auth server would refuse.
		s, err := readSecrets(cfg.StateDir())
		if errors.Is(err, fs.ErrNotExist) {
			up := "`devstack up`"
			if cfg.Work != "" {
				up = "`devstack up -work " + shellQuote(cfg.Work) + "`"
			}
			return fmt.Errorf("no dev stack state in %s (no %s there): start one with %s first; env only prints the settings of a stack", cfg.StateDir(), SecretsFile, up)
		}
		if err != nil {
			return err
		}
		if err := applyStackRecord(&cfg, stderr); err != nil {
			return err
		}
		return printEnv(stdout, cfg, s, env.Environ())
	case "demo":
		return demo(ctx, cfg, stdin, stdout, stderr)
	case "up":
	default:
		return fmt.Errorf("unknown command %q", cmd)
	}
	st, err := Up(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	st.Summary(stdout)
	waitErr := st.Wait(ctx)
	fmt.Fprintln(stderr, "stopping the dev stack...")
	if err := errors.Join(waitErr, st.Close()); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "the dev stack stopped; its state is kept in", cfg.StateDir())
	return nil
}

// printEnv writes the shell lines for starter and approver (shellLines, of
// the shell's environ); the approver logs in as the demo publisher.
func printEnv(w io.Writer, cfg Config, s Secrets, environ []string) error {
	u, ok := s.User("pat")
	if !ok {
		return errors.New("no demo user pat")
	}
	fmt.Fprintln(w, "# dev stack settings for starter and approver (approver logs in as pat, publisher)")
	fmt.Fprint(w, shellLines(append(userEnv(cfg),
		EnvVar{config.EnvApproverUser, u.Name}, EnvVar{config.EnvApproverPassword, u.Password}), environ))
	for _, other := range s.Users {
		if other.Name != u.Name {
			fmt.Fprintf(w, "# as %s (%s): export APPROVER_USER=%s APPROVER_PASSWORD=%s\n", other.Name, other.Role, other.Name, shellQuote(other.Password))
		}
	}
	return nil
}
