package flink

import (
	"os/exec"
	"syscall"
)

// dieWithParent asks the kernel to stop the JVM when shoplab dies, even by
// SIGKILL, so that no MiniCluster outlives the process that started it.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
