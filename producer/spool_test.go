package producer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"kvskit/media"
	"kvskit/mkv"
	"kvskit/producer"
	"kvskit/producer/spool"
	"kvskit/server"
)

// writeAll writes frames, failing the test on an error.
func writeAll(t *testing.T, p *producer.Producer, frames []media.Frame) {
	t.Helper()
	for _, f := range frames {
		if err := p.WriteFrame(context.Background(), f); err != nil {
			t.Fatal(err)
		}
	}
}

// waitStats waits until cond holds for the producer's counters.
func waitStats(t *testing.T, p *producer.Producer, what string, timeout time.Duration, cond func(producer.Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond(p.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %+v", what, p.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// An outage far longer than the memory bounds loses nothing with a spool:
// memory stays within its bounds, the rest waits on disk, and everything is
// uploaded in order once the endpoint is back.
func TestSpoolOutageLosesNothing(t *testing.T) {
	t.Parallel()
	ep := startEndpoint(t, server.Limits{})
	cfg := ep.producerConfig(t, "spool-outage")
	cfg.SpoolDir = filepath.Join(t.TempDir(), "spool")
	cfg.SpoolNoSync = true
	cfg.FragmentDuration = time.Second
	const frameSize = 4000
	cfg.BufferBytes = 3 * 30 * (frameSize + 200) // three fragments in memory
	cfg.MaxBytesPerSecond, cfg.MaxFragmentsPerSecond = -1, -1
	tracks := synthTracks()
	frames := synthFrames(30*40, 30, 30, frameSize)
	start := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	cfg.StartTime = start
	p, err := producer.New(context.Background(), cfg, tracks)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, p, frames[:2*60])
	waitStats(t, p, "the first fragment persisted", 10*time.Second, func(s producer.Stats) bool { return s.Persisted >= 1 })
	ep.stop()
	writeAll(t, p, frames[2*60:2*900]) // the outage: 29 s of media
	waitStats(t, p, "the outage's fragments spooled", 10*time.Second, func(s producer.Stats) bool { return s.Spooled+1 >= s.Fragments })
	st := p.Stats()
	if st.Dropped != 0 || st.BufferBytes > cfg.BufferBytes || st.SpoolFragments < 20 {
		t.Fatalf("during the outage: %+v; want nothing dropped, at most %d bytes in memory, the rest spooled", st, cfg.BufferBytes)
	}
	ep.start(ep.addr)
	writeAll(t, p, frames[2*900:])
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	st = p.Stats()
	if st.SpoolFragments != 0 || st.SpoolBytes != 0 || st.Dropped != 0 {
		t.Fatalf("after close: %+v; want an empty spool", st)
	}
	got, ts := ep.readBack(t, "spool-outage")
	wantFrames(t, start, keptFrames(frames), got)
	if !slices.IsSortedFunc(ts, func(a, b time.Time) int { return a.Compare(b) }) {
		t.Errorf("fragments archived out of order: %v", ts)
	}
	if des, _ := os.ReadDir(cfg.SpoolDir); len(des) != 1 {
		t.Errorf("spool files left: %v", des)
	}
}

// A power cut leaves spool files truncated or zeroed at random points: the
// next producer on the spool skips and reports them, and uploads every
// intact fragment, oldest first, with its own producer timestamp, before the
// new frames.
func TestSpoolPowerCut(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	ep := startEndpoint(t, server.Limits{})
	dir := filepath.Join(t.TempDir(), "spool")
	tracks := synthTracks()
	frames := synthFrames(30*24, 30, 30, 3000)

	// The first run: the endpoint goes away after the stream is ready, and
	// the run ends (as a crash would) with everything still spooled.
	cfg := ep.producerConfig(t, "spool-cut")
	cfg.SpoolDir, cfg.FragmentDuration = dir, time.Second
	cfg.StartTime = time.Now().Add(-2 * time.Hour).Truncate(time.Millisecond)
	p, err := producer.New(context.Background(), cfg, tracks)
	if err != nil {
		t.Fatal(err)
	}
	ep.stop()
	writeAll(t, p, frames)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var ce *producer.CloseError
	if err := p.Close(ctx); !errors.As(err, &ce) || len(ce.Fragments) != 24 || !ce.Fragments[0].Spooled {
		t.Fatalf("close of the first run: %v; want 24 fragments kept in the spool", err)
	}

	// The power cut: damage some files.
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		tc  int64
		rec *spool.Record
	}
	var intact []want
	damaged := 0
	for _, de := range des {
		if !strings.HasSuffix(de.Name(), ".frag") {
			continue
		}
		path := filepath.Join(dir, de.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := spool.Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		switch rng.IntN(5) {
		case 0: // truncated
			b = b[:rng.IntN(len(b))]
		case 1: // zeroed from a point on (blocks never written back)
			clear(b[rng.IntN(len(b)):])
		case 2: // a zeroed block inside
			at := rng.IntN(len(b))
			clear(b[at:min(len(b), at+1+rng.IntN(4096))])
		default:
			intact = append(intact, want{rec.Timecode, rec})
			continue
		}
		damaged++
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d fragment files damaged, %d intact", damaged, len(intact))

	// The second run: new frames start later.
	ep.start(ep.addr)
	cfg2 := ep.producerConfig(t, "spool-cut")
	cfg2.SpoolDir, cfg2.FragmentDuration = dir, time.Second
	start2 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	cfg2.StartTime = start2
	p2, err := producer.New(context.Background(), cfg2, tracks)
	if err != nil {
		t.Fatal(err)
	}
	more := synthFrames(30*5, 30, 30, 3000)
	writeAll(t, p2, more)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel2()
	err = p2.Close(ctx2)
	st := p2.Stats()
	if int(st.SpoolCorrupt) != damaged || st.Recovered+st.SpoolCorrupt < 24 || st.SpoolFragments != 0 {
		t.Fatalf("stats %+v: want %d corrupt files reported and an empty spool", st, damaged)
	}
	if st.SpoolLost > 0 && !errors.Is(err, producer.ErrSpoolCorrupt) {
		t.Fatalf("close: %v; want the fragments lost to damaged files reported", err)
	}
	if st.SpoolLost == 0 && err != nil {
		t.Fatalf("close: %v", err)
	}

	// Every intact fragment is archived with its frames and its own
	// timestamp, before the new frames.
	got, ts := ep.readBack(t, "spool-cut")
	var written []media.Frame
	for _, w := range intact {
		for _, f := range w.rec.Frames {
			f.PTS += time.Duration(w.tc)*time.Millisecond - start2.Sub(time.UnixMilli(0))
			written = append(written, f)
		}
	}
	written = append(written, keptFrames(more)...)
	wantFrames(t, start2, written, got)
	if !slices.IsSortedFunc(ts, func(a, b time.Time) int { return a.Compare(b) }) {
		t.Errorf("fragments archived out of order: %v", ts)
	}
}

// A full spool drops its oldest fragments, reported, and keeps the newest.
func TestSpoolFullDropsOldest(t *testing.T) {
	t.Parallel()
	ep := startEndpoint(t, server.Limits{})
	cfg := ep.producerConfig(t, "spool-full")
	cfg.SpoolDir, cfg.SpoolNoSync, cfg.FragmentDuration = t.TempDir(), true, time.Second
	cfg.BufferBytes = 30 * 3200
	cfg.SpoolMaxBytes = 5 * 30 * 3400 // about five fragments
	cfg.StartTime = time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	frames := synthFrames(30*12, 30, 30, 3000)
	p, err := producer.New(context.Background(), cfg, synthTracks())
	if err != nil {
		t.Fatal(err)
	}
	ep.stop()
	writeAll(t, p, frames)
	waitStats(t, p, "spooled", 10*time.Second, func(s producer.Stats) bool { return s.Spooled+s.SpoolErrors+1 >= s.Fragments })
	st := p.Stats()
	if st.SpoolDropped == 0 || st.Dropped != st.SpoolDropped || st.SpoolBytes > cfg.SpoolMaxBytes {
		t.Fatalf("stats %+v; want drops from the full spool, counted", st)
	}
	ep.start(ep.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err = p.Close(ctx)
	st = p.Stats()
	var ce *producer.CloseError
	if !errors.As(err, &ce) || !errors.Is(err, producer.ErrFragmentDropped) || len(ce.Fragments) != int(st.SpoolDropped) {
		t.Fatalf("close: %v; want the %d dropped fragments reported", err, st.SpoolDropped)
	}
	// What is archived is the newest fragments, whole.
	got, _ := ep.readBack(t, "spool-full")
	if len(got) == 0 {
		t.Fatal("nothing archived")
	}
	first := got[0].MS - cfg.StartTime.UnixMilli()
	var kept []media.Frame
	for _, f := range frames {
		if f.PTS.Milliseconds() >= first {
			kept = append(kept, f)
		}
	}
	wantFrames(t, cfg.StartTime, kept, got)
}

// One spool directory serves one producer at a time, of one stream.
func TestSpoolLockedAndOwned(t *testing.T) {
	t.Parallel()
	ep := startEndpoint(t, server.Limits{})
	dir := t.TempDir()
	cfg := ep.producerConfig(t, "spool-a")
	cfg.SpoolDir = dir
	p, err := producer.New(context.Background(), cfg, synthTracks())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := producer.New(context.Background(), cfg, synthTracks()); !errors.Is(err, spool.ErrLocked) || !errors.Is(err, producer.ErrInvalidConfig) {
		t.Fatalf("second producer on the spool: %v; want ErrLocked", err)
	}
	ep.stop()
	writeAll(t, p, synthFrames(90, 30, 30, 100))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = p.Close(ctx)
	ep.start(ep.addr)
	cfg.StreamName = "spool-b"
	if _, err := producer.New(context.Background(), cfg, synthTracks()); !errors.Is(err, producer.ErrInvalidConfig) ||
		!strings.Contains(err.Error(), "spool-a") {
		t.Fatalf("producer of another stream on the spool: %v", err)
	}
}

// Fragments an earlier run spooled with other tracks (the camera's settings
// changed) are sent in a session whose header carries their own tracks.
func TestSpoolRecoveredWithOtherTracks(t *testing.T) {
	t.Parallel()
	ep := startEndpoint(t, server.Limits{})
	dir := t.TempDir()
	old := synthTracks()
	old[0].Width, old[0].Height = 640, 360
	cfg := ep.producerConfig(t, "spool-tracks")
	cfg.SpoolDir, cfg.SpoolNoSync, cfg.FragmentDuration = dir, true, time.Second
	cfg.StartTime = time.Now().Add(-2 * time.Hour).Truncate(time.Millisecond)
	p, err := producer.New(context.Background(), cfg, old)
	if err != nil {
		t.Fatal(err)
	}
	ep.stop()
	first := synthFrames(30*3, 30, 30, 500)
	writeAll(t, p, first)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = p.Close(ctx)

	ep.start(ep.addr)
	cfg.StartTime = time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	p2, err := producer.New(context.Background(), cfg, synthTracks())
	if err != nil {
		t.Fatal(err)
	}
	second := synthFrames(30*3, 30, 30, 500)
	writeAll(t, p2, second)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	if err := p2.Close(ctx2); err != nil {
		t.Fatal(err)
	}
	if st := p2.Stats(); st.Recovered != 3 || st.Sessions < 2 {
		t.Fatalf("stats %+v; want 3 fragments recovered and a session for each set of tracks", st)
	}
	b, err := ep.call("listFragments", map[string]any{"StreamName": "spool-tracks"})
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Fragments []struct{ FragmentNumber string }
	}
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatal(err)
	}
	var numbers []string
	for _, f := range list.Fragments {
		numbers = append(numbers, f.FragmentNumber)
	}
	sort.Strings(numbers)
	if len(numbers) != 6 {
		t.Fatalf("%d fragments archived, want 6", len(numbers))
	}
	b, err = ep.call("getMediaForFragmentList", map[string]any{"StreamName": "spool-tracks", "Fragments": numbers})
	if err != nil {
		t.Fatal(err)
	}
	r := mkv.NewReader(bytes.NewReader(b))
	var widths []int // the video width in force at each cluster
	width := 0
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch ev.Type {
		case mkv.EventTracks:
			for _, te := range ev.Tracks {
				if m := te.ToMedia(); m.Kind == media.KindVideo {
					width = m.Width
				}
			}
		case mkv.EventClusterStart:
			widths = append(widths, width)
		}
	}
	if want := []int{640, 640, 640, 1920, 1920, 1920}; !slices.Equal(widths, want) {
		t.Fatalf("video width per fragment %v, want %v", widths, want)
	}
}
