package v4l2

import (
	"archive/tar"
	"fmt"
	"os"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	if inVM() {
		if err := flushArtifacts(); err != nil {
			fmt.Fprintln(os.Stderr, "writing the results disk:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func inVM() bool { return os.Getenv("KVSKIT_VM") == "1" }

func needVM(t *testing.T) {
	t.Helper()
	if !inVM() {
		t.Skip("runs inside the VM of test/vm/run-vivid.sh (TestVividVM boots it)")
	}
}

// artifacts are files the in-VM tests hand to the host: TestMain writes
// them as a tar to the VM's disk (KVSKIT_VM_DISK).
var artifacts struct {
	sync.Mutex
	names []string
	data  [][]byte
}

func saveArtifact(name string, b []byte) {
	artifacts.Lock()
	defer artifacts.Unlock()
	artifacts.names = append(artifacts.names, name)
	artifacts.data = append(artifacts.data, b)
}

func flushArtifacts() error {
	disk := os.Getenv("KVSKIT_VM_DISK")
	if disk == "" {
		return nil
	}
	f, err := os.OpenFile(disk, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	artifacts.Lock()
	for i, n := range artifacts.names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(artifacts.data[i])), Typeflag: tar.TypeReg}); err != nil {
			f.Close()
			return err
		}
		if _, err := tw.Write(artifacts.data[i]); err != nil {
			f.Close()
			return err
		}
	}
	artifacts.Unlock()
	if err := tw.Close(); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
