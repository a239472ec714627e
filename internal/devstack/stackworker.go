package devstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// Names of the stack's child processes (ChildPid, the log files).
const (
	ChildWorker = "worker"
	ChildBridge = "bridge"
)

// ChildPid returns the process id of the running child called name
// (ChildWorker or ChildBridge), and false when there is none or it has
// exited.
func (st *Stack) ChildPid(name string) (int, bool) {
	i := st.childIndex(name)
	if i < 0 {
		return 0, false
	}
	select {
	case <-st.children[i].Exited():
		return 0, false
	default:
		return st.children[i].Pid(), true
	}
}

func (st *Stack) childIndex(name string) int {
	return slices.IndexFunc(st.children, func(p *proc) bool { return p.name == name })
}

// startWorker starts the worker child with the stack's settings and waits
// until it polls the task queue.
func (st *Stack) startWorker(ctx context.Context) (*proc, error) {
	p, err := startProc(ChildWorker, st.bins[BinWorker], nil, st.cfg.partEnv(workerEnv(st.cfg, st.secrets)),
		st.cfg.Root, filepath.Join(st.cfg.LogDir(), ChildWorker+".log"), true)
	if err != nil {
		return nil, err
	}
	if err := waitWorkerPolling(ctx, st.Temporal, p, st.cfg.Timeout); err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, fmt.Errorf("%w (log: %s)", err, filepath.Join(st.cfg.LogDir(), ChildWorker+".log"))
	}
	return p, nil
}

// RestartWorker sends sig to the worker (syscall.SIGKILL to kill it the
// hard way), waits up to grace for it to exit, starts a new worker with
// the same settings and waits until that one polls the task queue. The
// runs in Temporal are not touched: the new worker replays them. It must
// not run concurrently with Close.
func (st *Stack) RestartWorker(ctx context.Context, sig syscall.Signal, grace time.Duration) error {
	i := st.childIndex(ChildWorker)
	if i < 0 {
		return errors.New("the stack has no worker")
	}
	old := st.children[i]
	if err := old.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal the worker: %w", err)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-old.Exited():
	case <-t.C:
		return fmt.Errorf("the worker (pid %d) did not exit within %s of %s", old.Pid(), grace, sig)
	case <-ctx.Done():
		return ctx.Err()
	}
	p, err := st.startWorker(ctx)
	if err != nil {
		return fmt.Errorf("restart the worker: %w", err)
	}
	st.children[i] = p
	return nil
}
