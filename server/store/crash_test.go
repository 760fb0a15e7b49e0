package store

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	crashDirEnv = "KVS_STORE_CRASH_DIR"
	// crashGroupEnv set to 1 makes every flush round of the child flush the
	// whole file system (syncfs), however small.
	crashGroupEnv = "KVS_STORE_CRASH_GROUP"
)

// TestCrashChild is the victim of TestCrash: run in a child process, it
// appends random fragments to every "crash-" stream as fast as it can, while
// another goroutine creates, fills, expires and deletes scratch streams. It
// prints "OK <arn> <number> <sha256>" after each successful append, until it
// is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestCrash")
	}
	s, err := Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	if os.Getenv(crashGroupEnv) == "1" && s.flush != nil {
		s.flush.groupMin = 0
		s.flush.dirtyData = func() (int64, bool) { return 0, true }
	}
	streams, err := s.Streams()
	if err != nil {
		fmt.Fprintln(os.Stderr, "streams:", err)
		os.Exit(2)
	}
	deadline := time.Now().Add(20 * time.Second)
	var wg sync.WaitGroup
	for i, st := range streams {
		if !strings.HasPrefix(st.Name, "crash-") {
			continue
		}
		// Worker 0 appends one fragment at a time; worker 1 keeps two in
		// flight with StartAppend, as an ingest session does.
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewChaCha8([32]byte{byte(i), byte(w), byte(time.Now().UnixNano())}))
				type started struct {
					p   *PendingAppend
					sum [32]byte
				}
				var inFlight []started
				ack := func(a started) {
					f, err := a.p.Wait()
					if err != nil {
						fmt.Fprintln(os.Stderr, "append:", err)
						os.Exit(2)
					}
					fmt.Fprintf(os.Stdout, "OK %s %s %s\n", st.ARN, f.Number, hex.EncodeToString(a.sum[:]))
				}
				for time.Now().Before(deadline) {
					data := make([]byte, 1+rng.IntN(256<<10))
					for j := 0; j < len(data); j += 8 {
						v := rng.Uint64()
						for k := 0; k < 8 && j+k < len(data); k++ {
							data[j+k] = byte(v >> (8 * k))
						}
					}
					now := time.Now()
					inFlight = append(inFlight, started{
						p:   s.StartAppend(st.ARN, Fragment{ProducerTimestamp: now, ServerTimestamp: now, Duration: time.Second}, data),
						sum: sha256.Sum256(data),
					})
					if len(inFlight) > w {
						ack(inFlight[0])
						inFlight = inFlight[1:]
					}
				}
				for _, a := range inFlight {
					ack(a)
				}
			}()
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; time.Now().Before(deadline); n++ {
			name := fmt.Sprintf("scratch-%d-%d", os.Getpid(), n)
			arn := testARN("stream", name)
			if err := s.CreateStream(Stream{Name: name, ARN: arn}); err != nil {
				fmt.Fprintln(os.Stderr, "create:", err)
				os.Exit(2)
			}
			for range 3 {
				if _, err := s.AppendFragment(arn, Fragment{ServerTimestamp: time.Now().Add(-time.Minute)}, make([]byte, 32<<10)); err != nil {
					fmt.Fprintln(os.Stderr, "scratch append:", err)
					os.Exit(2)
				}
			}
			if _, err := s.PutHeader(arn, []byte(name)); err != nil {
				fmt.Fprintln(os.Stderr, "header:", err)
				os.Exit(2)
			}
			if _, err := s.Expire(time.Now()); err != nil {
				fmt.Fprintln(os.Stderr, "expire:", err)
				os.Exit(2)
			}
			if n%2 == 0 {
				if err := s.DeleteStream(name); err != nil {
					fmt.Fprintln(os.Stderr, "delete:", err)
					os.Exit(2)
				}
			}
		}
	}()
	wg.Wait()
	s.Close()
}

type okLine struct{ arn, number, sum string }

// TestCrash kills a writing child process at a random moment, three times,
// and checks that every acknowledged fragment survived intact: with the
// store's own choice of flush for each round (per-file fsyncs for rounds
// this small), and with every round flushing the whole file system.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	t.Run("per-file", func(t *testing.T) { testCrash(t, "0") })
	t.Run("syncfs", func(t *testing.T) {
		if !canSyncFS {
			t.Skip("no group flush on this platform")
		}
		testCrash(t, "1")
	})
}

func testCrash(t *testing.T, group string) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		mustStream(t, s, fmt.Sprintf("crash-%d", i), 24)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	var all []okLine
	for round := range 3 {
		lines, stderr := runCrashChild(t, dir, group, time.Duration(200+rand.IntN(600))*time.Millisecond)
		t.Logf("round %d: %d acknowledged appends", round, len(lines))
		if strings.Contains(stderr, "append:") || strings.Contains(stderr, "open:") {
			t.Fatalf("child failed:\n%s", stderr)
		}
		all = append(all, lines...)

		s, err := Open(dir, WithLogger(slog.New(slog.NewTextHandler(testLog{t}, nil))))
		if err != nil {
			t.Fatal(err)
		}
		maxNumber := ""
		for _, l := range all {
			data, err := s.ReadFragment(l.arn, l.number)
			if err != nil {
				t.Fatalf("round %d: acknowledged fragment %s %s: %v", round, l.arn, l.number, err)
			}
			if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != l.sum {
				t.Fatalf("round %d: fragment %s %s changed", round, l.arn, l.number)
			}
			maxNumber = max(maxNumber, l.number)
		}
		problems, err := s.Check()
		if err != nil {
			t.Fatal(err)
		}
		if len(problems) > 0 {
			t.Fatalf("round %d: Check after crash:\n%s", round, strings.Join(problems, "\n"))
		}
		streams, _ := s.Streams()
		for _, st := range streams {
			if !strings.HasPrefix(st.Name, "crash-") {
				continue
			}
			last, _ := s.LastFragment(st.ARN)
			f, err := s.AppendFragment(st.ARN, Fragment{ServerTimestamp: time.Now()}, []byte("after the crash"))
			if err != nil {
				t.Fatalf("round %d: append after crash: %v", round, err)
			}
			if f.Number <= maxNumber || f.Number <= last.Number {
				t.Fatalf("round %d: new number %s not above %s / %s", round, f.Number, maxNumber, last.Number)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if len(all) == 0 {
		t.Fatal("the child acknowledged nothing; the test proved nothing")
	}
}

// runCrashChild starts TestCrashChild on dir, SIGKILLs it after d and
// returns the acknowledgements it printed completely.
func runCrashChild(t *testing.T, dir, group string, d time.Duration) ([]okLine, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashGroupEnv+"="+group)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []okLine
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := bufio.NewReader(out)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				// A line without its newline was cut by the kill.
				if err != io.EOF {
					t.Error(err)
				}
				return
			}
			f := strings.Fields(line)
			if len(f) == 4 && f[0] == "OK" {
				lines = append(lines, okLine{f[1], f[2], f[3]})
			}
		}
	}()
	time.Sleep(d)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-done
	_ = cmd.Wait()
	return lines, stderr.String()
}

// testLog writes log lines to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
