package devstack

import "syscall"

// childSysProcAttr puts a child in its own process group and has the
// kernel send it SIGTERM if the devstack dies without stopping it.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
