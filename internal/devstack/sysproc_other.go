//go:build !linux

package devstack

import "syscall"

// childSysProcAttr leaves the child in the devstack's process group.
func childSysProcAttr() *syscall.SysProcAttr { return nil }
