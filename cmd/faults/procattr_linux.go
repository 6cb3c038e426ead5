//go:build linux

package main

import (
	"os/exec"
	"syscall"
)

// dieWithSuite has the kernel kill the shop when the suite dies, even by
// SIGKILL, so no shop outlives a run. (The signal is tied to the thread that
// started the shop; Go ends threads only for goroutines that locked one,
// which the suite never does.)
func dieWithSuite(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
