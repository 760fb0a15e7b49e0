package producer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"kvskit/internal/awsauth"
	"kvskit/internal/testenv"
	"kvskit/media"
	"kvskit/mkv"
	"kvskit/producer"
	"kvskit/server"
)

var testCreds = awsauth.Credentials{
	AccessKeyID:     "AKIAPRODUCERTEST0001",
	SecretAccessKey: "producertestsecretproducertestsecret0001",
}

const testRegion = "us-east-1"

func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn + 4
	if testing.Verbose() {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// kvsEndpoint is the local KVS endpoint (package server) on a loopback port.
type kvsEndpoint struct {
	t    *testing.T
	dir  string
	addr string
	lim  server.Limits
	mu   sync.Mutex
	srv  *server.Server
	ts   *httptest.Server
	hc   *http.Client
}

func startEndpoint(t *testing.T, lim server.Limits) *kvsEndpoint {
	t.Helper()
	e := &kvsEndpoint{t: t, dir: t.TempDir(), lim: lim,
		hc: &http.Client{Transport: &http.Transport{ForceAttemptHTTP2: false}}}
	e.start("127.0.0.1:0")
	t.Cleanup(func() {
		e.stop()
		e.hc.CloseIdleConnections()
	})
	return e
}

func (e *kvsEndpoint) start(addr string) {
	e.t.Helper()
	srv, err := server.New(server.Config{
		DataDir:     e.dir,
		Region:      testRegion,
		Credentials: map[string]string{testCreds.AccessKeyID: testCreds.SecretAccessKey},
		Limits:      e.lim,
		Logger:      testLogger(e.t),
		NoSync:      true,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	var l net.Listener
	for i := 0; ; i++ {
		l, err = net.Listen("tcp", addr)
		if err == nil || i > 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		_ = srv.Close()
		e.t.Fatalf("listen %s: %v", addr, err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.Listener = l
	ts.Start()
	e.mu.Lock()
	e.srv, e.ts, e.addr = srv, ts, l.Addr().String()
	e.mu.Unlock()
}

func (e *kvsEndpoint) stop() {
	e.mu.Lock()
	srv, ts := e.srv, e.ts
	e.srv, e.ts = nil, nil
	e.mu.Unlock()
	if srv == nil {
		return
	}
	if err := srv.Close(); err != nil {
		e.t.Errorf("close endpoint: %v", err)
	}
	ts.CloseClientConnections()
	ts.Close()
}

// restart stops the endpoint and starts a new one on the same address with
// the same data directory.
func (e *kvsEndpoint) restart() {
	e.stop()
	e.start(e.addr)
}

func (e *kvsEndpoint) url() string { return "http://" + e.addr }

func (e *kvsEndpoint) server() *server.Server {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.srv
}

// call performs a signed JSON operation on the endpoint.
func (e *kvsEndpoint) call(op string, in any) ([]byte, error) {
	body, _ := json.Marshal(in)
	req, _ := http.NewRequest(http.MethodPost, e.url()+"/"+op, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	if err := awsauth.SignRequest(context.Background(), req, testCreds, testRegion, hex.EncodeToString(sum[:]), time.Now()); err != nil {
		return nil, err
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d %s: %s", op, resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), b)
	}
	return b, nil
}

// readFrame is a frame read back from the archive.
type readFrame struct {
	Track uint64
	MS    int64 // absolute producer time, ms since the epoch
	Key   bool
	Data  []byte
}

// readBack lists every fragment of the stream and reads them with
// GetMediaForFragmentList. It returns the frames in archive order and the
// fragments' producer timestamps.
func (e *kvsEndpoint) readBack(t *testing.T, stream string) ([]readFrame, []time.Time) {
	t.Helper()
	var numbers []string
	var prodTS []time.Time
	token := ""
	for {
		in := map[string]any{"StreamName": stream, "MaxResults": 1000}
		if token != "" {
			in["NextToken"] = token
		}
		b, err := e.call("listFragments", in)
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Fragments []struct {
				FragmentNumber    string
				ProducerTimestamp float64
			}
			NextToken string
		}
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		for _, f := range out.Fragments {
			numbers = append(numbers, f.FragmentNumber)
		}
		sort.Strings(numbers)
		if out.NextToken == "" {
			break
		}
		token = out.NextToken
	}
	if len(numbers) == 0 {
		return nil, nil
	}
	var frames []readFrame
	for i := 0; i < len(numbers); i += 1000 {
		part := numbers[i:min(i+1000, len(numbers))]
		b, err := e.call("getMediaForFragmentList", map[string]any{"StreamName": stream, "Fragments": part})
		if err != nil {
			t.Fatal(err)
		}
		r := mkv.NewReader(bytes.NewReader(b))
		var cluster int64
		for {
			ev, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("read archived media: %v", err)
			}
			switch ev.Type {
			case mkv.EventClusterStart:
				cluster = ev.Timecode
				prodTS = append(prodTS, time.UnixMilli(cluster))
			case mkv.EventBlock:
				for _, d := range ev.Block.Frames {
					frames = append(frames, readFrame{Track: ev.Block.Track, MS: cluster + int64(ev.Block.Timecode),
						Key: ev.Block.Key, Data: append([]byte(nil), d...)})
				}
			}
		}
	}
	return frames, prodTS
}

// producerConfig is a Config for the local endpoint.
func (e *kvsEndpoint) producerConfig(t testing.TB, stream string) producer.Config {
	return producer.Config{
		StreamName:     stream,
		Region:         testRegion,
		EndpointURL:    e.url(),
		Credentials:    credentials.NewStaticCredentialsProvider(testCreds.AccessKeyID, testCreds.SecretAccessKey, ""),
		CreateStream:   true,
		RetentionHours: 1,
		Logger:         testLogger(t),
		RetryBase:      20 * time.Millisecond,
		RetryMax:       200 * time.Millisecond,
	}
}

// clip makes an H.264 + AAC Matroska clip with ffmpeg and reads its tracks
// and frames.
func clip(t *testing.T, seconds int) ([]media.Track, []media.Frame) {
	t.Helper()
	ffmpeg := testenv.Tool(t, "ffmpeg")
	path := filepath.Join(t.TempDir(), "clip.mkv")
	cmd := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", fmt.Sprint(seconds),
		"-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-g", "30", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "64k", "-f", "matroska", path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := mkv.NewReader(f)
	var tracks []media.Track
	var frames []media.Frame
	var cluster int64
	scale := time.Duration(mkv.DefaultTimecodeScale)
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read clip: %v", err)
		}
		switch ev.Type {
		case mkv.EventInfo:
			scale = time.Duration(ev.Info.TimecodeScale)
		case mkv.EventTracks:
			for _, te := range ev.Tracks {
				tracks = append(tracks, te.ToMedia())
			}
		case mkv.EventClusterStart:
			cluster = ev.Timecode
		case mkv.EventBlock:
			for _, d := range ev.Block.Frames {
				pts := time.Duration(cluster+int64(ev.Block.Timecode)) * scale
				frames = append(frames, media.Frame{Track: ev.Block.Track, PTS: pts, DTS: pts,
					Key: ev.Block.Key, Data: append([]byte(nil), d...)})
			}
		}
	}
	if len(tracks) != 2 || len(frames) == 0 {
		t.Fatalf("clip: %d tracks, %d frames", len(tracks), len(frames))
	}
	return tracks, frames
}

// synthTracks are an H.264 video track and an AAC audio track with made-up
// decoder configurations (the endpoint does not decode).
func synthTracks() []media.Track {
	return []media.Track{
		{Number: 1, Kind: media.KindVideo, Codec: media.CodecH264, Width: 1920, Height: 1080,
			CodecPrivate: []byte{1, 0x64, 0, 0x28, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x28, 1, 0, 4, 0x68, 0xee, 0x3c, 0x80}},
		{Number: 2, Kind: media.KindAudio, Codec: media.CodecAAC, SampleRate: 48000, Channels: 2,
			CodecPrivate: []byte{0x11, 0x90}},
	}
}

// synthFrames makes n video frames at fps (a key frame every gop) with size
// bytes each, interleaved with one audio frame per video frame. Each frame's
// payload encodes its track and index so that read-back can check it.
func synthFrames(n, fps, gop, size int) []media.Frame {
	var out []media.Frame
	for i := range n {
		pts := time.Duration(i*1000/fps) * time.Millisecond
		v := make([]byte, size)
		fill(v, 1, i)
		out = append(out, media.Frame{Track: 1, PTS: pts, DTS: pts, Key: i%gop == 0, Data: v})
		a := make([]byte, 200)
		fill(a, 2, i)
		out = append(out, media.Frame{Track: 2, PTS: pts, DTS: pts, Key: true, Data: a})
	}
	return out
}

func fill(b []byte, track, i int) {
	for j := range b {
		b[j] = byte(track*31 + i*7 + j)
	}
	if len(b) >= 8 {
		b[0], b[1], b[2], b[3] = byte(track), byte(i>>16), byte(i>>8), byte(i)
	}
}

// eventLog collects events.
type eventLog struct {
	mu  sync.Mutex
	evs []producer.Event
}

func newEventLog() *eventLog { return &eventLog{} }

func (l *eventLog) add(ev producer.Event) {
	l.mu.Lock()
	l.evs = append(l.evs, ev)
	l.mu.Unlock()
}

func (l *eventLog) of(typ producer.EventType) []producer.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []producer.Event
	for _, ev := range l.evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// waitFor waits until n events of the type have arrived.
func (l *eventLog) waitFor(t *testing.T, typ producer.EventType, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for len(l.of(typ)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %d %v events (have %d)", n, typ, len(l.of(typ)))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wantFrames checks that every frame written is in the archive with its
// bytes, key flag and producer timestamp (start + PTS). It returns how many
// archived frames were extra copies (duplicates).
func wantFrames(t *testing.T, start time.Time, written []media.Frame, got []readFrame) int {
	t.Helper()
	type key struct {
		track uint64
		ms    int64
	}
	archived := map[key]readFrame{}
	dups := 0
	for _, f := range got {
		k := key{f.Track, f.MS}
		if prev, ok := archived[k]; ok {
			if !bytes.Equal(prev.Data, f.Data) {
				t.Fatalf("two different frames of track %d at %d ms", f.Track, f.MS)
			}
			dups++
			continue
		}
		archived[k] = f
	}
	missing := 0
	for i, f := range written {
		k := key{f.Track, start.UnixMilli() + f.PTS.Milliseconds()}
		a, ok := archived[k]
		switch {
		case !ok:
			missing++
			if missing < 5 {
				t.Errorf("frame %d (track %d, pts %v) is not in the archive", i, f.Track, f.PTS)
			}
		case !bytes.Equal(a.Data, f.Data):
			t.Errorf("frame %d (track %d, pts %v): archived bytes differ", i, f.Track, f.PTS)
		case a.Key != f.Key:
			t.Errorf("frame %d (track %d, pts %v): key flag %v, want %v", i, f.Track, f.PTS, a.Key, f.Key)
		}
		delete(archived, k)
	}
	if missing > 0 {
		t.Errorf("%d of %d frames missing from the archive", missing, len(written))
	}
	if len(archived) > 0 {
		t.Errorf("%d archived frames were never written", len(archived))
	}
	return dups
}

// keptFrames returns the frames the fragmenter keeps: all but the video
// frames before the first video key frame (frames of other tracks ahead of
// it lead the first fragment in).
func keptFrames(frames []media.Frame) []media.Frame {
	for i, f := range frames {
		if f.Track == 1 && f.Key {
			var kept []media.Frame
			for _, g := range frames[:i] {
				if g.Track != 1 {
					kept = append(kept, g)
				}
			}
			return append(kept, frames[i:]...)
		}
	}
	return nil
}

// uploadWithRestart writes frames to p from another goroutine, restarts the
// endpoint once `persisted` fragments were acknowledged PERSISTED, and
// returns the error of the upload (WriteFrame or Close).
func uploadWithRestart(t *testing.T, ep *kvsEndpoint, p *producer.Producer, frames []media.Frame, log *eventLog, persisted int) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for _, f := range frames {
			if err := p.WriteFrame(ctx, f); err != nil {
				done <- err
				return
			}
		}
		done <- p.Close(ctx)
	}()
	log.waitFor(t, producer.FragmentPersisted, persisted, 20*time.Second)
	ep.restart()
	return <-done
}
