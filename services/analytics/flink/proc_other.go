//go:build !linux

package flink

import "os/exec"

// dieWithParent: only Linux has a parent-death signal; elsewhere Close (and
// the context) are what stop the JVM.
func dieWithParent(*exec.Cmd) {}
