package spool

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

const (
	lockName = "LOCK"
	tmpPref  = ".tmp-"
	fragExt  = ".frag"
)

// Option configures Open.
type Option func(*Spool) error

// WithMaxBytes bounds the bytes the spool's files take (default 1 GiB).
func WithMaxBytes(n int64) Option {
	return func(s *Spool) error {
		if n <= 0 {
			return fmt.Errorf("spool: max bytes %d must be positive", n)
		}
		s.max = n
		return nil
	}
}

// WithSync chooses whether Put fsyncs the file and the directory (default
// true; see the package comment).
func WithSync(on bool) Option {
	return func(s *Spool) error { s.sync = on; return nil }
}

// WithLogger sets the logger for corrupt files and drops (default: none).
func WithLogger(l *slog.Logger) Option {
	return func(s *Spool) error {
		if l != nil {
			s.log = l
		}
		return nil
	}
}

// DefaultMaxBytes is the default bound of a spool.
const DefaultMaxBytes = 1 << 30

// Entry is one fragment file of the spool.
type Entry struct {
	// ID orders the fragments: a later Put has a higher ID.
	ID uint64
	// Timecode is the fragment's cluster timecode, ms since the epoch.
	Timecode int64
	// Size is the file's size in bytes.
	Size int64
}

// Stats are the spool's counters.
type Stats struct {
	// Fragments and Bytes describe the files held now.
	Fragments int
	Bytes     int64
	// Recovered counts the fragments Open found; Written those Put wrote;
	// Removed those Remove deleted.
	Recovered uint64
	Written   uint64
	Removed   uint64
	// Dropped counts fragments deleted to make room, DroppedBytes their
	// size.
	Dropped      uint64
	DroppedBytes int64
	// Corrupt counts files found not whole and deleted.
	Corrupt uint64
}

// Spool is an open spool directory. Its methods are safe for concurrent use.
type Spool struct {
	dir  string
	max  int64
	sync bool
	log  *slog.Logger
	lock *os.File

	mu      sync.Mutex
	entries []Entry // by ID
	bytes   int64
	nextID  uint64
	stats   Stats
	closed  bool
	putMu   sync.Mutex // serialises Put's file writes
	meta    []byte
	bw      *bufio.Writer
}

// Open opens (creating it 0700 when missing) the spool directory dir, locks
// it, deletes leftovers of interrupted writes and corrupt files, and lists
// the fragments found. A spool over its bound (a smaller bound than the
// last run's) drops its oldest fragments.
func Open(dir string, opts ...Option) (*Spool, error) {
	s := &Spool{dir: dir, max: DefaultMaxBytes, sync: true, log: slog.New(slog.DiscardHandler), nextID: 1}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool %s: %w", dir, err)
	}
	lock, err := lockDir(filepath.Join(dir, lockName))
	if err != nil {
		return nil, fmt.Errorf("spool %s: %w", dir, err)
	}
	s.lock = lock
	if err := s.scan(); err != nil {
		_ = unlockDir(lock)
		return nil, fmt.Errorf("spool %s: %w", dir, err)
	}
	s.stats.Recovered = uint64(len(s.entries))
	for s.bytes > s.max && len(s.entries) > 0 {
		s.dropOldestLocked()
	}
	return s, nil
}

// Dir returns the spool's directory.
func (s *Spool) Dir() string { return s.dir }

func fileName(id uint64, tc int64) string {
	return fmt.Sprintf("%016d-%d%s", id, tc, fragExt)
}

func parseName(name string) (id uint64, tc int64, ok bool) {
	base, found := strings.CutSuffix(name, fragExt)
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(base, "-")
	if !found || len(a) != 16 {
		return 0, 0, false
	}
	id, err := strconv.ParseUint(a, 10, 64)
	if err != nil || id == 0 {
		return 0, 0, false
	}
	tc, err = strconv.ParseInt(b, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return id, tc, true
}

// scan lists the directory.
func (s *Spool) scan() error {
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	for _, de := range des {
		name := de.Name()
		path := filepath.Join(s.dir, name)
		switch {
		case name == lockName:
			continue
		case strings.HasPrefix(name, tmpPref):
			s.log.Info("spool: deleting the leftover of an interrupted write", "file", path)
			_ = os.Remove(path)
			continue
		}
		id, tc, ok := parseName(name)
		if !ok || !de.Type().IsRegular() {
			s.log.Warn("spool: ignoring a file that is not a fragment", "file", path)
			continue
		}
		if err := checkFile(path); err != nil {
			s.corruptLocked(path, err)
			continue
		}
		fi, err := de.Info()
		if err != nil {
			s.corruptLocked(path, err)
			continue
		}
		s.entries = append(s.entries, Entry{ID: id, Timecode: tc, Size: fi.Size()})
		s.bytes += fi.Size()
		s.nextID = max(s.nextID, id+1)
	}
	slices.SortFunc(s.entries, func(a, b Entry) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return nil
}

// checkFile checks a file's header against its size.
func checkFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	var head [headerSize]byte
	if fi.Size() >= headerSize {
		if _, err := io.ReadFull(f, head[:]); err != nil {
			return err
		}
	}
	return checkHeader(head[:], fi.Size())
}

// corruptLocked deletes a corrupt file and reports it.
func (s *Spool) corruptLocked(path string, why error) {
	s.stats.Corrupt++
	err := os.Remove(path)
	if err != nil && errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	s.log.Warn("spool: deleted a corrupt fragment file", "file", path, "why", why, "delete_err", err)
}

// Entries returns the fragments held, oldest first.
func (s *Spool) Entries() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.entries)
}

// Stats returns a snapshot of the counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Fragments, st.Bytes = len(s.entries), s.bytes
	return st
}

// Put writes a fragment durably (see the package comment) and returns its
// entry, with the fragments deleted to make room for it, oldest first.
func (s *Spool) Put(r *Record) (Entry, []Entry, error) {
	s.putMu.Lock()
	defer s.putMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return Entry{}, nil, ErrClosed
	}
	id := s.nextID
	s.nextID++
	s.mu.Unlock()

	if size := r.Size() + Overhead; size > s.max {
		return Entry{}, nil, fmt.Errorf("%w: %d bytes, spool of %d", ErrTooLarge, size, s.max)
	}
	tmp := filepath.Join(s.dir, fmt.Sprintf("%s%d", tmpPref, id))
	size, err := s.writeFile(tmp, r)
	if err != nil {
		_ = os.Remove(tmp)
		return Entry{}, nil, fmt.Errorf("spool %s: write fragment %d: %w", s.dir, r.Timecode, err)
	}
	// Make room before the rename, so the bound holds on disk too.
	var dropped []Entry
	s.mu.Lock()
	for s.bytes+size > s.max && len(s.entries) > 0 {
		dropped = append(dropped, s.dropOldestLocked())
	}
	s.mu.Unlock()
	e := Entry{ID: id, Timecode: r.Timecode, Size: size}
	if err := os.Rename(tmp, filepath.Join(s.dir, fileName(id, r.Timecode))); err != nil {
		_ = os.Remove(tmp)
		return Entry{}, dropped, fmt.Errorf("spool %s: %w", s.dir, err)
	}
	if s.sync {
		if err := syncDir(s.dir); err != nil {
			return Entry{}, dropped, fmt.Errorf("spool %s: sync directory: %w", s.dir, err)
		}
	}
	s.mu.Lock()
	s.entries = append(s.entries, e)
	s.bytes += size
	s.stats.Written++
	s.mu.Unlock()
	return e, dropped, nil
}

func (s *Spool) writeFile(path string, r *Record) (int64, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	if s.bw == nil {
		s.bw = bufio.NewWriterSize(f, 256<<10)
	} else {
		s.bw.Reset(f)
	}
	n, meta, err := Encode(s.bw, r, s.meta)
	s.meta = meta
	if err == nil {
		err = s.bw.Flush()
	}
	s.bw.Reset(nil)
	if err == nil && s.sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// dropOldestLocked deletes the oldest fragment to make room.
func (s *Spool) dropOldestLocked() Entry {
	e := s.entries[0]
	s.entries = slices.Delete(s.entries, 0, 1)
	s.bytes -= e.Size
	s.stats.Dropped++
	s.stats.DroppedBytes += e.Size
	path := filepath.Join(s.dir, fileName(e.ID, e.Timecode))
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("spool: deleting a dropped fragment", "file", path, "err", err)
	}
	s.log.Warn("spool full: dropped the oldest fragment", "timecode", e.Timecode, "bytes", e.Size,
		"spool_bytes", s.bytes, "max_bytes", s.max)
	return e
}

func (s *Spool) indexLocked(id uint64) (int, bool) {
	return slices.BinarySearchFunc(s.entries, id, func(e Entry, id uint64) int {
		switch {
		case e.ID < id:
			return -1
		case e.ID > id:
			return 1
		}
		return 0
	})
}

// Read reads a fragment back and verifies it. A file found corrupt is
// deleted and counted, and the error wraps ErrCorrupt; a fragment no longer
// held gives an error wrapping ErrNotFound.
func (s *Spool) Read(id uint64) (*Record, error) {
	s.mu.Lock()
	i, ok := s.indexLocked(id)
	var e Entry
	if ok {
		e = s.entries[i]
	}
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("spool %s: fragment %d: %w", s.dir, id, ErrNotFound)
	}
	path := filepath.Join(s.dir, fileName(e.ID, e.Timecode))
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("spool %s: fragment %d: %w", s.dir, id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("spool %s: %w", s.dir, err)
	}
	r, err := Decode(b)
	if err != nil {
		s.mu.Lock()
		if i, ok := s.indexLocked(id); ok {
			s.bytes -= s.entries[i].Size
			s.entries = slices.Delete(s.entries, i, i+1)
			s.corruptLocked(path, err)
		}
		s.mu.Unlock()
		return nil, fmt.Errorf("spool %s: %s: %w", s.dir, filepath.Base(path), err)
	}
	return r, nil
}

// Remove deletes a fragment (acknowledged by the service). Removing one
// the spool no longer holds is not an error.
func (s *Spool) Remove(id uint64) error {
	s.mu.Lock()
	i, ok := s.indexLocked(id)
	if !ok {
		s.mu.Unlock()
		return nil
	}
	e := s.entries[i]
	s.entries = slices.Delete(s.entries, i, i+1)
	s.bytes -= e.Size
	s.stats.Removed++
	s.mu.Unlock()
	if err := os.Remove(filepath.Join(s.dir, fileName(e.ID, e.Timecode))); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("spool %s: %w", s.dir, err)
	}
	return nil
}

// Close releases the spool's lock. The files stay for the next Open.
func (s *Spool) Close() error {
	s.putMu.Lock()
	defer s.putMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	return unlockDir(s.lock)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
