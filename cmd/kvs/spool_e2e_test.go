package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"kvskit/producer/spool"
)

// spoolOutage is how long TestCaptureSpoolLongOutage keeps the endpoint
// away. KVSKIT_SPOOL_OUTAGE (a duration) shortens it while iterating.
const spoolOutage = 10 * time.Minute

// spoolSnapshot decodes every fragment file of a spool directory, by
// cluster timecode.
// Files named in torn were damaged on purpose and are left out.
func spoolSnapshot(t *testing.T, dir string, torn map[string]bool) map[int64]*spool.Record {
	t.Helper()
	out := map[int64]*spool.Record{}
	des, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, de := range des {
		if !strings.HasSuffix(de.Name(), ".frag") || torn[de.Name()] {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		rec, err := spool.Decode(b)
		if err != nil {
			t.Fatalf("spool file %s written before the kill is not whole: %v", de.Name(), err)
		}
		out[rec.Timecode] = rec
	}
	return out
}

// captureProc is a running kvs capture.
type captureProc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
}

func startCaptureProc(t *testing.T, p *serveProc, args ...string) *captureProc {
	t.Helper()
	c := &captureProc{}
	c.cmd = exec.Command(kvsBin, append([]string{"capture", "--source", "test://", "--create-stream", "--log-level", "info"}, args...)...)
	c.cmd.Env = append(p.Env(), "AWS_ENDPOINT_URL_KINESIS_VIDEO="+p.URL)
	c.cmd.Stderr = &lockedWriter{mu: &c.mu, w: &c.stderr}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.cmd.Process.Kill() })
	return c
}

func (c *captureProc) log() string { c.mu.Lock(); defer c.mu.Unlock(); return c.stderr.String() }

// metricValue reads one of kvs capture's metrics for a stream.
func metricValue(t *testing.T, addr, name, stream string) (float64, bool) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + name + `\{stream="` + regexp.QuoteMeta(stream) + `"\} (\S+)$`).FindSubmatch(body)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	return v, err == nil
}

// checkSpooledArchived checks that every spooled fragment is in the archive
// with its frames, byte for byte; it returns the archive's clusters.
func checkSpooledArchived(t *testing.T, p *serveProc, stream string, want map[int64]*spool.Record) []mkvCluster {
	t.Helper()
	out := filepath.Join(t.TempDir(), "archived.mkv")
	if _, errOut, err := p.kvs(t, "get", "media", "--stream", stream, "--start", "earliest", "-o", out); err != nil {
		t.Fatalf("get media: %v %s", err, errOut)
	}
	clusters := readMKVClusters(t, out)
	byTC := map[int64][]mkvCluster{}
	for _, c := range clusters {
		byTC[c.Timecode] = append(byTC[c.Timecode], c)
	}
	missing := 0
	for tc, rec := range want {
		cs := byTC[tc]
		if len(cs) == 0 {
			missing++
			t.Errorf("spooled fragment %d is not in the archive", tc)
			continue
		}
		c := cs[0]
		if len(c.Blocks) != len(rec.Frames) {
			t.Errorf("fragment %d: %d blocks archived, %d frames spooled", tc, len(c.Blocks), len(rec.Frames))
			continue
		}
		for i, f := range rec.Frames {
			if !bytes.HasSuffix(c.Blocks[i], f.Data) {
				t.Errorf("fragment %d: frame %d differs from the spooled one", tc, i)
				break
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d spooled fragments missing from the archive", missing, len(want))
	}
	return clusters
}

// kvs capture --spool SIGKILLed at random moments, some during an outage of
// the endpoint (with one spool file then torn, as by a power cut), and
// restarted: every intact fragment in the spool at the kill reaches the
// archive with its frames, and the torn ones are reported.
func TestCaptureSpoolSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts kvs capture for about a minute")
	}
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 11))
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addr := freePort(t)
	p := startServe(t, data, "--listen", addr)
	spoolDir := filepath.Join(dir, "spool")
	const stream = "killed"
	mustHave := map[int64]*spool.Record{}
	tornFiles := map[string]bool{}
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo))) }
	const rounds = 4
	for round := range rounds {
		c := startCaptureProc(t, p, "--stream", stream, "--spool", spoolDir, "--fragment-duration", "1s")
		time.Sleep(between(2*time.Second, 5*time.Second))
		outage := round%2 == 1
		if outage {
			p.Kill() // fragments pile up in the spool
			time.Sleep(between(2*time.Second, 6*time.Second))
		}
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
		_ = c.cmd.Wait()
		snap := spoolSnapshot(t, filepath.Join(spoolDir, stream), tornFiles)
		t.Logf("round %d (outage %v): killed with %d fragments spooled", round, outage, len(snap))
		if outage && len(snap) < 2 {
			t.Fatalf("round %d: %d fragments spooled after an outage; log:\n%s", round, len(snap), c.log())
		}
		if outage {
			// A power cut as well: one file torn (truncated or zeroed from a
			// random point on) is skipped and reported by the next run.
			des, _ := os.ReadDir(filepath.Join(spoolDir, stream))
			var frags []string
			for _, de := range des {
				if strings.HasSuffix(de.Name(), ".frag") && !tornFiles[de.Name()] {
					frags = append(frags, filepath.Join(spoolDir, stream, de.Name()))
				}
			}
			victim := frags[rng.IntN(len(frags))]
			b, err := os.ReadFile(victim)
			if err != nil {
				t.Fatal(err)
			}
			rec, _ := spool.Decode(b)
			if rng.IntN(2) == 0 {
				b = b[:rng.IntN(len(b))]
			} else {
				clear(b[rng.IntN(len(b)):])
			}
			if err := os.WriteFile(victim, b, 0o600); err != nil {
				t.Fatal(err)
			}
			delete(snap, rec.Timecode)
			tornFiles[filepath.Base(victim)] = true
		}
		for tc, rec := range snap {
			mustHave[tc] = rec
		}
		if outage {
			p = startServe(t, data, "--listen", addr)
		}
	}
	metrics := freePort(t)
	c := startCaptureProc(t, p, "--stream", stream, "--spool", spoolDir, "--fragment-duration", "1s", "--metrics-listen", metrics)
	deadline := time.Now().Add(60 * time.Second)
	for {
		left, ok1 := metricValue(t, metrics, "kvs_spool_fragments", stream)
		rec, ok2 := metricValue(t, metrics, "kvs_spool_recovered_total", stream)
		if ok1 && ok2 && rec > 0 && left <= 1 {
			if bad, _ := metricValue(t, metrics, "kvs_spool_corrupt_total", stream); bad < 1 {
				t.Errorf("kvs_spool_corrupt_total = %v after %d torn files", bad, len(tornFiles))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the spool did not empty: %v fragments left, %v recovered; log:\n%s", left, rec, c.log())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// A torn spool file is a fragment lost: the run that found it ends with
	// status 3 and names it.
	err := c.cmd.Wait()
	var ee *exec.ExitError
	switch {
	case len(tornFiles) == 0 && err != nil:
		t.Errorf("kvs capture after SIGTERM: %v\n%s", err, tail(c.log(), 8))
	case len(tornFiles) > 0 && (!errors.As(err, &ee) || ee.ExitCode() != exitMediaLost || !strings.Contains(c.log(), "lost with damaged spool files")):
		t.Errorf("kvs capture after SIGTERM with %d torn spool files: %v, want status %d naming them\n%s",
			len(tornFiles), err, exitMediaLost, tail(c.log(), 8))
	}
	if left := spoolSnapshot(t, filepath.Join(spoolDir, stream), nil); len(left) != 0 {
		t.Errorf("%d fragments left in the spool after a clean stop", len(left))
	}
	clusters := checkSpooledArchived(t, p, stream, mustHave)
	dups := 0
	seen := map[int64]bool{}
	for _, cl := range clusters {
		if seen[cl.Timecode] {
			dups++
		}
		seen[cl.Timecode] = true
	}
	t.Logf("%d fragments spooled at the kills, all archived; %d fragments archived, %d of them twice", len(mustHave), len(clusters), dups)
}

// A long outage with a spool loses nothing: the endpoint is away for
// spoolOutage, memory stays bounded, and the spool is uploaded afterwards
// (the catch-up is timed).
func TestCaptureSpoolLongOutage(t *testing.T) {
	outage := spoolOutage
	if s := os.Getenv("KVSKIT_SPOOL_OUTAGE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("KVSKIT_SPOOL_OUTAGE: %v", err)
		}
		outage = d
	} else if testing.Short() {
		t.Skip("keeps the endpoint away for 10 minutes")
	}
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addr := freePort(t)
	p := startServe(t, data, "--listen", addr)
	const stream = "outage"
	metrics := freePort(t)
	c := startCaptureProc(t, p, "--stream", stream, "--spool", filepath.Join(dir, "spool"), "--metrics-listen", metrics)
	waitMetric := func(name string, timeout time.Duration, ok func(v float64) bool) float64 {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for {
			v, found := metricValue(t, metrics, name, stream)
			if found && ok(v) {
				return v
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s = %v after %v; log:\n%s", name, v, timeout, c.log())
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	waitMetric("kvs_fragments_persisted_total", 30*time.Second, func(v float64) bool { return v >= 2 })
	rss0, _ := rssKB(c.cmd.Process.Pid)
	p.Kill()
	began := time.Now()
	maxRSS := rss0
	for time.Since(began) < outage {
		time.Sleep(min(10*time.Second, outage-time.Since(began)+time.Millisecond))
		kb, err := rssKB(c.cmd.Process.Pid)
		if err != nil {
			t.Fatalf("capture exited during the outage: %v\n%s", err, c.log())
		}
		maxRSS = max(maxRSS, kb)
	}
	spooled := waitMetric("kvs_spool_fragments", time.Second, func(float64) bool { return true })
	if resp, err := http.Get("http://" + metrics + "/healthz"); err != nil {
		t.Error(err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !regexp.MustCompile(`"spool":\{"bytes":[1-9]\d*,"corrupt":0,"dropped":0,"fragments":[1-9]`).Match(body) {
			t.Errorf("/healthz during the outage does not show the spool filling: %s", body)
		}
	}
	bytesSpooled := waitMetric("kvs_spool_bytes", time.Second, func(float64) bool { return true })
	p = startServe(t, data, "--listen", addr)
	back := time.Now()
	waitMetric("kvs_spool_fragments", outage+time.Minute, func(v float64) bool { return v <= 1 })
	catchUp := time.Since(back)
	t.Logf("outage %v: %v fragments (%v bytes) spooled, uploaded in %v (%.1f fragments/s); resident memory %d kB before, at most %d kB during",
		outage, spooled, bytesSpooled, catchUp.Round(time.Millisecond), spooled/catchUp.Seconds(), rss0, maxRSS)
	if dropped := waitMetric("kvs_fragments_dropped_total", time.Second, func(float64) bool { return true }); dropped != 0 {
		t.Errorf("%v fragments dropped", dropped)
	}
	if maxRSS-rss0 > 64<<10 {
		t.Errorf("resident memory grew from %d kB to %d kB during the outage", rss0, maxRSS)
	}
	stopWithSIGTERM(t, c.cmd, 40*time.Second)
	frags := p.fragmentsOf(t, stream)
	var prev time.Time
	for i, f := range frags {
		ts, err := time.Parse(time.RFC3339Nano, f.ProducerTimestamp)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && i < len(frags)-1 && ts.Sub(prev) > 2100*time.Millisecond {
			t.Errorf("a gap of %v before fragment %d", ts.Sub(prev), i)
		}
		prev = ts
	}
	checkArchivedLoop(t, p, stream, outage)
	if t.Failed() {
		fmt.Fprintln(os.Stderr, c.log())
	}
}

// kvs put --resume after a SIGKILL skips what was persisted, keeps the
// first run's producer timestamps, and leaves the archive holding the file
// once, whole.
func TestPutResume(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clip := makeClip(t, dir, 16)
	p := startServe(t, filepath.Join(dir, "data"))
	createStream(t, p, "resumed", 24)
	cache := filepath.Join(dir, "cache")
	put := func(args ...string) *exec.Cmd {
		cmd := exec.Command(kvsBin, append([]string{"put", clip, "--stream", "resumed", "--resume", "--output", "json"}, args...)...)
		cmd.Env = append(p.Env(), "AWS_ENDPOINT_URL_KINESIS_VIDEO="+p.URL, "XDG_CACHE_HOME="+cache)
		return cmd
	}
	first := put("--realtime")
	var firstErr bytes.Buffer
	first.Stderr = &firstErr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once a few fragments are persisted and the progress saved.
	stateDir := filepath.Join(cache, "kvs", "resume")
	var state resumeState
	deadline := time.Now().Add(30 * time.Second)
	for state.PersistedThroughMS == 0 || len(p.fragmentsOf(t, "resumed")) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("no progress saved after 30 s; %+v\n%s", state, firstErr.String())
		}
		time.Sleep(300 * time.Millisecond)
		des, _ := os.ReadDir(stateDir)
		for _, de := range des {
			if b, err := os.ReadFile(filepath.Join(stateDir, de.Name())); err == nil && strings.HasSuffix(de.Name(), ".json") {
				_ = json.Unmarshal(b, &state)
			}
		}
	}
	_ = first.Process.Kill()
	_ = first.Wait()
	before := p.fragmentsOf(t, "resumed")
	t.Logf("killed after %d fragments archived; progress: persisted through %d", len(before), state.PersistedThroughMS)

	second := put("--output", "text")
	var out, errOut bytes.Buffer
	second.Stdout, second.Stderr = &out, &errOut
	if err := second.Run(); err != nil {
		t.Fatalf("kvs put --resume: %v\n%s", err, errOut.String())
	}
	if m := regexp.MustCompile(`\((\d+) persisted by the interrupted upload, skipped\)`).FindStringSubmatch(errOut.String()); m == nil || m[1] == "0" {
		t.Errorf("the resumed upload did not skip the persisted fragments:\n%s", errOut.String())
	}
	if des, _ := os.ReadDir(stateDir); len(des) != 0 {
		t.Errorf("progress left after the upload completed: %v", des)
	}
	// The archive holds the file once: every frame, in order, none twice.
	after := p.fragmentsOf(t, "resumed")
	var prev string
	for _, f := range after {
		if f.ProducerTimestamp <= prev {
			t.Errorf("fragment timestamps not increasing: %s after %s", f.ProducerTimestamp, prev)
		}
		prev = f.ProducerTimestamp
	}
	if after[0].ProducerTimestamp != before[0].ProducerTimestamp {
		t.Errorf("the resumed upload starts at %s, the first at %s", after[0].ProducerTimestamp, before[0].ProducerTimestamp)
	}
	media := filepath.Join(dir, "archived.mkv")
	if _, e, err := p.kvs(t, "get", "media", "--stream", "resumed", "--start", "earliest", "-o", media); err != nil {
		t.Fatalf("get media: %v %s", err, e)
	}
	// The archive's second session starts a new Segment, of which ffmpeg
	// warns: keep only the hashes. Every frame comes back, the audio frame
	// ahead of the first picture too.
	equalHashes(t, "video", framemd5(t, clip, "v:0"), onlyHashes(framemd5(t, media, "v:0")))
	equalHashes(t, "audio", framemd5(t, clip, "a:0"), onlyHashes(framemd5(t, media, "a:0")))
}

var md5RE = regexp.MustCompile(`^[0-9a-f]{32}$`)

func onlyHashes(in []string) []string {
	var out []string
	for _, h := range in {
		if md5RE.MatchString(h) {
			out = append(out, h)
		}
	}
	return out
}
