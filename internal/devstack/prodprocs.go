package devstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// The production stack's process controls beyond proc.Stop: a chosen
// signal (PostgreSQL's fast shutdown), SIGKILL (the failure tests), and
// waiting for a port.

// waitTCP waits until addr accepts a connection, p exits, or timeout passes.
func waitTCP(ctx context.Context, addr string, p *proc, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-p.Exited():
			return p.exitedDuringStartup()
		case <-ctx.Done():
			return fmt.Errorf("%s not listening on %s after %s: %w", p.name, addr, timeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stopWith sends sig and waits up to grace for the exit, then kills the
// process. Exiting on sig is not an error.
func (p *proc) stopWith(sig syscall.Signal, grace time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s: %w", p.name, err)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %s; killed", p.name, grace)
	}
}

// kill sends SIGKILL and waits for the exit.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}
