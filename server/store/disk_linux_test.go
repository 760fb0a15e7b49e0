package store

import (
	"cmp"
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
//   - rounds/syncfs: a new file per fragment, written as soon as one of
//     32 slots is free and made durable by the store's flusher with a
//     syncfs round that began after the write (what the store does for a
//     fast stream); rounds/fsync: the same with the flusher's per-file
//     rounds (each file and its directory fsynced).
//   - segment/rounds: one file, fragments appended as soon as one of 32
//     slots is free, an fdatasync loop making them durable in rounds (what
//     a segment-file store would do).
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
	const slots = 32
	rounds := func(b *testing.B, perFile bool) {
		dir := b.TempDir()
		fl, err := newFlusher(dir)
		if err != nil {
			b.Fatal(err)
		}
		defer fl.close()
		fl.groupMin = 0
		fl.dirtyData = func() (int64, bool) {
			if perFile {
				return 1 << 62, true
			}
			return 0, true
		}
		sem := make(chan struct{}, slots)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var failed error
		fail := func(err error) {
			mu.Lock()
			failed = err
			mu.Unlock()
		}
		b.ResetTimer()
		for i := range b.N {
			sem <- struct{}{}
			f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%08d.frag", i)))
			if err == nil {
				_, err = f.Write(data)
			}
			if err != nil {
				fail(err) // reported once the waiting appends are done
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if err := fl.wait(f, dir, size); err != nil {
					fail(err)
				}
				if err := f.Close(); err != nil {
					fail(err)
				}
			}()
		}
		wg.Wait()
		if failed != nil {
			b.Fatal(failed)
		}
	}
	segmentRounds := func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "segment"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		free := make(chan struct{}, slots)
		for range slots {
			free <- struct{}{}
		}
		var mu sync.Mutex
		wrote := sync.NewCond(&mu)
		written, stopped := 0, false
		done := make(chan error, 1)
		b.ResetTimer()
		go func() {
			for synced := 0; synced < b.N; {
				mu.Lock()
				for written == synced && !stopped {
					wrote.Wait()
				}
				w := written
				mu.Unlock()
				if w == synced { // stopped
					done <- nil
					return
				}
				if err := syscall.Fdatasync(int(f.Fd())); err != nil {
					done <- err
					return
				}
				for ; synced < w; synced++ {
					free <- struct{}{}
				}
			}
			done <- nil
		}()
		var werr error
		for range b.N {
			<-free
			if _, werr = f.Write(data); werr != nil {
				break
			}
			mu.Lock()
			written++
			mu.Unlock()
			wrote.Signal()
		}
		if werr != nil {
			mu.Lock()
			stopped = true
			mu.Unlock()
			wrote.Signal()
		}
		if err := cmp.Or(<-done, werr); err != nil {
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
		{"files+dirsync/inflight=6", func(b *testing.B) { files(b, 6, true) }},
		{"rounds/fsync", func(b *testing.B) { rounds(b, true) }},
		{"rounds/syncfs", func(b *testing.B) { rounds(b, false) }},
		{"segment/rounds", segmentRounds},
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
