package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// openSynced opens a store that syncs, with its flusher set to use the
// whole-file-system flush for every round (nothing else dirty on the
// machine, no minimum size); it skips where the platform has no group
// flush.
func openSynced(t *testing.T) (*Store, string) {
	t.Helper()
	if !canSyncFS {
		t.Skip("no group flush on this platform")
	}
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if s.flush == nil {
		t.Fatal("a store that syncs has no flusher")
	}
	s.flush.dirtyData = func() (int64, bool) { return 0, true }
	s.flush.groupMin = 0
	return s, dir
}

// openFlushed is openSynced with the flush of the whole file system
// replaced by flush.
func openFlushed(t *testing.T, flush func() error) (*Store, string) {
	t.Helper()
	s, dir := openSynced(t)
	s.flush.syncAll = flush
	return s, dir
}

// A flush that was already running when an append finished writing does
// not count for it: the append waits for the next one.
func TestFlushStartsAfterWrite(t *testing.T) {
	var rounds atomic.Int32
	entered := make(chan struct{}, 4)
	gate := make(chan struct{})
	s, _ := openFlushed(t, func() error {
		rounds.Add(1)
		entered <- struct{}{}
		<-gate
		return nil
	})
	arn := mustStream(t, s, "cam", 24)
	first := s.StartAppend(arn, Fragment{ServerTimestamp: t0}, payload(0))
	<-entered // the first flush runs and holds
	second := s.StartAppend(arn, Fragment{ServerTimestamp: t0.Add(time.Second)}, payload(1))
	<-second.Written()
	time.Sleep(20 * time.Millisecond) // the second append now waits
	gate <- struct{}{}                // the first flush ends
	if _, err := first.Wait(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-second.done:
		t.Fatal("an append returned on a flush that began before its write")
	case <-entered: // the second flush
	case <-time.After(5 * time.Second):
		t.Fatal("no second flush")
	}
	close(gate)
	if _, err := second.Wait(); err != nil {
		t.Fatal(err)
	}
	if n := rounds.Load(); n != 2 {
		t.Errorf("%d flushes for two appends one after the other, want 2", n)
	}
}

// Appends that finish writing while a flush runs share the next one, and
// each append's data is no longer read once Written is closed.
func TestFlushGroupsAppends(t *testing.T) {
	const n = 24
	var rounds atomic.Int32
	s, _ := openFlushed(t, func() error {
		rounds.Add(1)
		time.Sleep(30 * time.Millisecond)
		return nil
	})
	arn := mustStream(t, s, "cam", 24)
	pending := make([]*PendingAppend, n)
	bufs := make([][]byte, n)
	for i := range n {
		bufs[i] = bytes.Clone(payload(i))
		pending[i] = s.StartAppend(arn, Fragment{ServerTimestamp: t0.Add(time.Duration(i) * time.Second)}, bufs[i])
	}
	for i, p := range pending {
		<-p.Written()
		// The buffer is the caller's again: scribbling on it must not
		// reach the store.
		for j := range bufs[i] {
			bufs[i][j] ^= 0xff
		}
	}
	var numbers []string
	for _, p := range pending {
		f, err := p.Wait()
		if err != nil {
			t.Fatal(err)
		}
		numbers = append(numbers, f.Number)
	}
	if r := rounds.Load(); r < 1 || r >= n/2 {
		t.Errorf("%d flushes for %d appends started together", r, n)
	}
	for i, num := range numbers {
		got, err := s.ReadFragment(arn, num)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, payload(i)) {
			t.Fatalf("fragment %d: stored bytes differ from those appended", i)
		}
	}
	checkClean(t, s)
}

// A failed flush fails every append that waited for it and leaves nothing
// of them behind; the next flush serves later appends again.
func TestFlushFailure(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	s, dir := openFlushed(t, func() error {
		if fail.Load() {
			return errors.New("disk on fire")
		}
		return nil
	})
	arn := mustStream(t, s, "cam", 24)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.AppendFragment(arn, Fragment{ServerTimestamp: t0.Add(time.Duration(i) * time.Second)}, payload(i))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte("disk on fire")) {
			t.Errorf("append %d during a failing flush: %v", i, err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "fragments", "*", "*.frag"))
	if len(files) != 0 {
		t.Errorf("files of failed appends left behind: %v", files)
	}
	if list, err := s.FragmentsAfter(arn, "", 0); err != nil || len(list) != 0 {
		t.Errorf("after failed appends: %d fragments listed (%v)", len(list), err)
	}
	fail.Store(false)
	f, err := s.AppendFragment(arn, Fragment{ServerTimestamp: t0.Add(time.Minute)}, payload(9))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.ReadFragment(arn, f.Number); err != nil || !bytes.Equal(got, payload(9)) {
		t.Fatalf("after the disk recovered: %v", err)
	}
	checkClean(t, s)
}

// When the machine holds other programs' dirty data, or the round's
// fragments are few bytes, a round fsyncs each waiting file and its
// directory instead of the whole file system, and a file that fails fails
// only its own append.
func TestFlushPerFile(t *testing.T) {
	t.Run("others-dirty", func(t *testing.T) {
		testFlushPerFile(t, func(fl *flusher) {
			fl.dirtyData = func() (int64, bool) { return 1 << 40, true }
		})
	})
	t.Run("unknown-dirty", func(t *testing.T) {
		testFlushPerFile(t, func(fl *flusher) {
			fl.dirtyData = func() (int64, bool) { return 0, false }
		})
	})
	t.Run("small-round", func(t *testing.T) {
		testFlushPerFile(t, func(fl *flusher) { fl.groupMin = flushGroupMin })
	})
}

func testFlushPerFile(t *testing.T, setup func(*flusher)) {
	s, dir := openFlushed(t, func() error {
		t.Error("the whole file system flushed")
		return nil
	})
	setup(s.flush)
	var mu sync.Mutex
	synced := map[string]int{}
	dirs := map[string]int{}
	s.flush.syncFile = func(f *os.File) error {
		mu.Lock()
		synced[filepath.Base(f.Name())]++
		mu.Unlock()
		if bytes.Contains([]byte(f.Name()), []byte(formatNumber(13))) {
			return errors.New("bad sector")
		}
		return nil
	}
	s.flush.syncDir = func(d string) error {
		mu.Lock()
		dirs[d]++
		mu.Unlock()
		return nil
	}
	arn := mustStream(t, s, "cam", 24)
	other := mustStream(t, s, "cam2", 24)
	errs := map[string]error{}
	var pending []*PendingAppend
	for i, c := range []uint64{11, 12, 13, 14} {
		a := arn
		if i%2 == 1 {
			a = other
		}
		pending = append(pending, s.StartAppend(a, Fragment{Number: formatNumber(c), ServerTimestamp: t0}, payload(i)))
	}
	for i, p := range pending {
		_, errs[formatNumber(uint64(11+i))] = p.Wait()
	}
	for num, err := range errs {
		if bad := num == formatNumber(13); bad != (err != nil) {
			t.Errorf("fragment %s: %v", num, err)
		}
		if n := synced[num+".frag"]; n != 1 {
			t.Errorf("fragment %s: file synced %d times", num, n)
		}
	}
	if len(dirs) != 2 {
		t.Errorf("directories synced: %v, want the two streams'", dirs)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "fragments", "*", "*.frag"))
	if len(files) != 3 {
		t.Errorf("%d fragment files, want 3: %v", len(files), files)
	}
	checkClean(t, s)
}

func TestDirtyData(t *testing.T) {
	if !canSyncFS {
		t.Skip("no group flush on this platform")
	}
	if n, ok := dirtyData(); !ok || n < 0 {
		t.Fatalf("dirtyData: %d, %v", n, ok)
	}
}

// A platform that refuses syncfs (a sandbox filtering system calls) gets
// per-file syncs from then on, and the appends succeed.
func TestFlushRefused(t *testing.T) {
	var calls atomic.Int32
	s, _ := openFlushed(t, func() error {
		calls.Add(1)
		return syscall.ENOSYS
	})
	arn := mustStream(t, s, "cam", 24)
	frags := appendN(t, s, arn, 3)
	if n := calls.Load(); n != 1 {
		t.Errorf("syncfs tried %d times after it was refused, want once", n)
	}
	checkPayloads(t, s, arn, frags)
	checkClean(t, s)
}

// The real flush (syncfs) on the test's file system.
func TestFlushReal(t *testing.T) {
	s, _ := openSynced(t)
	var calls atomic.Int32
	syncfs := s.flush.syncAll
	s.flush.syncAll = func() error {
		calls.Add(1)
		return syncfs()
	}
	arn := mustStream(t, s, "cam", 24)
	frags := appendN(t, s, arn, 3)
	if n := calls.Load(); n != 3 {
		t.Errorf("%d flushes for three appends one after the other", n)
	}
	checkPayloads(t, s, arn, frags)
}

// checkPayloads checks that the fragments appended by appendN read back.
func checkPayloads(t *testing.T, s *Store, arn string, frags []Fragment) {
	t.Helper()
	for i, f := range frags {
		if got, err := s.ReadFragment(arn, f.Number); err != nil || !bytes.Equal(got, payload(i)) {
			t.Fatalf("fragment %d: %v", i, err)
		}
	}
}
