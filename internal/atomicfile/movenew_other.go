//go:build !linux && !darwin

package atomicfile

// renameNoReplace has no system call to use here: MoveNew takes steps.
func renameNoReplace(oldpath, newpath string) error { return errNoReplaceUnsupported }
