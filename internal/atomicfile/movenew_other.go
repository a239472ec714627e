//go:build !linux && !darwin

package atomicfile

import "errors"

// renameNoReplace has no system call to use here.
func renameNoReplace(oldpath, newpath string) error { return errors.ErrUnsupported }
