package producer

import (
	"bytes"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"kvskit/fragment"
	"kvskit/media"
	"kvskit/mkv"
)

func TestPacer(t *testing.T) {
	t0 := time.Unix(1000, 0)
	p := newPacer(5, 1) // 5 per second, no burst beyond one
	if d := p.reserve(1, t0); d != 0 {
		t.Fatalf("first token waits %v", d)
	}
	if d := p.reserve(1, t0); d != 200*time.Millisecond {
		t.Fatalf("second token at once waits %v, want 200ms", d)
	}
	// After the wait the debt is paid; the next one waits another interval.
	if d := p.reserve(1, t0.Add(200*time.Millisecond)); d != 200*time.Millisecond {
		t.Fatalf("third token waits %v, want 200ms", d)
	}
	// A long pause banks at most the burst.
	if d := p.reserve(1, t0.Add(time.Hour)); d != 0 {
		t.Fatalf("after a pause: %v", d)
	}
	if d := p.reserve(1, t0.Add(time.Hour)); d != 200*time.Millisecond {
		t.Fatalf("burst exceeded: %v", d)
	}

	b := newPacer(1e6, 1e6) // bytes: 1 MB/s with one second of burst
	if d := b.reserve(1e6, t0); d != 0 {
		t.Fatalf("burst of 1 MB waits %v", d)
	}
	if d := b.reserve(3e6, t0); d != 3*time.Second {
		t.Fatalf("3 MB more waits %v, want 3s", d)
	}
	if d := newPacer(-1, 0).reserve(1e9, t0); d != 0 {
		t.Fatalf("unlimited pacer waits %v", d)
	}
}

func TestBackoffFullJitterCapped(t *testing.T) {
	p := &Producer{cfg: Config{RetryBase: time.Second, RetryMax: 16 * time.Second}}
	for n, ceiling := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 5: 16 * time.Second, 40: 16 * time.Second} {
		var maxSeen time.Duration
		for range 2000 {
			d := p.backoff(n)
			if d < 0 || d > ceiling {
				t.Fatalf("attempt %d: backoff %v outside [0, %v]", n, d, ceiling)
			}
			maxSeen = max(maxSeen, d)
		}
		// Full jitter spreads over the whole range.
		if maxSeen < ceiling/2 {
			t.Errorf("attempt %d: largest of 2000 backoffs %v, want spread up to %v", n, maxSeen, ceiling)
		}
	}
}

func TestDefaults(t *testing.T) {
	c, err := Config{StreamName: "cam-1"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.FragmentDuration != 2*time.Second || c.BufferDuration != 120*time.Second || c.BufferBytes != 128<<20 ||
		c.MaxBytesPerSecond != 12.5e6 || c.MaxFragmentsPerSecond != 5 || c.SessionRotation != 40*time.Minute ||
		c.IdleFlush != 20*time.Second || c.RetryBase != time.Second || c.RetryMax != 16*time.Second || len(c.SegmentUID) != 16 {
		t.Errorf("defaults %+v", c)
	}
	if c.StartTime.IsZero() || c.StartTime.Nanosecond()%int(time.Millisecond) != 0 {
		t.Errorf("StartTime %v: want now, in whole milliseconds", c.StartTime)
	}
	c2, _ := Config{StreamName: "cam-1"}.withDefaults()
	if bytes.Equal(c.SegmentUID, c2.SegmentUID) {
		t.Error("two producers got the same random SegmentUID")
	}
}

// benchFragment is two seconds of 1080p-sized video at 30 fps.
func benchFragment() ([]media.Track, *fragment.Fragment) {
	tracks := []media.Track{{Number: 1, Kind: media.KindVideo, Codec: media.CodecH264, Width: 1920, Height: 1080,
		CodecPrivate: []byte{1, 0x64, 0, 0x28, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x28, 1, 0, 4, 0x68, 0xee, 0x3c, 0x80}}}
	f := &fragment.Fragment{Duration: 2 * time.Second}
	for i := range 60 {
		pts := time.Duration(i*1000/30) * time.Millisecond
		f.Frames = append(f.Frames, media.Frame{Track: 1, PTS: pts, DTS: pts, Key: i == 0, Data: make([]byte, 40<<10)})
	}
	return tracks, f
}

func TestSessionWriterAllocatesNothingPerFrame(t *testing.T) {
	tracks, f := benchFragment()
	var n atomic.Int64
	var out bytes.Buffer
	sw := newSessionWriter(&out, &n, make([]byte, 16), tracks)
	if err := sw.writeHeader(); err != nil {
		t.Fatal(err)
	}
	if err := sw.writeFragment(f, 1_700_000_000_000); err != nil {
		t.Fatal(err)
	}
	if err := sw.endFragment(); err != nil {
		t.Fatal(err)
	}
	if n.Load() != int64(out.Len()) || out.Len() < 60*40<<10 {
		t.Fatalf("counted %d bytes, wrote %d", n.Load(), out.Len())
	}
	// The output is a KVS cluster of 60 blocks closed by END_OF_FRAGMENT.
	r := mkv.NewReader(bytes.NewReader(out.Bytes()))
	blocks, eof := 0, false
	for {
		ev, err := r.Next()
		if err != nil {
			break
		}
		switch ev.Type {
		case mkv.EventClusterStart:
			if ev.Timecode != 1_700_000_000_000 {
				t.Errorf("cluster timecode %d", ev.Timecode)
			}
		case mkv.EventBlock:
			if want := int16(blocks * 1000 / 30); ev.Block.Timecode != want || ev.Block.Key != (blocks == 0) {
				t.Errorf("block %d: timecode %d key %v", blocks, ev.Block.Timecode, ev.Block.Key)
			}
			blocks++
		case mkv.EventTags:
			eof = len(ev.Tags) == 1 && ev.Tags[0].Name == "AWS_KINESISVIDEO_END_OF_FRAGMENT"
		}
	}
	if blocks != 60 || !eof {
		t.Errorf("%d blocks, end-of-fragment tag %v", blocks, eof)
	}

	sw = newSessionWriter(io.Discard, &n, make([]byte, 16), tracks)
	allocs := testing.AllocsPerRun(20, func() {
		_ = sw.writeFragment(f, 1_700_000_000_000)
		_ = sw.endFragment()
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per fragment of 60 frames, want 0", allocs)
	}
}

// BenchmarkSessionWrite measures the PutMedia body path: one op writes a
// 2 s fragment of 1080p-sized video (60 frames of 40 KB, 30 fps) as a
// cluster of SimpleBlocks closed by END_OF_FRAGMENT, into io.Discard.
// allocs/op is per fragment; ns/frame is reported too.
func BenchmarkSessionWrite(b *testing.B) {
	tracks, f := benchFragment()
	var n atomic.Int64
	sw := newSessionWriter(io.Discard, &n, make([]byte, 16), tracks)
	if err := sw.writeHeader(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(f.Size()))
	b.ReportAllocs()
	tc := int64(1_700_000_000_000)
	for b.Loop() {
		if err := sw.writeFragment(f, tc); err != nil {
			b.Fatal(err)
		}
		if err := sw.endFragment(); err != nil {
			b.Fatal(err)
		}
		tc += 2000
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(f.Frames)), "ns/frame")
}

// writeCounter records the size of every Write.
type writeCounter struct{ sizes []int }

func (w *writeCounter) Write(b []byte) (int, error) {
	w.sizes = append(w.sizes, len(b))
	return len(b), nil
}

func (w *writeCounter) total() (n int) {
	for _, s := range w.sizes {
		n += s
	}
	return n
}

func TestSessionWriterHandsOverWholeFragmentsInFewWrites(t *testing.T) {
	tracks := []media.Track{{Number: 1, Kind: media.KindAudio, Codec: media.CodecAAC, SampleRate: 48000, Channels: 2,
		CodecPrivate: []byte{0x11, 0x90}}}
	f := &fragment.Fragment{Duration: time.Second}
	for i := range 47 { // 1 s of 48 kHz AAC at 128 kbit/s
		pts := time.Duration(i) * 1024 * time.Second / 48000
		f.Frames = append(f.Frames, media.Frame{Track: 1, PTS: pts, DTS: pts, Key: true, Data: make([]byte, 341)})
	}
	var n atomic.Int64
	w := &writeCounter{}
	sw := newSessionWriter(w, &n, make([]byte, 16), tracks)
	if err := sw.writeHeader(); err != nil {
		t.Fatal(err)
	}
	if len(w.sizes) != 1 || int64(w.total()) != n.Load() {
		t.Fatalf("header: writes %v, counted %d", w.sizes, n.Load())
	}
	w.sizes = nil
	if err := sw.writeFragment(f, 1_700_000_000_000); err != nil {
		t.Fatal(err)
	}
	// 48 elements (cluster start and 47 blocks) of about 16 kB in all: one
	// write, and all of it before writeFragment returns.
	if len(w.sizes) != 1 || w.total() < 47*341 || w.total() > bodyBufferSize {
		t.Fatalf("fragment: %d writes of %v bytes, want one of at least %d", len(w.sizes), w.sizes, 47*341)
	}
	w.sizes = nil
	if err := sw.endFragment(); err != nil {
		t.Fatal(err)
	}
	if len(w.sizes) != 1 {
		t.Fatalf("end of fragment: writes %v", w.sizes)
	}

	// Frames larger than the buffer pass through; the fragment still arrives whole.
	big := &fragment.Fragment{Duration: time.Second, Frames: []media.Frame{
		{Track: 1, Key: true, Data: make([]byte, 3*bodyBufferSize)},
		{Track: 1, PTS: 20 * time.Millisecond, DTS: 20 * time.Millisecond, Key: true, Data: make([]byte, 100)},
	}}
	w.sizes = nil
	before := n.Load()
	if err := sw.writeFragment(big, 1_700_000_002_000); err != nil {
		t.Fatal(err)
	}
	if got := n.Load() - before; got != int64(w.total()) || got < 3*bodyBufferSize+100 || len(w.sizes) > 4 {
		t.Fatalf("large frame: writes %v, counted %d", w.sizes, got)
	}
}
