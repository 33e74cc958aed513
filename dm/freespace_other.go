//go:build !unix

package dm

import "errors"

// freeBytes is not available here: the remain_space strategy logs the error and the
// time strategy still applies (dmkit's servers run on Linux).
func freeBytes(string) (uint64, error) {
	return 0, errors.New("free disk space is not available on this platform")
}
