package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"kvskit/internal/testenv"
)

// kvsBin is the kvs binary built once for the end-to-end tests.
var kvsBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kvs-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	kvsBin = filepath.Join(dir, "kvs")
	build := exec.Command("go", "build", "-o", kvsBin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build kvs: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// serveProc is a running `kvs serve` process.
type serveProc struct {
	t       testing.TB
	cmd     *exec.Cmd
	URL     string
	DataDir string
	Creds   string
	Region  string
	mu      sync.Mutex
	stdout  bytes.Buffer
	stderr  bytes.Buffer
	exited  chan struct{}
}

var readyRE = regexp.MustCompile(`ready at (https?://\S+)`)

// startServe runs kvs serve on a free port with short limits for tests.
func startServe(t testing.TB, dataDir string, extra ...string) *serveProc {
	t.Helper()
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir,
		"--getmedia-idle-timeout", "1s", "--log-level", "debug"}, extra...)
	p := &serveProc{t: t, DataDir: dataDir, Creds: filepath.Join(dataDir, "credentials"), Region: "us-east-1",
		exited: make(chan struct{})}
	p.cmd = exec.Command(kvsBin, args...)
	outPipe, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start kvs serve: %v", err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(outPipe)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.stdout.WriteString(line + "\n")
			p.mu.Unlock()
			if m := readyRE.FindStringSubmatch(line); m != nil {
				ready <- m[1]
			}
		}
	}()
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	select {
	case p.URL = <-ready:
	case <-p.exited:
		t.Fatalf("kvs serve exited before ready:\n%s\n%s", p.Stdout(), p.Stderr())
	case <-time.After(20 * time.Second):
		p.Kill()
		t.Fatalf("kvs serve not ready after 20s:\n%s", p.Stderr())
	}
	t.Cleanup(func() { p.Stop() })
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (p *serveProc) Stdout() string { p.mu.Lock(); defer p.mu.Unlock(); return p.stdout.String() }
func (p *serveProc) Stderr() string { p.mu.Lock(); defer p.mu.Unlock(); return p.stderr.String() }

// Stop sends SIGTERM and waits for a clean exit.
func (p *serveProc) Stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.Kill()
		p.t.Errorf("kvs serve did not stop within 30s of SIGTERM:\n%s", p.Stderr())
	}
}

// Kill sends SIGKILL and waits.
func (p *serveProc) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// Env is the environment for AWS clients pointed at this server.
func (p *serveProc) Env() []string {
	env := []string{}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "AWS_SHARED_CREDENTIALS_FILE="+p.Creds, "AWS_CONFIG_FILE=/dev/null",
		"AWS_DEFAULT_REGION="+p.Region, "AWS_EC2_METADATA_DISABLED=true")
}

// aws runs the AWS CLI against the server and returns stdout, stderr, error.
func (p *serveProc) aws(t testing.TB, args ...string) (string, string, error) {
	t.Helper()
	bin := testenv.Tool(t, "aws")
	full := append([]string{"--endpoint-url", p.URL, "--region", p.Region, "--output", "json"}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Env = p.Env()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// python runs a script from testdata with python3 and boto3.
func (p *serveProc) python(t testing.TB, script string, args ...string) (string, error) {
	t.Helper()
	py := testenv.Python(t, "boto3")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, append([]string{filepath.Join("testdata", script)}, args...)...)
	cmd.Env = p.Env()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s: %w\nstderr:\n%s", script, err, errb.String())
	}
	return out.String(), nil
}

// ackLine is one line of putmedia.py output that is a JSON ACK.
type ackLine struct {
	EventType        string
	FragmentTimecode int64
	FragmentNumber   string
	ErrorID          int    `json:"ErrorId"`
	ErrorCode        string `json:"ErrorCode"`
}

func parseAcks(t testing.TB, out string) (status string, acks []ackLine) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "STATUS "):
			status = strings.TrimPrefix(line, "STATUS ")
		case strings.HasPrefix(line, "{"):
			var a ackLine
			if err := json.Unmarshal([]byte(line), &a); err != nil {
				t.Fatalf("bad ack line %q: %v", line, err)
			}
			acks = append(acks, a)
		}
	}
	return status, acks
}

func countEvents(acks []ackLine, event string) int {
	n := 0
	for _, a := range acks {
		if a.EventType == event {
			n++
		}
	}
	return n
}

// run executes a command and fails the test with its output on error.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// pyProc is a testdata script running in the background whose stdout lines
// are delivered as they are printed.
type pyProc struct {
	Lines  <-chan string // closed when stdout ends
	cmd    *exec.Cmd
	cancel context.CancelFunc
	stderr bytes.Buffer
	done   chan struct{} // closed once stdout is drained
}

// pythonStream starts a script from testdata with python3 and boto3 and
// streams its stdout lines; Wait collects its exit status.
func (p *serveProc) pythonStream(t testing.TB, script string, args ...string) *pyProc {
	t.Helper()
	py := testenv.Python(t, "boto3")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	pp := &pyProc{cancel: cancel, done: make(chan struct{})}
	pp.cmd = exec.CommandContext(ctx, py, append([]string{filepath.Join("testdata", script)}, args...)...)
	pp.cmd.Env = p.Env()
	pp.cmd.Stderr = &pp.stderr
	out, err := pp.cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := pp.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", script, err)
	}
	lines := make(chan string, 1024)
	pp.Lines = lines
	go func() {
		defer close(pp.done)
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() { _ = pp.Wait() })
	return pp
}

// Wait waits for the script to exit, after its remaining output lines have
// been read from Lines, and returns its error with stderr.
func (pp *pyProc) Wait() error {
	for range pp.Lines {
	}
	<-pp.done
	if pp.cmd.ProcessState != nil {
		return nil
	}
	err := pp.cmd.Wait()
	pp.cancel()
	if err != nil {
		return fmt.Errorf("%s: %w\nstderr:\n%s", filepath.Base(pp.cmd.Args[1]), err, pp.stderr.String())
	}
	return nil
}

// stopWithSIGTERM sends SIGTERM to a started command and fails the test
// unless it exits cleanly within timeout.
func stopWithSIGTERM(t testing.TB, cmd *exec.Cmd, timeout time.Duration) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Errorf("%s exit after SIGTERM: %v", cmd.Path, err)
		}
	case <-time.After(timeout):
		t.Fatalf("%s did not stop within %v of SIGTERM", cmd.Path, timeout)
	}
}
