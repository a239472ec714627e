//go:build unix

package authserver

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// lockUsersFile takes an exclusive lock on lockPath (flock(2), waiting for
// it) for one read-change-write of the users file; release drops it. The
// kernel drops it with the process, so a killed command leaves no stale
// lock.
func lockUsersFile(lockPath string) (release func(), err error) {
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock users file: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock users file %s: %w", lockPath, err)
	}
	return func() { f.Close() }, nil
}
