package server

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// modesUnder returns every entry under dir (dir included) whose permission
// bits differ from 0700 for directories and 0600 for regular files.
func modesUnder(t *testing.T, dir string) map[string]fs.FileMode {
	t.Helper()
	bad := map[string]fs.FileMode{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch perm := info.Mode().Perm(); {
		case d.IsDir() && perm != 0o700, d.Type().IsRegular() && perm != 0o600:
			bad[path] = perm
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return bad
}

// TestDataDirModes shows that everything the server writes is for its owner
// only: the data dir and the directories it makes are 0700, the index and
// fragment files 0600.
func TestDataDirModes(t *testing.T) {
	e := newTestEnv(t, Limits{})
	e.createStream("cam", 24)
	pm, err := e.putMedia("cam", nil)
	if err != nil {
		t.Fatal(err)
	}
	pm.write(newClip(t).cluster(t, baseTC, 5).cluster(t, baseTC+2000, 5).bytes())
	if n := len(events(pm.finish(), "PERSISTED")); n != 2 {
		t.Fatalf("%d fragments persisted, want 2", n)
	}
	dir := e.srv.cfg.DataDir
	frags, _ := filepath.Glob(filepath.Join(dir, "fragments", "*", "*"))
	if len(frags) == 0 {
		t.Fatal("no fragment files written")
	}
	if bad := modesUnder(t, dir); len(bad) > 0 {
		t.Fatalf("entries with loose modes: %v", bad)
	}
}

// TestDataDirOldModesTightened opens a data dir as earlier versions left it
// (0755 directories, 0644 files): New tightens it instead of refusing.
func TestDataDirOldModesTightened(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	for _, d := range []string{dir, filepath.Join(dir, "fragments"), filepath.Join(dir, "fragments", "1")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	creds := filepath.Join(dir, "credentials")
	if err := os.WriteFile(creds, []byte("[default]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(creds, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/hostname", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{DataDir: dir, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if bad := modesUnder(t, dir); len(bad) > 0 {
		t.Fatalf("entries left with loose modes: %v", bad)
	}
	if fi, err := os.Stat("/etc/hostname"); err == nil && fi.Mode().Perm()&0o044 == 0 {
		t.Fatal("a symbolic link was followed")
	}
}

// TestDataDirWritableByOthersRefused refuses a data dir that group or
// others can write to, with ErrDataDirInsecure, and leaves it untouched.
func TestDataDirWritableByOthersRefused(t *testing.T) {
	for _, mode := range []fs.FileMode{0o777, 0o775, 0o722} {
		dir := filepath.Join(t.TempDir(), "data")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		srv, err := New(Config{DataDir: dir, NoSync: true, Logger: slog.New(slog.DiscardHandler)})
		if err == nil {
			srv.Close()
			t.Fatalf("mode %#o: data dir accepted", mode)
		}
		if !errors.Is(err, ErrDataDirInsecure) {
			t.Fatalf("mode %#o: %v, want ErrDataDirInsecure", mode, err)
		}
		entries, _ := os.ReadDir(dir)
		fi, _ := os.Stat(dir)
		if len(entries) != 0 || fi.Mode().Perm() != mode {
			t.Fatalf("mode %#o: refused data dir was changed: %v, mode %#o", mode, entries, fi.Mode().Perm())
		}
	}
}
