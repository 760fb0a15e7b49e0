package store

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"sync"
)

// Group flush: an append writes its fragment file without syncing it, then
// waits for a flush that started after its write. One flusher goroutine
// runs the flushes back to back, so every append that finished writing
// while a flush was running shares the next one: a fast producer's
// fragments, and those of many streams, are made durable together.
//
// A flush is syncfs(2) where the platform has it (every dirty page and
// inode of the file system written back, the journal committed, the disk's
// cache flushed once) when the waiting fragments hold many bytes: on the
// disks measured, that keeps durable ingest near the disk's sequential
// write rate, while one fsync per fragment file pays a journal commit and a
// cache flush each. But syncfs also writes what other programs left dirty
// on the same file system, so for a small round (a few cameras' fragments),
// or when the machine holds more dirty data than the waiting fragments
// account for, the round instead fsyncs each waiting file and its
// directory, in parallel, and other programs' writes delay the
// acknowledgements no more than they delay any fsync.

// A round uses syncfs when its fragments hold at least flushGroupMin bytes
// (below that, per-file syncs are as quick and other programs' writes
// cannot slow them down) and the machine holds at most flushOthersMax
// dirty bytes beyond them.
const (
	flushGroupMin  = 8 << 20
	flushOthersMax = 64 << 20
)

// flushWaiter is one append waiting for a flush.
type flushWaiter struct {
	f   *os.File
	dir string
	err error
}

// flushRound is one flush and the appends waiting for it.
type flushRound struct {
	waiters []*flushWaiter
	bytes   int64
	done    chan struct{} // closed when the flush has ended
}

// flusher runs group flushes.
type flusher struct {
	mu   sync.Mutex
	next *flushRound // the round that starts next; nil if nobody waits
	kick chan struct{}
	stop chan struct{}
	done chan struct{}
	dir  *os.File // a directory of the file system, kept open for syncFS
	// groupMin and othersMax are flushGroupMin and flushOthersMax.
	groupMin, othersMax int64
	noSyncAll           bool // syncAll was refused: per-file syncs only

	// Replaced by tests.
	syncAll   func() error           // flush the whole file system
	syncFile  func(*os.File) error   // flush one file
	syncDir   func(dir string) error // flush a directory's entries
	dirtyData func() (int64, bool)   // dirty and under-write-back bytes of the machine
}

// newFlusher starts a flusher for the file system that holds dir, or
// returns nil if this platform cannot flush a file system as a whole.
func newFlusher(dir string) (*flusher, error) {
	if !canSyncFS {
		return nil, nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("flusher: %w", err)
	}
	fl := &flusher{
		kick:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		dir:       d,
		groupMin:  flushGroupMin,
		othersMax: flushOthersMax,
		syncAll:   func() error { return syncFS(d) },
		syncFile:  (*os.File).Sync,
		syncDir:   syncDirectory,
		dirtyData: dirtyData,
	}
	go fl.run()
	return fl, nil
}

// wait returns once f (which the caller has written and keeps open) and
// its entry in dir are durable, by a flush that started after the call.
func (fl *flusher) wait(f *os.File, dir string, size int64) error {
	w := &flushWaiter{f: f, dir: dir}
	fl.mu.Lock()
	r := fl.next
	if r == nil {
		r = &flushRound{done: make(chan struct{})}
		fl.next = r
		select {
		case fl.kick <- struct{}{}:
		default:
		}
	}
	r.waiters = append(r.waiters, w)
	r.bytes += size
	fl.mu.Unlock()
	<-r.done
	return w.err
}

func (fl *flusher) run() {
	defer close(fl.done)
	for {
		select {
		case <-fl.kick:
		case <-fl.stop:
			return
		}
		fl.mu.Lock()
		r := fl.next
		fl.next = nil
		fl.mu.Unlock()
		if r != nil {
			fl.flush(r)
			close(r.done)
		}
	}
}

// flush makes the round's files durable and sets each waiter's error.
func (fl *flusher) flush(r *flushRound) {
	if fl.wholeFS(r) {
		err := fl.syncAll()
		if err == nil {
			return
		}
		if !errors.Is(err, errors.ErrUnsupported) && !errors.Is(err, fs.ErrPermission) {
			err = fmt.Errorf("flush: %w", err)
			for _, w := range r.waiters {
				w.err = err
			}
			return
		}
		// Refused here (a sandbox that filters system calls, say): per-file
		// syncs from now on.
		fl.noSyncAll = true
	}
	// Each file on its own, then the directories they were created in,
	// all at once.
	var wg sync.WaitGroup
	for _, w := range r.waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.err = fl.syncFile(w.f)
		}()
	}
	wg.Wait()
	dirs := make(map[string]*error)
	for _, w := range r.waiters {
		if dirs[w.dir] == nil {
			dirs[w.dir] = new(error)
		}
	}
	for dir, errp := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			*errp = fl.syncDir(dir)
		}()
	}
	wg.Wait()
	for _, w := range r.waiters {
		if w.err == nil {
			w.err = *dirs[w.dir]
		}
	}
}

// wholeFS reports whether round r flushes the whole file system: a large
// round while little else is dirty, where syncfs has not been refused.
func (fl *flusher) wholeFS(r *flushRound) bool {
	if r.bytes < fl.groupMin || fl.noSyncAll {
		return false
	}
	dirty, ok := fl.dirtyData()
	return ok && dirty-r.bytes <= fl.othersMax
}

// close stops the flusher. Nobody may be waiting.
func (fl *flusher) close() error {
	close(fl.stop)
	<-fl.done
	return fl.dir.Close()
}

// dirtyData returns the bytes the machine holds dirty or under write-back
// (/proc/meminfo), and false if it cannot tell.
func dirtyData() (int64, bool) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	var total int64
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok || (!bytes.Equal(name, []byte("Dirty")) && !bytes.Equal(name, []byte("Writeback"))) {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) != 2 || !bytes.Equal(fields[1], []byte("kB")) {
			return 0, false
		}
		kb, err := strconv.ParseInt(string(fields[0]), 10, 64)
		if err != nil {
			return 0, false
		}
		total += kb << 10
		found++
	}
	return total, found == 2
}
