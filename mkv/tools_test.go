package mkv

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"kvskit/internal/testenv"
	"kvskit/media"
)

// run runs a tool and returns its standard output, failing the test on error.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	path := testenv.Tool(t, name)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

func hasEncoder(t *testing.T, enc string) bool {
	out := run(t, "ffmpeg", "-hide_banner", "-encoders")
	return strings.Contains(out, " "+enc+" ")
}

// trackStats is what a full read of a file reports per track.
type trackStats struct {
	packets, keys int
	md5s          []string
}

type fileStats struct {
	tracks   []TrackEntry
	perTrack map[uint64]*trackStats
	laced    int
	clusters int
}

func readFileStats(t *testing.T, path string) fileStats {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st := fileStats{perTrack: map[uint64]*trackStats{}}
	r := NewReader(f)
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(path), err)
		}
		switch ev.Type {
		case EventTracks:
			st.tracks = ev.Tracks
		case EventClusterStart:
			st.clusters++
		case EventBlock:
			ts := st.perTrack[ev.Block.Track]
			if ts == nil {
				ts = &trackStats{}
				st.perTrack[ev.Block.Track] = ts
			}
			if len(ev.Block.Frames) > 1 {
				st.laced++
			}
			for _, fr := range ev.Block.Frames {
				ts.packets++
				if ev.Block.Key {
					ts.keys++
				}
				sum := md5.Sum(fr)
				ts.md5s = append(ts.md5s, hex.EncodeToString(sum[:]))
			}
		}
	}
	if r.Offset() == 0 {
		t.Fatal("nothing read")
	}
	return st
}

// trackOf returns the number of the n-th track of the kind.
func (s fileStats) trackOf(t *testing.T, kind media.Kind) uint64 {
	for _, tr := range s.tracks {
		if tr.Kind == kind {
			return tr.Number
		}
	}
	t.Fatalf("no %v track in %+v", kind, s.tracks)
	return 0
}

func probePackets(t *testing.T, path, sel string) int {
	out := strings.TrimSpace(run(t, "ffprobe", "-v", "error", "-count_packets", "-select_streams", sel,
		"-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", path))
	n, err := strconv.Atoi(out)
	if err != nil {
		t.Fatalf("ffprobe packet count %q: %v", out, err)
	}
	return n
}

func probeKeys(t *testing.T, path, sel string) int {
	out := run(t, "ffprobe", "-v", "error", "-select_streams", sel, "-show_entries", "packet=flags", "-of", "csv=p=0", path)
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "K") {
			n++
		}
	}
	return n
}

// frameMD5s returns the per-packet MD5 sums ffmpeg reports for the stream.
func frameMD5s(t *testing.T, path, sel string) []string {
	out := run(t, "ffmpeg", "-v", "error", "-i", path, "-map", "0:"+sel, "-c", "copy", "-f", "framemd5", "-")
	var sums []string
	for _, l := range strings.Split(out, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		// stream, dts, pts, duration, size, hash[, side data...]
		fields := strings.Split(l, ",")
		if len(fields) < 6 {
			t.Fatalf("framemd5 line %q", l)
		}
		sums = append(sums, strings.TrimSpace(fields[5]))
	}
	return sums
}

func compareWithFFprobe(t *testing.T, path string, md5s bool) fileStats {
	t.Helper()
	st := readFileStats(t, path)
	for _, c := range []struct {
		sel  string
		kind media.Kind
	}{{"v:0", media.KindVideo}, {"a:0", media.KindAudio}} {
		ts := st.perTrack[st.trackOf(t, c.kind)]
		if ts == nil {
			t.Fatalf("%s: no blocks for %s", path, c.sel)
		}
		if want := probePackets(t, path, c.sel); ts.packets != want {
			t.Errorf("%s %s: %d frames, ffprobe counts %d packets", filepath.Base(path), c.sel, ts.packets, want)
		}
		if want := probeKeys(t, path, c.sel); ts.keys != want {
			t.Errorf("%s %s: %d key frames, ffprobe counts %d", filepath.Base(path), c.sel, ts.keys, want)
		}
		if md5s {
			if want := frameMD5s(t, path, c.sel); strings.Join(ts.md5s, " ") != strings.Join(want, " ") {
				t.Errorf("%s %s: frame MD5s differ from ffmpeg's framemd5 (%d vs %d frames)", filepath.Base(path), c.sel, len(ts.md5s), len(want))
			}
		}
	}
	return st
}

// makeSource encodes 4 s of H.264 + AAC test pattern into an MKV.
func makeSource(t *testing.T, dir string) string {
	t.Helper()
	src := filepath.Join(dir, "out.mkv")
	run(t, "ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-f", "lavfi", "-i", "sine",
		"-t", "4", "-c:v", "libx264", "-bf", "0", "-g", "30", "-c:a", "aac", src)
	return src
}

func TestRealFiles(t *testing.T) {
	testenv.Tool(t, "ffmpeg")
	testenv.Tool(t, "ffprobe")
	dir := t.TempDir()
	src := makeSource(t, dir)

	t.Run("ffmpeg", func(t *testing.T) {
		st := compareWithFFprobe(t, src, true)
		v := st.tracks[0]
		if v.Codec != media.CodecH264 || v.Width != 320 || v.Height != 240 || len(v.CodecPrivate) == 0 {
			t.Errorf("video track %+v", v)
		}
		a := st.tracks[1]
		if a.Codec != media.CodecAAC || a.SampleRate != 44100 || a.Channels != 1 {
			t.Errorf("audio track %+v", a)
		}
		if got := st.perTrack[v.Number]; got.packets != 120 || got.keys != 4 {
			t.Errorf("video: %d frames, %d key", got.packets, got.keys)
		}
	})
	t.Run("mkvmerge", func(t *testing.T) {
		out := filepath.Join(dir, "out2.mkv")
		run(t, "mkvmerge", "-q", "-o", out, src)
		st := compareWithFFprobe(t, out, true)
		t.Logf("mkvmerge output: %d clusters, %d laced blocks", st.clusters, st.laced)
	})
	t.Run("webm", func(t *testing.T) {
		if !hasEncoder(t, "libvpx") || !hasEncoder(t, "libopus") {
			t.Skip("libvpx or libopus encoder not available")
		}
		out := filepath.Join(dir, "out.webm")
		run(t, "ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-f", "lavfi", "-i", "sine",
			"-t", "2", "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-g", "30", "-c:a", "libopus", out)
		st := compareWithFFprobe(t, out, true)
		if st.tracks[0].CodecID != "V_VP8" || st.tracks[0].Codec != "" {
			t.Errorf("webm video track %+v", st.tracks[0])
		}
	})
	t.Run("ffmpeg live (unknown sizes)", func(t *testing.T) {
		// ffmpeg writing to a pipe leaves the Segment size unknown.
		cmd := exec.Command(testenv.Tool(t, "ffmpeg"), "-v", "error", "-i", src, "-c", "copy", "-f", "matroska", "-live", "1", "-")
		raw, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		unknownSegment := append(AppendID(nil, IDSegment), AppendVint(nil, UnknownSize)...)
		if !bytes.Contains(raw, unknownSegment) {
			t.Fatal("ffmpeg wrote a known-size Segment to a pipe")
		}
		out := filepath.Join(dir, "live.mkv")
		if err := os.WriteFile(out, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		compareWithFFprobe(t, out, false)
	})
}

// remux reads src with the Reader and writes it in the KVS layout with the
// Writer: a fragment (cluster) per video key frame, each preceded by tags.
func remux(t *testing.T, src, dst string) (videoFrames, clusters int) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var out bytes.Buffer
	w := NewWriter(&out)
	r := NewReader(in)
	var clusterTC, cur int64 = -1, 0
	var video uint64
	fragment := 0
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch ev.Type {
		case EventTracks:
			var tracks []media.Track
			for _, tr := range ev.Tracks {
				tracks = append(tracks, tr.ToMedia())
				if tr.Kind == media.KindVideo && video == 0 {
					video = tr.Number
				}
			}
			if err := w.WriteHeader(SegmentInfo{SegmentUID: uid1, Title: "remux", MuxingApp: "kvskit", WritingApp: "kvskit-test"}, tracks); err != nil {
				t.Fatal(err)
			}
		case EventClusterStart:
			cur = ev.Timecode
		case EventBlock:
			abs := cur + int64(ev.Block.Timecode)
			startNew := clusterTC < 0 || (ev.Block.Track == video && ev.Block.Key) || abs-clusterTC > 32767
			if startNew {
				fragment++
				if err := w.WriteTags([]Tag{{Name: "AWS_KINESISVIDEO_FRAGMENT_NUMBER", Value: strconv.Itoa(fragment)}, {Name: "source", Value: "test"}}); err != nil {
					t.Fatal(err)
				}
				clusters++
				clusterTC = max(abs, 0)
				if err := w.StartCluster(clusterTC); err != nil {
					t.Fatal(err)
				}
			}
			for _, fr := range ev.Block.Frames {
				if err := w.WriteBlock(ev.Block.Track, int16(abs-clusterTC), ev.Block.Key, fr); err != nil {
					t.Fatal(err)
				}
				if ev.Block.Track == video {
					videoFrames++
				}
			}
		}
	}
	if err := w.WriteTags([]Tag{{Name: "AWS_KINESISVIDEO_END_OF_FRAGMENT"}}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return videoFrames, clusters
}

func TestWriterWithRealTools(t *testing.T) {
	testenv.Tool(t, "ffmpeg")
	dir := t.TempDir()
	src := makeSource(t, dir)
	dst := filepath.Join(dir, "kvs.mkv")
	frames, clusters := remux(t, src, dst)
	if frames != 120 || clusters < 4 {
		t.Fatalf("remuxed %d video frames in %d clusters", frames, clusters)
	}

	t.Run("mkvinfo", func(t *testing.T) {
		out := run(t, "mkvinfo", "-v", dst)
		for _, bad := range []string{"Error", "error", "invalid", "Invalid"} {
			if strings.Contains(out, bad) {
				t.Fatalf("mkvinfo reports %q:\n%s", bad, out)
			}
		}
		if !strings.Contains(out, "AWS_KINESISVIDEO_FRAGMENT_NUMBER") || !strings.Contains(out, "Segment: size unknown") {
			t.Errorf("mkvinfo output lacks tags or the unknown-size segment")
		}
		if n := len(regexp.MustCompile(`(?m)^\|\+ Cluster\b`).FindAllString(out, -1)); n != clusters {
			t.Errorf("mkvinfo sees %d clusters, want %d", n, clusters)
		}
	})
	t.Run("ffprobe", func(t *testing.T) {
		if got := probePackets(t, dst, "v:0"); got != 120 {
			t.Errorf("ffprobe counts %d video packets", got)
		}
		if got, want := probePackets(t, dst, "a:0"), probePackets(t, src, "a:0"); got != want {
			t.Errorf("ffprobe counts %d audio packets, source has %d", got, want)
		}
		if got := probeKeys(t, dst, "v:0"); got != 4 {
			t.Errorf("ffprobe counts %d video key frames", got)
		}
		// Frame data survives unchanged, and the stream decodes cleanly.
		if a, b := frameMD5s(t, dst, "v:0"), frameMD5s(t, src, "v:0"); strings.Join(a, ",") != strings.Join(b, ",") {
			t.Errorf("video frame MD5s differ after remux")
		}
		cmd := exec.Command(testenv.Tool(t, "ffmpeg"), "-v", "error", "-xerror", "-i", dst, "-f", "null", "-")
		if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
			t.Errorf("ffmpeg decode: %v\n%s", err, out)
		}
	})
	t.Run("gstreamer", func(t *testing.T) {
		gst := testenv.Tool(t, "gst-launch-1.0")
		cmd := exec.Command(gst, "-q", "filesrc", "location="+dst, "!", "matroskademux", "!", "fakesink")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gst-launch: %v\n%s", err, out)
		}
		// Both streams through the demuxer, video parsed and decoded if
		// the plugins are there.
		cmd = exec.Command(gst, "-q", "filesrc", "location="+dst, "!", "matroskademux", "name=d",
			"d.video_0", "!", "queue", "!", "h264parse", "!", "fakesink",
			"d.audio_0", "!", "queue", "!", "fakesink")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("gst-launch with both pads: %v\n%s", err, out)
		}
	})
	t.Run("reader", func(t *testing.T) {
		st := readFileStats(t, dst)
		if got := st.perTrack[1]; got.packets != 120 || got.keys != 4 || st.clusters != clusters {
			t.Errorf("reader: %d frames, %d key frames, %d clusters", got.packets, got.keys, st.clusters)
		}
	})
}
