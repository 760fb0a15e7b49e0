package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"kvskit/device"
	"kvskit/media"
	sampleclip "kvskit/samples/clip"
)

// rssKB reads a process's resident set size.
func rssKB(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			return strconv.Atoi(strings.Fields(line)[1])
		}
	}
	return 0, fmt.Errorf("no VmRSS for %d", pid)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestCaptureTestPatternForAMinute runs `kvs capture --source test://` into
// kvs serve for a minute: fragments every ~2 s, persisted-latency logs,
// health and metrics endpoints, flat memory, a clean SIGTERM, and an archive
// holding the sample clip's frames, byte for byte, pass after pass.
func TestCaptureTestPatternForAMinute(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for a minute")
	}
	dir := t.TempDir()
	p := startServe(t, filepath.Join(dir, "data"))
	metrics := freePort(t)
	cmd := exec.Command(kvsBin, "capture", "--source", "test://", "--stream", "pattern", "--create-stream",
		"--metrics-listen", metrics, "--log-level", "info")
	cmd.Env = append(p.Env(), "AWS_ENDPOINT_URL_KINESIS_VIDEO="+p.URL)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var logLines []string
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logLines = append(logLines, sc.Text())
		}
	}()
	defer func() { _ = cmd.Process.Kill() }()

	const run = 60 * time.Second
	began := time.Now()
	var rss []int
	for time.Since(began) < run {
		time.Sleep(5 * time.Second)
		kb, err := rssKB(cmd.Process.Pid)
		if err != nil {
			t.Fatalf("capture exited early: %v", err)
		}
		rss = append(rss, kb)
	}
	resp, err := http.Get("http://" + metrics + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"healthy":true`) {
		t.Errorf("/healthz: %d %s", resp.StatusCode, body)
	}
	resp, err = http.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `kvs_fragments_persisted_total{stream="pattern"}`) {
		t.Errorf("/metrics lacks the persisted counter:\n%s", body)
	}
	stopWithSIGTERM(t, cmd, 30*time.Second)
	<-logDone

	frags := p.fragmentsOf(t, "pattern")
	if n := len(frags); n < 27 || n > 33 {
		t.Fatalf("%d fragments in a minute, want about 30 (one every 2 s)", n)
	}
	var prev time.Time
	for i, f := range frags {
		ts, err := time.Parse(time.RFC3339Nano, f.ProducerTimestamp)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && i < len(frags)-1 {
			if gap := ts.Sub(prev); gap < 1900*time.Millisecond || gap > 2100*time.Millisecond {
				t.Errorf("fragment %d starts %s after the previous one, want about 2 s", i, gap)
			}
		}
		prev = ts
	}
	persistedLogs := 0
	for _, l := range logLines {
		if strings.Contains(l, "fragment persisted") && strings.Contains(l, "latency=") {
			persistedLogs++
		}
	}
	if persistedLogs < len(frags)-1 {
		t.Errorf("%d persisted-latency log lines for %d fragments", persistedLogs, len(frags))
	}
	checkArchivedLoop(t, p, "pattern", 55*time.Second)

	// Flat memory: after warming up, resident memory grows by less than 4 MB.
	warm, last := rss[2], rss[len(rss)-1]
	t.Logf("resident memory every 5 s (kB): %v", rss)
	if last-warm > 4096 {
		t.Errorf("resident memory grew from %d kB to %d kB", warm, last)
	}
}

// checkArchivedLoop reads a stream fed by the test pattern back with kvs get
// media: at least min of media, every track's frames equal to the sample
// clip looped (same bytes, key flags and timestamps within a millisecond).
func checkArchivedLoop(t *testing.T, p *serveProc, stream string, min time.Duration) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "archived.mkv")
	if _, errOut, err := p.kvs(t, "get", "media", "--stream", stream, "--start", "earliest", "-o", out); err != nil {
		t.Fatalf("get media: %v %s", err, errOut)
	}
	got, err := device.OpenFile(out)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	want, err := device.Loop(sampleclip.MKV)
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	wanted := map[uint64][]media.Frame{} // frames of want not yet matched, per track
	next := func(track uint64) media.Frame {
		for len(wanted[track]) == 0 {
			fr, err := want.ReadFrame()
			if err != nil {
				t.Fatal(err)
			}
			wanted[fr.Track] = append(wanted[fr.Track], fr)
		}
		fr := wanted[track][0]
		wanted[track] = wanted[track][1:]
		return fr
	}
	counts := map[uint64]int{}
	firstGot, firstWant := map[uint64]time.Duration{}, map[uint64]time.Duration{}
	var last time.Duration
	for {
		g, err := got.ReadFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		w := next(g.Track)
		if counts[g.Track] == 0 {
			// Frames before the first key frame are not sent: start where
			// the archive does.
			for skipped := 0; !bytes.Equal(g.Data, w.Data) && skipped < 10; skipped++ {
				w = next(g.Track)
			}
			firstGot[g.Track], firstWant[g.Track] = g.PTS, w.PTS
		}
		// Timestamps count from each track's first frame.
		drift := (g.PTS - firstGot[g.Track]) - (w.PTS - firstWant[g.Track])
		if g.Key != w.Key || !bytes.Equal(g.Data, w.Data) || drift.Abs() > time.Millisecond {
			t.Fatalf("archived track %d frame %d: %d bytes at %s (key %v), the clip's is %d bytes at %s (key %v)",
				g.Track, counts[g.Track], len(g.Data), g.PTS, g.Key, len(w.Data), w.PTS, w.Key)
		}
		counts[g.Track]++
		last = max(last, g.PTS)
	}
	t.Logf("archive: %v frames per track, up to %s", counts, last)
	if last < min || len(counts) != 2 {
		t.Fatalf("archive holds %v frames per track up to %s, want both tracks for %s", counts, last, min)
	}
}
