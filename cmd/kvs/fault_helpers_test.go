package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
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
	"kvskit/internal/testenv/faultproxy"
)

// The producer's defaults that bound its recovery from a stalled
// connection (producer.DefaultConnectionStaleness, DefaultRetryMax).
const (
	producerStaleness = 30 * time.Second
	producerRetryMax  = 16 * time.Second
)

// recoveryBound is how soon after a fault ends the producer must have a
// fragment PERSISTED again: a connection opened just before the end of a
// blackhole is given up after the staleness window, and the next attempt
// waits at most one backoff.
const recoveryBound = producerStaleness + producerRetryMax + 5*time.Second

// ackWatch records when PERSISTED acknowledgements pass the proxy on their
// way to the producer.
type ackWatch struct {
	mu    sync.Mutex
	tail  map[uint64][]byte
	times []time.Time
}

var persistedMark = []byte(`"PERSISTED"`)

func newAckWatch() *ackWatch { return &ackWatch{tail: map[uint64][]byte{}} }

func (w *ackWatch) tap(conn uint64, d faultproxy.Direction, b []byte) {
	if d != faultproxy.Downstream {
		return
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	buf := append(w.tail[conn], b...)
	for range bytes.Count(buf, persistedMark) {
		w.times = append(w.times, now)
	}
	if i := bytes.LastIndex(buf, persistedMark); i >= 0 {
		buf = buf[i+len(persistedMark):]
	}
	if keep := len(persistedMark) - 1; len(buf) > keep {
		buf = buf[len(buf)-keep:]
	}
	w.tail[conn] = bytes.Clone(buf)
}

// count returns how many PERSISTED acks passed.
func (w *ackWatch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.times)
}

// firstAfter returns the time of the first PERSISTED ack at or after t.
func (w *ackWatch) firstAfter(t time.Time) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, at := range w.times {
		if !at.Before(t) {
			return at, true
		}
	}
	return time.Time{}, false
}

// waitCount waits until n PERSISTED acks have passed.
func (w *ackWatch) waitCount(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for w.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d PERSISTED acks within %s, want %d", w.count(), timeout, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// faultEnv is kvs serve behind a fault-injecting proxy: producers are
// pointed at the proxy, whose address the server also returns from
// GetDataEndpoint (the Host the client used), so control plane and PutMedia
// both cross it; the test reads back directly.
type faultEnv struct {
	serve  *serveProc
	proxy  *faultproxy.Proxy
	acks   *ackWatch
	stream string
	// clipRate is the byte rate of the clip uploaded, when there is one.
	clipRate int64
}

func newFaultEnv(t *testing.T, stream string) *faultEnv {
	t.Helper()
	dir := t.TempDir()
	e := &faultEnv{serve: startServe(t, filepath.Join(dir, "data")), acks: newAckWatch(), stream: stream}
	px, err := faultproxy.New(strings.TrimPrefix(e.serve.URL, "http://"), faultproxy.WithTap(e.acks.tap))
	if err != nil {
		t.Fatal(err)
	}
	e.proxy = px
	t.Cleanup(func() { _ = px.Close() })
	createStreams(t, e.serve, 24, stream)
	return e
}

// uploading waits up to timeout for upload bytes crossing the proxy (more
// bytes within 50 ms) and reports whether it saw them.
func (e *faultEnv) uploading(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		before := e.proxy.Stats().BytesUp
		time.Sleep(50 * time.Millisecond)
		if e.proxy.Stats().BytesUp > before {
			return true
		}
	}
	return false
}

// producerEnv is the environment of a kvs client that reaches the server
// through the proxy.
func (e *faultEnv) producerEnv() []string {
	return append(e.serve.Env(), "AWS_ENDPOINT_URL_KINESIS_VIDEO="+e.proxy.URL())
}

// prodProc is a kvs producer process (put or capture) under test.
type prodProc struct {
	name   string
	cmd    *exec.Cmd
	began  time.Time
	exited chan struct{}
	err    error // set once exited is closed

	mu     sync.Mutex
	stderr bytes.Buffer
	lines  []string
	rss    []int // kB, one sample a second
}

func startProducer(t *testing.T, env []string, args ...string) *prodProc {
	t.Helper()
	pp := &prodProc{name: "kvs " + args[0], exited: make(chan struct{})}
	pp.cmd = exec.Command(kvsBin, args...)
	pp.cmd.Env = env
	stderr, err := pp.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	pp.cmd.Stdout = io.Discard
	if err := pp.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pp.began = time.Now()
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			pp.mu.Lock()
			pp.stderr.WriteString(sc.Text() + "\n")
			pp.lines = append(pp.lines, sc.Text())
			pp.mu.Unlock()
		}
	}()
	go func() {
		<-logDone
		pp.err = pp.cmd.Wait()
		close(pp.exited)
	}()
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-pp.exited:
				return
			case <-tick.C:
				if kb, err := rssKB(pp.cmd.Process.Pid); err == nil {
					pp.mu.Lock()
					pp.rss = append(pp.rss, kb)
					pp.mu.Unlock()
				}
			}
		}
	}()
	t.Cleanup(func() {
		select {
		case <-pp.exited:
		default:
			_ = pp.cmd.Process.Kill()
			<-pp.exited
		}
	})
	return pp
}

func (pp *prodProc) Stderr() string { pp.mu.Lock(); defer pp.mu.Unlock(); return pp.stderr.String() }

// rssFigures returns the resident memory after warm-up (the sample at 5 s)
// and its peak, in kB.
func (pp *prodProc) rssFigures() (warm, peak int) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	for i, kb := range pp.rss {
		if i == min(4, len(pp.rss)-1) {
			warm = kb
		}
		peak = max(peak, kb)
	}
	return warm, peak
}

// wait waits for the process to exit. When it does not within timeout, it
// takes a goroutine dump (SIGQUIT) and fails the test with the goroutines of
// the producer and of its HTTP connections.
func (pp *prodProc) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-pp.exited:
		return pp.err
	case <-time.After(timeout):
	}
	_ = pp.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-pp.exited:
	case <-time.After(10 * time.Second):
		_ = pp.cmd.Process.Kill()
		<-pp.exited
	}
	t.Fatalf("%s still running %s after its start (stuck): goroutines of the producer at SIGQUIT:\n%s\nlog tail:\n%s",
		pp.name, time.Since(pp.began).Round(time.Second), producerGoroutines(pp.Stderr()), tail(pp.Stderr(), 30))
	return nil
}

// producerGoroutines keeps, from a Go goroutine dump, the goroutines that
// run producer code or carry HTTP connections.
func producerGoroutines(dump string) string {
	var out []string
	for _, g := range strings.Split(dump, "\n\n") {
		if !strings.HasPrefix(g, "goroutine ") {
			if i := strings.Index(g, "\ngoroutine "); i >= 0 {
				g = g[i+1:]
			} else {
				continue
			}
		}
		if strings.Contains(g, "kvskit/producer.") || strings.Contains(g, "net/http.(*persistConn)") ||
			strings.Contains(g, "net/http.(*Transport)") || strings.Contains(g, "main.runPut") ||
			strings.Contains(g, "main.(*camera)") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// makeFaultClip encodes an H.264 + AAC clip of the given length, 320x240 at
// 30 fps with a key frame every second, so fragments are 2 s long.
func makeFaultClip(t testing.TB, dir string, seconds int) string {
	t.Helper()
	ff := testenv.Tool(t, "ffmpeg")
	out := filepath.Join(dir, fmt.Sprintf("fault-%ds.mkv", seconds))
	run(t, ff, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", strconv.Itoa(seconds), "-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-g", "30",
		"-c:a", "aac", "-b:a", "64k", "-y", out)
	return out
}

// frameSig identifies one frame: its track, key flag and content hash.
type frameSig struct {
	Key  bool
	Size int
	Sum  [sha256.Size]byte
}

// readFrameSigs reads every frame of a media file with package device and
// returns the frames of each track in order.
func readFrameSigs(t testing.TB, file string) map[uint64][]frameSig {
	t.Helper()
	src, err := device.OpenFile(file)
	if err != nil {
		t.Fatalf("open %s: %v", file, err)
	}
	defer src.Close()
	out := map[uint64][]frameSig{}
	for {
		fr, err := src.ReadFrame()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("read %s: %v", file, err)
		}
		out[fr.Track] = append(out[fr.Track], frameSig{Key: fr.Key, Size: len(fr.Data), Sum: sha256.Sum256(fr.Data)})
	}
}

// archivedFrames reads a whole stream back with kvs get media (GetMedia from
// the earliest fragment), straight from the server.
func archivedFrames(t *testing.T, p *serveProc, stream string) map[uint64][]frameSig {
	t.Helper()
	out := filepath.Join(t.TempDir(), stream+"-archive.mkv")
	if _, errOut, err := p.kvs(t, "get", "media", "--stream", stream, "--start", "earliest", "-o", out); err != nil {
		t.Fatalf("get media %s: %v %s", stream, err, errOut)
	}
	return readFrameSigs(t, out)
}

// checkExactlyOnce checks that the archive holds every source frame of every
// track once, in order, and nothing else. The only frames it may lack are
// those the fragmenter drops at the very start, before the first video key
// frame (an audio frame that precedes it): at most a few, logged.
func checkExactlyOnce(t *testing.T, want, got map[uint64][]frameSig) {
	t.Helper()
	for track, w := range want {
		g := got[track]
		if len(g) > 0 {
			for skip := 1; skip <= 3 && skip < len(w); skip++ {
				if w[0] != g[0] && w[skip] == g[0] {
					t.Logf("track %d: the first %d source frame(s) precede the first key frame and are not sent", track, skip)
					w = w[skip:]
					break
				}
			}
		}
		n := min(len(w), len(g))
		first := -1
		for i := range n {
			if w[i] != g[i] {
				first = i
				break
			}
		}
		switch {
		case first >= 0:
			// Say whether the archive holds the source frame later (a
			// duplicate or reordering) or not at all (a loss).
			where := "nowhere later"
			for j := first + 1; j < len(g); j++ {
				if g[j] == w[first] {
					where = fmt.Sprintf("at archive position %d", j)
					break
				}
			}
			dup := "no"
			for j := 0; j < first; j++ {
				if g[j] == g[first] {
					dup = fmt.Sprintf("yes, same as archive position %d", j)
					break
				}
			}
			t.Errorf("track %d: %d source frames, %d archived; first difference at frame %d: the source frame is %s in the archive; archived frame %d is a repeat: %s",
				track, len(w), len(g), first, where, first, dup)
		case len(w) != len(g):
			t.Errorf("track %d: %d source frames, %d archived (in order up to the shorter)", track, len(w), len(g))
		}
	}
	for track := range got {
		if _, ok := want[track]; !ok {
			t.Errorf("archive has track %d the source lacks", track)
		}
	}
}
