package store

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"kvskit/internal/testenv"
)

// BenchmarkDiskSyncs measures what the file system itself does for the
// syncs a durable store of 1 MB fragments needs, without the store: b.N
// fragments written back to back, each made durable before it counts.
//
//   - files: a new file per fragment, write + fsync (the ingest benchmark's
//     disk peer); +dirsync also fsyncs the directory; inflight=N keeps N
//     files being written and synced at a time.
//   - segment: one file, each fragment appended and fdatasynced;
//     fallocated: the file's space is reserved beforehand.
//   - nosync: the same bytes into one file with a single fdatasync at the
//     end (the disk's sequential write rate).
func BenchmarkDiskSyncs(b *testing.B) {
	const size = 1 << 20
	data := randomBytes(size, 3)
	files := func(b *testing.B, inflight int, dirSync bool) {
		dir := b.TempDir()
		sem := make(chan struct{}, inflight)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var failed error
		b.ResetTimer()
		for i := range b.N {
			sem <- struct{}{}
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				defer func() { <-sem }()
				if err := writeSynced(filepath.Join(dir, fmt.Sprintf("%08d.frag", i)), data, dirSync); err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
				}
			}(i)
		}
		wg.Wait()
		if failed != nil {
			b.Fatal(failed)
		}
	}
	segment := func(b *testing.B, fallocate, syncEach bool) {
		f, err := os.Create(filepath.Join(b.TempDir(), "segment"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if fallocate {
			if err := syscall.Fallocate(int(f.Fd()), 0, 0, int64(b.N)*size); err != nil {
				b.Skip("fallocate:", err)
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		for range b.N {
			if _, err := f.Write(data); err != nil {
				b.Fatal(err)
			}
			if syncEach {
				if err := syscall.Fdatasync(int(f.Fd())); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		run  func(b *testing.B)
	}{
		{"files/inflight=1", func(b *testing.B) { files(b, 1, false) }},
		{"files+dirsync/inflight=1", func(b *testing.B) { files(b, 1, true) }},
		{"files+dirsync/inflight=2", func(b *testing.B) { files(b, 2, true) }},
		{"files+dirsync/inflight=3", func(b *testing.B) { files(b, 3, true) }},
		{"segment", func(b *testing.B) { segment(b, false, true) }},
		{"segment/fallocated", func(b *testing.B) { segment(b, true, true) }},
		{"nosync", func(b *testing.B) { segment(b, false, false) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(size)
			c.run(b)
		})
	}
}

// writeSynced creates a file with data and makes it durable, and its
// directory entry too if dirSync is set.
func writeSynced(path string, data []byte, dirSync bool) error {
	if err := testenv.WriteSynced(path, data); err != nil {
		return err
	}
	if !dirSync {
		return nil
	}
	return syncDirectory(filepath.Dir(path))
}
