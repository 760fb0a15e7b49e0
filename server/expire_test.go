package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"kvskit/internal/awsauth"
)

// fakeClock is a settable Config.Now.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.Set(t)
	return c
}

func (c *fakeClock) Now() time.Time  { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

// clockEnv is a server on a fake clock; requests are signed at that clock's
// time, as the server verifies signatures against it.
type clockEnv struct {
	t       *testing.T
	clock   *fakeClock
	srv     *Server
	ts      *httptest.Server
	dataDir string
}

func newClockEnv(t *testing.T, clock *fakeClock, lim Limits) *clockEnv {
	t.Helper()
	dir := t.TempDir()
	srv, err := New(Config{
		DataDir:     dir,
		Credentials: map[string]string{testCreds.AccessKeyID: testCreds.SecretAccessKey},
		Limits:      lim,
		Now:         clock.Now,
		NoSync:      true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return &clockEnv{t: t, clock: clock, srv: srv, ts: ts, dataDir: dir}
}

func (e *clockEnv) do(op string, body io.Reader, hdr map[string]string, hash string) *http.Response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/"+op, body)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if err := awsauth.SignRequest(context.Background(), req, testCreds, "us-east-1", hash, e.clock.Now()); err != nil {
		e.t.Fatal(err)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// call performs a JSON operation and decodes a 200 response into out.
func (e *clockEnv) call(op string, in, out any) {
	e.t.Helper()
	body, _ := json.Marshal(in)
	resp := e.do(op, bytes.NewReader(body), map[string]string{"Content-Type": "application/json"}, sha256Hex(body))
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("%s: %d %s", op, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s: decode %q: %v", op, b, err)
		}
	}
}

// put uploads a whole PutMedia body and returns its ACKs.
func (e *clockEnv) put(stream string, body io.Reader) []ack {
	e.t.Helper()
	resp := e.do("putMedia", body, map[string]string{
		"x-amzn-stream-name":            stream,
		"x-amzn-fragment-timecode-type": "ABSOLUTE",
	}, awsauth.UnsignedPayload)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("putMedia: %d %s", resp.StatusCode, b)
	}
	var acks []ack
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var a ack
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			e.t.Fatalf("ack %q: %v", sc.Text(), err)
		}
		acks = append(acks, a)
	}
	return acks
}

// putFragments stores n fragments at the clock's current time and returns
// their numbers.
func (e *clockEnv) putFragments(stream string, n int) []string {
	e.t.Helper()
	c := newClip(e.t)
	tc := e.clock.Now().UnixMilli()
	for i := 0; i < n; i++ {
		c.cluster(e.t, tc+int64(i)*1000, 3)
	}
	acks := e.put(stream, bytes.NewReader(c.bytes()))
	var out []string
	for _, a := range events(acks, ackPersisted) {
		out = append(out, a.FragmentNumber)
	}
	if len(out) != n {
		e.t.Fatalf("%d of %d fragments persisted: %+v", len(out), n, acks)
	}
	return out
}

func (e *clockEnv) listed(stream string) []string {
	e.t.Helper()
	var out struct {
		Fragments []struct{ FragmentNumber string }
	}
	e.call("listFragments", map[string]any{"StreamName": stream}, &out)
	var nums []string
	for _, f := range out.Fragments {
		nums = append(nums, f.FragmentNumber)
	}
	return nums
}

// files returns the fragment numbers that have a file.
func (e *clockEnv) files() map[string]bool {
	e.t.Helper()
	paths, err := filepath.Glob(filepath.Join(e.dataDir, "fragments", "*", "*.frag"))
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]bool{}
	for _, p := range paths {
		out[strings.TrimSuffix(filepath.Base(p), ".frag")] = true
	}
	return out
}

// waitGone waits until the fragments are neither listed nor on disk.
func (e *clockEnv) waitGone(stream string, nums []string) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		listed, files := e.listed(stream), e.files()
		left := 0
		for _, n := range nums {
			if slices.Contains(listed, n) || files[n] {
				left++
			}
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: %d of %d expired fragments still listed or on disk", stream, left, len(nums))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wantExactly checks that a stream lists exactly these fragments, each
// with its file, and that the store is consistent.
func (e *clockEnv) wantExactly(stream string, nums ...[]string) {
	e.t.Helper()
	want := slices.Concat(nums...)
	if got := e.listed(stream); !slices.Equal(got, want) {
		e.t.Fatalf("%s lists %v, want %v", stream, got, want)
	}
	files := e.files()
	for _, n := range want {
		if !files[n] {
			e.t.Fatalf("%s: fragment %s has no file", stream, n)
		}
	}
	problems, err := e.srv.Store().Check()
	if err != nil || len(problems) > 0 {
		e.t.Fatalf("store check: %v %v", err, problems)
	}
}

func (e *clockEnv) changeRetention(stream, op string, hours int) {
	e.t.Helper()
	var d struct{ StreamInfo struct{ Version string } }
	e.call("describeStream", map[string]any{"StreamName": stream}, &d)
	e.call("updateDataRetention", map[string]any{"StreamName": stream, "CurrentVersion": d.StreamInfo.Version,
		"Operation": op, "DataRetentionChangeInHours": hours}, nil)
}

func TestExpireByRetention(t *testing.T) {
	const interval = 20 * time.Millisecond
	t0 := time.Date(2031, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := newFakeClock(t0)
	e := newClockEnv(t, clock, Limits{ExpireInterval: interval})
	e.call("createStream", map[string]any{"StreamName": "cam", "DataRetentionInHours": 1}, nil)
	e.call("createStream", map[string]any{"StreamName": "witness", "DataRetentionInHours": 1}, nil)

	a := e.putFragments("cam", 3)
	clock.Set(t0.Add(50 * time.Minute))
	b := e.putFragments("cam", 3)
	w := e.putFragments("witness", 1)
	e.wantExactly("cam", a, b)

	// At +105 min the first batch is older than the hour; the second is not.
	// Both are judged in the same pass, so once the first is gone the
	// second has survived that pass.
	clock.Set(t0.Add(105 * time.Minute))
	e.waitGone("cam", a)
	e.wantExactly("cam", b)
	e.wantExactly("witness", w)

	// Retention raised to 3 h: at +160 min the second batch (110 min old)
	// stays, while the witness (same age, 1 h retention) expires.
	e.changeRetention("cam", "INCREASE_DATA_RETENTION", 2)
	clock.Set(t0.Add(130 * time.Minute))
	c := e.putFragments("cam", 2)
	clock.Set(t0.Add(160 * time.Minute))
	e.waitGone("witness", w)
	time.Sleep(5 * interval) // more passes at this time
	e.wantExactly("cam", b, c)

	// Retention lowered back to 1 h: the second batch expires, the third
	// (30 min old) stays.
	e.changeRetention("cam", "DECREASE_DATA_RETENTION", 2)
	e.waitGone("cam", b)
	e.wantExactly("cam", c)
	e.wantExactly("witness")
}

// TestPutMediaClockBehind: a server whose clock (Config.Now) runs behind
// the system clock keeps a PutMedia session open; the connection-duration
// limit is measured on one clock.
func TestPutMediaClockBehind(t *testing.T) {
	clock := newFakeClock(time.Now().Add(-2 * time.Hour))
	e := newClockEnv(t, clock, Limits{IdleAckInterval: 40 * time.Millisecond})
	e.call("createStream", map[string]any{"StreamName": "late", "DataRetentionInHours": 1}, nil)
	pr, pw := io.Pipe()
	go func() {
		c := newClip(t)
		tc := clock.Now().UnixMilli()
		_, _ = pw.Write(c.cluster(t, tc, 2).bytes())
		time.Sleep(200 * time.Millisecond) // several ticks of the ACK writer
		_, _ = pw.Write(c.cluster(t, tc+1000, 2).bytes())
		pw.Close()
	}()
	acks := e.put("late", pr)
	if errs := events(acks, ackError); len(errs) > 0 {
		t.Fatalf("errors: %+v", errs)
	}
	if n := len(events(acks, ackPersisted)); n != 2 {
		t.Fatalf("%d persisted: %+v", n, acks)
	}
}
