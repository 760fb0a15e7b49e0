package fragment

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"kvskit/internal/testenv"
	"kvskit/media"
	"kvskit/mkv"
)

// readMKV reads a Matroska file into tracks and frames in file order.
// PTS = (cluster timecode + block timecode) * TimecodeScale; DTS: see
// deriveDTS.
func readMKV(t *testing.T, r io.Reader) ([]media.Track, []media.Frame) {
	t.Helper()
	mr := mkv.NewReader(r)
	var (
		tracks  []media.Track
		frames  []media.Frame
		cluster int64
	)
	for {
		ev, err := mr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read mkv: %v", err)
		}
		switch ev.Type {
		case mkv.EventTracks:
			for _, te := range ev.Tracks {
				tracks = append(tracks, te.ToMedia())
			}
		case mkv.EventClusterStart:
			cluster = ev.Timecode
		case mkv.EventBlock:
			if len(ev.Block.Frames) != 1 {
				t.Fatalf("laced block (%d frames): not expected from ffmpeg", len(ev.Block.Frames))
			}
			pts := time.Duration((cluster + int64(ev.Block.Timecode)) * int64(mr.Info().TimecodeScale))
			frames = append(frames, media.Frame{Track: ev.Block.Track, PTS: pts, Key: ev.Block.Key,
				Data: bytes.Clone(ev.Block.Frames[0])})
		}
	}
	deriveDTS(frames)
	return tracks, frames
}

// deriveDTS fills in DTS, which Matroska does not store. A track whose PTS
// increase in file (decoding) order uses them as DTS. A track with B-frames
// (PTS reordered) gets, for its i-th frame in decoding order, the i-th
// smallest PTS minus the largest amount by which that would exceed a frame's
// PTS: the decoding times are then strictly increasing, spaced like the
// presentation times, and never after a frame's PTS.
func deriveDTS(frames []media.Frame) {
	byTrack := map[uint64][]int{}
	for i, fr := range frames {
		byTrack[fr.Track] = append(byTrack[fr.Track], i)
	}
	for _, idx := range byTrack {
		pts := make([]time.Duration, len(idx))
		for k, i := range idx {
			pts[k] = frames[i].PTS
		}
		sorted := slices.Clone(pts)
		slices.Sort(sorted)
		var delay time.Duration
		for k := range pts {
			delay = max(delay, sorted[k]-pts[k])
		}
		for k, i := range idx {
			frames[i].DTS = sorted[k] - delay
		}
	}
}

// writeKVS writes fragments as the KVS producer layout: one cluster each,
// block timecodes from RelTimecode.
func writeKVS(t *testing.T, path string, tracks []media.Track, frags []*Fragment) {
	t.Helper()
	var buf bytes.Buffer
	w := mkv.NewWriter(&buf)
	if err := w.WriteHeader(mkv.SegmentInfo{Title: "fragment test"}, tracks); err != nil {
		t.Fatal(err)
	}
	for _, f := range frags {
		if err := w.StartCluster(int64(f.Start / time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		for _, fr := range f.Frames {
			if err := w.WriteBlock(fr.Track, f.RelTimecode(fr, time.Millisecond), fr.Key, fr.Data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func probeCount(t *testing.T, path, stream string) int {
	out := strings.TrimSpace(string(testenv.Run(t, "ffprobe", "-v", "error", "-count_packets", "-select_streams", stream,
		"-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", path)))
	n, err := strconv.Atoi(out)
	if err != nil {
		t.Fatalf("ffprobe packet count %q: %v", out, err)
	}
	return n
}

// TestFFmpegFile fragments files made by ffmpeg (H.264 with and without
// B-frames, AAC), checks the invariants and the cut points, writes the
// fragments as KVS clusters and checks the result with the mkv Reader,
// ffprobe and a full ffmpeg decode.
func TestFFmpegFile(t *testing.T) {
	for _, bf := range []string{"0", "2"} {
		t.Run("bf"+bf, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "src.mkv")
			testenv.Run(t, "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
				"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-f", "lavfi", "-i", "sine",
				"-t", "7", "-c:v", "libx264", "-bf", bf, "-g", "30", "-c:a", "aac", src)
			fh, err := os.Open(src)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			tracks, frames := readMKV(t, fh)
			if len(tracks) != 2 || tracks[0].Kind != media.KindVideo || tracks[1].Kind != media.KindAudio {
				t.Fatalf("tracks %+v, want video and audio", tracks)
			}
			vNum := tracks[0].Number
			reordered := false
			var keys []time.Duration
			var last time.Duration = -1
			for _, fr := range frames {
				if fr.Track != vNum {
					continue
				}
				if fr.PTS < last {
					reordered = true
				}
				last = fr.PTS
				if fr.Key {
					keys = append(keys, fr.PTS)
				}
			}
			if reordered != (bf != "0") || len(keys) != 7 {
				t.Fatalf("source: B-frames %v and %d key frames; want B-frames %v and 7 key frames", reordered, len(keys), bf != "0")
			}

			sc := scenario{params: defaultParams(tracks...), frames: frames}
			res := drive(t, sc)
			check(t, sc, res)
			st := res.stats
			if st.Repaired != 0 || st.ForcedCuts != 0 {
				t.Errorf("Stats %+v: clean ffmpeg timestamps needed repairs or forced cuts", st)
			}
			// Cut points: the first fragment opens at the earliest frame
			// (audio ahead of the first key frame leads it in), then each first
			// key frame at least 2 s after the previous cut (keys every second:
			// 2, 4, 6 s from the first key frame when audio leads by less than
			// a frame).
			keyAt := slices.IndexFunc(frames, func(fr media.Frame) bool { return fr.Track == vNum && fr.Key })
			first := keys[0]
			for _, fr := range frames[:keyAt] {
				first = min(first, fr.PTS)
			}
			first = max(first, 0).Truncate(time.Millisecond)
			want := []time.Duration{first}
			for _, k := range keys {
				if k >= want[len(want)-1]+2*time.Second {
					want = append(want, k)
				}
			}
			if got := starts(res.frags); !slices.Equal(got, want) {
				t.Fatalf("fragment starts %v, want %v", got, want)
			}
			perTrack := map[uint64]int{}
			for _, f := range res.frags {
				v := slices.IndexFunc(f.Frames, func(fr media.Frame) bool { return fr.Track == vNum })
				if v < 0 || !f.Frames[v].Key || (f.Seq > 0 && v != 0) {
					t.Errorf("fragment %d: first video frame at %d (key %v)", f.Seq, v, v >= 0 && f.Frames[v].Key)
				}
				for _, fr := range f.Frames {
					perTrack[fr.Track]++
				}
			}
			// Every frame once (check proved it per track): all but the video
			// frames ahead of the first video key frame in the file.
			ahead := 0
			for _, fr := range frames[:keyAt] {
				if fr.Track == vNum {
					ahead++
				}
			}
			if perTrack[vNum]+perTrack[tracks[1].Number]+ahead != len(frames) || int(st.DroppedBeforeKey) != ahead {
				t.Errorf("%v frames emitted per track, %d dropped; the file has %d, %d video frames before the first key frame",
					perTrack, st.DroppedBeforeKey, len(frames), ahead)
			}
			t.Logf("%d frames (%d ahead of the first key frame) -> fragments at %v", len(frames), ahead, starts(res.frags))

			// The fragments as a KVS stream.
			out := filepath.Join(dir, "kvs.mkv")
			writeKVS(t, out, tracks, res.frags)
			oh, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer oh.Close()
			_, back := readMKV(t, oh)
			var got []media.Frame
			for _, f := range res.frags {
				got = append(got, f.Frames...)
			}
			if len(back) != len(got) {
				t.Fatalf("KVS file has %d frames, fragments %d", len(back), len(got))
			}
			for i := range back {
				if back[i].PTS != got[i].PTS || back[i].Key != got[i].Key || !bytes.Equal(back[i].Data, got[i].Data) {
					t.Fatalf("KVS frame %d: PTS %v key %v, want %v %v", i, back[i].PTS, back[i].Key, got[i].PTS, got[i].Key)
				}
			}
			for i, s := range []string{"v:0", "a:0"} {
				if n := probeCount(t, out, s); n != perTrack[tracks[i].Number] {
					t.Errorf("stream %s: ffprobe counts %d packets in the KVS file, the fragments hold %d", s, n, perTrack[tracks[i].Number])
				}
			}
			var stderr bytes.Buffer
			dec := exec.Command(testenv.Tool(t, "ffmpeg"), "-hide_banner", "-v", "error", "-i", out, "-f", "null", "-")
			dec.Stderr = &stderr
			if err := dec.Run(); err != nil || stderr.Len() > 0 {
				t.Errorf("ffmpeg decoding the KVS file: %v %s", err, stderr.String())
			}
		})
	}
}
