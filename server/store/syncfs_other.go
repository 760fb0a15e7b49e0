//go:build !linux

package store

import (
	"errors"
	"os"
)

// Elsewhere every fragment file is fsynced on its own.
const canSyncFS = false

func syncFS(*os.File) error { return errors.ErrUnsupported }
