package producer

import (
	"errors"
	"io"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"kvskit/device"
	"kvskit/fragment"
	"kvskit/media"
)

// BenchmarkPackaging measures the packaging a PutMedia session does: frames
// go through the fragmenter, and each closed fragment is written by the
// session writer as an MKV cluster of SimpleBlocks, into io.Discard. One op
// is one pass over the whole input, continuing the timeline of the previous
// pass; MB/s counts frame payload bytes. The frames are in memory before the
// timer starts, so reading the input is not measured.
//
// The input is the file named by $KVSKIT_BENCH_INPUT (any format package
// device reads); without it, 60 s of synthetic 1080p H.264 at 8 Mbit/s with
// 128 kbit/s AAC. bench/producer.sh runs it with -cpu 1 against ffmpeg.
func BenchmarkPackaging(b *testing.B) {
	tracks, frames := packagingInput(b)
	var payload int64
	var span time.Duration
	for _, f := range frames {
		payload += int64(len(f.Data))
		span = max(span, f.PTS, f.DTS)
	}
	span += time.Second // the next pass starts after a short gap

	frag, err := fragment.New(tracks, fragment.WithTimecodeUnit(time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	var counted atomic.Int64
	sw := newSessionWriter(io.Discard, &counted, make([]byte, 16), tracks)
	if err := sw.writeHeader(); err != nil {
		b.Fatal(err)
	}
	const origin = int64(1_700_000_000_000) // cluster timecodes: ms since the epoch
	fragments := 0
	var shift time.Duration
	pass := func() {
		for _, f := range frames {
			f.PTS += shift
			f.DTS += shift
			closed, err := frag.Push(f)
			if err != nil {
				b.Fatal(err)
			}
			if closed != nil {
				fragments++
				if err := sw.writeFragment(closed, origin+closed.Start.Milliseconds()); err != nil {
					b.Fatal(err)
				}
			}
		}
		shift += span
	}
	pass() // warm-up: buffers grow to the largest frame and fragment

	b.SetBytes(payload)
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fragments = 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pass()
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	n := float64(b.N) * float64(len(frames))
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/frame")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/max(float64(fragments), 1), "allocs/fragment")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/frame")
	b.ReportMetric(float64(payload), "payload-B/op")
	if fragments == 0 || counted.Load() < int64(b.N)*payload {
		b.Fatalf("%d fragments, %d bytes written for %d passes of %d payload bytes", fragments, counted.Load(), b.N, payload)
	}
}

// packagingInput returns the benchmark's tracks and frames.
func packagingInput(b *testing.B) ([]media.Track, []media.Frame) {
	path := os.Getenv("KVSKIT_BENCH_INPUT")
	if path == "" {
		return syntheticInput(60 * time.Second)
	}
	src, err := device.OpenFile(path)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	var frames []media.Frame
	for {
		f, err := src.ReadFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Fatalf("read %s: %v", path, err)
		}
		frames = append(frames, f)
	}
	if len(frames) == 0 {
		b.Fatalf("%s has no frames", path)
	}
	return src.Tracks(), frames
}

// syntheticInput is d of 1080p30 H.264 at 8 Mbit/s (a key frame every 2 s,
// four times the size of the others) interleaved by DTS with 48 kHz AAC at
// 128 kbit/s. Every frame has its own Data.
func syntheticInput(d time.Duration) ([]media.Track, []media.Frame) {
	tracks := []media.Track{
		{Number: 1, Kind: media.KindVideo, Codec: media.CodecH264, Width: 1920, Height: 1080,
			CodecPrivate: []byte{1, 0x64, 0, 0x28, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x28, 1, 0, 4, 0x68, 0xee, 0x3c, 0x80}},
		{Number: 2, Kind: media.KindAudio, Codec: media.CodecAAC, SampleRate: 48000, Channels: 2,
			CodecPrivate: []byte{0x11, 0x90}},
	}
	const (
		fps      = 30
		gop      = 60
		videoBps = 8_000_000 / 8
		audioBps = 128_000 / 8
	)
	pSize := videoBps * gop / fps / (gop + 3) // one key frame weighs four P-frames
	aDur := time.Duration(1024) * time.Second / 48000
	aSize := int(float64(audioBps) * aDur.Seconds())
	var frames []media.Frame
	vi, ai := 0, 0
	for {
		vt := time.Duration(vi) * time.Second / fps
		at := time.Duration(ai) * aDur
		if vt >= d && at >= d {
			return tracks, frames
		}
		if vt <= at {
			size := pSize
			if vi%gop == 0 {
				size *= 4
			}
			frames = append(frames, media.Frame{Track: 1, PTS: vt, DTS: vt, Key: vi%gop == 0, Data: make([]byte, size)})
			vi++
			continue
		}
		frames = append(frames, media.Frame{Track: 2, PTS: at, DTS: at, Key: true, Data: make([]byte, aSize)})
		ai++
	}
}
