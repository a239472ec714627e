//go:build !linux

package atomicfile

// renameNoReplace has no system call to use here: MoveNew links instead.
func renameNoReplace(oldpath, newpath string) error { return errNoReplaceUnsupported }
