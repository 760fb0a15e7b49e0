package producer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"kvskit/media"
	"kvskit/mkv"
	"kvskit/producer"
)

func TestPutMediaRequestForm(t *testing.T) {
	fake := newFakeKVS(t, "eu-west-2")
	cfg := fake.config(t, "form")
	cfg.StartTime = time.Date(2025, 1, 2, 3, 4, 5, 678e6, time.UTC)
	cfg.SegmentUID = []byte("0123456789abcdef")
	cfg.FragmentDuration = 500 * time.Millisecond
	tracks := synthTracks()
	p, err := producer.New(context.Background(), cfg, tracks)
	if err != nil {
		t.Fatal(err)
	}
	frames := synthFrames(60, 30, 15, 3000) // 2 s: 4 fragments
	if err := upload(t, p, frames); err != nil {
		t.Fatalf("Close: %v", err)
	}
	st := p.Stats()
	if st.Fragments != 4 || st.Persisted != 4 || st.Buffering != 4 || st.Received != 4 {
		t.Errorf("stats %+v: want 4 fragments buffered, received and persisted", st)
	}
	recs := fake.records()
	if len(recs) != 1 {
		t.Fatalf("%d PutMedia requests, want 1", len(recs))
	}
	r := recs[0]
	if r.Path != "/putMedia" || r.Proto != "HTTP/1.1" {
		t.Errorf("request %s %s, want /putMedia over HTTP/1.1", r.Path, r.Proto)
	}
	if len(r.TransferEncoding) != 1 || r.TransferEncoding[0] != "chunked" {
		t.Errorf("Transfer-Encoding %v, want chunked", r.TransferEncoding)
	}
	h := r.Header
	for k, want := range map[string]string{
		"x-amzn-stream-name":                      "form",
		"x-amzn-fragment-timecode-type":           "ABSOLUTE",
		"x-amzn-fragment-acknowledgment-required": "1",
		"x-amzn-producer-start-timestamp":         "1735787045.678",
		"x-amz-content-sha256":                    "UNSIGNED-PAYLOAD",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	auth := h.Get("Authorization")
	authRE := regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=` + testCreds.AccessKeyID +
		`/\d{8}/eu-west-2/kinesisvideo/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$`)
	m := authRE.FindStringSubmatch(auth)
	if m == nil {
		t.Fatalf("Authorization %q is not SigV4 for kinesisvideo in eu-west-2", auth)
	}
	for _, sh := range []string{"host", "x-amz-date", "x-amz-content-sha256", "x-amzn-stream-name", "x-amzn-producer-start-timestamp"} {
		if !strings.Contains(";"+m[1]+";", ";"+sh+";") {
			t.Errorf("signed headers %q lack %s", m[1], sh)
		}
	}

	// The body is the KVS MKV layout.
	body := r.Body
	hdr := mkv.EBMLHeader()
	if !bytes.HasPrefix(body, hdr) {
		t.Fatal("body does not start with the EBML header")
	}
	seg := []byte{0x18, 0x53, 0x80, 0x67, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	if !bytes.HasPrefix(body[len(hdr):], seg) {
		t.Errorf("Segment after the EBML header is not of unknown size: % x", body[len(hdr):len(hdr)+12])
	}
	mr := mkv.NewReader(bytes.NewReader(body))
	var (
		docType  string
		info     mkv.Info
		entries  []mkv.TrackEntry
		clusters []int64
		blocks   int
		eofTags  int
	)
	for {
		ev, err := mr.Next()
		if err != nil {
			break
		}
		switch ev.Type {
		case mkv.EventHeader:
			docType = ev.DocType
		case mkv.EventInfo:
			info = ev.Info
		case mkv.EventTracks:
			entries = ev.Tracks
		case mkv.EventClusterStart:
			clusters = append(clusters, ev.Timecode)
		case mkv.EventBlock:
			blocks++
		case mkv.EventTags:
			for _, tg := range ev.Tags {
				if tg.Name == "AWS_KINESISVIDEO_END_OF_FRAGMENT" {
					eofTags++
				}
			}
		}
	}
	if docType != "matroska" {
		t.Errorf("DocType %q", docType)
	}
	if !bytes.Equal(info.SegmentUID, cfg.SegmentUID) || info.TimecodeScale != 1_000_000 {
		t.Errorf("Info %+v: want the configured SegmentUID and 1 ms timecodes", info)
	}
	if len(entries) != 2 {
		t.Fatalf("%d track entries, want 2", len(entries))
	}
	for i, e := range entries {
		if e.Number != tracks[i].Number || e.CodecID != mkv.CodecIDFor(tracks[i].Codec) || !bytes.Equal(e.CodecPrivate, tracks[i].CodecPrivate) {
			t.Errorf("track entry %d = %+v, want %+v", i, e, tracks[i])
		}
	}
	start := cfg.StartTime.UnixMilli()
	want := []int64{start, start + 500, start + 1000, start + 1500}
	if fmt.Sprint(clusters) != fmt.Sprint(want) {
		t.Errorf("cluster timecodes %v, want %v", clusters, want)
	}
	if blocks != len(frames) {
		t.Errorf("%d blocks, want %d", blocks, len(frames))
	}
	if eofTags == 0 {
		t.Error("no END_OF_FRAGMENT tag closed a fragment")
	}
}

func TestNonRetriableErrorIsReported(t *testing.T) {
	fake := newFakeKVS(t, "us-east-1")
	var refused atomic.Int64
	fake.acks = func(put, cluster int, tc int64) []string {
		if cluster == 1 {
			refused.Store(tc)
			return []string{errorAck(4004, "FRAGMENT_TIMECODE_LESSER_THAN_PREVIOUS", tc)}
		}
		return nil
	}
	cfg := fake.config(t, "refused")
	cfg.FragmentDuration = 500 * time.Millisecond
	log := newEventLog()
	cfg.OnEvent = log.add
	p, err := producer.New(context.Background(), cfg, synthTracks())
	if err != nil {
		t.Fatal(err)
	}
	err = upload(t, p, synthFrames(60, 30, 15, 1000))
	var ce *producer.CloseError
	if !errors.As(err, &ce) || !errors.Is(err, producer.ErrFragmentRefused) {
		t.Fatalf("Close: %v, want a CloseError with a refused fragment", err)
	}
	if len(ce.Fragments) != 1 {
		t.Fatalf("Close reports %d fragments, want 1: %v", len(ce.Fragments), err)
	}
	ff := ce.Fragments[0]
	if ff.Seq != 1 || ff.ErrorID != 4004 || ff.ErrorCode != "FRAGMENT_TIMECODE_LESSER_THAN_PREVIOUS" || ff.Timecode != refused.Load() {
		t.Errorf("reported %+v, want fragment 1 refused with 4004 at timecode %d", ff, refused.Load())
	}
	if !strings.Contains(err.Error(), "4004") || !strings.Contains(err.Error(), "fragment 1 ") {
		t.Errorf("error text %q should name the fragment and the error", err)
	}
	st := p.Stats()
	if st.Failed != 1 || st.Errors != 1 || st.Persisted != 3 || st.Duplicates != 0 {
		t.Errorf("stats %+v: want 1 failed, 3 persisted, nothing re-sent", st)
	}
	recs := fake.records()
	if len(recs) != 1 || len(recs[0].Clusters) != 4 {
		t.Errorf("%d requests; want the 4 fragments sent once in one request", len(recs))
	}
	if evs := log.of(producer.FragmentError); len(evs) != 1 || evs[0].Fragment != 1 || evs[0].ErrorID != 4004 {
		t.Errorf("FragmentError events %+v", evs)
	}
}

func TestRetriableErrorResendsFromFirstUnacknowledged(t *testing.T) {
	fake := newFakeKVS(t, "us-east-1")
	fake.acks = func(put, cluster int, tc int64) []string {
		switch {
		case put == 0 && cluster == 1:
			return []string{ack("RECEIVED", tc)} // received, never persisted
		case put == 0 && cluster == 2:
			return []string{errorAck(5000, "INTERNAL_ERROR", tc)}
		}
		return nil
	}
	cfg := fake.config(t, "retriable")
	cfg.FragmentDuration = 500 * time.Millisecond
	p, err := producer.New(context.Background(), cfg, synthTracks())
	if err != nil {
		t.Fatal(err)
	}
	if err := upload(t, p, synthFrames(90, 30, 15, 1000)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	recs := fake.records()
	if len(recs) < 2 {
		t.Fatalf("%d requests, want a second session", len(recs))
	}
	first, second := recs[0].Clusters, recs[1].Clusters
	if len(first) < 3 || len(second) == 0 || second[0] != first[1] {
		t.Fatalf("first session sent %v, second %v: want the second to start at the first unacknowledged (%v)", first, second, first[1:2])
	}
	st := p.Stats()
	if st.Persisted != st.Fragments || st.Reconnects < 1 || st.Duplicates < 2 {
		t.Errorf("stats %+v: want everything persisted after a reconnect, with the re-sent fragments counted", st)
	}
	// Every fragment is persisted exactly once in the fake's view: count
	// the last session's clusters plus the first session's acknowledged one.
	seen := map[int64]int{}
	seen[first[0]]++
	for _, r := range recs[1:] {
		for _, tc := range r.Clusters {
			seen[tc]++
		}
	}
	if len(seen) != int(st.Fragments) {
		t.Errorf("%d distinct fragments persisted, want %d", len(seen), st.Fragments)
	}
}

// countingCreds counts credential retrievals.
type countingCreds struct{ n atomic.Int32 }

func (c *countingCreds) Retrieve(context.Context) (aws.Credentials, error) {
	c.n.Add(1)
	return aws.Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: testCreds.SecretAccessKey, Source: "test"}, nil
}

func TestForbiddenRefreshesCredentials(t *testing.T) {
	fake := newFakeKVS(t, "us-east-1")
	fake.putStatus = func(n int) (int, string) {
		if n == 0 {
			return http.StatusForbidden, "InvalidSignatureException"
		}
		return 0, ""
	}
	creds := &countingCreds{}
	cfg := fake.config(t, "forbidden")
	cfg.Credentials = creds
	log := newEventLog()
	cfg.OnEvent = log.add
	p, err := producer.New(context.Background(), cfg, synthTracks())
	if err != nil {
		t.Fatal(err)
	}
	before := creds.n.Load()
	if err := upload(t, p, synthFrames(30, 30, 15, 1000)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := creds.n.Load(); got <= before {
		t.Errorf("credentials retrieved %d times, %d before the 403: want a refresh", got, before)
	}
	if len(fake.records()) != 2 {
		t.Errorf("%d PutMedia requests, want 2", len(fake.records()))
	}
	ended := log.of(producer.SessionEnded)
	var herr *producer.HTTPError
	if len(ended) == 0 || !errors.As(ended[0].Err, &herr) || herr.StatusCode != 403 || herr.Code != "InvalidSignatureException" {
		t.Errorf("first SessionEnded event %+v: want the 403", ended)
	}
}

func TestNotFoundDescribesAgain(t *testing.T) {
	fake := newFakeKVS(t, "us-east-1")
	fake.putStatus = func(n int) (int, string) {
		if n == 0 {
			return http.StatusNotFound, "ResourceNotFoundException"
		}
		return 0, ""
	}
	cfg := fake.config(t, "notfound")
	p, err := producer.New(context.Background(), cfg, synthTracks())
	if err != nil {
		t.Fatal(err)
	}
	d0, e0 := fake.counts()
	if err := upload(t, p, synthFrames(30, 30, 15, 1000)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	d1, e1 := fake.counts()
	if d1 <= d0 || e1 <= e0 {
		t.Errorf("describes %d -> %d, endpoint lookups %d -> %d: want both again after a 404", d0, d1, e0, e1)
	}
}

func TestStaleSessionReconnects(t *testing.T) {
	fake := newFakeKVS(t, "us-east-1")
	fake.acks = func(put, cluster int, tc int64) []string {
		if put == 0 {
			return []string{} // silence: no ACK at all
		}
		return nil
	}
	cfg := fake.config(t, "stale")
	cfg.ConnectionStaleness = 300 * time.Millisecond
	cfg.FragmentDuration = 500 * time.Millisecond
	p, err := producer.New(context.Background(), cfg, synthTracks())
	if err != nil {
		t.Fatal(err)
	}
	if err := upload(t, p, synthFrames(45, 30, 15, 1000)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	st := p.Stats()
	if st.Reconnects < 1 || st.Persisted != st.Fragments {
		t.Errorf("stats %+v: want a reconnect after silence, then everything persisted", st)
	}
	// The silent session received fragments whole: sent again, they are
	// the duplicates, at most one per fragment.
	if first := len(fake.records()[0].Clusters); st.Duplicates < 1 || st.Duplicates > uint64(first) {
		t.Errorf("stats %+v: %d duplicates, want 1 to the %d fragments the silent session got", st, st.Duplicates, first)
	}
}

func TestLiveModeDropsOldestFragments(t *testing.T) {
	fake := newFakeKVS(t, "us-east-1")
	fake.hold = make(chan struct{}) // accepts the request, never reads nor acknowledges
	cfg := fake.config(t, "live")
	cfg.FragmentDuration = 500 * time.Millisecond
	cfg.BufferDuration = 2 * time.Second
	cfg.ConnectionStaleness = time.Hour
	log := newEventLog()
	cfg.OnEvent = log.add
	p, err := producer.New(context.Background(), cfg, synthTracks())
	if err != nil {
		t.Fatal(err)
	}
	// 90 s of 1080p-sized video written as fast as possible: about 100 MB,
	// fresh buffers for every frame as a capture device would hand them over.
	const n, size = 90 * 30, 40 << 10
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var maxBufBytes int64
	var maxBufDur time.Duration
	for i := range n {
		pts := time.Duration(i) * time.Second / 30
		pts = pts.Truncate(time.Millisecond)
		data := make([]byte, size)
		data[0] = byte(i)
		if err := p.WriteFrame(context.Background(), media.Frame{Track: 1, PTS: pts, DTS: pts, Key: i%15 == 0, Data: data}); err != nil {
			t.Fatal(err)
		}
		if i%30 == 0 {
			st := p.Stats()
			maxBufBytes = max(maxBufBytes, st.BufferBytes)
			maxBufDur = max(maxBufDur, st.BufferDuration)
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := p.Stats()
	grown := int64(ms.HeapAlloc) - int64(base.HeapAlloc)
	t.Logf("after %d MB written: heap %d MB (grown by %d MB), buffer %d fragments / %d KB / %v, dropped %d",
		n*size>>20, ms.HeapAlloc>>20, grown>>20, st.BufferFragments, st.BufferBytes>>10, st.BufferDuration, st.Dropped)
	if maxBufDur > cfg.BufferDuration+cfg.FragmentDuration {
		t.Errorf("buffer held %v, bound %v", maxBufDur, cfg.BufferDuration)
	}
	if limit := int64(3 * time.Second / (time.Second / 30) * size); maxBufBytes > limit {
		t.Errorf("buffer held %d bytes, more than 3 s of video (%d)", maxBufBytes, limit)
	}
	// The buffer (about 2.4 MB), the open fragment and the fragment stuck
	// in the blocked request are all that may stay.
	if grown > 16<<20 {
		t.Errorf("heap grew by %d MB while writing %d MB with a 2 s buffer", grown>>20, n*size>>20)
	}
	if st.Dropped < 170 || st.Dropped >= st.Fragments {
		t.Errorf("stats %+v: want all but the last few fragments dropped", st)
	}
	dropped := log.of(producer.FragmentDropped)
	if uint64(len(dropped)) != st.Dropped {
		t.Fatalf("%d FragmentDropped events, Stats.Dropped %d", len(dropped), st.Dropped)
	}
	for i, ev := range dropped {
		if ev.Fragment != uint64(i) {
			t.Fatalf("drop %d was fragment %d: the oldest must go first", i, ev.Fragment)
		}
		if want := p.StartTime().UnixMilli() + int64(i)*500; ev.Timecode != want {
			t.Fatalf("drop %d at timecode %d, want %d", i, ev.Timecode, want)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = p.Close(ctx)
	var ce *producer.CloseError
	if !errors.As(err, &ce) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %v, want a CloseError after the deadline", err)
	}
	var nDropped, nUnacked int
	for i, f := range ce.Fragments {
		if f.Seq != uint64(i) {
			t.Fatalf("report %d is fragment %d: want every fragment in order", i, f.Seq)
		}
		switch {
		case errors.Is(f.Err, producer.ErrFragmentDropped):
			nDropped++
		case errors.Is(f.Err, producer.ErrNotAcknowledged):
			nUnacked++
		}
	}
	st = p.Stats()
	if uint64(nDropped) != st.Dropped || uint64(nDropped+nUnacked) != st.Fragments {
		t.Errorf("Close reports %d dropped + %d unacknowledged, stats %+v", nDropped, nUnacked, st)
	}
	if !strings.Contains(err.Error(), strconv.Itoa(nDropped+nUnacked)+" fragment(s) not delivered") {
		t.Errorf("error text: %.200s", err)
	}
}

func TestBlockModeWaitsForRoom(t *testing.T) {
	fake := newFakeKVS(t, "us-east-1")
	fake.hold = make(chan struct{})
	cfg := fake.config(t, "block")
	cfg.Block = true
	cfg.FragmentDuration = 500 * time.Millisecond
	cfg.BufferDuration = 2 * time.Second
	cfg.ConnectionStaleness = time.Hour
	p, err := producer.New(context.Background(), cfg, synthTracks())
	if err != nil {
		t.Fatal(err)
	}
	frames := synthFrames(30*10, 30, 15, 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	written := 0
	for _, f := range frames {
		if err := p.WriteFrame(ctx, f); err != nil {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("WriteFrame: %v", err)
			}
			break
		}
		written++
	}
	st := p.Stats()
	if written == len(frames) || st.Dropped != 0 || st.BufferDuration < cfg.BufferDuration {
		t.Errorf("wrote %d of %d frames, stats %+v: want WriteFrame to wait at a full buffer, dropping nothing", written, len(frames), st)
	}
	cctx, ccancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer ccancel()
	if err := p.Close(cctx); !errors.Is(err, producer.ErrNotAcknowledged) {
		t.Errorf("Close: %v, want unacknowledged fragments", err)
	}
}

func TestPacingSpreadsFragments(t *testing.T) {
	fake := newFakeKVS(t, "us-east-1")
	cfg := fake.config(t, "paced")
	cfg.Block = true
	cfg.FragmentDuration = 100 * time.Millisecond
	cfg.MaxFragmentsPerSecond = 20
	p, err := producer.New(context.Background(), cfg, synthTracks())
	if err != nil {
		t.Fatal(err)
	}
	if err := upload(t, p, synthFrames(30*2, 30, 3, 500)); err != nil {
		t.Fatal(err)
	}
	arr := fake.records()[0].Arrivals
	if len(arr) < 15 {
		t.Fatalf("%d fragments", len(arr))
	}
	// 20 fragments per second: the n-th fragment after the first cannot
	// arrive earlier than (n-1)/20 s after it (one token of burst).
	for i := 2; i < len(arr); i++ {
		if min := time.Duration(i-1) * time.Second / 20; arr[i].Sub(arr[0]) < min-5*time.Millisecond {
			t.Fatalf("fragment %d arrived %v after the first, want at least %v", i, arr[i].Sub(arr[0]), min)
		}
	}
}

func TestCloseEndsSessionTheServiceKeepsOpen(t *testing.T) {
	fake := newFakeKVS(t, "us-east-1")
	fake.linger = make(chan struct{}) // the response stays open after the body ends
	cfg := fake.config(t, "linger")
	cfg.FragmentDuration = 500 * time.Millisecond
	p, err := producer.New(context.Background(), cfg, synthTracks())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := upload(t, p, synthFrames(30, 30, 15, 1000)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("Close took %v", d)
	}
	if st := p.Stats(); st.Persisted != st.Fragments || st.Fragments != 2 {
		t.Errorf("stats %+v", st)
	}
}
