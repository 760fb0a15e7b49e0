package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"kvskit/internal/testenv"
	"kvskit/media"
)

var testTracks = []media.Track{
	{Number: 1, Kind: media.KindVideo, Codec: media.CodecH264, CodecPrivate: []byte{1, 0x64, 0, 0x1f, 0xff}, Width: 1920, Height: 1080},
	{Number: 2, Kind: media.KindAudio, Codec: media.CodecAAC, CodecPrivate: []byte{0x12, 0x10}, SampleRate: 48000, Channels: 2, Name: "mic"},
}

// testRecord builds a fragment of n video frames of size bytes each (the
// first a key frame) and one audio frame, its content derived from tc.
func testRecord(tc int64, n, size int) *Record {
	r := &Record{Stream: "cam-1", Timecode: tc, Duration: time.Duration(n) * 33 * time.Millisecond, Tracks: testTracks}
	for i := range n {
		data := bytes.Repeat([]byte{byte(tc), byte(i)}, size/2)
		r.Frames = append(r.Frames, media.Frame{
			Track: 1, PTS: time.Duration(i) * 33 * time.Millisecond, DTS: time.Duration(i-1) * 33 * time.Millisecond,
			Key: i == 0, Data: data,
		})
	}
	r.Frames = append(r.Frames, media.Frame{Track: 2, PTS: 5 * time.Millisecond, DTS: 5 * time.Millisecond, Key: true, Data: []byte{0xde, 0xad}})
	return r
}

func equalRecords(t *testing.T, want, got *Record) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("record read back differs:\nwant %+v\n got %+v", want, got)
	}
}

func testLog(t *testing.T) (*slog.Logger, *bytes.Buffer) {
	var b bytes.Buffer
	return slog.New(slog.NewTextHandler(&b, nil)), &b
}

func TestPutReadRemoveReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var recs []*Record
	var ids []uint64
	for i := range 4 {
		r := testRecord(1_700_000_000_000+int64(i)*2000, 10, 1000)
		e, dropped, err := s.Put(r)
		if err != nil || len(dropped) != 0 {
			t.Fatalf("put %d: %v, dropped %v", i, err, dropped)
		}
		if e.Timecode != r.Timecode || e.Size != r.Size()+Overhead+int64(len(encodeMetaOf(r))) {
			t.Fatalf("entry %+v for a record of %d bytes", e, r.Size())
		}
		recs = append(recs, r)
		ids = append(ids, e.ID)
	}
	for i, id := range ids {
		got, err := s.Read(id)
		if err != nil {
			t.Fatal(err)
		}
		equalRecords(t, recs[i], got)
	}
	if err := s.Remove(ids[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(ids[1]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("read of a removed fragment: %v, want ErrNotFound", err)
	}
	// Permissions: files 0600, the directory 0700.
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", fi.Mode().Perm())
	}
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		if fi, _ := de.Info(); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", de.Name(), fi.Mode().Perm())
		}
	}
	st := s.Stats()
	if st.Fragments != 3 || st.Written != 4 || st.Removed != 1 || st.Corrupt != 0 || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A new process finds the same fragments, oldest first.
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	es := s2.Entries()
	if len(es) != 3 || es[0].ID != ids[0] || es[1].ID != ids[2] || es[2].ID != ids[3] {
		t.Fatalf("entries after reopen: %+v (ids %v)", es, ids)
	}
	if st := s2.Stats(); st.Recovered != 3 || st.Fragments != 3 || st.Written != 0 {
		t.Fatalf("stats after reopen %+v", st)
	}
	for i, e := range es {
		got, err := s2.Read(e.ID)
		if err != nil {
			t.Fatal(err)
		}
		equalRecords(t, recs[[]int{0, 2, 3}[i]], got)
	}
	e, _, err := s2.Put(testRecord(1_800_000_000_000, 2, 10))
	if err != nil || e.ID <= ids[3] {
		t.Fatalf("put after reopen: %+v %v; want an ID after %d", e, err, ids[3])
	}
}

func encodeMetaOf(r *Record) []byte {
	m, _ := r.encodeMeta(nil, nil)
	return m
}

func TestMaxBytesDropsOldest(t *testing.T) {
	log, logged := testLog(t)
	one := testRecord(1000, 10, 1000)
	size := one.Size() + Overhead + int64(len(encodeMetaOf(one)))
	s, err := Open(t.TempDir(), WithMaxBytes(3*size+size/2), WithLogger(log), WithSync(false))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var all []Entry
	var dropped []Entry
	for i := range 6 {
		e, d, err := s.Put(testRecord(int64(1000+i), 10, 1000))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, e)
		dropped = append(dropped, d...)
	}
	if !reflect.DeepEqual(dropped, all[:3]) {
		t.Fatalf("dropped %+v, want the three oldest %+v", dropped, all[:3])
	}
	if es := s.Entries(); !reflect.DeepEqual(es, all[3:]) {
		t.Fatalf("kept %+v, want %+v", es, all[3:])
	}
	st := s.Stats()
	if st.Dropped != 3 || st.DroppedBytes != 3*size || st.Bytes != 3*size {
		t.Fatalf("stats %+v", st)
	}
	if n := strings.Count(logged.String(), "spool full"); n != 3 {
		t.Fatalf("%d drops logged, want 3:\n%s", n, logged)
	}
	if _, _, err := s.Put(testRecord(9, 40, 1000)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("put of a fragment larger than the spool: %v", err)
	}
	// Nothing dropped for a fragment refused.
	if es := s.Entries(); len(es) != 3 {
		t.Fatalf("entries after a refused put: %+v", es)
	}
	// A smaller bound at the next Open drops the oldest at once.
	s.Close()
	s2, err := Open(s.Dir(), WithMaxBytes(size+1))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if es := s2.Entries(); len(es) != 1 || es[0] != all[5] {
		t.Fatalf("entries after reopening smaller: %+v", es)
	}
	if st := s2.Stats(); st.Dropped != 2 || st.Recovered != 3 {
		t.Fatalf("stats after reopening smaller: %+v", st)
	}
}

func TestCorruptFilesSkippedAndReported(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, WithSync(false))
	if err != nil {
		t.Fatal(err)
	}
	var es []Entry
	for i := range 7 {
		e, _, err := s.Put(testRecord(int64(5000+i), 8, 2000))
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	s.Close()
	path := func(e Entry) string { return filepath.Join(dir, fileName(e.ID, e.Timecode)) }
	damage := func(e Entry, f func(b []byte) []byte) {
		b, err := os.ReadFile(path(e))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path(e), f(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	damage(es[0], func(b []byte) []byte { return b[:len(b)/2] })          // truncated
	damage(es[1], func(b []byte) []byte { return make([]byte, len(b)) })  // zeroed (as after a power cut)
	damage(es[2], func(b []byte) []byte { return nil })                   // empty
	damage(es[4], func(b []byte) []byte { clear(b[100:4100]); return b }) // zeroed inside: header intact
	damage(es[5], func(b []byte) []byte { b[len(b)-1] ^= 1; return b })   // checksum bit flip
	// A leftover of an interrupted write and a stray file.
	if err := os.WriteFile(filepath.Join(dir, ".tmp-99"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}

	log, logged := testLog(t)
	s2, err := Open(dir, WithLogger(log))
	if err != nil {
		t.Fatalf("open of a damaged spool: %v", err)
	}
	defer s2.Close()
	got := s2.Entries()
	if want := []Entry{es[3], es[4], es[5], es[6]}; !reflect.DeepEqual(got, want) {
		t.Fatalf("entries %+v, want %+v", got, want)
	}
	if st := s2.Stats(); st.Corrupt != 3 || st.Recovered != 4 {
		t.Fatalf("stats %+v, want 3 corrupt found at open", st)
	}
	var intact int
	for _, e := range got {
		r, err := s2.Read(e.ID)
		switch {
		case err == nil:
			intact++
			equalRecords(t, testRecord(e.Timecode, 8, 2000), r)
		case errors.Is(err, ErrCorrupt):
		default:
			t.Fatalf("read %d: %v", e.ID, err)
		}
	}
	if intact != 2 {
		t.Fatalf("%d intact fragments read, want 2", intact)
	}
	st := s2.Stats()
	if st.Corrupt != 5 || st.Fragments != 2 {
		t.Fatalf("stats after reading %+v, want 5 corrupt and 2 left", st)
	}
	if n := strings.Count(logged.String(), "deleted a corrupt"); n != 5 {
		t.Fatalf("%d corrupt files logged, want 5:\n%s", n, logged)
	}
	for _, e := range []Entry{es[0], es[1], es[2], es[4], es[5]} {
		if _, err := os.Stat(path(e)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("corrupt %s still there: %v", path(e), err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".tmp-99")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file left: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Errorf("a file that is not the spool's was touched: %v", err)
	}
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Put(testRecord(1, 1, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("put after close: %v", err)
	}
	s2, err := Open(dir)
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	s2.Close()
}

func TestPutRefusesBadRecords(t *testing.T) {
	s, err := Open(t.TempDir(), WithSync(false))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for name, r := range map[string]*Record{
		"no tracks":       {Stream: "s", Frames: []media.Frame{{Track: 1}}},
		"undeclared":      {Stream: "s", Tracks: testTracks, Frames: []media.Frame{{Track: 3}}},
		"track 0":         {Stream: "s", Tracks: []media.Track{{Number: 0}}},
		"negative width":  {Stream: "s", Tracks: []media.Track{{Number: 1, Width: -1}}},
		"duplicate track": {Stream: "s", Tracks: []media.Track{{Number: 1}, {Number: 1}}},
	} {
		if _, _, err := s.Put(r); err == nil {
			t.Errorf("%s: put accepted", name)
		}
	}
	if st := s.Stats(); st.Fragments != 0 {
		t.Fatalf("stats %+v", st)
	}
	des, _ := os.ReadDir(s.Dir())
	if len(des) != 1 {
		t.Fatalf("files left after refused puts: %v", des)
	}
}

// seeds are the fuzz corpus: whole files, and damaged ones.
func seeds(t testing.TB) [][]byte {
	var out [][]byte
	enc := func(r *Record) []byte {
		var b bytes.Buffer
		if _, _, err := Encode(&b, r, nil); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	whole := enc(testRecord(1_700_000_000_000, 3, 8))
	out = append(out, whole,
		enc(&Record{Stream: "s", Timecode: -5, Tracks: testTracks[:1]}),
		enc(testRecord(7, 1, 0)),
		whole[:len(whole)-3], whole[:headerSize], make([]byte, len(whole)))
	return out
}

func TestDecodeCorpus(t *testing.T) {
	seedsIn := seeds(t)
	for i, s := range seedsIn[:3] {
		if _, err := Decode(s); err != nil {
			t.Errorf("seed %d: %v", i, err)
		}
	}
	for i, s := range seedsIn[3:] {
		if _, err := Decode(s); !errors.Is(err, ErrCorrupt) {
			t.Errorf("damaged seed %d: %v, want ErrCorrupt", i, err)
		}
	}
	testenv.CheckCorpus(t, "FuzzDecode", seedsIn)
}

func FuzzDecode(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not wrapping ErrCorrupt: %v", err)
			}
			return
		}
		var out bytes.Buffer
		if _, _, err := Encode(&out, r, nil); err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		r2, err := Decode(out.Bytes())
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if !reflect.DeepEqual(normal(r), normal(r2)) {
			t.Fatalf("round trip differs:\n%+v\n%+v", r, r2)
		}
	})
}

// seal wraps a payload in a valid header and checksum, so the fuzzer
// reaches the payload decoder.
func seal(payload []byte) []byte {
	b := make([]byte, headerSize, headerSize+len(payload)+trailSize)
	copy(b, magic)
	binary.LittleEndian.PutUint64(b[8:], uint64(len(payload)))
	b = append(b, payload...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func payloadSeeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, s := range seeds(t)[:3] {
		out = append(out, s[headerSize:len(s)-trailSize])
	}
	return out
}

func TestDecodePayloadCorpus(t *testing.T) {
	ps := payloadSeeds(t)
	for i, p := range ps {
		if _, err := Decode(seal(p)); err != nil {
			t.Errorf("payload seed %d: %v", i, err)
		}
	}
	testenv.CheckCorpus(t, "FuzzDecodePayload", ps)
}

func FuzzDecodePayload(f *testing.F) {
	for _, s := range payloadSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		r, err := Decode(seal(p))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not wrapping ErrCorrupt: %v", err)
			}
			return
		}
		var out bytes.Buffer
		if _, _, err := Encode(&out, r, nil); err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		r2, err := Decode(out.Bytes())
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if !reflect.DeepEqual(normal(r), normal(r2)) {
			t.Fatalf("round trip differs:\n%+v\n%+v", r, r2)
		}
	})
}

// normal makes empty byte strings nil, which the file does not tell apart.
func normal(r *Record) *Record {
	c := *r
	c.Tracks = slices.Clone(r.Tracks)
	for i := range c.Tracks {
		if len(c.Tracks[i].CodecPrivate) == 0 {
			c.Tracks[i].CodecPrivate = nil
		}
	}
	c.Frames = slices.Clone(r.Frames)
	for i := range c.Frames {
		if len(c.Frames[i].Data) == 0 {
			c.Frames[i].Data = nil
		}
	}
	return &c
}
