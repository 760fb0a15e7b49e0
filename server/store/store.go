package store

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Store is the durable store. Its methods are safe for concurrent use.
type Store struct {
	dir     string
	fragDir string
	db      *bolt.DB
	log     *slog.Logger
	noSync  bool
	flush   *flusher // nil with WithNoSync or where file systems cannot be flushed whole

	// gate admits operations until Close.
	gateMu sync.RWMutex
	closed bool
	ops    sync.WaitGroup

	// archiveMu is held shared by every operation that creates or removes
	// fragment files and exclusively by Check, which needs files and index
	// at rest.
	archiveMu sync.RWMutex

	seq atomic.Uint64 // last fragment counter handed out

	chainsMu    sync.Mutex
	chains      map[uint64]*chain // by stream id
	chainsByARN map[string]*chain
	dirs        sync.Map // stream id -> struct{}: directories known to exist

	commits       chan *commitReq
	stop          chan struct{}
	committerDone chan struct{}
	background    sync.WaitGroup // asynchronous file removals

	// write writes a fragment's bytes; tests replace it to inject faults.
	write func(f *os.File, data []byte) (int, error)
}

// Open opens the store in dir, creating it if needed, and repairs what a
// crash may have left: a fragment file the index lacks is indexed if it is
// complete and valid (its append may have returned before the index commit)
// and removed otherwise, files of no stream are removed, and index records
// without complete data are dropped.
func Open(dir string, opts ...Option) (*Store, error) {
	cfg := config{logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	fragDir := filepath.Join(dir, "fragments")
	if err := os.MkdirAll(fragDir, 0o700); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	db, err := bolt.Open(filepath.Join(dir, "index.db"), 0o600, &bolt.Options{
		Timeout:        10 * time.Second,
		NoSync:         cfg.noSync,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	s := &Store{
		dir:           dir,
		fragDir:       fragDir,
		db:            db,
		log:           cfg.logger,
		noSync:        cfg.noSync,
		chains:        make(map[uint64]*chain),
		chainsByARN:   make(map[string]*chain),
		commits:       make(chan *commitReq, 1024),
		stop:          make(chan struct{}),
		committerDone: make(chan struct{}),
		write:         (*os.File).Write,
	}
	if err := s.init(); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	if err := s.recover(); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: recover: %w", dir, err)
	}
	if !cfg.noSync {
		if s.flush, err = newFlusher(fragDir); err != nil {
			db.Close()
			return nil, fmt.Errorf("store: open %s: %w", dir, err)
		}
	}
	go s.committer()
	return s, nil
}

// init creates the top-level buckets and loads the fragment counter.
func (s *Store) init() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketStreams, bucketStreamARNs, bucketChannels, bucketChannelARNs, bucketArchive, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keyVersion); v == nil {
			if err := meta.Put(keyVersion, []byte{formatVersion}); err != nil {
				return err
			}
		} else if len(v) != 1 || v[0] != formatVersion {
			return fmt.Errorf("unsupported index format %v", v)
		}
		if v := meta.Get(keySeq); len(v) == 8 {
			s.seq.Store(binary.BigEndian.Uint64(v))
		}
		return nil
	})
}

// Close waits for operations in flight, then closes the store. Later calls,
// Close included, return ErrClosed.
func (s *Store) Close() error {
	s.gateMu.Lock()
	if s.closed {
		s.gateMu.Unlock()
		return ErrClosed
	}
	s.closed = true
	s.gateMu.Unlock()
	s.ops.Wait()
	s.settle() // index commits of appends that have returned
	close(s.stop)
	<-s.committerDone
	s.background.Wait()
	if s.flush != nil {
		if err := s.flush.close(); err != nil {
			s.log.Error("store: close: flusher", "err", err)
		}
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// enter admits one operation; the caller must call s.ops.Done.
func (s *Store) enter() error {
	s.gateMu.RLock()
	defer s.gateMu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	s.ops.Add(1)
	return nil
}

func (s *Store) streamDir(id uint64) string {
	return filepath.Join(s.fragDir, dirName(id))
}

func (s *Store) fragPath(id uint64, number string) string {
	return filepath.Join(s.fragDir, dirName(id), number+".frag")
}

// syncDir makes a directory's entries durable (unless WithNoSync).
func (s *Store) syncDir(dir string) error {
	if s.noSync {
		return nil
	}
	return syncDirectory(dir)
}

// syncDirectory fsyncs a directory, making its entries durable.
func syncDirectory(dir string) error {
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

// indexedFile is what the index says about one fragment file.
type indexedFile struct {
	id     uint64
	number string
}

// foundFile is a valid fragment file the index lacks.
type foundFile struct {
	id  uint64
	h   fileHeader
	num string
}

// recover reconciles the fragment files with the index.
func (s *Store) recover() error {
	// What the index holds.
	known := make(map[uint64]map[string]int64) // stream id -> number -> file size
	var orphanBuckets []uint64
	maxCounter := s.seq.Load()
	err := s.db.View(func(tx *bolt.Tx) error {
		referenced := make(map[uint64]bool)
		if err := tx.Bucket(bucketStreamARNs).ForEach(func(_, v []byte) error {
			if id, _, ok := parseARNValue(v); ok {
				referenced[id] = true
			}
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bucketArchive).ForEachBucket(func(k []byte) error {
			if len(k) != 8 {
				return nil
			}
			id := binary.BigEndian.Uint64(k)
			if !referenced[id] {
				orphanBuckets = append(orphanBuckets, id)
				return nil
			}
			files := make(map[string]int64)
			known[id] = files
			nb := tx.Bucket(bucketArchive).Bucket(k).Bucket(bucketNumbers)
			if nb == nil {
				return nil
			}
			return nb.ForEach(func(num, v []byte) error {
				f, _, err := decodeFragment(num, v)
				if err != nil {
					// Dropped below as a record without valid data.
					files[string(num)] = -1
					return nil
				}
				files[f.Number] = dataOffset(&f, v) + f.Size
				if c, ok := parseCounter(f.Number); ok && c > maxCounter {
					maxCounter = c
				}
				return nil
			})
		})
	})
	if err != nil {
		return err
	}

	// What the disk holds.
	entries, err := os.ReadDir(s.fragDir)
	if err != nil {
		return err
	}
	removed := 0
	var found []foundFile
	present := make(map[uint64]map[string]bool)
	for _, e := range entries {
		p := filepath.Join(s.fragDir, e.Name())
		id, ok := parseDirName(e.Name())
		files, indexed := known[id]
		if !ok || !e.IsDir() || !indexed {
			s.log.Info("store: removing unreferenced fragment directory", "path", p)
			if err := os.RemoveAll(p); err != nil {
				return err
			}
			continue
		}
		s.dirs.Store(id, struct{}{})
		seen := make(map[string]bool)
		present[id] = seen
		names, err := os.ReadDir(p)
		if err != nil {
			return err
		}
		for _, n := range names {
			fp := filepath.Join(p, n.Name())
			number, isFrag := strings.CutSuffix(n.Name(), ".frag")
			size, want := files[number]
			if isFrag && want && size >= 0 && n.Type().IsRegular() {
				info, err := n.Info()
				if err != nil {
					return err
				}
				if info.Size() == size {
					seen[number] = true
					continue
				}
				s.log.Error("store: fragment file has the wrong size", "path", fp, "size", info.Size(), "want", size)
			}
			if isFrag && !want && n.Type().IsRegular() {
				if h, ok := s.readUnindexed(fp, id, number); ok {
					found = append(found, foundFile{id: id, h: h, num: number})
					maxCounter = max(maxCounter, h.counter)
					continue
				}
			}
			if err := os.RemoveAll(fp); err != nil {
				return err
			}
			removed++
		}
	}
	s.seq.Store(maxCounter)
	if removed > 0 {
		s.log.Info("store: removed unindexed fragment files", "count", removed)
	}
	if len(found) > 0 {
		s.log.Info("store: indexing fragment files the index lacked", "count", len(found))
	}

	// Index records whose data is missing or damaged.
	var dangling []indexedFile
	for id, files := range known {
		for number := range files {
			if !present[id][number] {
				dangling = append(dangling, indexedFile{id: id, number: number})
			}
		}
	}
	if len(dangling) == 0 && len(orphanBuckets) == 0 && len(found) == 0 {
		return nil
	}
	for _, d := range dangling {
		s.log.Error("store: dropping fragment without complete data", "stream", dirName(d.id), "number", d.number)
	}
	// In number order, so that a stream's fragments are appended at its end
	// as they were written.
	slices.SortFunc(found, func(a, b foundFile) int { return strings.Compare(a.num, b.num) })
	return s.db.Update(func(tx *bolt.Tx) error {
		arch := tx.Bucket(bucketArchive)
		for _, id := range orphanBuckets {
			if err := arch.DeleteBucket(idKey(id)); err != nil {
				return err
			}
		}
		for _, d := range dangling {
			if err := deleteFragmentRecord(arch.Bucket(idKey(d.id)), []byte(d.number)); err != nil {
				return err
			}
		}
		for _, ff := range found {
			f := ff.h.frag
			f.Number = ff.num
			if err := indexFragment(tx, arch.Bucket(idKey(ff.id)), f, ff.h.counter, ff.h.crc); err != nil {
				return err
			}
		}
		return nil
	})
}

// readUnindexed reads a fragment file the index lacks and returns its
// header if the file is complete, valid and belongs where it lies.
func (s *Store) readUnindexed(path string, id uint64, number string) (fileHeader, bool) {
	counter, ok := parseCounter(number)
	if !ok {
		return fileHeader{}, false
	}
	b, err := os.ReadFile(path)
	if err != nil {
		s.log.Error("store: reading an unindexed fragment file", "path", path, "err", err)
		return fileHeader{}, false
	}
	h, _, err := parseFragmentFile(b)
	if err == nil && (h.streamID != id || h.counter != counter) {
		err = fmt.Errorf("file describes fragment %s of stream %s", formatNumber(h.counter), dirName(h.streamID))
	}
	if err != nil {
		s.log.Info("store: removing an unindexed fragment file", "path", path, "reason", err)
		return fileHeader{}, false
	}
	return h, true
}
