//go:build unix

package demo

import (
	"os/exec"
	"syscall"
)

// setCredential runs cmd as cred's user (we are root; PostgreSQL refuses root).
func setCredential(cmd *exec.Cmd, cred *credential) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: cred.uid, Gid: cred.gid}}
}
