package devstack

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/hitl/durable-approvals/config"
)

// RunProd is the `devstack prod` command: the production topology without
// Docker until ctx is done (Ctrl-C) or a part dies. "-h" prints the flags
// and returns nil.
func RunProd(ctx context.Context, args []string, env config.Env, stdout, stderr io.Writer) error {
	cwd, err := os.Getwd()
	if err != nil {
		return err
	}
	cfg, err := parseProdConfig(args, env, cwd, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return config.Usage(err)
	}
	if err := cfg.Validate(); err != nil {
		return config.Usage(err)
	}
	st, err := ProdUp(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	st.Summary(stdout)
	waitErr := st.Wait(ctx)
	fmt.Fprintln(stderr, "stopping the production stack...")
	return errors.Join(waitErr, st.Close())
}

// Wait blocks until ctx is done (nil) or a part dies (an error naming it
// and its log).
func (st *ProdStack) Wait(ctx context.Context) error {
	parts := append([]*proc{st.temporal, st.ui, st.auth}, append(st.workers, st.bridges...)...)
	if st.pg != nil {
		parts = append(parts, st.pg.proc)
	}
	return waitAll(ctx, parts, st.LogDir())
}
