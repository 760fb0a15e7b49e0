package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math"
	"os"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// createArchive makes the per-stream archive bucket of a new stream.
func createArchive(tx *bolt.Tx, id uint64) error {
	ab, err := tx.Bucket(bucketArchive).CreateBucket(idKey(id))
	if err != nil {
		return err
	}
	for _, name := range [][]byte{bucketNumbers, bucketServer, bucketProducer, bucketHeaders} {
		if _, err := ab.CreateBucket(name); err != nil {
			return err
		}
	}
	return nil
}

func deleteArchive(tx *bolt.Tx, id uint64) error {
	err := tx.Bucket(bucketArchive).DeleteBucket(idKey(id))
	if errors.Is(err, berrors.ErrBucketNotFound) {
		return nil
	}
	return err
}

// archiveOf returns the archive bucket of the stream with that ARN and the
// stream's id.
func archiveOf(tx *bolt.Tx, arn string) (*bolt.Bucket, uint64, error) {
	id, _, ok := parseARNValue(tx.Bucket(bucketStreamARNs).Get([]byte(arn)))
	if !ok {
		return nil, 0, ErrNotFound
	}
	ab := tx.Bucket(bucketArchive).Bucket(idKey(id))
	if ab == nil {
		return nil, 0, ErrNotFound
	}
	return ab, id, nil
}

// deleteFragmentRecord removes a fragment's record and its time index
// entries.
func deleteFragmentRecord(ab *bolt.Bucket, number []byte) error {
	if ab == nil {
		return nil
	}
	nb := ab.Bucket(bucketNumbers)
	v := nb.Get(number)
	if v == nil {
		return nil
	}
	f, _, err := decodeFragment(number, v)
	if err == nil {
		if err := ab.Bucket(bucketServer).Delete(timeKey(f.ServerTimestamp, f.Number)); err != nil {
			return err
		}
		if err := ab.Bucket(bucketProducer).Delete(timeKey(f.ProducerTimestamp, f.Number)); err != nil {
			return err
		}
	} else {
		// Unreadable record: find its index entries by number.
		for _, name := range [][]byte{bucketServer, bucketProducer} {
			var doomed [][]byte
			c := ab.Bucket(name).Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				if bytes.Equal(k[min(timeLen, len(k)):], number) {
					doomed = append(doomed, bytes.Clone(k))
				}
			}
			for _, k := range doomed {
				if err := ab.Bucket(name).Delete(k); err != nil {
					return err
				}
			}
		}
	}
	return nb.Delete(number)
}

// chain orders the appends of one stream: each append takes a ticket (its
// number) and queues its index commit only after the previous ticket holder
// has queued its own or given up, so commits happen in number order while
// the data writes of one stream still overlap.
type chain struct {
	arn  string
	mu   sync.Mutex
	tail chan struct{} // closed when the newest ticket holder has queued or given up
	last uint64        // highest fragment counter given a ticket
	// pending is the newest queued index commit: once it has finished, the
	// index holds every fragment whose append returned.
	pending *commitReq
}

var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// chainFor returns the chain of a stream, creating it with last, the
// counter of the stream's newest indexed fragment, if needed.
func (s *Store) chainFor(id uint64, arn string, last uint64) *chain {
	s.chainsMu.Lock()
	defer s.chainsMu.Unlock()
	c := s.chains[id]
	if c == nil {
		c = &chain{arn: arn, tail: closedChan, last: last}
		s.chains[id] = c
		s.chainsByARN[arn] = c
	}
	return c
}

// forgetStream drops the in-memory state of a deleted stream.
func (s *Store) forgetStream(id uint64) {
	s.chainsMu.Lock()
	if c := s.chains[id]; c != nil {
		delete(s.chains, id)
		if s.chainsByARN[c.arn] == c {
			delete(s.chainsByARN, c.arn)
		}
	}
	s.chainsMu.Unlock()
	s.dirs.Delete(id)
}

// awaitIndexed waits until the index holds every fragment of the stream
// whose append has returned.
func (s *Store) awaitIndexed(arn string) {
	s.chainsMu.Lock()
	c := s.chainsByARN[arn]
	s.chainsMu.Unlock()
	if c == nil {
		return
	}
	c.mu.Lock()
	r := c.pending
	c.mu.Unlock()
	if r != nil {
		<-r.finished
	}
}

// streamID returns the id of the stream with that ARN.
func (s *Store) streamID(arn string) (uint64, error) {
	id, _, err := s.streamState(arn)
	return id, err
}

// streamState returns the id of the stream with that ARN and the counter of
// its newest indexed fragment (0 if none).
func (s *Store) streamState(arn string) (id, last uint64, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		ab, i, err := archiveOf(tx, arn)
		if err != nil {
			return err
		}
		id = i
		if k, _ := ab.Bucket(bucketNumbers).Cursor().Last(); k != nil {
			last, _ = parseCounter(string(k))
		}
		return nil
	})
	return id, last, err
}

// ensureDir creates a stream's fragment directory if needed.
func (s *Store) ensureDir(id uint64) error {
	if _, ok := s.dirs.Load(id); ok {
		return nil
	}
	err := os.Mkdir(s.streamDir(id), 0o700)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if err == nil {
		if err := s.syncDir(s.fragDir); err != nil {
			return err
		}
	}
	s.dirs.Store(id, struct{}{})
	return nil
}

// writeFragmentFile writes a new fragment file at path (header, then data)
// and makes it and its directory entry durable: with a group flush of the
// file system (flush.go) where there is one, else with fsyncs of the file
// and its directory. On error nothing is left behind.
func (s *Store) writeFragmentFile(id uint64, path string, header, data []byte, written func()) (err error) {
	if err := s.ensureDir(id); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	for _, b := range [][]byte{header, data} {
		n, err := s.write(f, b)
		if err != nil {
			return err
		}
		if n != len(b) {
			return fmt.Errorf("short write: %d of %d bytes", n, len(b))
		}
	}
	written()
	if s.flush != nil {
		err = s.flush.wait(f, s.streamDir(id), int64(len(header)+len(data)))
	} else if !s.noSync {
		err = f.Sync()
	}
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	if s.flush == nil {
		if err := s.syncDir(s.streamDir(id)); err != nil {
			os.Remove(path)
			return err
		}
	}
	return nil
}

// appendOp is one append from taking its ticket to queueing its index
// commit. While it lives it holds an operation of the store and archiveMu
// shared.
type appendOp struct {
	s       *Store
	arn     string
	id      uint64
	f       Fragment
	counter uint64
	data    []byte
	ch      *chain
	prev    chan struct{} // closed when the previous ticket holder has queued
	mine    chan struct{} // closed when this one has queued or given up
	// written, if set, is closed once data is no longer read.
	written chan struct{}
}

// dataDone closes op.written, once.
func (op *appendOp) dataDone() {
	if op.written != nil {
		close(op.written)
		op.written = nil
	}
}

// beginAppend checks an append and takes its ticket.
func (s *Store) beginAppend(streamARN string, f Fragment, data []byte) (*appendOp, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("store: append %s: %w", streamARN, err)
	}
	s.archiveMu.RLock()
	op, err := s.ticket(streamARN, f, data)
	if err != nil {
		s.archiveMu.RUnlock()
		s.ops.Done()
		return nil, err
	}
	return op, nil
}

func (s *Store) ticket(streamARN string, f Fragment, data []byte) (*appendOp, error) {
	if len(f.HeaderID) > math.MaxUint16 {
		return nil, fmt.Errorf("store: append %s: header id too long: %w", streamARN, ErrInvalid)
	}
	// A number reserved with NextNumber is kept; otherwise one is assigned.
	var counter uint64
	if f.Number != "" {
		c, ok := parseCounter(f.Number)
		if !ok {
			return nil, fmt.Errorf("store: append %s: fragment number %q: %w", streamARN, f.Number, ErrInvalid)
		}
		counter = c
		s.raiseCounter(c)
	}
	id, last, err := s.streamState(streamARN)
	if err != nil {
		return nil, fmt.Errorf("store: append %s: %w", streamARN, err)
	}
	ch := s.chainFor(id, streamARN, last)
	ch.mu.Lock()
	if counter == 0 {
		counter = s.nextCounter()
	}
	if counter <= ch.last {
		ch.mu.Unlock()
		return nil, fmt.Errorf("store: append %s: fragment number %s is not above the stream's last %s: %w",
			streamARN, formatNumber(counter), formatNumber(ch.last), ErrInvalid)
	}
	ch.last = counter
	op := &appendOp{s: s, arn: streamARN, id: id, counter: counter, data: data, ch: ch,
		prev: ch.tail, mine: make(chan struct{})}
	ch.tail = op.mine
	ch.mu.Unlock()

	f.Number = formatNumber(counter)
	f.Size = int64(len(data))
	f.ProducerTimestamp = normTime(f.ProducerTimestamp)
	f.ServerTimestamp = normTime(f.ServerTimestamp)
	op.f = f
	return op, nil
}

// run writes the fragment's file, makes it durable and queues its index
// commit, in ticket order.
func (op *appendOp) run() (Fragment, error) {
	s, f, arn, id := op.s, op.f, op.arn, op.id
	defer s.ops.Done()
	defer s.archiveMu.RUnlock()
	defer op.dataDone()
	queued := false
	defer func() {
		if !queued {
			close(op.mine)
		}
	}()

	crc := crc32.Checksum(op.data, castagnoli)
	path := s.fragPath(id, f.Number)
	hdr := appendFileHeader(make([]byte, 0, fileHeaderLen(len(f.HeaderID))),
		&fileHeader{streamID: id, counter: op.counter, frag: f, crc: crc})
	if err := s.writeFragmentFile(id, path, hdr, op.data, op.dataDone); err != nil {
		if _, gone := s.streamID(arn); errors.Is(gone, ErrNotFound) {
			err = gone
		}
		return Fragment{}, fmt.Errorf("store: append %s: write fragment %s: %w", arn, f.Number, err)
	}

	<-op.prev
	counter := op.counter
	req := s.queue(func(tx *bolt.Tx) error { return putFragment(tx, arn, id, f, counter, crc) }, func(err error) {
		if err == nil {
			return
		}
		if errors.Is(err, ErrNotFound) {
			// The stream was deleted meanwhile; this append may have
			// re-created its directory after the deletion emptied it.
			if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				s.log.Error("store: removing the file of a deleted stream's fragment", "path", path, "err", rerr)
			}
			_ = os.Remove(s.streamDir(id))
			return
		}
		// The file is durable and describes itself: the next Open indexes it.
		s.log.Error("store: indexing a stored fragment failed", "stream", arn, "number", f.Number, "err", err)
	})
	op.ch.mu.Lock()
	op.ch.pending = req
	op.ch.mu.Unlock()
	queued = true
	close(op.mine)
	return f, nil
}

// AppendFragment stores a fragment of the stream with that ARN: it assigns
// f.Number (unless it holds a number reserved with NextNumber) and f.Size,
// and returns once the fragment's file (which describes the fragment
// completely, see fragfile.go) and its directory entry are durable. The
// index record is committed in the background, by the group committer;
// reads of the stream through this store wait for the commits of the
// appends that have returned, so they always see them, and if the process
// dies first, Open indexes the file again. Fragment numbers of a stream
// increase in the order appends are made, even for concurrent appends to
// the same stream, and a fragment is listed only after every
// earlier-numbered one that succeeded. On error nothing of the fragment is
// kept.
func (s *Store) AppendFragment(streamARN string, f Fragment, data []byte) (Fragment, error) {
	op, err := s.beginAppend(streamARN, f, data)
	if err != nil {
		return Fragment{}, err
	}
	return op.run()
}

// PendingAppend is an append started with StartAppend.
type PendingAppend struct {
	done    chan struct{}
	written chan struct{}
	f       Fragment
	err     error
}

// StartAppend starts appending a fragment as AppendFragment does and
// returns without waiting for the write: when it returns, the fragment has
// its number and its place in the stream's order, so appends started one
// after the other keep that order while their writes and syncs overlap.
// data must not change until Written is closed, which happens once the
// bytes are written, before they are made durable. Wait gives the outcome.
func (s *Store) StartAppend(streamARN string, f Fragment, data []byte) *PendingAppend {
	p := &PendingAppend{done: make(chan struct{}), written: make(chan struct{})}
	op, err := s.beginAppend(streamARN, f, data)
	if err != nil {
		p.err = err
		close(p.written)
		close(p.done)
		return p
	}
	op.written = p.written
	go func() {
		defer close(p.done)
		p.f, p.err = op.run()
	}()
	return p
}

// Written is closed once the append no longer reads the data passed to
// StartAppend, at the latest when Wait returns.
func (p *PendingAppend) Written() <-chan struct{} { return p.written }

// Wait waits for the append to end and returns what AppendFragment would
// have returned.
func (p *PendingAppend) Wait() (Fragment, error) {
	<-p.done
	return p.f, p.err
}

// putFragment indexes a fragment whose data is durable, after every
// fragment of the stream indexed so far.
func putFragment(tx *bolt.Tx, arn string, id uint64, f Fragment, counter uint64, crc uint32) error {
	ab, cur, err := archiveOf(tx, arn)
	if err != nil {
		return err
	}
	if cur != id {
		return ErrNotFound // deleted and re-created meanwhile
	}
	if last, _ := ab.Bucket(bucketNumbers).Cursor().Last(); last != nil && string(last) >= f.Number {
		return fmt.Errorf("fragment number %s is not above the stream's last %s: %w", f.Number, last, ErrInvalid)
	}
	return indexFragment(tx, ab, f, counter, crc)
}

// indexFragment adds a fragment's record and time index entries to its
// stream's archive bucket, keeps the order state and raises the stored
// counter.
func indexFragment(tx *bolt.Tx, ab *bolt.Bucket, f Fragment, counter uint64, crc uint32) error {
	nb := ab.Bucket(bucketNumbers)
	nb.FillPercent = 0.95 // numbers only grow
	last, _ := nb.Cursor().Last()
	atEnd := last == nil || string(last) < f.Number
	if err := nb.Put([]byte(f.Number), encodeFragment(f, crc)); err != nil {
		return err
	}
	if err := ab.Bucket(bucketServer).Put(timeKey(f.ServerTimestamp, f.Number), []byte{}); err != nil {
		return err
	}
	if err := ab.Bucket(bucketProducer).Put(timeKey(f.ProducerTimestamp, f.Number), []byte{}); err != nil {
		return err
	}
	o := decodeOrder(ab.Get(keyOrder))
	if atEnd {
		if f.ProducerTimestamp.Before(o.lastProducer) {
			o.producerUnordered = true
		}
		if f.ServerTimestamp.Before(o.lastServer) {
			o.serverUnordered = true
		}
		o.lastProducer, o.lastServer = f.ProducerTimestamp, f.ServerTimestamp
	} else {
		// Inserted among indexed fragments (only Open does that, when it
		// indexes a file again): the time indexes need not follow number
		// order any more.
		o.producerUnordered, o.serverUnordered = true, true
	}
	if err := ab.Put(keyOrder, o.encode()); err != nil {
		return err
	}
	meta := tx.Bucket(bucketMeta)
	if v := meta.Get(keySeq); len(v) != 8 || binary.BigEndian.Uint64(v) < counter {
		if err := meta.Put(keySeq, binary.BigEndian.AppendUint64(nil, counter)); err != nil {
			return err
		}
	}
	return nil
}

// PutHeader stores a stream header (the Matroska Info and Tracks bytes) and
// returns its id, the hex SHA-256 of the content. Storing the same header
// again is a no-op. The header is durable on return.
func (s *Store) PutHeader(streamARN string, header []byte) (string, error) {
	if err := s.enter(); err != nil {
		return "", fmt.Errorf("store: put header %s: %w", streamARN, err)
	}
	defer s.ops.Done()
	sum := sha256.Sum256(header)
	hid := hex.EncodeToString(sum[:])
	var have bool
	err := s.db.View(func(tx *bolt.Tx) error {
		ab, _, err := archiveOf(tx, streamARN)
		if err != nil {
			return err
		}
		have = ab.Bucket(bucketHeaders).Get([]byte(hid)) != nil
		return nil
	})
	if err == nil && !have {
		blob := bytes.Clone(header)
		err = s.commit(func(tx *bolt.Tx) error {
			ab, _, err := archiveOf(tx, streamARN)
			if err != nil {
				return err
			}
			return ab.Bucket(bucketHeaders).Put([]byte(hid), blob)
		})
	}
	if err != nil {
		return "", fmt.Errorf("store: put header %s: %w", streamARN, err)
	}
	return hid, nil
}

// Header returns the stream header with that id, or ErrNotFound.
func (s *Store) Header(streamARN, id string) ([]byte, error) {
	var out []byte
	err := s.view(func(tx *bolt.Tx) error {
		ab, _, err := archiveOf(tx, streamARN)
		if err != nil {
			return err
		}
		v := ab.Bucket(bucketHeaders).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		out = bytes.Clone(v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: header %s %s: %w", streamARN, id, err)
	}
	return out, nil
}

// view runs fn in a read transaction of an open store.
func (s *Store) view(fn func(*bolt.Tx) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.ops.Done()
	return s.db.View(fn)
}

// viewFragments runs fn in a read transaction of an open store that sees
// every fragment of the stream whose append has returned.
func (s *Store) viewFragments(arn string, fn func(*bolt.Tx) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.ops.Done()
	s.awaitIndexed(arn)
	return s.db.View(fn)
}

// fragmentRecord reads one fragment's record: the fragment, the CRC of its
// data, its stream's id and where the data starts in its file.
func fragmentRecord(tx *bolt.Tx, arn, number string) (Fragment, uint32, uint64, int64, error) {
	ab, id, err := archiveOf(tx, arn)
	if err != nil {
		return Fragment{}, 0, 0, 0, err
	}
	v := ab.Bucket(bucketNumbers).Get([]byte(number))
	if v == nil {
		return Fragment{}, 0, 0, 0, ErrNotFound
	}
	f, crc, err := decodeFragment([]byte(number), v)
	if err != nil {
		return Fragment{}, 0, 0, 0, err
	}
	return f, crc, id, dataOffset(&f, v), nil
}

// Fragment returns the index record of one fragment, or ErrNotFound.
func (s *Store) Fragment(streamARN, number string) (Fragment, error) {
	var f Fragment
	err := s.viewFragments(streamARN, func(tx *bolt.Tx) error {
		var err error
		f, _, _, _, err = fragmentRecord(tx, streamARN, number)
		return err
	})
	if err != nil {
		return Fragment{}, fmt.Errorf("store: fragment %s %s: %w", streamARN, number, err)
	}
	return f, nil
}

// ReadFragment returns the bytes of one fragment exactly as appended, or
// ErrNotFound.
func (s *Store) ReadFragment(streamARN, number string) ([]byte, error) {
	var (
		f   Fragment
		crc uint32
		id  uint64
		off int64
	)
	err := s.viewFragments(streamARN, func(tx *bolt.Tx) error {
		var err error
		f, crc, id, off, err = fragmentRecord(tx, streamARN, number)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: read fragment %s %s: %w", streamARN, number, err)
	}
	file, err := os.ReadFile(s.fragPath(id, f.Number))
	if errors.Is(err, fs.ErrNotExist) {
		// Expired or deleted since the lookup.
		err = ErrNotFound
	}
	var data []byte
	if err == nil {
		if int64(len(file)) != off+f.Size {
			err = fmt.Errorf("fragment data damaged (%d bytes, want %d)", len(file), off+f.Size)
		} else if data = file[off:]; crc32.Checksum(data, castagnoli) != crc {
			err = fmt.Errorf("fragment data damaged (CRC mismatch)")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("store: read fragment %s %s: %w", streamARN, number, err)
	}
	return data, nil
}

// FragmentsAfter returns up to limit fragments with numbers greater than
// after ("" for the first), in number order. A limit <= 0 means no limit.
func (s *Store) FragmentsAfter(streamARN, after string, limit int) ([]Fragment, error) {
	if after != "" && !validNumber(after) {
		return nil, fmt.Errorf("store: fragments %s after %q: %w", streamARN, after, ErrInvalid)
	}
	out := []Fragment{}
	err := s.viewFragments(streamARN, func(tx *bolt.Tx) error {
		ab, _, err := archiveOf(tx, streamARN)
		if err != nil {
			return err
		}
		c := ab.Bucket(bucketNumbers).Cursor()
		k, v := seekAfter(c, after)
		for ; k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
			f, _, err := decodeFragment(k, v)
			if err != nil {
				return err
			}
			out = append(out, f)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: fragments %s after %q: %w", streamARN, after, err)
	}
	return out, nil
}

// seekAfter positions a number cursor on the first number above after.
func seekAfter(c *bolt.Cursor, after string) ([]byte, []byte) {
	if after == "" {
		return c.First()
	}
	k, v := c.Seek([]byte(after))
	if k != nil && string(k) == after {
		k, v = c.Next()
	}
	return k, v
}

func timeOf(f *Fragment, kind TimestampKind) time.Time {
	if kind == ServerTimestamp {
		return f.ServerTimestamp
	}
	return f.ProducerTimestamp
}

func indexOf(ab *bolt.Bucket, kind TimestampKind) *bolt.Bucket {
	if kind == ServerTimestamp {
		return ab.Bucket(bucketServer)
	}
	return ab.Bucket(bucketProducer)
}

// FragmentsInRange returns up to limit fragments whose timestamp of the
// given kind lies in [start, end] and whose number is greater than after
// ("" for no bound), in number order. A limit <= 0 means no limit.
func (s *Store) FragmentsInRange(streamARN string, kind TimestampKind, start, end time.Time, after string, limit int) ([]Fragment, error) {
	if (after != "" && !validNumber(after)) || (kind != ProducerTimestamp && kind != ServerTimestamp) {
		return nil, fmt.Errorf("store: fragments %s in range: %w", streamARN, ErrInvalid)
	}
	out := []Fragment{}
	err := s.viewFragments(streamARN, func(tx *bolt.Tx) error {
		ab, _, err := archiveOf(tx, streamARN)
		if err != nil {
			return err
		}
		if end.Before(start) {
			return nil
		}
		nb := ab.Bucket(bucketNumbers)
		full := func() bool { return limit > 0 && len(out) >= limit }
		if !decodeOrder(ab.Get(keyOrder)).ordered(kind) {
			// Timestamps went backwards at some point: scan by number.
			c := nb.Cursor()
			for k, v := seekAfter(c, after); k != nil && !full(); k, v = c.Next() {
				f, _, err := decodeFragment(k, v)
				if err != nil {
					return err
				}
				if t := timeOf(&f, kind); !t.Before(start) && !t.After(end) {
					out = append(out, f)
				}
			}
			return nil
		}
		// Timestamps never decreased, so the time index lists fragments in
		// number order: seek to the later of start and the first number
		// after `after`.
		from := timeKey(start, "")
		if after != "" {
			k, v := seekAfter(nb.Cursor(), after)
			if k == nil {
				return nil
			}
			f, _, err := decodeFragment(k, v)
			if err != nil {
				return err
			}
			if fk := timeKey(timeOf(&f, kind), f.Number); bytes.Compare(fk, from) > 0 {
				from = fk
			}
		}
		last := timeKey(end, "")
		c := indexOf(ab, kind).Cursor()
		for k, _ := c.Seek(from); k != nil && !full(); k, _ = c.Next() {
			if len(k) < timeLen || bytes.Compare(k[:timeLen], last) > 0 {
				break
			}
			number := k[timeLen:]
			if after != "" && string(number) <= after {
				continue
			}
			v := nb.Get(number)
			if v == nil {
				return fmt.Errorf("time index names missing fragment %s", number)
			}
			f, _, err := decodeFragment(number, v)
			if err != nil {
				return err
			}
			out = append(out, f)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: fragments %s in range: %w", streamARN, err)
	}
	return out, nil
}

// LastFragment returns the newest fragment of the stream, or ErrNotFound if
// it has none.
func (s *Store) LastFragment(streamARN string) (Fragment, error) {
	var f Fragment
	err := s.viewFragments(streamARN, func(tx *bolt.Tx) error {
		ab, _, err := archiveOf(tx, streamARN)
		if err != nil {
			return err
		}
		k, v := ab.Bucket(bucketNumbers).Cursor().Last()
		if k == nil {
			return ErrNotFound
		}
		f, _, err = decodeFragment(k, v)
		return err
	})
	if err != nil {
		return Fragment{}, fmt.Errorf("store: last fragment %s: %w", streamARN, err)
	}
	return f, nil
}

// FirstFragmentAtOrAfter returns the first fragment, in number order, whose
// timestamp of the given kind is at or after t, or ErrNotFound.
func (s *Store) FirstFragmentAtOrAfter(streamARN string, kind TimestampKind, t time.Time) (Fragment, error) {
	if kind != ProducerTimestamp && kind != ServerTimestamp {
		return Fragment{}, fmt.Errorf("store: first fragment %s: %w", streamARN, ErrInvalid)
	}
	var f Fragment
	err := s.viewFragments(streamARN, func(tx *bolt.Tx) error {
		ab, _, err := archiveOf(tx, streamARN)
		if err != nil {
			return err
		}
		nb := ab.Bucket(bucketNumbers)
		if decodeOrder(ab.Get(keyOrder)).ordered(kind) {
			k, _ := indexOf(ab, kind).Cursor().Seek(timeKey(t, ""))
			if len(k) < timeLen {
				return ErrNotFound
			}
			v := nb.Get(k[timeLen:])
			if v == nil {
				return fmt.Errorf("time index names missing fragment %s", k[timeLen:])
			}
			f, _, err = decodeFragment(k[timeLen:], v)
			return err
		}
		c := nb.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			g, _, err := decodeFragment(k, v)
			if err != nil {
				return err
			}
			if !timeOf(&g, kind).Before(t) {
				f = g
				return nil
			}
		}
		return ErrNotFound
	})
	if err != nil {
		return Fragment{}, fmt.Errorf("store: first fragment %s at or after %s: %w", streamARN, t.Format(time.RFC3339Nano), err)
	}
	return f, nil
}

// expireBatch bounds the fragments one expiry transaction removes.
const expireBatch = 4096

// Expire deletes the fragments whose server timestamp is older than now
// minus their stream's DataRetentionInHours, index records first and files
// after, and returns how many it deleted.
func (s *Store) Expire(now time.Time) (int, error) {
	if err := s.enter(); err != nil {
		return 0, fmt.Errorf("store: expire: %w", err)
	}
	defer s.ops.Done()
	s.archiveMu.RLock()
	defer s.archiveMu.RUnlock()

	type target struct {
		arn    string
		id     uint64
		cutoff []byte
	}
	var targets []target
	err := s.db.View(func(tx *bolt.Tx) error {
		arns := tx.Bucket(bucketStreamARNs)
		return tx.Bucket(bucketStreams).ForEach(func(_, v []byte) error {
			var st Stream
			if err := json.Unmarshal(v, &st); err != nil {
				return err
			}
			id, _, ok := parseARNValue(arns.Get([]byte(st.ARN)))
			if !ok {
				return nil
			}
			ab := tx.Bucket(bucketArchive).Bucket(idKey(id))
			if ab == nil {
				return nil
			}
			cutoff := timeKey(now.Add(-time.Duration(st.DataRetentionInHours)*time.Hour), "")
			if k, _ := ab.Bucket(bucketServer).Cursor().First(); k != nil && bytes.Compare(k[:min(timeLen, len(k))], cutoff) < 0 {
				targets = append(targets, target{arn: st.ARN, id: id, cutoff: cutoff})
			}
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("store: expire: %w", err)
	}
	total := 0
	for _, t := range targets {
		for {
			var doomed []string
			err := s.commit(func(tx *bolt.Tx) error {
				doomed = doomed[:0]
				ab, id, err := archiveOf(tx, t.arn)
				if err != nil || id != t.id {
					return nil // deleted meanwhile
				}
				var numbers [][]byte
				c := ab.Bucket(bucketServer).Cursor()
				for k, _ := c.First(); k != nil && len(numbers) < expireBatch; k, _ = c.Next() {
					if len(k) < timeLen || bytes.Compare(k[:timeLen], t.cutoff) >= 0 {
						break
					}
					numbers = append(numbers, bytes.Clone(k[timeLen:]))
				}
				for _, n := range numbers {
					if err := deleteFragmentRecord(ab, n); err != nil {
						return err
					}
					doomed = append(doomed, string(n))
				}
				return nil
			})
			if err != nil {
				return total, fmt.Errorf("store: expire %s: %w", t.arn, err)
			}
			for _, n := range doomed {
				p := s.fragPath(t.id, n)
				if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
					s.log.Error("store: removing an expired fragment", "path", p, "err", err)
				}
			}
			total += len(doomed)
			if len(doomed) < expireBatch {
				break
			}
		}
	}
	if total > 0 {
		s.log.Debug("store: expired fragments", "count", total)
	}
	return total, nil
}

// sortedKeys is a helper for deterministic iteration in reports.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// NextNumber reserves a fragment number for a fragment that is being received:
// larger than every number handed out before, also across restarts (numbers
// follow the clock in nanoseconds, and never fall below the stored counter).
// Pass it in Fragment.Number to AppendFragment, in increasing order per stream;
// a reserved number that is never appended is simply skipped.
func (s *Store) NextNumber() string {
	return formatNumber(s.nextCounter())
}

// nextCounter returns a counter above every one given out and at least the
// current time in nanoseconds.
func (s *Store) nextCounter() uint64 {
	for {
		cur := s.seq.Load()
		n := cur + 1
		if now := uint64(time.Now().UnixNano()); now > n {
			n = now
		}
		if s.seq.CompareAndSwap(cur, n) {
			return n
		}
	}
}

// raiseCounter makes sure later numbers are above c.
func (s *Store) raiseCounter(c uint64) {
	for {
		cur := s.seq.Load()
		if cur >= c || s.seq.CompareAndSwap(cur, c) {
			return
		}
	}
}
