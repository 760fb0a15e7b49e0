package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeDataDirModes: kvs serve refuses a data dir others can write to,
// naming the risk, and otherwise makes its own files 0600 in 0700 dirs.
func TestServeDataDirModes(t *testing.T) {
	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(kvsBin, "serve", "--listen", "127.0.0.1:0", "--data-dir", open).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "group or others can write to it") || !strings.Contains(string(out), "chmod go-w") {
		t.Fatalf("kvs serve on a 0777 data dir: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(open, "credentials")); err == nil {
		t.Fatal("credentials written into a refused data dir")
	}

	dir := filepath.Join(t.TempDir(), "data")
	p := startServe(t, dir)
	p.Stop()
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if perm := info.Mode().Perm(); (d.IsDir() && perm != 0o700) || (!d.IsDir() && perm != 0o600) {
			t.Errorf("%s has mode %#o", path, perm)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
