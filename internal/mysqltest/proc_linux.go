package mysqltest

import "syscall"

// sysProcAttr makes mariadbd die with the test binary, so a crashed or
// timed-out test leaves no servers behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
