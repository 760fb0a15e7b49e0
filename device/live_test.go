package device

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kvskit/media"
	"kvskit/media/h264"
	sampleclip "kvskit/samples/clip"
)

// checkLoopedClip reads n frames of a looped sample clip unpaced: every
// track's DTS keeps increasing across the passes, the video keeps its ~33 ms
// frame interval across each loop, and key frames keep coming.
func checkLoopedClip(t *testing.T, read func() (media.Frame, error), n int) []media.Frame {
	t.Helper()
	var lastDTS, lastVideo [3]time.Duration
	keys := 0
	frames := make([]media.Frame, 0, n)
	for i := 0; i < n; i++ {
		fr, err := read()
		if err != nil {
			t.Fatal(err)
		}
		if fr.DTS < lastDTS[fr.Track] {
			t.Fatalf("frame %d: track %d DTS went back from %s to %s", i, fr.Track, lastDTS[fr.Track], fr.DTS)
		}
		if fr.Track == 1 {
			if lastVideo[1] > 0 {
				if gap := fr.DTS - lastVideo[1]; gap < 30*time.Millisecond || gap > 37*time.Millisecond {
					t.Fatalf("frame %d: video frame interval %s across the loop, want ~33 ms", i, gap)
				}
			}
			lastVideo[1] = fr.DTS
			if fr.Key {
				keys++
			}
		}
		lastDTS[fr.Track] = fr.DTS
		frames = append(frames, fr)
	}
	if lastVideo[1] < 20*time.Second || keys < 20 {
		t.Fatalf("after %d frames video reached %s with %d key frames", n, lastVideo[1], keys)
	}
	return frames
}

func TestLoopContinuesTimestamps(t *testing.T) {
	l, err := Loop(sampleclip.MKV)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// Two and a half passes of the 10 s clip.
	checkLoopedClip(t, l.ReadFrame, 2000)
}

// unpaced returns the test pattern with its origin an hour back, so every
// frame of the first hour is due at once.
func unpaced(t *testing.T) *testPattern {
	t.Helper()
	src, err := NewTestPattern()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	tp := src.(*testPattern)
	tp.origin = time.Now().Add(-time.Hour)
	return tp
}

// The test pattern hands out exactly the frames Loop reads from the clip,
// from memory demuxed once: the same bytes every pass, without allocating.
func TestTestPatternPlaysTheLoopFromMemory(t *testing.T) {
	tp := unpaced(t)
	got := checkLoopedClip(t, tp.ReadFrame, 2000)
	l, err := Loop(sampleclip.MKV)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i, g := range got {
		w, err := l.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if g.Track != w.Track || g.PTS != w.PTS || g.DTS != w.DTS || g.Key != w.Key || !bytes.Equal(g.Data, w.Data) {
			t.Fatalf("frame %d: test pattern gave track %d PTS %s DTS %s key %v %d bytes, the loop track %d PTS %s DTS %s key %v %d bytes",
				i, g.Track, g.PTS, g.DTS, g.Key, len(g.Data), w.Track, w.PTS, w.DTS, w.Key, len(w.Data))
		}
		if len(g.Data) == 0 || cap(g.Data) != len(g.Data) {
			t.Fatalf("frame %d: %d bytes with capacity %d: an append would write into the next frame", i, len(g.Data), cap(g.Data))
		}
	}
	// The second pass hands out the first pass's memory.
	n := len(tp.frames)
	if &got[0].Data[0] != &got[n].Data[0] || got[n].DTS != got[0].DTS+tp.pass {
		t.Fatalf("frame %d (DTS %s) is not frame 0 (DTS %s) one pass (%s) later in the same memory", n, got[n].DTS, got[0].DTS, tp.pass)
	}
	if _, ok := any(tp).(Recycler); ok {
		t.Fatal("the test pattern shares its frames' memory between passes, so it must not take frames back")
	}
	if allocs := testing.AllocsPerRun(1000, func() {
		if _, err := tp.ReadFrame(); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Fatalf("%v allocations per frame, want none", allocs)
	}
}

// Frames that a file stores verbatim (Matroska's unlaced blocks) are handed
// out from the file's own bytes; frames converted on reading (Annex-B to
// length-prefixed) are copied once.
func TestClipPatternSharesTheFilesBytes(t *testing.T) {
	mkv := bytes.Clone(sampleclip.MKV)
	tp, err := newClipPattern(mkv)
	if err != nil {
		t.Fatal(err)
	}
	clear(mkv)
	for i, fr := range tp.frames {
		if len(fr.Data) == 0 || !bytes.Equal(fr.Data, make([]byte, len(fr.Data))) {
			t.Fatalf("frame %d of %d does not read the file's memory", i, len(tp.frames))
		}
	}

	// The clip's first second of video as an H.264 elementary stream.
	l, err := Loop(sampleclip.MKV)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg, err := h264.ParseAVCC(l.Tracks()[0].CodecPrivate)
	if err != nil {
		t.Fatal(err)
	}
	es := annexB(cfg.SPS[0], cfg.PPS[0])
	var want [][]byte
	for len(want) < 30 {
		fr, err := l.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if fr.Track != 1 {
			continue
		}
		if es, err = h264.AVCCToAnnexB(es, fr.Data); err != nil {
			t.Fatal(err)
		}
		want = append(want, fr.Data)
	}
	tp, err = newClipPattern(es)
	if err != nil {
		t.Fatal(err)
	}
	clear(es)
	if len(tp.frames) != len(want) || tp.pass < time.Second-time.Millisecond || tp.pass > time.Second+time.Millisecond {
		t.Fatalf("%d frames in a pass of %s from 30 pictures at 30 fps", len(tp.frames), tp.pass)
	}
	for i, fr := range tp.frames {
		// The first picture also carries the parameter sets.
		if !bytes.HasSuffix(fr.Data, want[i]) || tp.wake[i] != fr.DTS {
			t.Fatalf("frame %d: %d bytes due at %s, want the picture's %d bytes at %s", i, len(fr.Data), tp.wake[i], len(want[i]), fr.DTS)
		}
	}
}

// One timer paces both tracks: a video frame is due at its DTS, an audio
// frame with the first video frame due at or after it (so never early and
// less than a video frame interval late), and across the loop with the next
// pass's first video frame.
func TestTestPatternWakesOncePerVideoFrame(t *testing.T) {
	tp := unpaced(t)
	wakes := map[time.Duration]bool{}
	var prev time.Duration
	for i, fr := range tp.frames {
		w := tp.wake[i]
		if fr.Track == 1 && w != fr.DTS {
			t.Fatalf("video frame %d at %s is due at %s", i, fr.DTS, w)
		}
		if w < fr.DTS || w-fr.DTS >= 34*time.Millisecond || w < prev {
			t.Fatalf("frame %d (track %d at %s) due at %s, after a frame due at %s", i, fr.Track, fr.DTS, w, prev)
		}
		wakes[w], prev = true, w
	}
	// Every wake-up is a video frame's time, this pass's or the next one's.
	videoAt := map[time.Duration]bool{}
	firstVideo := time.Duration(-1)
	for _, fr := range tp.frames {
		if fr.Track == 1 {
			videoAt[fr.DTS] = true
			if firstVideo < 0 {
				firstVideo = fr.DTS
			}
		}
	}
	for w := range wakes {
		if !videoAt[w] && w != tp.pass+firstVideo {
			t.Fatalf("a wake-up at %s, not a video frame's time", w)
		}
	}
	if len(tp.frames) < 2*len(videoAt) {
		t.Fatalf("%d frames for %d video frames: the clip should have more audio frames than video", len(tp.frames), len(videoAt))
	}
}

func TestTestPatternIsPacedAndCloses(t *testing.T) {
	src, err := OpenURI(context.Background(), "test://")
	if err != nil {
		t.Fatal(err)
	}
	if tr := src.Tracks(); len(tr) != 2 || tr[0].Width != 640 {
		t.Fatalf("tracks %+v", tr)
	}
	start := time.Now()
	var last time.Duration
	for i := 0; i < 40; i++ {
		fr, err := src.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		// A frame is never handed out before its time.
		if due := src.Origin().Add(fr.DTS); due.After(time.Now()) {
			t.Fatalf("frame %d (track %d at %s) handed out %s early", i, fr.Track, fr.DTS, time.Until(due))
		}
		last = fr.DTS
	}
	if elapsed := time.Since(start); elapsed < last-50*time.Millisecond {
		t.Fatalf("frame at %s handed out after %s", last, elapsed)
	}
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := src.ReadFrame(); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	src.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("after Close: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not stop a waiting ReadFrame")
	}
	if _, err := src.ReadFrame(); !errors.Is(err, ErrClosed) {
		t.Fatalf("ReadFrame after Close: %v", err)
	}
	if _, err := OpenURI(context.Background(), "ftp://x"); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("unknown scheme: %v", err)
	}
}

// Reading the looped sample clip unpaced: Loop demuxes the clip on every pass
// (recycling nothing here), the test pattern hands out frames demuxed once.
func BenchmarkLoopedClip(b *testing.B) {
	b.Run("Loop", func(b *testing.B) {
		l, err := Loop(sampleclip.MKV)
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		benchFrames(b, l.ReadFrame)
	})
	b.Run("TestPattern", func(b *testing.B) {
		tp, err := newClipPattern(sampleclip.MKV)
		if err != nil {
			b.Fatal(err)
		}
		tp.origin = time.Now().Add(-time.Hour)
		defer tp.Close()
		benchFrames(b, tp.ReadFrame)
	})
}

func benchFrames(b *testing.B, read func() (media.Frame, error)) {
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		fr, err := read()
		if err != nil {
			b.Fatal(err)
		}
		n += len(fr.Data)
	}
	b.SetBytes(int64(n / max(b.N, 1)))
}

// test:///path loops a file of one's own like the sample clip; a relative
// path, a missing file, a file that is no media and one too large to hold
// in memory are refused with clear errors.
func TestTestPatternFile(t *testing.T) {
	dir := t.TempDir()
	clip := filepath.Join(dir, "cam.mkv")
	if err := os.WriteFile(clip, sampleclip.MKV, 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := OpenURI(context.Background(), "test://"+clip)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	tp := src.(*testPattern)
	tp.origin = time.Now().Add(-time.Hour)
	got := checkLoopedClip(t, tp.ReadFrame, 2000)
	want := unpaced(t)
	for i, g := range got {
		w, err := want.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if g.Track != w.Track || g.DTS != w.DTS || !bytes.Equal(g.Data, w.Data) {
			t.Fatalf("frame %d differs from the built-in pattern's", i)
		}
	}

	junk := filepath.Join(dir, "junk.mkv")
	if err := os.WriteFile(junk, bytes.Repeat([]byte("not media "), 100), 0o644); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge.mkv")
	if err := os.WriteFile(huge, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(huge, maxPatternFile+1); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		uri  string
		want error
		says string
	}{
		{"test://cam.mkv", ErrInvalidOption, "absolute path"},
		{"test://" + filepath.Join(dir, "missing.mkv"), os.ErrNotExist, "missing.mkv"},
		{"test://" + junk, ErrUnknownFormat, "junk.mkv"},
		{"test://" + huge, ErrInvalidOption, "more than 64 MB"},
	} {
		_, err := OpenURI(context.Background(), c.uri)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want %v saying %q", c.uri, err, c.want, c.says)
		}
	}
}
