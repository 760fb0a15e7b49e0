package main

import (
	"bufio"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"kvskit/internal/testenv"
)

// rtspCamera is GStreamer's RTSP server (device/rtsp/testdata/rtsp_server.py)
// run by Debian's python3, which has the gi bindings.
type rtspCamera struct {
	t    *testing.T
	addr string
	cmd  *exec.Cmd
}

func startRTSPCamera(t *testing.T, addr string) *rtspCamera {
	t.Helper()
	const py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer").CombinedOutput(); err != nil {
		testenv.Missing(t, "GStreamer's RTSP server for Python (python3-gi, gir1.2-gst-rtsp-server-1.0): "+strings.TrimSpace(string(out)))
	}
	c := &rtspCamera{t: t, addr: addr}
	c.start()
	t.Cleanup(c.kill)
	return c
}

func (c *rtspCamera) start() {
	c.t.Helper()
	_, port, _ := strings.Cut(c.addr, ":")
	for attempt := 0; attempt < 40; attempt++ {
		cmd := exec.Command("/usr/bin/python3", filepath.Join("..", "..", "device", "rtsp", "testdata", "rtsp_server.py"), "--port", port)
		out, err := cmd.StdoutPipe()
		if err != nil {
			c.t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			c.t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		if strings.HasPrefix(line, "READY") {
			c.cmd = cmd
			return
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		time.Sleep(250 * time.Millisecond) // the port may still be held
	}
	c.t.Fatal("the RTSP server did not start")
}

// kill ends the camera abruptly, as a power loss would.
func (c *rtspCamera) kill() {
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	_ = c.cmd.Wait()
	c.cmd = nil
}

// TestCaptureRTSPCameraRestart streams a GStreamer RTSP camera into kvs serve
// with kvs capture, kills the camera mid-stream and starts it again: the
// capture reconnects, the archive's fragment timestamps keep increasing and
// the endpoint reports no ERROR.
func TestCaptureRTSPCameraRestart(t *testing.T) {
	dir := t.TempDir()
	cam := startRTSPCamera(t, freePort(t))
	p := startServe(t, filepath.Join(dir, "data"))
	cmd := exec.Command(kvsBin, "capture", "--source", "rtsp://"+cam.addr+"/test", "--stream", "cam",
		"--create-stream", "--fragment-duration", "1s", "--log-level", "debug")
	cmd.Env = append(p.Env(), "AWS_ENDPOINT_URL_KINESIS_VIDEO="+p.URL)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	var mu sync.Mutex
	var logs []string
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			logs = append(logs, sc.Text())
			mu.Unlock()
		}
	}()
	time.Sleep(8 * time.Second)
	cam.kill()
	killedAt := time.Now()
	time.Sleep(3 * time.Second)
	cam.start()
	time.Sleep(12 * time.Second)
	stopWithSIGTERM(t, cmd, 40*time.Second)
	<-logDone

	frags := p.fragmentsOf(t, "cam")
	if len(frags) < 10 {
		t.Fatalf("%d fragments for ~20 s of camera time", len(frags))
	}
	var prev time.Time
	after := 0
	for i, f := range frags {
		ts, err := time.Parse(time.RFC3339Nano, f.ProducerTimestamp)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && !ts.After(prev) {
			t.Fatalf("fragment %d timestamp %s not after %s", i, ts, prev)
		}
		if ts.After(killedAt.Add(3 * time.Second)) {
			after++
		}
		prev = ts
	}
	if after < 4 {
		t.Fatalf("only %d fragments after the camera came back", after)
	}
	if strings.Contains(p.Stderr(), "putmedia error") {
		t.Fatalf("the endpoint reported errors:\n%s", p.Stderr())
	}
	mu.Lock()
	defer mu.Unlock()
	for _, l := range logs {
		if strings.Contains(l, "fragment lost") {
			t.Errorf("capture lost a fragment: %s", l)
		}
	}
	t.Logf("%d fragments, %d after the camera restarted", len(frags), after)
}
