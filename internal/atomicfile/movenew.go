package atomicfile

import (
	"errors"
	"fmt"
	"path/filepath"
)

// MoveNew renames oldpath to newpath only if newpath does not exist;
// otherwise it returns an error that matches fs.ErrExist and moves nothing.
// If oldpath does not exist, the error matches fs.ErrNotExist. Both paths
// must be in one file system. The file moved is the one at oldpath at one
// instant: a file put at oldpath later stays there.
//
// It is one rename(2) with RENAME_NOREPLACE on Linux (renamex_np with
// RENAME_EXCL on macOS). Where the system or the file system (NFS) has no
// such rename, the error matches errors.ErrUnsupported: the steps that
// would stand in for it (a link and a remove, or a rename and a link) can
// be interleaved with other moves, or cut by a crash, into moving or
// stranding a file that was not at oldpath when the move began.
func MoveNew(oldpath, newpath string) error {
	if err := renameNoReplace(oldpath, newpath); err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			return fmt.Errorf("move %s to %s without replacing: %w", oldpath, newpath, err)
		}
		return err
	}
	syncDir(filepath.Dir(newpath))
	if filepath.Dir(oldpath) != filepath.Dir(newpath) {
		syncDir(filepath.Dir(oldpath))
	}
	return nil
}
