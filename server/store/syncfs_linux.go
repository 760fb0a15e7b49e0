package store

import (
	"os"

	"golang.org/x/sys/unix"
)

const canSyncFS = true

// syncFS flushes the file system that holds d (syncfs(2)). Since Linux 5.8
// it reports write-back errors of any file of the file system since the
// previous call on d.
func syncFS(d *os.File) error {
	return unix.Syncfs(int(d.Fd()))
}
