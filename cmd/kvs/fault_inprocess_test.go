package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"go.uber.org/goleak"

	"kvskit/device"
	"kvskit/internal/awsauth"
	"kvskit/internal/testenv/faultproxy"
	"kvskit/producer"
)

// The in-process fault tests run the producer package in the test process,
// against the kvs serve process through the fault proxy, with a short
// staleness window, so that after each fault goleak can show that Close
// returned within its context and left no goroutine of the producer (or of
// its HTTP connections) behind. They run one after another, alone in the
// process (no t.Parallel), so the goroutines seen are the producer's.

const (
	inProcStaleness = 5 * time.Second
	inProcRetryMax  = time.Second
	inProcRecovery  = inProcStaleness + inProcRetryMax + 3*time.Second
)

func TestFaultProducerInProcess(t *testing.T) {
	dir := t.TempDir()
	const clipSeconds = 20
	clip := makeFaultClip(t, dir, clipSeconds)
	want := readFrameSigs(t, clip)
	serve := startServe(t, dir+"/data")
	clipRate := func() int64 {
		n := int64(0)
		for _, fs := range want {
			for _, f := range fs {
				n += int64(f.Size)
			}
		}
		return n / clipSeconds
	}()
	// Longer than the staleness window; at half the clip's rate a 2 s
	// fragment crosses in 4 s, within it.
	const faultFor = 10 * time.Second
	cases := []struct {
		name  string
		fault func(t *testing.T, px *faultproxy.Proxy)
	}{
		{"blackhole", func(t *testing.T, px *faultproxy.Proxy) {
			_ = px.SetMode(faultproxy.Blackhole)
			time.Sleep(faultFor)
			_ = px.SetMode(faultproxy.Pass)
		}},
		{"frozen", func(t *testing.T, _ *faultproxy.Proxy) {
			pid := serve.cmd.Process.Pid
			if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			time.Sleep(faultFor)
			if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
		}},
		{"resets", func(t *testing.T, px *faultproxy.Proxy) {
			_ = px.SetThrottle(2 * clipRate)
			for range 4 {
				time.Sleep(faultFor / 4)
				px.ResetAll()
			}
			_ = px.SetThrottle(0)
		}},
		{"refused", func(t *testing.T, px *faultproxy.Proxy) {
			_ = px.SetMode(faultproxy.Refuse)
			px.ResetAll()
			time.Sleep(faultFor)
			_ = px.SetMode(faultproxy.Pass)
		}},
		{"throttled", func(t *testing.T, px *faultproxy.Proxy) {
			_ = px.SetThrottle(clipRate / 2)
			time.Sleep(faultFor)
			_ = px.SetThrottle(0)
		}},
		{"withheld", func(t *testing.T, px *faultproxy.Proxy) {
			_ = px.SetMode(faultproxy.Withhold)
			time.Sleep(faultFor)
			_ = px.SetMode(faultproxy.Pass)
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stream := "inproc-" + tc.name
			createStreams(t, serve, 24, stream)
			acks := newAckWatch()
			px, err := faultproxy.New(strings.TrimPrefix(serve.URL, "http://"), faultproxy.WithTap(acks.tap))
			if err != nil {
				t.Fatal(err)
			}
			defer px.Close()
			leakOpts := []goleak.Option{
				goleak.IgnoreCurrent(),
				goleak.IgnoreAnyFunction("kvskit/internal/testenv/faultproxy.(*Proxy).serve"),
				goleak.IgnoreAnyFunction("kvskit/internal/testenv/faultproxy.(*Proxy).pump"),
			}
			runInProcess(t, serve, px, acks, stream, clip, want, time.Duration(4+i%2)*time.Second, func() { tc.fault(t, px) })
			if err := goleak.Find(leakOpts...); err != nil {
				t.Errorf("goroutines left after Close: %v", err)
			}
		})
	}
}

// runInProcess uploads the clip in real time with a producer of this
// process, applies fault faultAt after the start, closes the producer and
// checks recovery, Close's return and the archive.
func runInProcess(t *testing.T, serve *serveProc, px *faultproxy.Proxy, acks *ackWatch, stream, clip string,
	want map[uint64][]frameSig, faultAt time.Duration, fault func()) {
	t.Helper()
	profiles, err := awsauth.LoadCredentialsFile(serve.Creds)
	if err != nil {
		t.Fatal(err)
	}
	c := profiles["default"]
	src, err := device.OpenFile(clip)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var logs lockedBuffer
	defer func() {
		if t.Failed() {
			t.Logf("producer log:\n%s", logs.String())
		}
	}()
	p, err := producer.New(ctx, producer.Config{
		Logger:     slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		StreamName: stream, Region: serve.Region, EndpointURL: px.URL(),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey}, nil
		}),
		Block: true, ConnectionStaleness: inProcStaleness, RetryBase: 100 * time.Millisecond, RetryMax: inProcRetryMax,
	}, src.Tracks())
	if err != nil {
		t.Fatal(err)
	}
	// Frames go in at the clip's pace, from their own goroutine.
	began := time.Now()
	written := make(chan error, 1)
	go func() {
		for {
			fr, err := src.ReadFrame()
			if errors.Is(err, io.EOF) {
				written <- nil
				return
			}
			if err != nil {
				written <- err
				return
			}
			time.Sleep(time.Until(began.Add(fr.DTS)))
			wctx, wcancel := context.WithTimeout(context.Background(), time.Minute)
			err = p.WriteFrame(wctx, fr)
			wcancel()
			if err != nil {
				written <- err
				return
			}
		}
	}()
	time.Sleep(time.Until(began.Add(faultAt)))
	fault()
	ended := time.Now()

	closeErr := make(chan error, 1)
	var once sync.Once
	closeNow := func() {
		once.Do(func() {
			go func() {
				cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer ccancel()
				closeErr <- p.Close(cctx)
			}()
		})
	}
	stuck := func(what string) {
		var b bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
		t.Fatalf("%s: goroutines of the producer:\n%s", what, producerGoroutines(b.String()))
	}
	select {
	case err := <-written:
		if err != nil {
			closeNow()
			t.Errorf("write frames: %v", err)
		}
	case <-time.After(time.Until(began.Add(clipDuration(want) + inProcRecovery + time.Minute))):
		stuck("frames still being written long after the clip's end")
	}
	closeNow()
	select {
	case err := <-closeErr:
		if err != nil {
			t.Errorf("close: %v", err)
		}
	case <-time.After(40 * time.Second):
		stuck("Close still waiting 10 s past its 30 s context")
	}
	at, ok := acks.firstAfter(ended)
	if !ok {
		t.Fatalf("no PERSISTED after the fault's end")
	}
	st := p.Stats()
	t.Logf("recovery %s after the fault's end; stats: persisted %d, sessions %d, reconnects %d, duplicates %d, dropped %d",
		at.Sub(ended).Round(time.Millisecond), st.Persisted, st.Sessions, st.Reconnects, st.Duplicates, st.Dropped)
	if d := at.Sub(ended); d > inProcRecovery {
		t.Errorf("recovery took %s, want within %s", d.Round(time.Millisecond), inProcRecovery)
	}
	checkExactlyOnce(t, want, archivedFrames(t, serve, stream))
}

// clipDuration estimates a clip's length from its video frame count (30 fps).
func clipDuration(frames map[uint64][]frameSig) time.Duration {
	return time.Duration(len(frames[1])) * time.Second / 30
}
