package rtsp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"kvskit/internal/testenv"
	"kvskit/media"
	"kvskit/mkv"
)

// systemPython is Debian's interpreter, the one with the GObject bindings
// (the python3 first on PATH may be another build).
const systemPython = "/usr/bin/python3"

// requireGStreamerRTSP returns the python that runs testdata/rtsp_server.py:
// it must import GstRtspServer, and GStreamer must have the elements of the
// test pipelines. Missing pieces skip the test, or fail it under CI=true.
func requireGStreamerRTSP(t *testing.T, elements ...string) string {
	t.Helper()
	if _, err := os.Stat(systemPython); err != nil {
		testenv.Missing(t, systemPython)
	}
	probe := "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
	if out, err := exec.Command(systemPython, "-c", probe).CombinedOutput(); err != nil {
		testenv.Missing(t, fmt.Sprintf("python module gi with GstRtspServer (python3-gi, gir1.2-gst-rtsp-server-1.0): %s", bytes.TrimSpace(out)))
	}
	inspect := testenv.Tool(t, "gst-inspect-1.0")
	for _, e := range elements {
		if err := exec.Command(inspect, "--exists", e).Run(); err != nil {
			testenv.Missing(t, "GStreamer element "+e)
		}
	}
	return systemPython
}

// gstServer is a running testdata/rtsp_server.py.
type gstServer struct {
	t    *testing.T
	py   string
	port int
	args []string
	cmd  *exec.Cmd
	done chan struct{}
}

// freePort returns a TCP port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func startGStreamer(t *testing.T, args ...string) *gstServer {
	t.Helper()
	py := requireGStreamerRTSP(t, "x264enc", "x265enc", "avenc_aac", "rtph264pay", "rtph265pay", "rtpmp4gpay", "videotestsrc", "audiotestsrc")
	g := &gstServer{t: t, py: py, port: freePort(t), args: args}
	g.start()
	t.Cleanup(g.stop)
	return g
}

func (g *gstServer) url(userinfo, path string) string {
	if userinfo != "" {
		userinfo += "@"
	}
	return fmt.Sprintf("rtsp://%s127.0.0.1:%d%s", userinfo, g.port, path)
}

// start runs the server and waits for its READY line.
func (g *gstServer) start() {
	g.t.Helper()
	args := append([]string{filepath.Join("testdata", "rtsp_server.py"), "--port", fmt.Sprint(g.port)}, g.args...)
	for attempt := 0; ; attempt++ {
		cmd := exec.Command(g.py, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			g.t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			g.t.Fatal(err)
		}
		ready := make(chan bool, 1)
		go func() {
			line, _ := bufio.NewReader(out).ReadString('\n')
			ready <- strings.HasPrefix(line, "READY")
		}()
		ok := false
		select {
		case ok = <-ready:
		case <-time.After(20 * time.Second):
		}
		if ok {
			g.cmd, g.done = cmd, make(chan struct{})
			go func() {
				_ = cmd.Wait()
				close(g.done)
			}()
			return
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		// The port may still be held by the previous instance's connections.
		if attempt >= 20 {
			g.t.Fatalf("rtsp_server.py did not start: %s", stderr.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// kill ends the server abruptly, as a camera losing power.
func (g *gstServer) kill() {
	if g.cmd == nil {
		return
	}
	_ = g.cmd.Process.Signal(syscall.SIGKILL)
	<-g.done
	g.cmd = nil
}

func (g *gstServer) stop() {
	if g.cmd == nil {
		return
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(5 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.done
	}
	g.cmd = nil
}

// TestGStreamer plays GStreamer's RTSP server over UDP and over TCP and
// checks tracks, frame counts, key frame spacing, timestamps and that the
// frames make a Matroska file ffprobe decodes.
func TestGStreamer(t *testing.T) {
	g := startGStreamer(t)
	for _, tr := range []Transport{UDP, TCP} {
		t.Run(tr.String(), func(t *testing.T) {
			start := time.Now()
			s := openCamera(t, g.url("", "/test"), WithTransport(tr))
			if d := time.Since(start); d >= defaultSyncWait {
				t.Errorf("Open took %v: the sender reports were not used", d)
			}
			tracks := s.Tracks()
			if len(tracks) != 2 || tracks[0].Number != 1 || tracks[0].Codec != media.CodecH264 || tracks[0].Width != 320 || tracks[0].Height != 240 ||
				tracks[1].Number != 2 || tracks[1].Codec != media.CodecAAC || tracks[1].SampleRate != 48000 || tracks[1].Channels != 2 {
				t.Fatalf("tracks %+v", tracks)
			}
			c := newCollector(t, s)
			const span = 4 * time.Second
			var first time.Duration = -1
			c.read(30*time.Second, func(f media.Frame) bool {
				if first < 0 {
					first = f.PTS
				}
				return f.PTS > first+span+200*time.Millisecond
			})
			checkGStreamerFrames(t, c, span)
			st := s.Stats()
			if st.Transport != tr || st.Reconnects != 0 || st.TimestampRepairs != 0 || st.PacketsLost != 0 || st.FramesDropped != 0 {
				t.Errorf("stats %+v", st)
			}
			if st.Packets < uint64(len(c.frames)) || st.Frames < uint64(len(c.frames)) {
				t.Errorf("stats %+v for %d frames", st, len(c.frames))
			}
			if tr == TCP {
				checkMatroska(t, tracks, c.frames, 320, 240)
			}
		})
	}
}

// checkGStreamerFrames checks the frames of the /test mount over a span of
// PTS from the first video frame.
func checkGStreamerFrames(t *testing.T, c *collector, span time.Duration) {
	t.Helper()
	var video, audio []media.Frame
	for _, f := range c.frames {
		if f.Track == 1 {
			video = append(video, f)
		} else {
			audio = append(audio, f)
		}
	}
	if len(video) == 0 || len(audio) == 0 {
		t.Fatalf("%d video, %d audio frames", len(video), len(audio))
	}
	if !video[0].Key {
		t.Error("first video frame is not a key frame")
	}
	start := video[0].PTS
	inSpan := func(fs []media.Frame) int {
		n := 0
		for _, f := range fs {
			if f.PTS >= start && f.PTS < start+span {
				n++
			}
		}
		return n
	}
	wantVideo := int(span.Seconds() * 30)
	wantAudio := int(span.Seconds() * 48000 / 1024)
	if n := inSpan(video); n < wantVideo-2 || n > wantVideo+2 {
		t.Errorf("%d video frames in %v, want %d", n, span, wantVideo)
	}
	if n := inSpan(audio); n < wantAudio-2 || n > wantAudio+2 {
		t.Errorf("%d audio frames in %v, want %d", n, span, wantAudio)
	}
	for i, f := range video {
		if f.Key != (i%30 == 0) {
			t.Errorf("video frame %d: key=%v", i, f.Key)
		}
		if i > 0 {
			if d := f.PTS - video[i-1].PTS; d < 30*time.Millisecond || d > 37*time.Millisecond {
				t.Errorf("video frame %d: PTS step %v", i, d)
			}
		}
	}
	for i := 1; i < len(audio); i++ {
		if d := audio[i].PTS - audio[i-1].PTS; d < 21*time.Millisecond || d > 22*time.Millisecond {
			t.Errorf("audio frame %d: PTS step %v", i, d)
		}
	}
	// Both live sources start with the pipeline, and the sender reports put
	// them on one clock: the two tracks must not be apart.
	if skew := absDiff(video[0].PTS, audio[0].PTS); skew > 200*time.Millisecond {
		t.Errorf("first video at %v, first audio at %v", video[0].PTS, audio[0].PTS)
	}
	lastV, lastA := video[len(video)-1].PTS, audio[len(audio)-1].PTS
	t.Logf("%d video and %d audio frames in %v; first video/audio PTS %v/%v, last %v/%v",
		inSpan(video), inSpan(audio), span, video[0].PTS, audio[0].PTS, lastV, lastA)
	if skew := absDiff(lastV, lastA); skew > 200*time.Millisecond {
		t.Errorf("last video at %v, last audio at %v", lastV, lastA)
	}
}

// checkMatroska writes the frames with kvskit/mkv and has ffprobe decode
// every frame of the file; it returns the file's path.
func checkMatroska(t *testing.T, tracks []media.Track, frames []media.Frame, width, height int) string {
	t.Helper()
	ffprobe := testenv.Tool(t, "ffprobe")
	path := filepath.Join(t.TempDir(), "rtsp.mkv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := mkv.NewWriter(f)
	if err := w.WriteHeader(mkv.SegmentInfo{MuxingApp: "kvskit", WritingApp: "rtsp test"}, tracks); err != nil {
		t.Fatal(err)
	}
	cluster := int64(-1)
	count := map[uint64]int{}
	for _, fr := range frames {
		tc := int64(fr.PTS / time.Millisecond)
		if cluster < 0 || fr.Track == 1 && fr.Key || tc-cluster > 30000 {
			cluster = tc
			if err := w.StartCluster(tc); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.WriteBlock(fr.Track, int16(tc-cluster), fr.Key, fr.Data); err != nil {
			t.Fatal(err)
		}
		count[fr.Track]++
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(ffprobe, "-v", "error", "-count_frames", "-show_entries",
		"stream=codec_name,width,height,nb_read_frames,sample_rate,channels", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	var probe struct {
		Streams []struct {
			CodecName    string `json:"codec_name"`
			Width        int    `json:"width"`
			Height       int    `json:"height"`
			NbReadFrames string `json:"nb_read_frames"`
			SampleRate   string `json:"sample_rate"`
			Channels     int    `json:"channels"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(out, &probe); err != nil {
		t.Fatalf("ffprobe output %s: %v", out, err)
	}
	if len(probe.Streams) != len(tracks) {
		t.Fatalf("ffprobe streams: %s", out)
	}
	v, a := probe.Streams[0], probe.Streams[1]
	t.Logf("ffprobe: %+v %+v", v, a)
	wantCodec := map[media.Codec]string{media.CodecH264: "h264", media.CodecH265: "hevc"}[tracks[0].Codec]
	if v.CodecName != wantCodec || v.Width != width || v.Height != height || v.NbReadFrames != fmt.Sprint(count[1]) {
		t.Errorf("video stream %+v, want %s %dx%d and %d frames", v, wantCodec, width, height, count[1])
	}
	if a.CodecName != "aac" || a.SampleRate != "48000" || a.Channels != 2 || a.NbReadFrames != fmt.Sprint(count[2]) {
		t.Errorf("audio stream %+v, want %d frames", a, count[2])
	}
	return path
}

// TestGStreamerH265 plays the H.265 mount.
func TestGStreamerH265(t *testing.T) {
	g := startGStreamer(t)
	s := openCamera(t, g.url("", "/h265"), WithTransport(TCP))
	tracks := s.Tracks()
	if tracks[0].Codec != media.CodecH265 || tracks[0].Width != 320 || tracks[0].Height != 240 {
		t.Fatalf("tracks %+v", tracks)
	}
	c := newCollector(t, s)
	c.read(30*time.Second, func(media.Frame) bool { return c.count(1) == 65 })
	keys := 0
	for _, f := range c.frames {
		if f.Track == 1 && f.Key {
			keys++
		}
	}
	if keys < 2 || !c.frames[0].Key && c.frames[0].Track == 1 {
		t.Errorf("%d key frames in 65", keys)
	}
	checkMatroska(t, tracks, c.frames, 320, 240)
}

// TestGStreamerDigest: a server requiring Digest authentication refuses a
// wrong password with a clear error and plays with the right one.
func TestGStreamerDigest(t *testing.T) {
	g := startGStreamer(t, "--digest", "admin:pa55word")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := Open(ctx, g.url("admin:wrong", "/test"))
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), `user "admin" refused`) {
		t.Errorf("wrong password: %v", err)
	}
	_, err = Open(ctx, g.url("", "/test"))
	if !errors.Is(err, ErrUnauthorized) {
		t.Errorf("no credentials: %v", err)
	}
	s := openCamera(t, g.url("admin:pa55word", "/test"), WithTransport(TCP))
	c := newCollector(t, s)
	c.read(20*time.Second, func(media.Frame) bool { return c.count(1) == 30 })
}

// TestGStreamerRestart kills the server mid-stream and starts it again on
// the same port: the source reconnects and the timestamps go on.
func TestGStreamerRestart(t *testing.T) {
	g := startGStreamer(t)
	s := openCamera(t, g.url("", "/test"), WithReconnectBackoff(200*time.Millisecond, time.Second))
	c := newCollector(t, s)
	c.read(30*time.Second, func(media.Frame) bool { return c.count(1) == 30 })
	killed := time.Now()
	g.kill()
	time.Sleep(2 * time.Second)
	g.start()
	restarted := time.Since(killed)
	c.read(40*time.Second, func(f media.Frame) bool {
		return s.Stats().Reconnects > 0 && c.count(1) > 120
	})
	if st := s.Stats(); st.Reconnects < 1 {
		t.Errorf("stats %+v", st)
	}
	// The frames after the restart sit on the same clock: the video PTS
	// jump once, by about the outage.
	var gap, prev time.Duration
	for _, f := range c.frames {
		if f.Track == 1 {
			if prev > 0 {
				gap = max(gap, f.PTS-prev)
			}
			prev = f.PTS
		}
	}
	t.Logf("server down for %v; largest video PTS gap %v", restarted, gap)
	if gap < restarted || gap > restarted+5*time.Second {
		t.Errorf("largest video PTS gap %v for an outage of %v", gap, restarted)
	}
}

// TestGStreamerBFrames plays mounts whose encoders emit B-frames: the frames
// come in decoding order with the camera's presentation times and derived
// DTS, nothing is repaired or dropped, and the Matroska file made of them
// decodes without an error, with as many frames as were read, in strictly
// increasing presentation times one frame apart.
func TestGStreamerBFrames(t *testing.T) {
	g := startGStreamer(t)
	for _, c := range []struct {
		path  string
		codec media.Codec
	}{
		{"/bframes", media.CodecH264},
		{"/bframes-pyramid", media.CodecH264},
		{"/h265-bframes", media.CodecH265},
	} {
		t.Run(strings.TrimPrefix(c.path, "/"), func(t *testing.T) {
			// The server's encoders fall seconds behind its audio on a
			// loaded machine; the window is wide enough that interleaving
			// never moves a frame (this test is about reordering).
			s := openCamera(t, g.url("", c.path), WithTransport(TCP), WithInterleaveWindow(15*time.Second))
			tracks := s.Tracks()
			if len(tracks) != 2 || tracks[0].Codec != c.codec || tracks[0].Width != 320 || tracks[0].Height != 240 {
				t.Fatalf("tracks %+v", tracks)
			}
			if ri := s.reorderInfo(0); !ri.known || ri.frames == 0 {
				t.Errorf("SPS reordering %+v: want a known depth", ri)
			}
			col := newCollector(t, s)
			col.reordered = true
			// At least n frames, up to one that completes the presentation
			// sequence (no B-frame still to come).
			const n = 95
			col.read(30*time.Second, func(f media.Frame) bool {
				if f.Track != 1 || col.count(1) < n {
					return false
				}
				var pts []time.Duration
				for _, f := range col.frames {
					if f.Track == 1 {
						pts = append(pts, f.PTS)
					}
				}
				slices.Sort(pts)
				for i := 1; i < len(pts); i++ {
					if pts[i]-pts[i-1] > 50*time.Millisecond {
						return false
					}
				}
				return true
			})
			var pts []time.Duration
			reordered := 0
			for _, f := range col.frames {
				if f.Track != 1 {
					continue
				}
				if len(pts) > 0 && f.PTS < slices.Max(pts) {
					reordered++
				}
				pts = append(pts, f.PTS)
			}
			if reordered < n/4 {
				t.Errorf("%d of %d frames reordered: the encoder made no B-frames", reordered, n)
			}
			// In presentation order the frames are 1/30 s apart.
			slices.Sort(pts)
			for i := 1; i < len(pts); i++ {
				if d := pts[i] - pts[i-1]; d < 30*time.Millisecond || d > 37*time.Millisecond {
					t.Errorf("presentation step %d: %v", i, d)
				}
			}
			if st := s.Stats(); st.TimestampRepairs != 0 || st.FramesDropped != 0 || st.PacketsLost != 0 {
				t.Errorf("stats %+v", st)
			}
			path := checkMatroska(t, tracks, col.frames, 320, 240)
			checkDecodes(t, path, col.count(1))
		})
	}
}

// checkDecodes has ffmpeg decode the video of a Matroska file without an
// error and ffprobe list its pictures: count of them, B-frames among them,
// and presentation times strictly increasing 33 or 34 ms apart (Matroska's
// millisecond timecodes).
func checkDecodes(t *testing.T, path string, count int) {
	t.Helper()
	ffmpeg, ffprobe := testenv.Tool(t, "ffmpeg"), testenv.Tool(t, "ffprobe")
	// The pictures keep their millisecond timestamps: in ffmpeg's default
	// 1/30 s output time base, 33 and 34 ms steps can put two pictures on
	// the same tick, depending on where the first one falls within its
	// millisecond, and the null muxer reports that as an error.
	cmd := exec.Command(ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-i", path, "-map", "0:v",
		"-fps_mode", "passthrough", "-enc_time_base", "-1", "-f", "null", "-")
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("ffmpeg decoding %s: %v\n%s", path, err, out)
	}
	out, err = exec.Command(ffprobe, "-v", "error", "-select_streams", "v", "-show_entries", "frame=pts,pict_type",
		"-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe frames: %v", err)
	}
	lines := strings.Fields(string(out))
	if len(lines) != count {
		t.Errorf("ffprobe decoded %d pictures of %d", len(lines), count)
	}
	bFrames, prev := 0, int64(-1)
	for i, l := range lines {
		var ms int64
		var typ string
		if _, err := fmt.Sscanf(strings.Replace(l, ",", " ", 1), "%d %s", &ms, &typ); err != nil {
			t.Fatalf("ffprobe frame %q: %v", l, err)
		}
		if typ == "B" {
			bFrames++
		}
		if i > 0 && (ms-prev < 33 || ms-prev > 34) {
			t.Errorf("picture %d at %d ms after %d ms", i, ms, prev)
		}
		prev = ms
	}
	if bFrames == 0 {
		t.Errorf("no B-frames among %d pictures", len(lines))
	}
	t.Logf("%d pictures decoded, %d B-frames", len(lines), bFrames)
}
