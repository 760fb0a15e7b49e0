package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"kvskit/internal/awsauth"
	"kvskit/media"
	"kvskit/mkv"
)

// vmRSS returns a process's resident set size in bytes.
func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// endlessCluster sends a signed PutMedia whose body is a header and one
// cluster that never ends, as fast as the server reads it, until stop is
// closed; it returns the ACK lines received.
func endlessCluster(t *testing.T, p *serveProc, creds awsauth.Credentials, stream string, stop <-chan struct{}) (string, error) {
	u, _ := url.Parse(p.URL)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	req, _ := http.NewRequest(http.MethodPost, p.URL+"/putMedia", nil)
	req.Header.Set("x-amzn-stream-name", stream)
	req.Header.Set("x-amzn-fragment-timecode-type", "ABSOLUTE")
	if err := awsauth.SignRequest(context.Background(), req, creds, p.Region, awsauth.UnsignedPayload, time.Now()); err != nil {
		return "", err
	}
	var head strings.Builder
	fmt.Fprintf(&head, "POST /putMedia HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n", req.Host)
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&head, "%s: %s\r\n", k, v)
		}
	}
	head.WriteString("\r\n")
	if _, err := conn.Write([]byte(head.String())); err != nil {
		return "", err
	}
	acks := make(chan string, 1)
	go func() {
		var out bytes.Buffer
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err == nil {
			_, _ = out.ReadFrom(resp.Body)
		}
		acks <- out.String()
	}()
	cw := httputil.NewChunkedWriter(conn)
	w := mkv.NewWriter(cw)
	video := media.Track{Number: 1, Kind: media.KindVideo, Codec: media.CodecH264,
		CodecPrivate: []byte{1, 0x42, 0xc0, 0x1e, 0xff, 0xe0, 0x00}, Width: 320, Height: 240}
	frame := bytes.Repeat([]byte{0x55}, 64<<10)
	err = w.WriteHeader(mkv.SegmentInfo{}, []media.Track{video})
	if err == nil {
		err = w.StartCluster(time.Now().UnixMilli())
	}
	go func() {
		<-stop
		_ = conn.SetWriteDeadline(time.Now())
	}()
	for i := 0; err == nil; i++ {
		err = w.WriteBlock(1, int16(i%1000), i == 0, frame)
	}
	// The server may end the request (an error, a closed connection), or
	// the test stops the writes.
	select {
	case <-stop:
	default:
	}
	_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	return <-acks, nil
}

// TestServeMemoryBound: 8 PutMedia connections each sending one endless
// cluster keep the server's resident memory under the bound docs/server.md
// states for the memory flags: --memory-budget + 96 MiB + 1.25 MiB per
// connection. Each gets an ERROR for its fragment, and the server keeps
// answering.
func TestServeMemoryBound(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	const (
		sessions = 8
		budget   = 64 << 20
	)
	dir := t.TempDir()
	p := startServe(t, filepath.Join(dir, "data"), "--log-level", "warn",
		"--memory-budget", strconv.Itoa(budget), "--session-memory", strconv.Itoa(16<<20))
	profiles, err := awsauth.LoadCredentialsFile(p.Creds)
	if err != nil {
		t.Fatal(err)
	}
	creds := profiles["default"]
	for i := 0; i < sessions; i++ {
		createStream(t, p, fmt.Sprintf("endless-%d", i), 1)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	results := make([]string, sessions)
	errs := make([]error, sessions)
	for i := 0; i < sessions; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = endlessCluster(t, p, creds, fmt.Sprintf("endless-%d", i), stop)
		}()
	}
	var maxRSS int64
	end := time.Now().Add(8 * time.Second)
	for time.Now().Before(end) {
		rss, err := vmRSS(p.cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		maxRSS = max(maxRSS, rss)
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	bound := int64(budget + 96<<20 + sessions*(5<<20)/4)
	t.Logf("server RSS at most %.1f MiB with %d endless clusters; bound %.1f MiB", float64(maxRSS)/(1<<20), sessions, float64(bound)/(1<<20))
	if maxRSS > bound {
		t.Errorf("server RSS reached %.1f MiB, over the stated bound %.1f MiB", float64(maxRSS)/(1<<20), float64(bound)/(1<<20))
	}
	for i, r := range results {
		if errs[i] != nil {
			t.Errorf("session %d: %v", i, errs[i])
		}
		if !strings.Contains(r, `"ErrorId":4001`) && !strings.Contains(r, `"ErrorId":5000`) {
			t.Errorf("session %d: no ERROR 4001 or 5000 for its endless fragment: %q", i, r)
		}
	}
	// The server is up and serves.
	if _, errOut, err := p.aws(t, "kinesisvideo", "list-streams"); err != nil {
		t.Fatalf("list-streams after the endless clusters: %v %s", err, errOut)
	}
}
