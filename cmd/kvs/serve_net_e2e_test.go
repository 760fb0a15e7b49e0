package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"kvskit/internal/awsauth"
	"kvskit/internal/testenv"
)

// TestPutMediaHostWithoutPort: a producer that sends and signs Host without
// the port (as the KVS C producer does) gets a data endpoint that carries the
// listener's port, follows it and uploads.
func TestPutMediaHostWithoutPort(t *testing.T) {
	dir := t.TempDir()
	clip := makeClip(t, dir, 3)
	p := startServe(t, filepath.Join(dir, "data"))
	createStream(t, p, "portless", 1)
	out, err := p.python(t, "putmedia.py", p.URL, p.Region, "portless", clip, "--host-without-port")
	if err != nil {
		t.Fatalf("putmedia: %v\n%s", err, out)
	}
	if !strings.Contains(out, "DATA_ENDPOINT "+p.URL+"\n") {
		t.Fatalf("data endpoint for a Host without port: want %s, got:\n%s", p.URL, out)
	}
	status, acks := parseAcks(t, out)
	b, pe, e := countEvents(acks, "BUFFERING"), countEvents(acks, "PERSISTED"), countEvents(acks, "ERROR")
	if !strings.HasPrefix(status, "HTTP/1.1 200") || b == 0 || pe != b || e != 0 {
		t.Fatalf("status %q, %d BUFFERING, %d PERSISTED, %d ERROR:\n%s", status, b, pe, e, out)
	}
}

// floodProc is flood.py holding connections open until released.
type floodProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
}

func startFlood(t *testing.T, host, port string, count int, extra ...string) *floodProc {
	t.Helper()
	py := testenv.Python(t)
	f := &floodProc{lines: make(chan string, 16)}
	f.cmd = exec.Command(py, append([]string{filepath.Join("testdata", "flood.py"), host, port, strconv.Itoa(count), "--hold", "60"}, extra...)...)
	f.cmd.Stderr = os.Stderr
	var err error
	if f.stdin, err = f.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := f.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.cmd.Start(); err != nil {
		t.Fatalf("start flood.py: %v", err)
	}
	go func() {
		defer close(f.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f.lines <- sc.Text()
		}
	}()
	t.Cleanup(f.release)
	return f
}

// opened waits for the OPENED line and returns it, logging any SCALED line.
func (f *floodProc) opened(t *testing.T) string {
	t.Helper()
	timeout := time.After(90 * time.Second)
	for {
		select {
		case l, ok := <-f.lines:
			if !ok {
				t.Fatal("flood.py ended before opening its connections")
			}
			if strings.HasPrefix(l, "SCALED") {
				t.Logf("flood.py: open-file limit too low, %s connections", strings.TrimPrefix(l, "SCALED "))
			}
			if strings.HasPrefix(l, "OPENED") {
				return l
			}
		case <-timeout:
			t.Fatal("flood.py did not open its connections within 90 s")
		}
	}
}

// release makes flood.py close its connections and exit.
func (f *floodProc) release() {
	if f.stdin != nil {
		f.stdin.Close()
		f.stdin = nil
		done := make(chan struct{})
		go func() { _ = f.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = f.cmd.Process.Kill()
			<-done
		}
	}
}

func countFDs(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// TestServeConnectionFlood: 20,000 connections from a client without
// credentials, each left open after one refused request, then 10,000 that
// send nothing, do not exhaust the server's file descriptors, and signed
// requests are answered within 100 ms all along. Everything stays on
// 127.0.0.1; flood.py holds at most 60 s.
func TestServeConnectionFlood(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	dir := t.TempDir()
	p := startServe(t, filepath.Join(dir, "data"), "--log-level", "warn", "--header-timeout", "3s")
	u, err := url.Parse(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	host, port := u.Hostname(), u.Port()
	profiles, err := awsauth.LoadCredentialsFile(p.Creds)
	if err != nil {
		t.Fatal(err)
	}
	creds := profiles["default"]
	// A camera's control connection, open before the flood.
	hc := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}, Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	signed := func() (time.Duration, error) {
		body := []byte("{}")
		req, _ := http.NewRequest(http.MethodPost, p.URL+"/listStreams", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		sum := sha256.Sum256(body)
		if err := awsauth.SignRequest(context.Background(), req, creds, p.Region, hex.EncodeToString(sum[:]), time.Now()); err != nil {
			return 0, err
		}
		start := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("status %d", resp.StatusCode)
		}
		return time.Since(start), nil
	}
	if _, err := signed(); err != nil {
		t.Fatalf("signed request before the flood: %v", err)
	}
	base := countFDs(p.cmd.Process.Pid)

	// watch samples the server's descriptors and signed-request latency
	// until stop is closed.
	watch := func(stop <-chan struct{}) (maxFDs int, maxLat time.Duration, n int, errs []error) {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			maxFDs = max(maxFDs, countFDs(p.cmd.Process.Pid))
			lat, err := signed()
			if err != nil {
				errs = append(errs, err)
				continue
			}
			n++
			maxLat = max(maxLat, lat)
		}
	}
	phase := func(name string, per int, extra ...string) {
		stop := make(chan struct{})
		type result struct {
			fds  int
			lat  time.Duration
			n    int
			errs []error
		}
		res := make(chan result)
		go func() {
			fds, lat, n, errs := watch(stop)
			res <- result{fds, lat, n, errs}
		}()
		floods := []*floodProc{startFlood(t, host, port, per, extra...), startFlood(t, host, port, per, extra...)}
		for _, f := range floods {
			t.Logf("%s: flood.py %s", name, f.opened(t))
		}
		time.Sleep(500 * time.Millisecond) // the connections sit open
		close(stop)
		r := <-res
		t.Logf("%s: server descriptors at most %d (%d before), %d signed requests, slowest %v",
			name, r.fds, base, r.n, r.lat)
		if len(r.errs) > 0 {
			t.Errorf("%s: %d signed requests failed, first: %v", name, len(r.errs), r.errs[0])
		}
		if r.n == 0 || r.lat >= 100*time.Millisecond {
			t.Errorf("%s: slowest signed request %v over %d, want under 100 ms", name, r.lat, r.n)
		}
		// The default per-address cap (256) bounds what one client holds.
		if r.fds > base+300 {
			t.Errorf("%s: the server held %d descriptors (%d before the flood)", name, r.fds, base)
		}
		for _, f := range floods {
			f.release()
		}
	}
	phase("refused requests", 10000)
	phase("silent connections", 5000, "--silent")
	if strings.Contains(p.Stderr(), "too many open files") {
		t.Errorf("the server ran out of descriptors:\n%s", p.Stderr())
	}
}

// TestPutMediaSecondConnectionOnBusyStream: as the official producers do
// when they rotate a connection, a second PutMedia is opened on a stream
// while the first is still sending. The second is accepted; the first ends
// after its fragment in flight; the fragments of both are persisted, none
// refused with a timecode error.
func TestPutMediaSecondConnectionOnBusyStream(t *testing.T) {
	dir := t.TempDir()
	clip := makeClip(t, dir, 6)
	p := startServe(t, filepath.Join(dir, "data"))
	createStream(t, p, "rotate", 1)
	start := time.Now().Add(-time.Hour)
	startArg := func(d time.Duration) string {
		return fmt.Sprintf("%.3f", float64(start.Add(d).UnixMilli())/1000)
	}
	// The first connection sends slowly, as a live camera does.
	first := p.pythonStream(t, "putmedia.py", p.URL, p.Region, "rotate", clip,
		"--start", startArg(0), "--chunk", "4096", "--delay", "0.1")
	var firstOut []string
	for l := range first.Lines {
		firstOut = append(firstOut, l)
		if strings.Contains(l, `"PERSISTED"`) {
			break
		}
	}
	second, err := p.python(t, "putmedia.py", p.URL, p.Region, "rotate", clip, "--start", startArg(time.Minute))
	if err != nil {
		t.Fatalf("second connection: %v\n%s", err, second)
	}
	for l := range first.Lines {
		firstOut = append(firstOut, l)
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("first connection: %v\n%s", err, strings.Join(firstOut, "\n"))
	}
	s1, a1 := parseAcks(t, strings.Join(firstOut, "\n"))
	s2, a2 := parseAcks(t, second)
	if !strings.HasPrefix(s1, "HTTP/1.1 200") || !strings.HasPrefix(s2, "HTTP/1.1 200") {
		t.Fatalf("statuses %q and %q, want both 200", s1, s2)
	}
	if e := countEvents(a1, "ERROR") + countEvents(a2, "ERROR"); e != 0 {
		t.Fatalf("%d ERROR acks:\nfirst:\n%s\nsecond:\n%s", e, strings.Join(firstOut, "\n"), second)
	}
	p1, p2 := countEvents(a1, "PERSISTED"), countEvents(a2, "PERSISTED")
	if p1 == 0 || p2 == 0 || p2 != countEvents(a2, "BUFFERING") {
		t.Fatalf("persisted %d on the first connection and %d on the second (of %d):\n%s", p1, p2, countEvents(a2, "BUFFERING"), second)
	}
	if p1 >= p2 {
		t.Fatalf("the first connection sent its whole clip (%d fragments): it did not overlap the second", p1)
	}
	out, errOut, err := p.aws(t, "kinesis-video-archived-media", "list-fragments", "--stream-name", "rotate",
		"--query", "length(Fragments)")
	if err != nil {
		t.Fatalf("list-fragments: %v %s", err, errOut)
	}
	if got := strings.TrimSpace(out); got != strconv.Itoa(p1+p2) {
		t.Fatalf("%s fragments stored, want %d + %d", got, p1, p2)
	}
	t.Logf("first connection: %d fragments persisted before it ended; second: %d", p1, p2)
}
