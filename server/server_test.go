package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"kvskit/internal/awsauth"
	"kvskit/media"
	"kvskit/mkv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var testCreds = awsauth.Credentials{AccessKeyID: "AKIATESTTESTTEST0001", SecretAccessKey: "secretsecretsecretsecretsecretsecret0001"}

type testEnv struct {
	t   *testing.T
	srv *Server
	ts  *httptest.Server
	hc  *http.Client
}

func newTestEnv(t *testing.T, lim Limits) *testEnv {
	t.Helper()
	logLevel := slog.LevelWarn
	if testing.Verbose() {
		logLevel = slog.LevelDebug
	}
	srv, err := New(Config{
		DataDir:     t.TempDir(),
		Credentials: map[string]string{testCreds.AccessKeyID: testCreds.SecretAccessKey},
		Limits:      lim,
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel})),
		NoSync:      true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	tr := &http.Transport{ForceAttemptHTTP2: false}
	env := &testEnv{t: t, srv: srv, ts: ts, hc: &http.Client{Transport: tr}}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		ts.CloseClientConnections()
		ts.Close()
		tr.CloseIdleConnections()
	})
	return env
}

// call performs a signed JSON operation and decodes the response into out.
func (e *testEnv) call(op string, in, out any) (int, string) {
	e.t.Helper()
	body, _ := json.Marshal(in)
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/"+op, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if err := awsauth.SignRequest(context.Background(), req, testCreds, "us-east-1", sha256Hex(body), time.Now()); err != nil {
		e.t.Fatal(err)
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK && out != nil {
		if w, ok := out.(*[]byte); ok {
			*w = b
		} else if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s: decode %q: %v", op, b, err)
		}
	}
	return resp.StatusCode, resp.Header.Get("x-amzn-ErrorType")
}

func (e *testEnv) createStream(name string, retention int) string {
	e.t.Helper()
	var out struct{ StreamARN string }
	if code, typ := e.call("createStream", map[string]any{"StreamName": name, "DataRetentionInHours": retention}, &out); code != 200 {
		e.t.Fatalf("createStream: %d %s", code, typ)
	}
	return out.StreamARN
}

// putMedia is a running PutMedia request whose body the test writes.
type putMedia struct {
	t    *testing.T
	pw   *io.PipeWriter
	resp *http.Response
	acks chan ack
	errc chan error
}

func (e *testEnv) putMedia(stream string, hdr map[string]string) (*putMedia, error) {
	e.t.Helper()
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/putMedia", pr)
	req.Header.Set("x-amzn-stream-name", stream)
	req.Header.Set("x-amzn-fragment-timecode-type", "ABSOLUTE")
	req.Header.Set("x-amzn-fragment-acknowledgment-required", "1")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if err := awsauth.SignRequest(context.Background(), req, testCreds, "us-east-1", awsauth.UnsignedPayload, time.Now()); err != nil {
		e.t.Fatal(err)
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		pw.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		pw.Close()
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return nil, fmt.Errorf("status %d %s: %s", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), b)
	}
	pm := &putMedia{t: e.t, pw: pw, resp: resp, acks: make(chan ack, 1000), errc: make(chan error, 1)}
	go func() {
		defer close(pm.acks)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var a ack
			if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
				pm.errc <- fmt.Errorf("ack %q: %w", sc.Text(), err)
				return
			}
			pm.acks <- a
		}
		pm.errc <- sc.Err()
	}()
	return pm, nil
}

func (pm *putMedia) write(b []byte) {
	pm.t.Helper()
	if _, err := pm.pw.Write(b); err != nil {
		pm.t.Fatalf("write body: %v", err)
	}
}

// finish ends the body and collects every ack until the response ends.
func (pm *putMedia) finish() []ack {
	pm.t.Helper()
	pm.pw.Close()
	return pm.collect()
}

func (pm *putMedia) collect() []ack {
	pm.t.Helper()
	var out []ack
	deadline := time.After(20 * time.Second)
	for {
		select {
		case a, ok := <-pm.acks:
			if !ok {
				pm.resp.Body.Close()
				return out
			}
			out = append(out, a)
		case <-deadline:
			pm.resp.Body.Close()
			pm.pw.Close()
			pm.t.Fatalf("response did not end; acks so far: %+v", out)
		}
	}
}

func events(acks []ack, typ string) []ack {
	var out []ack
	for _, a := range acks {
		if a.EventType == typ {
			out = append(out, a)
		}
	}
	return out
}

// clip builds KVS-layout MKV: a header, then one cluster per timecode, each
// with frames frames 33 ms apart on track 1 (the first a key frame).
type clip struct {
	buf bytes.Buffer
	w   *mkv.Writer
}

var testVideo = media.Track{Number: 1, Kind: media.KindVideo, Codec: media.CodecH264,
	CodecPrivate: []byte{1, 0x42, 0xc0, 0x1e, 0xff, 0xe0, 0x00}, Width: 320, Height: 240}

func newClip(t *testing.T, tracks ...media.Track) *clip {
	t.Helper()
	c := &clip{}
	c.w = mkv.NewWriter(&c.buf)
	if len(tracks) == 0 {
		tracks = []media.Track{testVideo}
	}
	if err := c.w.WriteHeader(mkv.SegmentInfo{SegmentUID: bytes.Repeat([]byte{7}, 16)}, tracks); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *clip) cluster(t *testing.T, timecode int64, frames int) *clip {
	t.Helper()
	if err := c.w.StartCluster(timecode); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < frames; i++ {
		data := []byte(fmt.Sprintf("frame tc=%d i=%d", timecode, i))
		if err := c.w.WriteBlock(1, int16(i*33), i == 0, data); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func (c *clip) bytes() []byte {
	b := append([]byte(nil), c.buf.Bytes()...)
	c.buf.Reset()
	return b
}

// readClusters parses MKV and returns each cluster's timecode and frames,
// plus the values of the tags seen.
func readClusters(t *testing.T, b []byte) (timecodes []int64, frames [][]string, tags map[string][]string) {
	t.Helper()
	r := mkv.NewReader(bytes.NewReader(b))
	tags = map[string][]string{}
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("read output MKV: %v", err)
		}
		switch ev.Type {
		case mkv.EventClusterStart:
			timecodes = append(timecodes, ev.Timecode)
			frames = append(frames, nil)
		case mkv.EventBlock:
			for _, f := range ev.Block.Frames {
				frames[len(frames)-1] = append(frames[len(frames)-1], string(f))
			}
		case mkv.EventTags:
			for _, tg := range ev.Tags {
				tags[tg.Name] = append(tags[tg.Name], tg.Value)
			}
		}
	}
}

const baseTC = int64(1_700_000_000_000) // ms: ABSOLUTE timecodes

func TestPutMediaAcksPersistAndRead(t *testing.T) {
	e := newTestEnv(t, Limits{})
	e.createStream("cam", 24)
	pm, err := e.putMedia("cam", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newClip(t)
	pm.write(c.bytes())
	for i := int64(0); i < 3; i++ {
		c.cluster(t, baseTC+i*2000, 60)
		pm.write(c.bytes())
	}
	acks := pm.finish()
	per := map[string][]string{}
	var order []string
	for _, a := range acks {
		if a.EventType == ackIdle {
			continue
		}
		if a.EventType == ackError {
			t.Fatalf("unexpected error ack %+v", a)
		}
		if _, seen := per[a.FragmentNumber]; !seen {
			order = append(order, a.FragmentNumber)
		}
		per[a.FragmentNumber] = append(per[a.FragmentNumber], a.EventType)
	}
	if len(order) != 3 {
		t.Fatalf("acks for %d fragments, want 3: %+v", len(order), acks)
	}
	for i, n := range order {
		if got := strings.Join(per[n], ","); got != "BUFFERING,RECEIVED,PERSISTED" {
			t.Errorf("fragment %s events %s", n, got)
		}
		if len(n) != 47 || (i > 0 && n <= order[i-1]) {
			t.Errorf("fragment numbers not fixed-width increasing: %v", order)
		}
	}
	var list struct {
		Fragments []struct {
			FragmentNumber               string
			FragmentSizeInBytes          int64
			ProducerTimestamp            float64
			FragmentLengthInMilliseconds int64
		}
	}
	if code, typ := e.call("listFragments", map[string]any{"StreamName": "cam"}, &list); code != 200 {
		t.Fatalf("listFragments %d %s", code, typ)
	}
	if len(list.Fragments) != 3 {
		t.Fatalf("listFragments: %+v", list)
	}
	for i, f := range list.Fragments {
		if f.FragmentNumber != order[i] {
			t.Errorf("listed number %s, acked %s", f.FragmentNumber, order[i])
		}
		wantTS := float64(baseTC+int64(i)*2000) / 1000
		if f.ProducerTimestamp != wantTS {
			t.Errorf("producer timestamp %.3f, want %.3f", f.ProducerTimestamp, wantTS)
		}
		if f.FragmentLengthInMilliseconds < 1900 || f.FragmentLengthInMilliseconds > 2100 {
			t.Errorf("fragment length %d ms, want about 2000", f.FragmentLengthInMilliseconds)
		}
	}
	var media []byte
	if code, typ := e.call("getMediaForFragmentList", map[string]any{"StreamName": "cam", "Fragments": order}, &media); code != 200 {
		t.Fatalf("getMediaForFragmentList %d %s", code, typ)
	}
	tcs, frames, tags := readClusters(t, media)
	if len(tcs) != 3 || len(frames[2]) != 60 || frames[1][5] != fmt.Sprintf("frame tc=%d i=5", baseTC+2000) {
		t.Fatalf("read back %d clusters %v", len(tcs), tcs)
	}
	if strings.Join(tags["AWS_KINESISVIDEO_FRAGMENT_NUMBER"], ",") != strings.Join(order, ",") {
		t.Errorf("fragment number tags %v", tags["AWS_KINESISVIDEO_FRAGMENT_NUMBER"])
	}
	if got := tags["AWS_KINESISVIDEO_PRODUCER_TIMESTAMP"]; len(got) != 3 || got[0] != "1700000000.000" {
		t.Errorf("producer timestamp tags %v", got)
	}
	if len(tags["AWS_KINESISVIDEO_CONTINUATION_TOKEN"]) != 3 || len(tags["AWS_KINESISVIDEO_MILLIS_BEHIND_NOW"]) != 3 {
		t.Errorf("trailing tags missing: %v", tags)
	}
	// A missing fragment is refused up front.
	if code, typ := e.call("getMediaForFragmentList", map[string]any{"StreamName": "cam", "Fragments": []string{"123"}}, nil); code != 404 || typ != "ResourceNotFoundException" {
		t.Errorf("missing fragment: %d %s", code, typ)
	}
}

func TestPutMediaRelativeTimecodes(t *testing.T) {
	e := newTestEnv(t, Limits{})
	e.createStream("rel", 1)
	pm, err := e.putMedia("rel", map[string]string{
		"x-amzn-fragment-timecode-type":   "RELATIVE",
		"x-amzn-producer-start-timestamp": "1600000000.250",
	})
	if err != nil {
		t.Fatal(err)
	}
	c := newClip(t)
	c.cluster(t, 0, 3).cluster(t, 1000, 3)
	pm.write(c.bytes())
	if n := len(events(pm.finish(), ackPersisted)); n != 2 {
		t.Fatalf("%d persisted", n)
	}
	var list struct {
		Fragments []struct{ ProducerTimestamp float64 }
	}
	e.call("listFragments", map[string]any{"StreamName": "rel", "FragmentSelector": map[string]any{
		"FragmentSelectorType": "PRODUCER_TIMESTAMP",
		"TimestampRange":       map[string]any{"StartTimestamp": 1600000001, "EndTimestamp": 1600000002}}}, &list)
	if len(list.Fragments) != 1 || list.Fragments[0].ProducerTimestamp != 1600000001.25 {
		t.Fatalf("RELATIVE timestamps: %+v", list)
	}
}

func TestPutMediaTimecodeLesserThanPrevious(t *testing.T) {
	e := newTestEnv(t, Limits{})
	e.createStream("back", 1)
	pm, err := e.putMedia("back", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newClip(t)
	c.cluster(t, baseTC, 3).cluster(t, baseTC+2000, 3).cluster(t, baseTC+1000, 3).cluster(t, baseTC+4000, 3)
	pm.write(c.bytes())
	acks := pm.finish()
	errs := events(acks, ackError)
	if len(errs) != 1 || errs[0].ErrorID != 4004 || *errs[0].FragmentTimecode != baseTC+1000 {
		t.Fatalf("want one 4004 for the older cluster, got %+v", acks)
	}
	if n := len(events(acks, ackPersisted)); n != 3 {
		t.Fatalf("%d persisted, want the 3 in-order fragments", n)
	}
}

func TestPutMediaErrors(t *testing.T) {
	audio := media.Track{Number: 2, Kind: media.KindAudio, Codec: media.CodecAAC, CodecPrivate: []byte{0x12, 0x10}, SampleRate: 44100, Channels: 2}
	cases := []struct {
		name   string
		limits Limits
		body   func(t *testing.T) []byte
		wantID int
	}{
		{"random bytes", Limits{}, func(*testing.T) []byte { return bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 1000) }, 4006},
		{"too large", Limits{MaxFragmentSize: 1000}, func(t *testing.T) []byte {
			return newClip(t).cluster(t, baseTC, 100).bytes()
		}, 4001},
		{"too long", Limits{MaxFragmentDuration: time.Second}, func(t *testing.T) []byte {
			return newClip(t).cluster(t, baseTC, 40).bytes()
		}, 4002},
		{"unknown track", Limits{}, func(t *testing.T) []byte {
			c := newClip(t)
			c.cluster(t, baseTC, 1)
			if err := c.w.WriteBlock(9, 40, false, []byte("x")); err != nil {
				t.Fatal(err)
			}
			return c.bytes()
		}, 4010},
		{"too many tracks", Limits{}, func(t *testing.T) []byte {
			a3, a4 := audio, audio
			a3.Number, a4.Number = 3, 4
			return newClip(t, testVideo, audio, a3, a4).cluster(t, baseTC, 1).bytes()
		}, 4012},
		{"metadata tags", Limits{}, func(t *testing.T) []byte {
			c := newClip(t)
			var tags []mkv.Tag
			for i := 0; i < 11; i++ {
				tags = append(tags, mkv.Tag{Name: fmt.Sprintf("k%d", i), Value: "v"})
			}
			if err := c.w.WriteTags(tags); err != nil {
				t.Fatal(err)
			}
			return c.cluster(t, baseTC, 2).bytes()
		}, 4009},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, tc.limits)
			e.createStream("s", 1)
			pm, err := e.putMedia("s", nil)
			if err != nil {
				t.Fatal(err)
			}
			pm.write(tc.body(t))
			acks := pm.finish()
			errs := events(acks, ackError)
			if len(errs) == 0 || errs[0].ErrorID != tc.wantID {
				t.Fatalf("want ERROR %d, got %+v", tc.wantID, acks)
			}
			if n := len(events(acks, ackPersisted)); n != 0 {
				t.Fatalf("%d fragments persisted after an error", n)
			}
			var list struct{ Fragments []any }
			e.call("listFragments", map[string]any{"StreamName": "s"}, &list)
			if len(list.Fragments) != 0 {
				t.Fatalf("refused fragment was stored: %+v", list)
			}
		})
	}
}

func TestPutMediaIdle(t *testing.T) {
	e := newTestEnv(t, Limits{IdleAckInterval: 50 * time.Millisecond, IdleTimeout: 400 * time.Millisecond})
	e.createStream("one", 1)
	pm, err := e.putMedia("one", nil)
	if err != nil {
		t.Fatal(err)
	}
	pm.write(newClip(t).bytes())
	// The producer sends nothing more: IDLE events, then the request ends.
	acks := pm.collect()
	pm.pw.Close()
	if n := len(events(acks, ackIdle)); n < 2 {
		t.Fatalf("%d IDLE events before the idle timeout: %+v", n, acks)
	}
	// The stream is free again.
	pm2, err := e.putMedia("one", nil)
	if err != nil {
		t.Fatalf("after the idle session ended: %v", err)
	}
	pm2.finish()
}

func TestPutMediaMaxConnectionDuration(t *testing.T) {
	e := newTestEnv(t, Limits{MaxConnectionDuration: 300 * time.Millisecond})
	e.createStream("long", 1)
	pm, err := e.putMedia("long", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newClip(t)
	pm.write(c.cluster(t, baseTC, 2).bytes())
	go func() {
		// Keep sending until the server ends the request.
		for i := int64(1); i < 100; i++ {
			time.Sleep(50 * time.Millisecond)
			if _, err := pm.pw.Write(c.cluster(t, baseTC+i*100, 1).bytes()); err != nil {
				return
			}
		}
	}()
	acks := pm.collect()
	pm.pw.Close()
	errs := events(acks, ackError)
	if len(errs) != 1 || errs[0].ErrorID != 4003 {
		t.Fatalf("want ERROR 4003, got %+v", acks)
	}
}

func TestRetentionZeroLiveOnly(t *testing.T) {
	e := newTestEnv(t, Limits{GetMediaIdleTimeout: 2 * time.Second})
	e.createStream("live", 0)
	got := make(chan []byte, 1)
	go func() {
		var b []byte
		e.call("getMedia", map[string]any{"StreamName": "live", "StartSelector": map[string]any{"StartSelectorType": "NOW"}}, &b)
		got <- b
	}()
	time.Sleep(200 * time.Millisecond)
	pm, err := e.putMedia("live", nil)
	if err != nil {
		t.Fatal(err)
	}
	// More fragments than the hub keeps: the buffers of the older ones
	// are reused for newer ones while the reader still gets every
	// fragment as it was sent.
	const n = 3 * recentKept
	c := newClip(t)
	for i := range int64(n) {
		pm.write(c.cluster(t, baseTC+i*1000, 3).bytes())
	}
	acks := pm.finish()
	if len(events(acks, ackReceived)) != n || len(events(acks, ackPersisted)) != 0 {
		t.Fatalf("retention 0: want %d RECEIVED and no PERSISTED, got %+v", n, acks)
	}
	tcs, frames, _ := readClusters(t, <-got)
	if len(tcs) != n {
		t.Fatalf("live reader got %d fragments, want %d", len(tcs), n)
	}
	for i, tc := range tcs {
		want := []string{fmt.Sprintf("frame tc=%d i=0", baseTC+int64(i)*1000), fmt.Sprintf("frame tc=%d i=1", baseTC+int64(i)*1000), fmt.Sprintf("frame tc=%d i=2", baseTC+int64(i)*1000)}
		if tc != baseTC+int64(i)*1000 || !slices.Equal(frames[i], want) {
			t.Fatalf("fragment %d: timecode %d, frames %q", i, tc, frames[i])
		}
	}
	if e.srv.bufs.keptBytes() == 0 {
		t.Error("no buffer of an unstored fragment came back for reuse")
	}
	var list struct{ Fragments []any }
	e.call("listFragments", map[string]any{"StreamName": "live"}, &list)
	if len(list.Fragments) != 0 {
		t.Fatalf("retention 0 stored fragments: %+v", list)
	}
}

func TestGetMediaSelectors(t *testing.T) {
	e := newTestEnv(t, Limits{GetMediaIdleTimeout: 300 * time.Millisecond})
	e.createStream("sel", 1)
	pm, err := e.putMedia("sel", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newClip(t)
	for i := int64(0); i < 5; i++ {
		c.cluster(t, baseTC+i*1000, 2)
	}
	pm.write(c.bytes())
	pm.finish()
	var list struct {
		Fragments []struct {
			FragmentNumber    string
			ProducerTimestamp float64
			ServerTimestamp   float64
		}
	}
	e.call("listFragments", map[string]any{"StreamName": "sel"}, &list)
	if len(list.Fragments) != 5 {
		t.Fatalf("%d fragments", len(list.Fragments))
	}
	third := list.Fragments[2]
	get := func(sel map[string]any) []int64 {
		var b []byte
		if code, typ := e.call("getMedia", map[string]any{"StreamName": "sel", "StartSelector": sel}, &b); code != 200 {
			t.Fatalf("getMedia %v: %d %s", sel, code, typ)
		}
		tcs, _, _ := readClusters(t, b)
		return tcs
	}
	cases := []struct {
		sel  map[string]any
		want int
	}{
		{map[string]any{"StartSelectorType": "EARLIEST"}, 5},
		{map[string]any{"StartSelectorType": "FRAGMENT_NUMBER", "AfterFragmentNumber": third.FragmentNumber}, 3},
		{map[string]any{"StartSelectorType": "CONTINUATION_TOKEN", "ContinuationToken": third.FragmentNumber}, 2},
		{map[string]any{"StartSelectorType": "PRODUCER_TIMESTAMP", "StartTimestamp": third.ProducerTimestamp}, 3},
		{map[string]any{"StartSelectorType": "SERVER_TIMESTAMP", "StartTimestamp": list.Fragments[0].ServerTimestamp}, 5},
		{map[string]any{"StartSelectorType": "NOW"}, 0},
	}
	for _, tc := range cases {
		if got := get(tc.sel); len(got) != tc.want {
			t.Errorf("%v: %d fragments, want %d", tc.sel, len(got), tc.want)
		}
	}
	if code, typ := e.call("getMedia", map[string]any{"StreamName": "sel", "StartSelector": map[string]any{"StartSelectorType": "BOGUS"}}, nil); code != 400 || typ != "InvalidArgumentException" {
		t.Errorf("bogus selector: %d %s", code, typ)
	}
	// Live tail: a NOW reader receives fragments that arrive after it started.
	got := make(chan []int64, 1)
	go func() { got <- get(map[string]any{"StartSelectorType": "NOW"}) }()
	time.Sleep(100 * time.Millisecond)
	pm, err = e.putMedia("sel", nil)
	if err != nil {
		t.Fatal(err)
	}
	c = newClip(t)
	pm.write(c.cluster(t, baseTC+10000, 2).cluster(t, baseTC+11000, 2).bytes())
	pm.finish()
	if tail := <-got; len(tail) != 2 || tail[0] != baseTC+10000 {
		t.Fatalf("live tail got %v", tail)
	}
}

func TestThroughputLimitThrottles(t *testing.T) {
	e := newTestEnv(t, Limits{MaxBytesPerSecond: 100_000})
	e.createStream("slow", 1)
	pm, err := e.putMedia("slow", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newClip(t)
	for i := int64(0); i < 5; i++ {
		c.cluster(t, baseTC+i*1000, 1)
		if err := c.w.WriteBlock(1, 500, false, make([]byte, 60_000)); err != nil {
			t.Fatal(err)
		}
	}
	body := c.bytes()
	start := time.Now()
	pm.write(body)
	acks := pm.finish()
	// 300 kB at 100 kB/s with a one-second burst cannot finish in under ~2 s.
	if d := time.Since(start); d < 1500*time.Millisecond {
		t.Fatalf("%d bytes went through in %s despite a 100 kB/s limit", len(body), d)
	}
	if n := len(events(acks, ackPersisted)); n != 5 {
		t.Fatalf("%d persisted", n)
	}
}

func TestFragmentRateLimitThrottles(t *testing.T) {
	e := newTestEnv(t, Limits{MaxFragmentsPerSecond: 5})
	e.createStream("rate", 1)
	pm, err := e.putMedia("rate", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newClip(t)
	for i := int64(0); i < 16; i++ {
		c.cluster(t, baseTC+i*100, 1)
	}
	start := time.Now()
	pm.write(c.bytes())
	acks := pm.finish()
	// 16 fragments at 5/s with a one-second burst need at least two seconds.
	if d := time.Since(start); d < 1800*time.Millisecond {
		t.Fatalf("16 fragments accepted in %s despite a limit of 5 per second", d)
	}
	if n := len(events(acks, ackPersisted)); n != 16 {
		t.Fatalf("%d persisted, want all 16 (throttled, not refused)", n)
	}
}

// TestPutMediaPersistedInOrder sends many fragments of very different sizes
// in one go, so several are stored at a time: every fragment must still be
// acknowledged BUFFERING, RECEIVED, PERSISTED in the order sent, with
// increasing numbers, and listed once.
func TestPutMediaPersistedInOrder(t *testing.T) {
	e := newTestEnv(t, Limits{MaxFragmentsPerSecond: 1000})
	e.createStream("order", 24)
	pm, err := e.putMedia("order", nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 24
	c := newClip(t)
	var body []byte
	body = append(body, c.bytes()...)
	for i := int64(0); i < n; i++ {
		frames := 1
		if i%3 == 0 {
			frames = 500 // a large fragment followed by two tiny ones
		}
		c.cluster(t, baseTC+i*20000, frames)
		body = append(body, c.bytes()...)
	}
	pm.write(body)
	acks := pm.finish()
	var persisted []ack
	seen := map[int64]string{}
	for _, a := range acks {
		switch a.EventType {
		case ackError:
			t.Fatalf("error ack %+v", a)
		case "PERSISTED":
			persisted = append(persisted, a)
		}
		if a.FragmentTimecode != nil && a.EventType != ackIdle {
			tc := *a.FragmentTimecode
			seen[tc] += a.EventType[:1]
		}
	}
	if len(persisted) != n {
		t.Fatalf("%d PERSISTED acks, want %d", len(persisted), n)
	}
	for i, a := range persisted {
		if want := baseTC + int64(i)*20000; *a.FragmentTimecode != want {
			t.Fatalf("PERSISTED #%d for timecode %d, want %d (acks out of order)", i, *a.FragmentTimecode, want)
		}
		if i > 0 && a.FragmentNumber <= persisted[i-1].FragmentNumber {
			t.Fatalf("fragment numbers not increasing: %s after %s", a.FragmentNumber, persisted[i-1].FragmentNumber)
		}
	}
	for tc, ev := range seen {
		if ev != "BRP" {
			t.Errorf("fragment at %d: events %q, want BUFFERING, RECEIVED, PERSISTED in that order", tc, ev)
		}
	}
	var list struct {
		Fragments []struct{ FragmentNumber string }
	}
	if code, typ := e.call("listFragments", map[string]any{"StreamName": "order"}, &list); code != 200 {
		t.Fatalf("listFragments %d %s", code, typ)
	}
	if len(list.Fragments) != n {
		t.Fatalf("listFragments: %d fragments, want %d", len(list.Fragments), n)
	}
}
