package main

import (
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"kvskit/internal/testenv/faultproxy"
)

// The fault tests run `kvs put --realtime` of a clip into `kvs serve`
// through a fault-injecting proxy, put a fault between them in the middle
// of the upload, and check that
//   - the producer has a fragment PERSISTED again within recoveryBound of the
//     fault's end, by itself (measured where the ACK passes the proxy);
//   - it exits 0, and the archive read back with GetMedia holds every frame
//     of the clip exactly once, in order (content hashes, per track);
//   - its resident memory stays bounded.
// A producer that does not exit in time is stopped with SIGQUIT and the test
// fails with its goroutines.

// TestFaults runs every fault scenario at the same time, each as a subtest
// with its own kvs serve, proxy and producer: they mostly wait on real time
// (the longest, a three-minute blackhole, takes about five minutes), and
// subtests started together this way are not held back by -parallel.
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for five minutes")
	}
	t.Parallel()
	dir := t.TempDir()
	clips := map[int]string{}
	for _, n := range []int{16, 70, 100, 150} {
		clips[n] = makeFaultClip(t, dir, n)
	}
	scenarios := []struct {
		name string
		run  func(*testing.T, map[int]string)
	}{
		{"none", faultScenarioNone},
		{"frozen-server-70s", faultScenarioFrozenServer},
		{"blackhole-3min", faultScenarioBlackhole3Min},
		{"resets-mid-cluster", faultScenarioResetsMidCluster},
		{"refused-40s", faultScenarioRefused},
		{"throttled-40s", faultScenarioThrottled},
		{"acks-withheld-40s", faultScenarioAcksWithheld},
		{"capture-blackhole-45s", faultScenarioCaptureBlackhole},
	}
	var wg sync.WaitGroup
	for _, sc := range scenarios {
		wg.Go(func() { t.Run(sc.name, func(t *testing.T) { sc.run(t, clips) }) })
	}
	wg.Wait()
}

// putFaultMemoryGrowth bounds the producer's resident memory growth from
// warm-up to peak: the clip's fragments held through the fault are a few MB.
const putFaultMemoryGrowth = 48 << 10 // kB

// runPutFault uploads a clip of clipSeconds (made by makeFaultClip), applies fault faultAt after the
// upload started, and checks the outcome. fault returns when the fault ends.
func runPutFault(t *testing.T, clip, stream string, clipSeconds int, faultAt time.Duration, fault func(e *faultEnv)) {
	t.Helper()
	want := readFrameSigs(t, clip)
	e := newFaultEnv(t, stream)
	fi, err := os.Stat(clip)
	if err != nil {
		t.Fatal(err)
	}
	e.clipRate = fi.Size() / int64(clipSeconds)
	pp := startProducer(t, e.producerEnv(), "put", "--realtime", "--stream", stream, "--log-level", "debug", clip)
	e.acks.waitCount(t, 2, 30*time.Second)
	time.Sleep(time.Until(pp.began.Add(faultAt)))
	before := e.acks.count()
	began := time.Now()
	fault(e)
	ended := time.Now()
	t.Logf("fault from %s to %s after the upload's start; %d PERSISTED before it, %d during it",
		began.Sub(pp.began).Round(time.Millisecond), ended.Sub(pp.began).Round(time.Millisecond), before, e.acks.count()-before)

	// Recovery: the next PERSISTED after the fault's end.
	deadline := ended.Add(recoveryBound + 30*time.Second)
	var at time.Time
	for {
		var ok bool
		if at, ok = e.acks.firstAfter(ended); ok {
			break
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if at.IsZero() {
		t.Errorf("no fragment PERSISTED within %s of the fault's end", recoveryBound+30*time.Second)
		pp.wait(t, 0) // fails with the goroutine dump
	}
	recovery := at.Sub(ended)
	t.Logf("recovery: first PERSISTED %s after the fault's end", recovery.Round(time.Millisecond))
	if recovery > recoveryBound {
		t.Errorf("recovery took %s, want within %s", recovery.Round(time.Millisecond), recoveryBound)
	}

	left := time.Duration(clipSeconds)*time.Second - time.Since(pp.began)
	if err := pp.wait(t, max(left, 0)+recoveryBound+2*time.Minute); err != nil {
		t.Errorf("kvs put: %v\n%s", err, tail(pp.Stderr(), 20))
	}
	warm, peak := pp.rssFigures()
	st := e.proxy.Stats()
	t.Logf("kvs put resident memory: %d kB after warm-up, peak %d kB; proxy: %+v", warm, peak, st)
	if peak-warm > putFaultMemoryGrowth {
		t.Errorf("resident memory grew from %d kB to %d kB", warm, peak)
	}
	checkExactlyOnce(t, want, archivedFrames(t, e.serve, stream))
	t.Logf("%s", tail(pp.Stderr(), 1))
}

// faultScenarioFrozenServer stops kvs serve with SIGSTOP for 70 s in the middle
// of an upload, then resumes it: the producer's connection is accepted by
// the kernel but nothing answers, as with a hung server.
func faultScenarioFrozenServer(t *testing.T, clips map[int]string) {
	runPutFault(t, clips[100], "frozen", 100, 12*time.Second, func(e *faultEnv) {
		pid := e.serve.cmd.Process.Pid
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		resumed := false
		defer func() {
			if !resumed {
				_ = syscall.Kill(pid, syscall.SIGCONT)
			}
		}()
		time.Sleep(70 * time.Second)
		if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		resumed = true
	})
}

// faultScenarioBlackhole3Min blackholes the path for three minutes: connections
// are accepted and carry nothing, without a reset, and those caught in the
// blackhole never carry anything again (a NAT that lost its state). The
// clip outlasts the producer's 120 s buffer, so the upload also waits on a
// full buffer.
func faultScenarioBlackhole3Min(t *testing.T, clips map[int]string) {
	runPutFault(t, clips[150], "blackhole", 150, 12*time.Second, func(e *faultEnv) {
		if err := e.proxy.SetMode(faultproxy.Blackhole); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Minute)
		if err := e.proxy.SetMode(faultproxy.Pass); err != nil {
			t.Fatal(err)
		}
	})
}

// faultScenarioResetsMidCluster resets every connection eight times, each time
// while upload bytes are crossing the proxy, with the path throttled to about
// twice the clip's rate so that a fragment takes about a second to cross.
func faultScenarioResetsMidCluster(t *testing.T, clips map[int]string) {
	runPutFault(t, clips[100], "resets", 100, 8*time.Second, func(e *faultEnv) {
		defer func() { _ = e.proxy.SetThrottle(0) }()
		if err := e.proxy.SetThrottle(e.clipRate * 2); err != nil {
			t.Fatal(err)
		}
		resets := 0
		for range 8 {
			time.Sleep(2 * time.Second)
			// Reset while upload bytes are flowing: inside a cluster. After
			// a reset the producer may wait out a backoff (up to 16 s) first.
			if !e.uploading(producerRetryMax + 5*time.Second) {
				t.Errorf("no upload in flight to reset within %s", producerRetryMax+5*time.Second)
				continue
			}
			resets += e.proxy.ResetAll()
		}
		t.Logf("%d connections reset, each while a cluster was crossing", resets)
		if resets < 8 {
			t.Errorf("only %d connections reset in 8 rounds", resets)
		}
	})
}

// faultScenarioRefused resets every connection and refuses new ones for 40 s,
// as when the server's host is down.
func faultScenarioRefused(t *testing.T, clips map[int]string) {
	runPutFault(t, clips[70], "refused", 70, 8*time.Second, func(e *faultEnv) {
		if err := e.proxy.SetMode(faultproxy.Refuse); err != nil {
			t.Fatal(err)
		}
		e.proxy.ResetAll()
		time.Sleep(40 * time.Second)
		if err := e.proxy.SetMode(faultproxy.Pass); err != nil {
			t.Fatal(err)
		}
		if st := e.proxy.Stats(); st.Refused == 0 {
			t.Errorf("no connection was refused in 40 s: %+v", st)
		}
	})
}

// faultScenarioThrottled throttles the path to half the clip's rate, each
// direction, for 40 s: the producer falls behind and must catch up.
func faultScenarioThrottled(t *testing.T, clips map[int]string) {
	runPutFault(t, clips[70], "throttled", 70, 8*time.Second, func(e *faultEnv) {
		if err := e.proxy.SetThrottle(e.clipRate / 2); err != nil {
			t.Fatal(err)
		}
		time.Sleep(40 * time.Second)
		if err := e.proxy.SetThrottle(0); err != nil {
			t.Fatal(err)
		}
	})
}

// faultScenarioAcksWithheld forwards the upload but holds back every response
// byte for 40 s (beyond the staleness window): the server stores fragments
// whose PERSISTED acks the producer does not see, so it sends them again.
// Each must still be archived once.
func faultScenarioAcksWithheld(t *testing.T, clips map[int]string) {
	runPutFault(t, clips[70], "withheld", 70, 8*time.Second, func(e *faultEnv) {
		if err := e.proxy.SetMode(faultproxy.Withhold); err != nil {
			t.Fatal(err)
		}
		time.Sleep(40 * time.Second)
		if err := e.proxy.SetMode(faultproxy.Pass); err != nil {
			t.Fatal(err)
		}
	})
}

// faultScenarioNone is the baseline: the same upload through the proxy with no
// fault, so a failure of the fault tests is the fault's, not the harness's.
func faultScenarioNone(t *testing.T, clips map[int]string) {
	runPutFault(t, clips[16], "nofault", 16, 6*time.Second, func(e *faultEnv) { time.Sleep(2 * time.Second) })
}
