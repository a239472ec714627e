package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// errNoReplaceUnsupported is what renameNoReplace returns where the system
// or the file system has no rename that refuses to replace.
var errNoReplaceUnsupported = errors.New("rename without replace is not supported")

// MoveNew renames oldpath to newpath only if newpath does not exist;
// otherwise it returns an error that matches fs.ErrExist and moves nothing.
// If oldpath does not exist, the error matches fs.ErrNotExist. Both paths
// must be in one file system.
//
// On Linux it is one rename(2) with RENAME_NOREPLACE: the file moved is the
// one at oldpath at that instant, whatever replaces oldpath before or after.
// Elsewhere, or on a file system without that flag, newpath is claimed with
// a hard link and oldpath is then removed only if it is still the linked
// file; a file put at oldpath between the two steps stays where it is.
func MoveNew(oldpath, newpath string) error {
	err := renameNoReplace(oldpath, newpath)
	if errors.Is(err, errNoReplaceUnsupported) {
		err = linkMove(oldpath, newpath)
	}
	if err != nil {
		return err
	}
	syncDir(filepath.Dir(newpath))
	if filepath.Dir(oldpath) != filepath.Dir(newpath) {
		syncDir(filepath.Dir(oldpath))
	}
	return nil
}

// linkMove is MoveNew with a hard link and a remove.
func linkMove(oldpath, newpath string) error {
	if err := os.Link(oldpath, newpath); err != nil {
		return err
	}
	moved, err := os.Lstat(newpath)
	if err != nil {
		return fmt.Errorf("move %s: %w", oldpath, err)
	}
	if cur, err := os.Lstat(oldpath); err != nil || !os.SameFile(cur, moved) {
		return nil // oldpath was removed or replaced meanwhile: the moved file is gone from it already
	}
	if err := os.Remove(oldpath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("move %s: %w", oldpath, err)
	}
	return nil
}
