package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// terminate sends SIGTERM and checks that kvs serve exits 0 with its stopped
// line; it returns how long the exit took.
func terminate(t *testing.T, p *serveProc) time.Duration {
	t.Helper()
	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("kvs serve still running 20 s after SIGTERM:\n%s", p.Stderr())
	}
	took := time.Since(sent)
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, p.Stderr())
	}
	if !strings.Contains(p.Stdout(), "kvs serve: stopped") {
		t.Errorf("no stopped line after SIGTERM:\n%s", p.Stdout())
	}
	return took
}

// TestShutdownDuringUpload sends SIGTERM during uploads, twice: once while a
// stream uploads at a steady pace, whose fragment in flight completes within
// the grace period and is stored, and once while a stream crawls, whose
// fragment in flight cannot complete in time and is dropped. Each time the
// process exits 0 within seconds and, after a restart, every fragment
// acknowledged PERSISTED is there and no partial one.
func TestShutdownDuringUpload(t *testing.T) {
	dir := t.TempDir()
	clip := makeFragmentedClip(t, dir, 20)
	src := sourceClusters(t, clip)
	dataDir := filepath.Join(dir, "data")
	start := time.Now().Add(-time.Hour).UnixMilli()

	// A steady upload: the fragment in flight is finished and stored.
	p := startServe(t, dataDir)
	createStreams(t, p, 1, "steady", "crawl")
	steady := startLiveUpload(t, p, "steady", clip, 3, append([]string{"--start", startArg(start)}, paceFor(t, clip, 8*time.Second)...)...)
	select {
	case <-steady.reached:
	case <-time.After(30 * time.Second):
		t.Fatal("no PERSISTED on the steady stream within 30 s")
	}
	_, _, atTerm, _ := steady.snapshot()
	took := terminate(t, p)
	// The fragment in flight completes within a fraction of a second at
	// this pace, and the rest of the body is not waited for.
	if took > 2*time.Second {
		t.Errorf("exit took %s after SIGTERM with a steady upload", took)
	}
	<-steady.ended
	_ = steady.py.Wait() // the server cuts the body off: an error is fine
	status, sb, sp, serrs := steady.snapshot()
	if !strings.HasPrefix(status, "HTTP/1.1 200") || len(serrs) > 0 {
		t.Fatalf("steady: status %q, errors %+v", status, serrs)
	}
	for _, b := range sb {
		if _, ok := sp[b.FragmentNumber]; !ok {
			t.Errorf("steady: fragment %s (timecode %d) started but not persisted", b.FragmentNumber, b.FragmentTimecode)
		}
	}
	if len(sp) <= len(atTerm) {
		t.Errorf("steady: %d fragments persisted at SIGTERM and %d in the end: the one in flight was not finished", len(atTerm), len(sp))
	}
	t.Logf("steady: exited 0 in %s; %d fragments persisted at SIGTERM, %d in the end",
		took.Round(time.Millisecond), len(atTerm), len(sp))

	// A crawling upload, about 10 s per fragment: longer than the 5 s grace
	// period, so the fragment in flight is dropped.
	p = startServe(t, dataDir)
	crawl := startLiveUpload(t, p, "crawl", clip, 1, "--start", startArg(start), "--chunk", "1024", "--delay", "0.4")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, buffering, _, _ := crawl.snapshot(); len(buffering) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the crawling upload never started a fragment")
		}
		time.Sleep(20 * time.Millisecond)
	}
	took = terminate(t, p)
	if took > 8*time.Second {
		t.Errorf("exit took %s after SIGTERM; the grace period is 5 s", took)
	}
	<-crawl.ended
	_ = crawl.py.Wait()
	_, cb, cp, cerrs := crawl.snapshot()
	if len(cerrs) > 0 {
		t.Errorf("crawl: errors %+v", cerrs)
	}
	var dropped []string
	for _, b := range cb {
		if _, ok := cp[b.FragmentNumber]; !ok {
			dropped = append(dropped, b.FragmentNumber)
		}
	}
	if len(dropped) != 1 {
		t.Errorf("crawl: %d fragments started without being persisted, want the one in flight: %+v", len(dropped), cb)
	}
	t.Logf("crawl: exited 0 in %s; %d persisted, %d dropped", took.Round(time.Millisecond), len(cp), len(dropped))

	p = startServe(t, dataDir)
	verifyArchive(t, p, "steady", &archiveCheck{src: src, starts: []int64{start}, acked: sp})
	listed := verifyArchive(t, p, "crawl", &archiveCheck{src: src, starts: []int64{start}, acked: cp})
	for _, n := range dropped {
		for _, l := range listed {
			if l == n {
				t.Errorf("crawl: fragment %s, cut off by the shutdown, is listed", n)
			}
		}
	}
	// The endpoint works normally after the restart.
	acks := upload(t, p, "crawl", clip, "--start", startArg(start+1_000_000))
	if n := countEvents(acks, "PERSISTED"); n < len(src) {
		t.Errorf("upload after restart: %d persisted, want %d", n, len(src))
	}
}
