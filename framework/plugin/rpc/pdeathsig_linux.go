package rpc

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal asks Linux to kill the plugin when the runner dies, even by
// SIGKILL, which no handler in the runner can catch.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
