package store

import (
	"bytes"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func sampleHeader(data []byte) fileHeader {
	return fileHeader{
		streamID: 7,
		counter:  1_700_000_000_123_456_789,
		frag: Fragment{
			ProducerTimestamp: time.Unix(1700000000, 5).UTC(),
			ServerTimestamp:   time.Unix(1700000001, 999_999_999).UTC(),
			Duration:          2 * time.Second,
			Timecode:          -3,
			Size:              int64(len(data)),
			HeaderID:          "4f1c",
		},
		crc: crc32.Checksum(data, castagnoli),
	}
}

func TestFileHeaderRoundTrip(t *testing.T) {
	data := []byte("cluster bytes")
	for _, h := range []fileHeader{sampleHeader(data), {frag: Fragment{}}, {streamID: 1 << 63, counter: 1, frag: Fragment{HeaderID: strings.Repeat("h", 64)}}} {
		file := append(appendFileHeader(nil, &h), data[:h.frag.Size]...)
		got, n, err := parseFileHeader(file)
		if err != nil || n != int(fileHeaderLen(len(h.frag.HeaderID))) || !reflect.DeepEqual(got, h) {
			t.Fatalf("parse(%+v) = %+v, %d, %v", h, got, n, err)
		}
	}
	h := sampleHeader(data)
	file := append(appendFileHeader(nil, &h), data...)
	if _, d, err := parseFragmentFile(file); err != nil || !bytes.Equal(d, data) {
		t.Fatalf("parseFragmentFile = %q, %v", d, err)
	}
	// Every proper prefix is refused, and so is any flipped bit.
	for cut := range len(file) {
		if _, _, err := parseFragmentFile(file[:cut]); err == nil {
			t.Fatalf("a file cut at %d of %d bytes was accepted", cut, len(file))
		}
	}
	if _, _, err := parseFragmentFile(append(slices.Clone(file), 0)); err == nil {
		t.Fatal("a file with a byte too many was accepted")
	}
	for i := range len(file) * 8 {
		bad := slices.Clone(file)
		bad[i/8] ^= 1 << (i % 8)
		if _, _, err := parseFragmentFile(bad); err == nil {
			t.Fatalf("a file with bit %d flipped was accepted", i)
		}
	}
}

// FuzzParseFileHeader: the header parser never panics, accepts only what it
// would itself write, and never reports a length beyond its input.
func FuzzParseFileHeader(f *testing.F) {
	data := []byte("cluster bytes")
	h := sampleHeader(data)
	f.Add(append(appendFileHeader(nil, &h), data...))
	f.Add(appendFileHeader(nil, &fileHeader{}))
	f.Add([]byte("KVSF\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := parseFileHeader(b)
		if err != nil {
			return
		}
		if n > len(b) || n != int(fileHeaderLen(len(h.frag.HeaderID))) {
			t.Fatalf("header length %d for %d input bytes", n, len(b))
		}
		if again := appendFileHeader(nil, &h); !bytes.Equal(again, b[:n]) {
			t.Fatalf("accepted header does not re-encode to itself:\n%x\n%x", b[:n], again)
		}
		if _, data, err := parseFragmentFile(b); err == nil && int64(len(data)) != h.frag.Size {
			t.Fatalf("data of %d bytes, header says %d", len(data), h.frag.Size)
		}
	})
}

// crashedFile writes, next to a store's own files, a fragment file as an
// append would have left it if the process had died before the index
// commit: returns its path, the fragment and the whole file.
func crashedFile(t *testing.T, dir string, id uint64, f Fragment, counter uint64, data []byte) (string, Fragment, []byte) {
	t.Helper()
	f.Number = formatNumber(counter)
	f.Size = int64(len(data))
	h := fileHeader{streamID: id, counter: counter, frag: f, crc: crc32.Checksum(data, castagnoli)}
	file := append(appendFileHeader(nil, &h), data...)
	p := filepath.Join(dir, "fragments", dirName(id), f.Number+".frag")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, file, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, f, file
}

// Open indexes fragment files the index lacks when they are complete and
// valid, and removes torn, damaged or misplaced ones.
func TestRecoverIndexesFiles(t *testing.T) {
	s, dir := openTest(t)
	arn := mustStream(t, s, "cam", 1)
	other := mustStream(t, s, "other", 1)
	indexed := appendN(t, s, arn, 3)
	id, _ := s.streamID(arn)
	otherID, _ := s.streamID(other)
	if _, err := s.AppendFragment(other, Fragment{}, []byte("x")); err != nil {
		t.Fatal(err)
	}
	s.Close()

	c0, _ := parseCounter(indexed[2].Number)
	ts := t0.Add(time.Hour)
	meta := Fragment{ProducerTimestamp: ts, ServerTimestamp: ts.Add(time.Second), Duration: time.Second, Timecode: 99, HeaderID: "h"}
	_, good1, _ := crashedFile(t, dir, id, meta, c0+10, payload(10))
	meta.ProducerTimestamp = ts.Add(time.Second)
	_, good2, _ := crashedFile(t, dir, id, meta, c0+11, payload(11))
	// Torn: cut inside the data.
	p, _, file := crashedFile(t, dir, id, meta, c0+12, payload(12))
	if err := os.WriteFile(p, file[:len(file)-5], 0o644); err != nil {
		t.Fatal(err)
	}
	// Damaged: one data byte changed.
	p, _, file = crashedFile(t, dir, id, meta, c0+13, payload(13))
	file[len(file)-1] ^= 0xff
	if err := os.WriteFile(p, file, 0o644); err != nil {
		t.Fatal(err)
	}
	// Only the header made it.
	p, _, file = crashedFile(t, dir, id, meta, c0+14, payload(14))
	if err := os.WriteFile(p, file[:fileHeaderLen(len(meta.HeaderID))], 0o644); err != nil {
		t.Fatal(err)
	}
	// Valid, but it describes a fragment of another stream or number.
	crashedFile(t, dir, otherID, meta, c0+15, payload(15))
	if err := os.Rename(filepath.Join(dir, "fragments", dirName(otherID), formatNumber(c0+15)+".frag"),
		filepath.Join(dir, "fragments", dirName(id), formatNumber(c0+15)+".frag")); err != nil {
		t.Fatal(err)
	}
	p, _, _ = crashedFile(t, dir, id, meta, c0+16, payload(16))
	if err := os.Rename(p, filepath.Join(dir, "fragments", dirName(id), formatNumber(c0+17)+".frag")); err != nil {
		t.Fatal(err)
	}
	// An empty file, as a crash right after the create leaves it.
	if err := os.WriteFile(filepath.Join(dir, "fragments", dirName(id), formatNumber(c0+18)+".frag"), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	s = reopen(t, dir)
	checkClean(t, s)
	all, err := s.FragmentsAfter(arn, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := append(slices.Clone(indexed), good1, good2)
	if !reflect.DeepEqual(all, want) {
		t.Fatalf("after recovery:\n%+v\nwant\n%+v", all, want)
	}
	for i, f := range []Fragment{good1, good2} {
		data, err := s.ReadFragment(arn, f.Number)
		if err != nil || !bytes.Equal(data, payload(10+i)) {
			t.Fatalf("re-indexed fragment %s: %v", f.Number, err)
		}
	}
	for c := c0 + 12; c <= c0+18; c++ {
		if _, err := s.ReadFragment(arn, formatNumber(c)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("invalid file %d served: %v", c-c0, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "fragments", dirName(id), formatNumber(c)+".frag")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("invalid file %d kept: %v", c-c0, err)
		}
	}
	// Time queries see the re-indexed fragments.
	r, err := s.FragmentsInRange(arn, ProducerTimestamp, ts, ts.Add(time.Minute), "", 0)
	if err != nil || !reflect.DeepEqual(r, []Fragment{good1, good2}) {
		t.Fatalf("range after recovery: %+v, %v", r, err)
	}
	// New numbers stay above the re-indexed ones.
	f, err := s.AppendFragment(arn, Fragment{}, []byte("next"))
	if err != nil || f.Number <= good2.Number {
		t.Fatalf("append after recovery: %s, %v", f.Number, err)
	}
}

// A file the index lacks whose number lies below the stream's newest
// indexed fragment is indexed too, and range queries stay right.
func TestRecoverIndexesOlderFile(t *testing.T) {
	s, dir := openTest(t)
	arn := mustStream(t, s, "cam", 1)
	indexed := appendN(t, s, arn, 3)
	id, _ := s.streamID(arn)
	s.Close()
	c, _ := parseCounter(indexed[1].Number)
	// Between fragments 1 and 2, with a timestamp before both.
	_, old, _ := crashedFile(t, dir, id, Fragment{ProducerTimestamp: t0.Add(-time.Hour), ServerTimestamp: t0.Add(-time.Hour)}, c+1, []byte("old"))
	s = reopen(t, dir)
	checkClean(t, s)
	all, _ := s.FragmentsAfter(arn, "", 0)
	if want := []string{indexed[0].Number, indexed[1].Number, old.Number, indexed[2].Number}; !slices.Equal(numbers(all), want) {
		t.Fatalf("after recovery: %v", numbers(all))
	}
	r, err := s.FragmentsInRange(arn, ProducerTimestamp, t0.Add(-2*time.Hour), t0.Add(time.Hour), "", 0)
	if err != nil || len(r) != 4 {
		t.Fatalf("range: %v, %v", numbers(r), err)
	}
	r, _ = s.FragmentsInRange(arn, ProducerTimestamp, t0.Add(time.Second), t0.Add(time.Hour), indexed[0].Number, 0)
	if want := []string{indexed[1].Number, indexed[2].Number}; !slices.Equal(numbers(r), want) {
		t.Fatalf("range after %s: %v", indexed[0].Number, numbers(r))
	}
}

// A file cut anywhere is never indexed.
func TestRecoverDropsEveryCut(t *testing.T) {
	s, dir := openTest(t)
	arn := mustStream(t, s, "cam", 1)
	id, _ := s.streamID(arn)
	s.Close()
	data := payload(3)
	p, _, file := crashedFile(t, dir, id, Fragment{HeaderID: "abc"}, 1_000, data)
	hl := int(fileHeaderLen(3))
	for _, cut := range []int{0, 1, 4, 5, fileHeaderBase - 1, hl - 1, hl, hl + 1, len(file) / 2, len(file) - 1} {
		if err := os.WriteFile(p, file[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		s := reopen(t, dir)
		if all, _ := s.FragmentsAfter(arn, "", 0); len(all) != 0 {
			t.Fatalf("file cut at %d of %d bytes was indexed", cut, len(file))
		}
		checkClean(t, s)
		s.Close()
	}
	if err := os.WriteFile(p, file, 0o644); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, dir)
	if data2, err := s.ReadFragment(arn, formatNumber(1_000)); err != nil || !bytes.Equal(data2, data) {
		t.Fatalf("whole file: %v", err)
	}
}

// A damaged file of an indexed fragment is never served.
func TestDamagedFileNotServed(t *testing.T) {
	s, dir := openTest(t)
	arn := mustStream(t, s, "cam", 1)
	frags := appendN(t, s, arn, 2)
	id, _ := s.streamID(arn)
	p := filepath.Join(dir, "fragments", dirName(id), frags[0].Number+".frag")
	file, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	file[len(file)-1] ^= 1
	if err := os.WriteFile(p, file, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadFragment(arn, frags[0].Number); err == nil {
		t.Fatal("damaged fragment served")
	}
	if data, err := s.ReadFragment(arn, frags[1].Number); err != nil || !bytes.Equal(data, payload(1)) {
		t.Fatalf("intact fragment: %v", err)
	}
}

// An append returns before its index commit; reads of the stream wait for
// that commit and then see the fragment.
func TestReadsWaitForIndexCommit(t *testing.T) {
	s, _ := openTest(t)
	arn := mustStream(t, s, "cam", 1)
	first := appendN(t, s, arn, 1)[0]

	gate := make(chan struct{})
	s.queue(func(*bolt.Tx) error { <-gate; return nil }, nil) // holds up the committer
	f, err := s.AppendFragment(arn, Fragment{}, []byte("acknowledged"))
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		all []Fragment
		err error
	}
	got := make(chan result, 1)
	go func() {
		all, err := s.FragmentsAfter(arn, "", 0)
		got <- result{all, err}
	}()
	select {
	case r := <-got:
		t.Fatalf("read returned while the index commit was held up: %v", numbers(r.all))
	case <-time.After(50 * time.Millisecond):
	}
	close(gate)
	r := <-got
	if r.err != nil || !slices.Equal(numbers(r.all), []string{first.Number, f.Number}) {
		t.Fatalf("after the commit: %v, %v", numbers(r.all), r.err)
	}
	if data, err := s.ReadFragment(arn, f.Number); err != nil || string(data) != "acknowledged" {
		t.Fatalf("read: %q, %v", data, err)
	}
}

// StartAppend keeps the order appends were started in while they overlap.
func TestStartAppendOrder(t *testing.T) {
	s, dir := openTest(t)
	arn := mustStream(t, s, "cam", 1)
	var pending []*PendingAppend
	var reserved []string
	for i := range 20 {
		n := s.NextNumber()
		reserved = append(reserved, n)
		pending = append(pending, s.StartAppend(arn, Fragment{Number: n, ServerTimestamp: t0.Add(time.Duration(i) * time.Second)}, payload(i)))
	}
	for i, p := range pending {
		f, err := p.Wait()
		if err != nil || f.Number != reserved[i] || f.Size != int64(len(payload(i))) {
			t.Fatalf("append %d: %+v, %v", i, f, err)
		}
	}
	all, _ := s.FragmentsAfter(arn, "", 0)
	if !slices.Equal(numbers(all), reserved) {
		t.Fatalf("listed %v, want %v", numbers(all), reserved)
	}
	// A number below the last is refused at once; the stream is unharmed.
	if _, err := s.StartAppend(arn, Fragment{Number: reserved[3]}, []byte("late")).Wait(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("out-of-order number: %v", err)
	}
	if _, err := s.StartAppend("arn:none", Fragment{}, []byte("x")).Wait(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown stream: %v", err)
	}
	checkClean(t, s)

	// Close waits for appends still in flight.
	var started []*PendingAppend
	for i := range 10 {
		started = append(started, s.StartAppend(arn, Fragment{}, payload(i)))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, dir)
	for i, p := range started {
		f, err := p.Wait()
		if err != nil {
			t.Fatalf("append started before Close: %v", err)
		}
		if data, err := s.ReadFragment(arn, f.Number); err != nil || !bytes.Equal(data, payload(i)) {
			t.Fatalf("fragment %s acknowledged before Close: %v", f.Number, err)
		}
	}
	checkClean(t, s)
}

// Fragments stored before files had a header (index record version 1, the
// file holds only the data) stay readable and survive Open and Check.
func TestDataOnlyFiles(t *testing.T) {
	s, dir := openTest(t)
	arn := mustStream(t, s, "cam", 1)
	frags := appendN(t, s, arn, 2)
	id, _ := s.streamID(arn)
	old := frags[0]
	// Reads wait for the index commits of returned appends; the record is
	// edited directly below, so it must be there first.
	if _, err := s.LastFragment(arn); err != nil {
		t.Fatal(err)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		nb := tx.Bucket(bucketArchive).Bucket(idKey(id)).Bucket(bucketNumbers)
		v := slices.Clone(nb.Get([]byte(old.Number)))
		v[0] = 1
		return nb.Put([]byte(old.Number), v)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "fragments", dirName(id), old.Number+".frag"), payload(0), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		checkClean(t, s)
		for i, f := range frags {
			if data, err := s.ReadFragment(arn, f.Number); err != nil || !bytes.Equal(data, payload(i)) {
				t.Fatalf("fragment %d: %v", i, err)
			}
		}
		s.Close()
		s = reopen(t, dir)
	}
}
