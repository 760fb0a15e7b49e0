package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"kvskit/internal/testenv/faultproxy"
	"kvskit/media"
)

// mustMetric reads one of kvs capture's metrics for a stream, failing the
// test when /metrics lacks it.
func mustMetric(t *testing.T, addr, name, stream string) float64 {
	t.Helper()
	v, ok := metricValue(t, addr, name, stream)
	if !ok {
		t.Fatalf("/metrics on %s lacks %s for %s", addr, name, stream)
	}
	return v
}

// healthz reads a kvs capture /healthz: its status and its first camera.
func healthz(t *testing.T, addr string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("/healthz: %v", err)
	}
	defer resp.Body.Close()
	var h struct {
		Cameras []map[string]any `json:"cameras"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || len(h.Cameras) == 0 {
		t.Fatalf("/healthz: %v %+v", err, h)
	}
	return resp.StatusCode, h.Cameras[0]
}

func (pp *prodProc) count(substr string) int {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	n := 0
	for _, l := range pp.lines {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

// running fails the test if the process has exited.
func (pp *prodProc) running(t *testing.T) {
	t.Helper()
	select {
	case <-pp.exited:
		t.Fatalf("%s exited (%v) while it should keep running:\n%s", pp.name, pp.err, tail(pp.Stderr(), 20))
	default:
	}
}

// terminate sends SIGTERM and returns the exit code.
func (pp *prodProc) terminate(t *testing.T) int {
	t.Helper()
	if err := pp.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := pp.wait(t, 45*time.Second)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("%s: %v", pp.name, err)
	return -1
}

// TestCaptureWaitsForEndpoint starts kvs capture while the endpoint refuses
// every connection: it keeps running, logs each attempt and holds the frames
// it captures; once the endpoint answers, those frames are uploaded with the
// rest, and SIGTERM ends it with status 0.
func TestCaptureWaitsForEndpoint(t *testing.T) {
	t.Parallel()
	e := newFaultEnv(t, "waits")
	if err := e.proxy.SetMode(faultproxy.Refuse); err != nil {
		t.Fatal(err)
	}
	metrics := freePort(t)
	pp := startProducer(t, e.producerEnv(), "capture", "--source", "test://", "--stream", e.stream,
		"--metrics-listen", metrics, "--log-level", "info")
	time.Sleep(8 * time.Second)
	pp.running(t)
	if n := pp.count("endpoint unreachable; retrying"); n < 3 {
		t.Errorf("%d retry log lines in 8 s, want one per attempt (at 0, 1, 3 and 7 s):\n%s", n, tail(pp.Stderr(), 10))
	}
	if v := mustMetric(t, metrics, "kvs_endpoint_attempts_total", e.stream); v < 3 {
		t.Errorf("kvs_endpoint_attempts_total %g after 8 s", v)
	}
	if v := mustMetric(t, metrics, "kvs_frames_held", e.stream); v < 200 {
		t.Errorf("kvs_frames_held %g after 8 s of a 30 fps source", v)
	}
	if _, cam := healthz(t, metrics); cam["state"] != "endpoint unreachable" {
		t.Errorf("/healthz camera %+v, want state endpoint unreachable", cam)
	}
	if err := e.proxy.SetMode(faultproxy.Pass); err != nil {
		t.Fatal(err)
	}
	// The next attempt comes within the backoff (8 s at this point).
	e.acks.waitCount(t, 1, 30*time.Second)
	time.Sleep(4 * time.Second)
	captured := time.Since(pp.began)
	if code := pp.terminate(t); code != 0 {
		t.Fatalf("exit status %d after SIGTERM with nothing lost:\n%s", code, tail(pp.Stderr(), 20))
	}
	// The archive starts with the first frames captured, held through the
	// refusal, and runs on without a gap until the end.
	checkArchivedLoop(t, e.serve, e.stream, captured-3*time.Second)
}

// TestCaptureExitStatusWhenMediaDropped makes kvs capture drop media twice:
// frames held beyond --buffer-duration while the endpoint refuses at start,
// and fragments beyond it when connections are refused later. /metrics and
// /healthz count both, and SIGTERM ends it with status 3.
func TestCaptureExitStatusWhenMediaDropped(t *testing.T) {
	t.Parallel()
	e := newFaultEnv(t, "drops")
	if err := e.proxy.SetMode(faultproxy.Refuse); err != nil {
		t.Fatal(err)
	}
	metrics := freePort(t)
	pp := startProducer(t, e.producerEnv(), "capture", "--source", "test://", "--stream", e.stream,
		"--metrics-listen", metrics, "--log-level", "info", "--buffer-duration", "4s")
	time.Sleep(10 * time.Second)
	pp.running(t)
	held := mustMetric(t, metrics, "kvs_frames_held", e.stream)
	droppedFrames := mustMetric(t, metrics, "kvs_frames_dropped_total", e.stream)
	// 10 s of frames, 4 s of them (and at most one more group) held.
	if droppedFrames < 100 || held > 6*30*(1+48000/1024/30) {
		t.Errorf("after 10 s refused with 4 s held: %g frames dropped, %g held", droppedFrames, held)
	}
	if _, cam := healthz(t, metrics); cam["frames_dropped"] != droppedFrames {
		t.Errorf("/healthz camera %+v, want frames_dropped %g", cam, droppedFrames)
	}
	if err := e.proxy.SetMode(faultproxy.Pass); err != nil {
		t.Fatal(err)
	}
	e.acks.waitCount(t, 1, 30*time.Second)

	// Refused again, for longer than the buffer holds.
	if err := e.proxy.SetMode(faultproxy.Refuse); err != nil {
		t.Fatal(err)
	}
	e.proxy.ResetAll()
	time.Sleep(12 * time.Second)
	if err := e.proxy.SetMode(faultproxy.Pass); err != nil {
		t.Fatal(err)
	}
	fragsDropped := mustMetric(t, metrics, "kvs_fragments_dropped_total", e.stream)
	if fragsDropped < 1 {
		t.Errorf("kvs_fragments_dropped_total %g after 12 s refused with a 4 s buffer", fragsDropped)
	}
	// The frames of the dropped fragments count too: a fragment of about
	// 2 s of the test pattern holds about 60 video and 94 audio frames.
	v := mustMetric(t, metrics, "kvs_frames_dropped_total", e.stream)
	t.Logf("dropped: %g frames held at start, %g fragments, %g frames in all", droppedFrames, fragsDropped, v)
	if v < droppedFrames+100*fragsDropped {
		t.Errorf("kvs_frames_dropped_total %g after %g fragments dropped (and %g frames held before)", v, fragsDropped, droppedFrames)
	}
	if status, cam := healthz(t, metrics); cam["fragments_dropped"] != fragsDropped || cam["fragments_duplicated"] == nil {
		t.Errorf("/healthz %d camera %+v, want fragments_dropped %g and fragments_duplicated", status, cam, fragsDropped)
	}
	persisted := e.acks.count()
	e.acks.waitCount(t, persisted+1, recoveryBound)
	if code := pp.terminate(t); code != exitMediaLost {
		t.Fatalf("exit status %d after dropping media, want %d:\n%s", code, exitMediaLost, tail(pp.Stderr(), 20))
	}
	if last := tail(pp.Stderr(), 1); !strings.Contains(last, "media lost") {
		t.Errorf("last line %q does not say media was lost", last)
	}
}

func TestFrameHoldDropsWholeGroupsOldestFirst(t *testing.T) {
	h := frameHold{maxDur: time.Second, maxBytes: 1 << 20, video: 1}
	var dropped []media.Frame
	// 30 fps video with a key frame every 10 frames, and audio between.
	for i := range 60 {
		at := time.Duration(i) * time.Second / 30
		dropped = append(dropped, h.push(media.Frame{Track: 1, DTS: at, Key: i%10 == 0, Data: []byte{byte(i)}})...)
		dropped = append(dropped, h.push(media.Frame{Track: 2, DTS: at, Key: true, Data: []byte{byte(i), 2}})...)
	}
	if h.duration() > time.Second {
		t.Fatalf("hold spans %s, bound 1 s", h.duration())
	}
	held := h.take()
	if f := held[0]; f.Track != 1 || !f.Key {
		t.Fatalf("the hold starts with %+v, want a video key frame", f)
	}
	// Everything dropped comes before everything held, in order, and the
	// two together are every frame pushed.
	all := append(dropped, held...)
	if len(all) != 120 {
		t.Fatalf("%d frames dropped and held, 120 pushed", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].DTS < all[i-1].DTS {
			t.Fatalf("frame %d out of order", i)
		}
	}
	if len(dropped)%20 != 0 {
		t.Fatalf("%d frames dropped: not whole groups of 10 video + 10 audio frames", len(dropped))
	}
	if h.len() != 0 || h.take() != nil {
		t.Fatal("take left frames")
	}
}

// faultScenarioCaptureBlackhole blackholes kvs capture's path for 45 s, beyond
// the staleness window and within its buffer: after the fault it recovers by
// itself, SIGTERM ends it with status 0, and the archive holds every frame
// it captured, once, in order.
func faultScenarioCaptureBlackhole(t *testing.T, _ map[int]string) {
	e := newFaultEnv(t, "capture-blackhole")
	pp := startProducer(t, e.producerEnv(), "capture", "--source", "test://", "--stream", e.stream, "--log-level", "info")
	e.acks.waitCount(t, 2, 30*time.Second)
	if err := e.proxy.SetMode(faultproxy.Blackhole); err != nil {
		t.Fatal(err)
	}
	time.Sleep(45 * time.Second)
	if err := e.proxy.SetMode(faultproxy.Pass); err != nil {
		t.Fatal(err)
	}
	ended := time.Now()
	deadline := ended.Add(recoveryBound + 30*time.Second)
	for {
		if _, ok := e.acks.firstAfter(ended); ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	at, ok := e.acks.firstAfter(ended)
	if !ok {
		t.Errorf("no fragment PERSISTED within %s of the fault's end", recoveryBound+30*time.Second)
		pp.wait(t, 0)
	}
	t.Logf("recovery: first PERSISTED %s after the fault's end", at.Sub(ended).Round(time.Millisecond))
	if d := at.Sub(ended); d > recoveryBound {
		t.Errorf("recovery took %s, want within %s", d.Round(time.Millisecond), recoveryBound)
	}
	time.Sleep(6 * time.Second)
	captured := time.Since(pp.began)
	if code := pp.terminate(t); code != 0 {
		t.Errorf("exit status %d:\n%s", code, tail(pp.Stderr(), 20))
	}
	warm, peak := pp.rssFigures()
	t.Logf("kvs capture resident memory: %d kB after warm-up, peak %d kB; proxy %+v", warm, peak, e.proxy.Stats())
	if peak-warm > putFaultMemoryGrowth {
		t.Errorf("resident memory grew from %d kB to %d kB", warm, peak)
	}
	checkArchivedLoop(t, e.serve, e.stream, captured-3*time.Second)
	// Every frame accepted is archived: none lost at the end, none twice.
	m := regexp.MustCompile(`capture stopped.*frames=(\d+)`).FindStringSubmatch(pp.Stderr())
	if m == nil {
		t.Fatalf("no capture stopped line:\n%s", tail(pp.Stderr(), 5))
	}
	accepted, _ := strconv.Atoi(m[1])
	archived := 0
	for _, fs := range archivedFrames(t, e.serve, e.stream) {
		archived += len(fs)
	}
	if archived > accepted || archived < accepted-3 {
		t.Errorf("%d frames accepted from the source, %d archived", accepted, archived)
	}
}
