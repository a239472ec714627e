//go:build !linux

package main

import "syscall"

// childSysProcAttr leaves the child in the devstack's process group.
func childSysProcAttr() *syscall.SysProcAttr { return nil }
