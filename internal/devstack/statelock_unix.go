//go:build unix

package devstack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// lockState locks dir for this process until release is called or the
// process exits (the kernel drops the lock with the process, so a killed
// stack leaves no stale lock). A directory locked by another process is
// ErrStateInUse, naming its pid.
func lockState(dir string) (release func() error, err error) {
	path := filepath.Join(dir, stateLockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			who := strings.TrimSpace(string(holder))
			if who == "" {
				who = "another process"
			}
			return nil, fmt.Errorf("%w: %s is used by a devstack that is running (%s): stop it first, or give this one another -work", ErrStateInUse, dir, who)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = fmt.Fprintf(f, "pid %d\n", os.Getpid())
	}
	// Closing the file drops the lock. The file is opened close-on-exec,
	// so the stack's children do not hold it after the stack exits.
	return f.Close, nil
}
