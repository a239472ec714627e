// Package atomicfile writes a file so that readers see either its old or
// its new content, never a partial one, even across a crash: the data goes
// to a temporary file in the same directory, which is synced and then
// renamed over the target (WriteFile) or hard-linked to it if the target
// does not exist yet (WriteNew). MoveNew moves a file to a name only if
// that name is free, so a file is never moved over another one.
package atomicfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile writes data to path with mode perm, atomically. The directory
// must exist. On failure the temporary file is removed and path is as it
// was.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	syncDir(filepath.Dir(path))
	return nil
}

// WriteNew creates path with data and mode perm, atomically, only if path
// does not exist; otherwise it returns an error that matches fs.ErrExist and
// leaves path as it was. The name is claimed with a hard link of a complete,
// synced temporary file, which the file system grants to one caller only,
// also across processes sharing the directory: of several WriteNew calls
// on one path, exactly one succeeds. A crash leaves either no file at path
// or the whole of data (and possibly a hidden temporary file beside it).
// The directory must exist and its file system must support hard links.
func WriteNew(path string, data []byte, perm fs.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer func() { _ = os.Remove(tmp) }()
	if err := os.Link(tmp, path); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	syncDir(filepath.Dir(path))
	return nil
}

// writeTemp writes data to a new, synced and closed temporary file beside
// path and returns its name. On failure nothing is left.
func writeTemp(path string, data []byte, perm fs.FileMode) (name string, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		return "", err
	}
	if _, err := tmp.Write(data); err != nil {
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return tmp.Name(), nil
}

// syncDir makes a rename or link in dir durable. A failure leaves the new
// name in place, so it is not an error.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
