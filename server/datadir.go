package server

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// Modes of what the server writes in its data directory: nothing there is
// for anyone but the owner (fragments, index, credentials, keys).
const (
	dirMode  fs.FileMode = 0o700
	fileMode fs.FileMode = 0o600
)

// PrepareDataDir makes dir (and its parents) if it is missing, with mode
// 0700. An existing dir that group or others can write to is refused with
// ErrDataDirInsecure: whoever can write there could replace fragments, the
// index, the credentials or the session key. An existing dir with looser
// modes than the server's own (as earlier versions made them: 0755
// directories, 0644 files) is tightened in place: the dir and every
// directory below it to 0700, every regular file to 0600 (symbolic links are
// left alone and not followed). What was tightened is logged. A dir that
// only its owner may enter is taken as it is, without walking the archive:
// nothing below it is reachable by others.
func PrepareDataDir(dir string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("data dir %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data dir %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("data dir %s: not a directory", dir)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("%w: %s has mode %#o, so group or others can write to it and replace its fragments, credentials and keys; run chmod go-w %s (the server then tightens it to 0700) or choose another --data-dir",
			ErrDataDirInsecure, dir, perm, dir)
	}
	if fi.Mode().Perm()&0o077 == 0 {
		// Nothing below a directory only its owner may enter is reachable
		// by others, whatever its own modes: no need to walk the archive.
		return nil
	}
	tightened := 0
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var want fs.FileMode
		switch {
		case d.IsDir():
			want = dirMode
		case d.Type().IsRegular():
			want = fileMode
		default:
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if info.Mode().Perm()&0o077 == 0 {
			return nil
		}
		if err := os.Chmod(path, info.Mode().Perm()&want); err != nil {
			return err
		}
		tightened++
		return nil
	})
	if err != nil {
		return fmt.Errorf("data dir %s: tighten modes: %w", dir, err)
	}
	if tightened > 0 {
		log.Warn("data dir: removed group and other permissions", "dir", dir, "entries", tightened)
	}
	return nil
}
