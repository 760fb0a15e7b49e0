//go:build unix

package main

import "syscall"

// filesReserved are the descriptors kept for other than connections: the
// listener, the archive's index and fragment files, logs.
const filesReserved = 128

// connsWithinFileLimit returns want, or fewer if the process's open-file
// limit (which the Go runtime raises to the hard limit at start) leaves
// less room for connections.
func connsWithinFileLimit(want int) int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > uint64(want+filesReserved) {
		return want
	}
	return max(int(rl.Cur)-filesReserved, 16)
}
