package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"kvskit/device"
	"kvskit/internal/testenv"
	"kvskit/mkv"
)

// probePacket is one packet as ffprobe lists it.
type probePacket struct {
	Stream int
	PTS    float64 // seconds
	Size   int
	Hash   string
	Key    bool
}

// probePackets lists the packets of a file, in file order, with their data
// hashes.
func probePackets(t *testing.T, file string) []probePacket {
	t.Helper()
	out := run(t, testenv.Tool(t, "ffprobe"), "-v", "error", "-show_data_hash", "MD5",
		"-show_entries", "packet=stream_index,pts_time,size,flags,data_hash", "-of", "json", file)
	var doc struct {
		Packets []struct {
			StreamIndex int    `json:"stream_index"`
			PTSTime     string `json:"pts_time"`
			Size        string `json:"size"`
			Flags       string `json:"flags"`
			DataHash    string `json:"data_hash"`
		} `json:"packets"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("ffprobe %s: %v", file, err)
	}
	var list []probePacket
	for _, p := range doc.Packets {
		pts, err := strconv.ParseFloat(p.PTSTime, 64)
		if err != nil {
			t.Fatalf("ffprobe %s: pts_time %q", file, p.PTSTime)
		}
		size, _ := strconv.Atoi(p.Size)
		list = append(list, probePacket{Stream: p.StreamIndex, PTS: pts, Size: size, Hash: p.DataHash,
			Key: strings.HasPrefix(p.Flags, "K")})
	}
	return list
}

// packetsOf returns the packets of one kind ("video" or "audio"): ffmpeg's
// MP4 and MKV files made here put video first.
func packetsOf(list []probePacket, stream int) []probePacket {
	var out []probePacket
	for _, p := range list {
		if p.Stream == stream {
			out = append(out, p)
		}
	}
	return out
}

// putDone is the final JSON event of kvs put --output json.
type putDone struct {
	Event           string `json:"event"`
	Frames          uint64 `json:"frames"`
	Dropped         uint64 `json:"frames_dropped_before_key_frame"`
	DroppedVideo    uint64 `json:"video_frames_dropped_before_key_frame"`
	Persisted       int    `json:"persisted"`
	Fragments       int    `json:"fragments"`
	FailedFragments int    `json:"failed"`
}

func lastDone(t *testing.T, out string) putDone {
	t.Helper()
	var d putDone
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, `"event":"done"`) {
			if err := json.Unmarshal([]byte(line), &d); err != nil {
				t.Fatalf("done event %q: %v", line, err)
			}
		}
	}
	if d.Event != "done" {
		t.Fatalf("no final JSON event in:\n%s", out)
	}
	return d
}

// TestPutKeepsAudioBeforeKeyFrame uploads an ffmpeg MP4 with AAC, whose
// first audio packet (the encoder's priming frame) precedes the first
// picture, and the same file cut to start between key frames: every audio
// packet comes back with its data and its time relative to the pictures,
// and only the video frames before the first key frame are left out, counted
// and named.
func TestPutKeepsAudioBeforeKeyFrame(t *testing.T) {
	dir := t.TempDir()
	mp4 := ffmpegMake(t, filepath.Join(dir, "in.mp4"), "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "5",
		"-c:v", "libx264", "-bf", "0", "-g", "30", "-c:a", "aac")
	// The same media without its first 10 pictures: the video starts 20
	// frames before a key frame, the audio a second before it.
	mid := ffmpegMake(t, filepath.Join(dir, "mid.mkv"), "-i", mp4, "-c", "copy", "-bsf:v", `noise=drop=lt(n\,10)`)

	p := startServe(t, filepath.Join(dir, "data"))
	for _, tc := range []struct {
		name, file   string
		droppedVideo int
	}{
		{"mp4-priming", mp4, 0},
		{"mid-gop", mid, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := probePackets(t, tc.file)
			srcV, srcA := packetsOf(src, 0), packetsOf(src, 1)
			if len(srcA) == 0 || !srcV[tc.droppedVideo].Key || srcA[0].PTS >= srcV[tc.droppedVideo].PTS {
				t.Fatalf("source %s: want audio ahead of the first key frame (packet %d)", tc.file, tc.droppedVideo)
			}
			_, errOut, err := p.put(t, nil, tc.file, "--stream", tc.name, "--create-stream", "--output", "json")
			if err != nil {
				t.Fatalf("kvs put: %v\n%s", err, errOut)
			}
			done := lastDone(t, errOut)
			if want := uint64(len(src) - tc.droppedVideo); done.Frames != want || done.Dropped != uint64(tc.droppedVideo) ||
				done.DroppedVideo != uint64(tc.droppedVideo) {
				t.Errorf("done event %+v: want %d frames sent, %d video frames dropped", done, want, tc.droppedVideo)
			}
			_, text, err := p.put(t, nil, tc.file, "--stream", tc.name+"-text", "--create-stream")
			if err != nil {
				t.Fatalf("kvs put: %v\n%s", err, text)
			}
			if tc.droppedVideo > 0 && !strings.Contains(text, "dropped 20 video frames before the first video key frame") {
				t.Errorf("summary does not name the dropped frames:\n%s", text)
			}
			if !strings.Contains(text, strconv.Itoa(len(src)-tc.droppedVideo)+" frames") {
				t.Errorf("summary does not count %d frames sent:\n%s", len(src)-tc.droppedVideo, text)
			}

			var numbers []string
			for _, f := range p.fragmentsOf(t, tc.name) {
				numbers = append(numbers, f.FragmentNumber)
			}
			got := filepath.Join(dir, tc.name+"-out.mkv")
			if _, errOut, err := p.kvs(t, "get", "media", "--stream", tc.name, "--fragments", strings.Join(numbers, ","), "-o", got); err != nil {
				t.Fatalf("get media: %v %s", err, errOut)
			}
			back := probePackets(t, got)
			backV, backA := packetsOf(back, 0), packetsOf(back, 1)
			if len(backA) != len(srcA) {
				t.Fatalf("%d audio packets sent, %d came back", len(srcA), len(backA))
			}
			srcV = srcV[tc.droppedVideo:]
			if len(backV) != len(srcV) {
				t.Fatalf("%d video packets from the first key frame on, %d came back", len(srcV), len(backV))
			}
			// Times relative to the first picture that came back.
			for i := range srcA {
				s, b := srcA[i], backA[i]
				sRel, bRel := s.PTS-srcV[0].PTS, b.PTS-backV[0].PTS
				if s.Hash != b.Hash || s.Size != b.Size || math.Abs(sRel-bRel) > 0.0015 {
					t.Fatalf("audio packet %d: %d bytes %s at %+.4f s from the first picture; came back %d bytes %s at %+.4f s",
						i, s.Size, s.Hash, sRel, b.Size, b.Hash, bRel)
				}
			}
			for i := range srcV {
				if srcV[i].Hash != backV[i].Hash {
					t.Fatalf("video packet %d differs", i)
				}
			}
			if out, err := runErr(testenv.Tool(t, "ffmpeg"), "-v", "error", "-xerror", "-i", got, "-f", "null", "-"); err != nil {
				t.Fatalf("the archive does not decode cleanly: %v\n%s", err, out)
			}
		})
	}
}

// runErr runs a command and returns its combined output and error.
func runErr(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// TestCaptureConfigStoresFragments runs kvs capture --config with a camera
// whose stream is created without retention_hours: the stream keeps 24 hours
// (as --retention does) and stores its fragments. A camera with
// retention_hours: 0 is warned about once; a camera whose source cannot be
// opened makes /healthz answer 503 with a body that names its problem.
func TestCaptureConfigStoresFragments(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for about 40 s")
	}
	dir := t.TempDir()
	p := startServe(t, filepath.Join(dir, "data"))
	missing := filepath.Join(dir, "no-such-clip.mkv")
	cfg := filepath.Join(dir, "cameras.yaml")
	yaml := "cameras:\n" +
		"  - {source: \"test://\", stream: yaml-stored, create_stream: true}\n" +
		"  - {source: \"test://\", stream: yaml-zero, create_stream: true, retention_hours: 0}\n" +
		"  - {source: \"test://" + missing + "\", stream: yaml-broken, create_stream: true}\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	metrics := freePort(t)
	cmd := exec.Command(kvsBin, "capture", "--config", cfg, "--metrics-listen", metrics, "--log-level", "info")
	cmd.Env = append(p.Env(), "AWS_ENDPOINT_URL_KINESIS_VIDEO="+p.URL)
	var logs lockedBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		// The stream appears once the camera has started.
		if _, _, err := p.aws(t, "kinesisvideo", "describe-stream", "--stream-name", "yaml-stored"); err == nil &&
			len(p.fragmentsOf(t, "yaml-stored")) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			out, _, _ := p.aws(t, "kinesisvideo", "describe-stream", "--stream-name", "yaml-stored")
			t.Fatalf("the stream stores no fragments after 30 s:\n%s\n%s", out, logs.String())
		}
		time.Sleep(time.Second)
	}
	out, _, err := p.aws(t, "kinesisvideo", "describe-stream", "--stream-name", "yaml-stored")
	if err != nil || !strings.Contains(out, `"DataRetentionInHours": 24`) {
		t.Errorf("describe-stream: %v\n%s", err, out)
	}

	// The broken camera turns /healthz to 503 once the start-up grace ends.
	var body struct {
		Healthy bool
		Cameras []struct {
			Stream, Problem, Warning string
			Healthy                  bool
		}
	}
	status := 0
	deadline = time.Now().Add(60 * time.Second)
	for status != http.StatusServiceUnavailable && time.Now().Before(deadline) {
		time.Sleep(2 * time.Second)
		resp, err := http.Get("http://" + metrics + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		status = resp.StatusCode
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("/healthz body: %v", err)
		}
	}
	if status != http.StatusServiceUnavailable || body.Healthy {
		t.Fatalf("/healthz %d %+v, want 503 for the broken camera", status, body)
	}
	for _, c := range body.Cameras {
		switch c.Stream {
		case "yaml-stored":
			if !c.Healthy || c.Problem != "" || c.Warning != "" {
				t.Errorf("camera %+v: want healthy without remarks", c)
			}
		case "yaml-zero":
			if !c.Healthy || !strings.Contains(c.Warning, "stores nothing") {
				t.Errorf("camera %+v: want healthy, with a warning that the stream stores nothing", c)
			}
		case "yaml-broken":
			if c.Healthy || !strings.Contains(c.Problem, "no fragment persisted") || !strings.Contains(c.Problem, missing) {
				t.Errorf("camera %+v: want unhealthy, naming the source's error", c)
			}
		default:
			t.Errorf("unexpected camera %+v", c)
		}
	}
	stopWithSIGTERM(t, cmd, 30*time.Second)
	warned := map[string]int{}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, "stores nothing") {
			for _, s := range []string{"yaml-stored", "yaml-zero", "yaml-broken"} {
				if strings.Contains(line, "stream="+s+" ") {
					warned[s]++
				}
			}
		}
	}
	if len(warned) != 1 || warned["yaml-zero"] != 1 {
		t.Errorf("warnings about streams that store nothing: %v, want one for yaml-zero\n%s", warned, logs.String())
	}
	if n := len(p.fragmentsOf(t, "yaml-zero")); n != 0 {
		t.Errorf("the stream with retention 0 lists %d fragments", n)
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestPutInterruptSendsWhatWasRead interrupts a --realtime upload with
// SIGINT: the input ends there, every frame read before the signal (the
// open fragment's too) is archived, and the exit status (130) and the final
// event say the upload was interrupted.
func TestPutInterruptSendsWhatWasRead(t *testing.T) {
	dir := t.TempDir()
	clip := makeClip(t, dir, 12)
	p := startServe(t, filepath.Join(dir, "data"))
	cmd := exec.Command(kvsBin, "put", clip, "--stream", "interrupted", "--create-stream", "--realtime", "--output", "json")
	cmd.Env = append(p.Env(), "AWS_ENDPOINT_URL_KINESIS_VIDEO="+p.URL)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// 5.3 s in: two whole fragments sent, the third one open.
	time.Sleep(5300 * time.Millisecond)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit after SIGINT: %v, want status 130\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted by SIGINT") {
		t.Errorf("the error does not say the upload was interrupted:\n%s", stderr.String())
	}
	var done struct {
		Frames      int  `json:"frames"`
		Interrupted bool `json:"interrupted"`
		Persisted   int  `json:"persisted"`
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, `"event":"done"`) {
			if err := json.Unmarshal([]byte(line), &done); err != nil {
				t.Fatal(err)
			}
		}
	}
	src := probePackets(t, clip)
	if !done.Interrupted || done.Frames < len(src)/3 || done.Frames >= len(src) {
		t.Fatalf("done event %+v: want interrupted after about 5 s of %d frames", done, len(src))
	}

	frags := p.fragmentsOf(t, "interrupted")
	if len(frags) != done.Persisted || len(frags) < 3 {
		t.Fatalf("%d fragments archived, %d persisted by the event; want the open third one too", len(frags), done.Persisted)
	}
	var numbers []string
	for _, f := range frags {
		numbers = append(numbers, f.FragmentNumber)
	}
	got := filepath.Join(dir, "interrupted.mkv")
	if _, errOut, err := p.kvs(t, "get", "media", "--stream", "interrupted", "--fragments", strings.Join(numbers, ","), "-o", got); err != nil {
		t.Fatalf("get media: %v %s", err, errOut)
	}
	back := probePackets(t, got)
	if len(back) != done.Frames {
		t.Fatalf("%d frames archived, %d read before the signal", len(back), done.Frames)
	}
	// The archive is the start of the clip, track by track.
	for stream := range 2 {
		s, b := packetsOf(src, stream), packetsOf(back, stream)
		for i := range b {
			if s[i].Hash != b[i].Hash {
				t.Fatalf("stream %d packet %d differs from the clip's", stream, i)
			}
		}
	}
}

// hugeGOPFile writes an MKV of H.264 from an ffmpeg clip (a key frame every
// second at 30 fps): two seconds as they are, then a GOP whose 59 pictures
// after its key frame carry 1 MB of filler data each (59 MB, more than a
// fragment may hold), then the rest of the clip.
func hugeGOPFile(t *testing.T, dir string) string {
	t.Helper()
	clip := ffmpegMake(t, filepath.Join(dir, "clip.mkv"), "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", "5",
		"-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-g", "30")
	src, err := device.OpenFile(clip)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	// A filler-data NAL unit (type 12) of 1 MB, in AVCC form.
	filler := make([]byte, 4+1<<20)
	binary.BigEndian.PutUint32(filler, uint32(len(filler)-4))
	filler[4] = 12
	for i := 5; i < len(filler)-1; i++ {
		filler[i] = 0xff
	}
	filler[len(filler)-1] = 0x80
	out := filepath.Join(dir, "huge-gop.mkv")
	fh, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	w := mkv.NewWriter(fh)
	if err := w.WriteHeader(mkv.SegmentInfo{Title: "huge GOP"}, src.Tracks()); err != nil {
		t.Fatal(err)
	}
	for n := 0; ; n++ {
		fr, err := src.ReadFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data := fr.Data
		if n > 60 && n < 120 {
			// Pictures 61-119: the key frame at 90 becomes an ordinary
			// picture too, so one GOP runs from 60 to 119.
			data = append(append([]byte(nil), fr.Data...), filler...)
		}
		key := fr.Key && n != 90
		if err := w.StartCluster(fr.PTS.Milliseconds()); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteBlock(fr.Track, 0, key, data); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestPutRefusesHugeGOP uploads a file with a GOP larger than a fragment may
// be: kvs put refuses it before sending anything of it, names its length and
// the encoder setting that fixes it, and exits non-zero; what came before it
// is archived.
func TestPutRefusesHugeGOP(t *testing.T) {
	dir := t.TempDir()
	file := hugeGOPFile(t, dir)
	p := startServe(t, filepath.Join(dir, "data"))
	_, errOut, err := p.put(t, nil, file, "--stream", "huge", "--create-stream", "--max-bytes-per-second", "-1")
	if err == nil {
		t.Fatalf("kvs put of a 59 MB GOP succeeded:\n%s", errOut)
	}
	for _, want := range []string{"GOP larger than a fragment may be", "pictures", "bytes", "ffmpeg -g", "keyint"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the error does not say %q:\n%s", want, errOut)
		}
	}
	// Nothing of the GOP reached the endpoint: it refused no fragment.
	if strings.Contains(p.Stderr(), "MAX_FRAGMENT_SIZE") || strings.Contains(p.Stderr(), "4001") {
		t.Errorf("the endpoint received the oversized GOP:\n%s", p.Stderr())
	}
	t.Logf("kvs put said:\n%s", errOut)
	// The two seconds before it are archived: the first fragment.
	frags := p.fragmentsOf(t, "huge")
	if len(frags) != 1 {
		t.Fatalf("%d fragments archived, want the one before the huge GOP", len(frags))
	}
}

// TestGetMediaWholeArchive reads a stream that is not live with plain kvs
// get media: the whole archive, ended as soon as the last fragment is in
// (not after the endpoint's 10 s of idle), and a clear error for a stream
// with nothing in it.
func TestGetMediaWholeArchive(t *testing.T) {
	dir := t.TempDir()
	clip := makeClip(t, dir, 4)
	p := startServe(t, filepath.Join(dir, "data"), "--getmedia-idle-timeout", "10s")
	if _, errOut, err := p.put(t, nil, clip, "--stream", "whole", "--create-stream"); err != nil {
		t.Fatalf("kvs put: %v\n%s", err, errOut)
	}
	got := filepath.Join(dir, "whole.mkv")
	began := time.Now()
	if _, errOut, err := p.kvs(t, "get", "media", "--stream", "whole", "-o", got); err != nil {
		t.Fatalf("get media: %v %s", err, errOut)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("get media took %v: it waited for the endpoint to end the response", took)
	}
	equalHashes(t, "whole archive video", framemd5(t, clip, "v:0"), framemd5(t, got, "v:0"))
	equalHashes(t, "whole archive audio", framemd5(t, clip, "a:0"), framemd5(t, got, "a:0"))

	createStream(t, p, "empty", 24)
	_, errOut, err := p.kvs(t, "get", "media", "--stream", "empty", "-o", filepath.Join(dir, "empty.mkv"))
	if err == nil || !strings.Contains(errOut, "holds no fragments") || !strings.Contains(errOut, "--follow") {
		t.Errorf("get media of an empty stream: %v\n%s", err, errOut)
	}
	_, errOut, err = p.kvs(t, "get", "media", "--stream", "whole", "--start", "now", "-o", filepath.Join(dir, "now.mkv"))
	if err == nil || !strings.Contains(errOut, "--follow") {
		t.Errorf("get media --start now without --follow: %v\n%s", err, errOut)
	}
}

// TestGetMediaFollow follows a stream as tail -f does: fragments written by
// two uploads with idle gaps between them (the endpoint ends idle GetMedia
// responses after 1 s) all arrive in one playable file, until SIGINT.
func TestGetMediaFollow(t *testing.T) {
	dir := t.TempDir()
	clip := makeClip(t, dir, 4)
	p := startServe(t, filepath.Join(dir, "data"))
	createStream(t, p, "follow", 24)
	got := filepath.Join(dir, "follow.mkv")
	cmd := exec.Command(kvsBin, "get", "media", "--stream", "follow", "--start", "now", "--follow", "-o", got)
	cmd.Env = append(p.Env(), "AWS_ENDPOINT_URL_KINESIS_VIDEO="+p.URL)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	time.Sleep(2500 * time.Millisecond)
	for i := range 2 {
		if _, errOut, err := p.put(t, nil, clip, "--stream", "follow"); err != nil {
			t.Fatalf("kvs put %d: %v\n%s", i, err, errOut)
		}
		time.Sleep(2500 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("get media --follow after SIGINT: %v\n%s", err, stderr.String())
	}
	want := framemd5(t, clip, "v:0")
	equalHashes(t, "followed video", append(want, want...), framemd5(t, got, "v:0"))
	if !strings.Contains(stderr.String(), "4 fragments written") {
		t.Errorf("summary: %s", stderr.String())
	}
}

// TestPutMemoryBounded uploads a 100 MB file at full speed into an endpoint
// that takes 25 MB/s: kvs put holds no more than its buffer, so the whole
// process peaks under 64 MB (it used to buffer the file), and every fragment
// is persisted.
func TestPutMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads 100 MB")
	}
	dir := t.TempDir()
	part := ffmpegMake(t, filepath.Join(dir, "part.mkv"), "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-t", "4",
		"-c:v", "libx264", "-preset", "ultrafast", "-b:v", "25M", "-maxrate", "25M", "-bufsize", "25M", "-g", "60", "-bf", "0")
	big := ffmpegMake(t, filepath.Join(dir, "big.mkv"), "-stream_loop", "11", "-i", part, "-c", "copy")
	st, err := os.Stat(big)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() < 80<<20 {
		t.Fatalf("input of %d bytes, want about 100 MB", st.Size())
	}
	p := startServe(t, filepath.Join(dir, "data"), "--max-bytes-per-second", "25e6", "--max-fragments-per-second", "1000")
	cmd := exec.Command(kvsBin, "put", big, "--stream", "big", "--create-stream",
		"--max-bytes-per-second", "-1", "--max-fragments-per-second", "-1", "--output", "json")
	cmd.Env = append(p.Env(), "AWS_ENDPOINT_URL_KINESIS_VIDEO="+p.URL)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kvs put: %v\n%s", err, stderr.String())
	}
	peakKB := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
	done := lastDone(t, stderr.String())
	t.Logf("%d MB uploaded, peak resident memory %d kB, %d fragments persisted", st.Size()>>20, peakKB, done.Persisted)
	if peakKB > 64<<10 {
		t.Errorf("kvs put peaked at %d kB of resident memory, want under 64 MB", peakKB)
	}
	if done.Persisted == 0 || done.Persisted != done.Fragments || len(p.fragmentsOf(t, "big")) != done.Persisted {
		t.Errorf("done event %+v: want every fragment persisted and listed", done)
	}
}

// TestPutSecondSignalAborts: after a first SIGINT kvs put waits for the
// acknowledgements of what it read; with the endpoint stopped they never
// come, and a second SIGINT aborts at once, saying so.
func TestPutSecondSignalAborts(t *testing.T) {
	dir := t.TempDir()
	clip := makeClip(t, dir, 12)
	p := startServe(t, filepath.Join(dir, "data"))
	cmd := exec.Command(kvsBin, "put", clip, "--stream", "aborted", "--create-stream", "--realtime")
	cmd.Env = append(p.Env(), "AWS_ENDPOINT_URL_KINESIS_VIDEO="+p.URL)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	time.Sleep(3 * time.Second)
	// The endpoint stops answering: the open fragment is never acknowledged.
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.cmd.Process.Signal(syscall.SIGCONT) }()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		t.Fatalf("kvs put ended after one SIGINT without its acknowledgements: %v\n%s", err, stderr.String())
	case <-time.After(2 * time.Second):
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 130 || !strings.Contains(stderr.String(), "aborted by a second signal (SIGINT)") {
			t.Fatalf("exit after the second SIGINT: %v, want status 130 and the reason\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("kvs put still running 10 s after the second SIGINT\n%s", stderr.String())
	}
}
