package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
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
// must be in one file system. The file moved is the one at oldpath at one
// instant: a file put at oldpath later stays there.
//
// It is one rename(2) with RENAME_NOREPLACE on Linux (renamex_np with
// RENAME_EXCL on macOS). Elsewhere, or on a file system without that flag
// (NFS), it is stepMove, which a crash can leave half done (see there).
func MoveNew(oldpath, newpath string) error {
	err := renameNoReplace(oldpath, newpath)
	if errors.Is(err, errNoReplaceUnsupported) {
		err = stepMove(oldpath, newpath)
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

// stepMove is MoveNew in three steps: oldpath is renamed to a hidden name
// beside newpath (which takes exactly the file that is there), that name
// is hard-linked to newpath (which fails if newpath exists), and removed.
// If newpath exists the file is linked back to oldpath; should oldpath
// have been taken meanwhile, the file stays at the hidden name and the
// error says where. A crash between the steps leaves the file at the
// hidden name, at neither path.
func stepMove(oldpath, newpath string) error {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	hidden := filepath.Join(filepath.Dir(newpath), "."+filepath.Base(newpath)+"."+hex.EncodeToString(rnd[:])+".moving")
	if err := os.Rename(oldpath, hidden); err != nil {
		return err
	}
	if err := os.Link(hidden, newpath); err != nil {
		if lerr := os.Link(hidden, oldpath); lerr != nil {
			return fmt.Errorf("move %s: %w (and it could not be put back: it is at %s: %v)", oldpath, err, hidden, lerr)
		}
		_ = os.Remove(hidden)
		return err
	}
	if err := os.Remove(hidden); err != nil {
		return fmt.Errorf("move %s: %w", oldpath, err)
	}
	return nil
}
