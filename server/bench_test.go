package server

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"kvskit/internal/awsauth"
	"kvskit/internal/testenv"
	"kvskit/media"
	"kvskit/mkv"
)

// The ingest benchmarks run the endpoint in process behind a real loopback
// HTTP listener with the store fsyncing as in production, and drive it with
// a raw HTTP/1.1 chunked client (as KVS producers send PutMedia). Each is
// paired with a peer: the same bytes sent by the same client to a handler
// that only discards the body, the cost of moving them over loopback HTTP.

// benchServer is the endpoint with real fsync, and a discarding peer.
type benchServer struct {
	srv  *Server
	ts   *httptest.Server
	peer *httptest.Server
}

// benchDir is the data directory of a benchmark: a temporary directory, or
// one under $KVSKIT_BENCH_DIR (for example a tmpfs, to take the disk out of
// the measurement).
func benchDir(b *testing.B) string {
	if d := os.Getenv("KVSKIT_BENCH_DIR"); d != "" {
		dir, err := os.MkdirTemp(d, "bench")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return b.TempDir()
}

func newBenchServer(b *testing.B, lim Limits) *benchServer {
	b.Helper()
	srv, err := New(Config{
		DataDir:     benchDir(b),
		Credentials: map[string]string{testCreds.AccessKeyID: testCreds.SecretAccessKey},
		Limits:      lim,
	})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	}))
	b.Cleanup(func() {
		ts.CloseClientConnections()
		peer.CloseClientConnections()
		ts.Close()
		peer.Close()
		if err := srv.Close(); err != nil {
			b.Errorf("close: %v", err)
		}
	})
	return &benchServer{srv: srv, ts: ts, peer: peer}
}

func (bs *benchServer) createStreams(b *testing.B, names ...string) {
	b.Helper()
	for _, name := range names {
		body, _ := json.Marshal(map[string]any{"StreamName": name, "DataRetentionInHours": 1})
		req, _ := http.NewRequest(http.MethodPost, bs.ts.URL+"/createStream", bytes.NewReader(body))
		if err := awsauth.SignRequest(context.Background(), req, testCreds, "us-east-1", sha256Hex(body), time.Now()); err != nil {
			b.Fatal(err)
		}
		resp, err := bs.ts.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("createStream %s: %d", name, resp.StatusCode)
		}
	}
}

// rawPut is a POST with a chunked body written by hand on a TCP connection;
// the response is read line by line as it arrives.
type rawPut struct {
	conn  *net.TCPConn
	done  chan error // the response ended
	lines func(line []byte, at time.Time)
}

// dialPut starts a signed PutMedia request (or any POST) to url.
func dialPut(url, stream string, lines func([]byte, time.Time)) (*rawPut, error) {
	req, _ := http.NewRequest(http.MethodPost, url+"/putMedia", nil)
	req.Header.Set("x-amzn-stream-name", stream)
	req.Header.Set("x-amzn-fragment-timecode-type", "ABSOLUTE")
	req.Header.Set("x-amzn-fragment-acknowledgment-required", "1")
	if err := awsauth.SignRequest(context.Background(), req, testCreds, "us-east-1", awsauth.UnsignedPayload, time.Now()); err != nil {
		return nil, err
	}
	c, err := net.Dial("tcp", req.URL.Host)
	if err != nil {
		return nil, err
	}
	conn := c.(*net.TCPConn)
	var head strings.Builder
	fmt.Fprintf(&head, "POST /putMedia HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n", req.Host)
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&head, "%s: %s\r\n", k, v)
		}
	}
	head.WriteString("\r\n")
	if _, err := io.WriteString(conn, head.String()); err != nil {
		conn.Close()
		return nil, err
	}
	p := &rawPut{conn: conn, done: make(chan error, 1), lines: lines}
	go p.readResponse(req)
	return p, nil
}

func (p *rawPut) readResponse(req *http.Request) {
	resp, err := http.ReadResponse(bufio.NewReaderSize(p.conn, 64<<10), req)
	if err != nil {
		p.done <- err
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		p.done <- fmt.Errorf("status %d: %s", resp.StatusCode, b)
		return
	}
	br := bufio.NewReader(resp.Body)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 && p.lines != nil {
			p.lines(line, time.Now())
		}
		if err == io.EOF {
			p.done <- nil
			return
		}
		if err != nil {
			p.done <- err
			return
		}
	}
}

// chunk writes bufs as one chunk of the body, with one writev.
func (p *rawPut) chunk(bufs ...[]byte) error {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	if n == 0 {
		return nil
	}
	nb := net.Buffers{fmt.Appendf(nil, "%x\r\n", n)}
	nb = append(nb, bufs...)
	nb = append(nb, []byte("\r\n"))
	_, err := nb.WriteTo(p.conn)
	return err
}

// finish ends the body and waits for the response to end.
func (p *rawPut) finish() error {
	defer p.conn.Close()
	if _, err := io.WriteString(p.conn, "0\r\n\r\n"); err != nil {
		return err
	}
	select {
	case err := <-p.done:
		return err
	case <-time.After(60 * time.Second):
		return fmt.Errorf("response did not end")
	}
}

// benchMedia is pre-built KVS-layout MKV: the stream header and the blocks
// of one fragment (frames 33 ms apart, the first a key frame).
type benchMedia struct {
	header []byte
	blocks [][]byte // one SimpleBlock element per frame
	size   int      // bytes of one fragment: cluster start + blocks
}

func newBenchMedia(b *testing.B, frames, frameSize int) *benchMedia {
	b.Helper()
	var buf bytes.Buffer
	w := mkv.NewWriter(&buf)
	if err := w.WriteHeader(mkv.SegmentInfo{SegmentUID: bytes.Repeat([]byte{9}, 16)}, []media.Track{testVideo}); err != nil {
		b.Fatal(err)
	}
	m := &benchMedia{header: bytes.Clone(buf.Bytes())}
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, frameSize)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for i := 0; i < frames; i++ {
		blk := mkv.AppendSimpleBlock(nil, 1, int16(i*33), i == 0, data)
		m.blocks = append(m.blocks, blk)
		m.size += len(blk)
	}
	m.size += len(clusterStart(nil, 0))
	return m
}

// clusterStart returns the bytes that open an unknown-size cluster.
func clusterStart(dst []byte, timecode int64) []byte {
	var buf bytes.Buffer
	w := mkv.NewWriter(&buf)
	_ = w.StartCluster(timecode)
	return append(dst, buf.Bytes()...)
}

// sendFragments writes n fragments as fast as possible in chunks of about
// chunkSize bytes.
func (m *benchMedia) sendFragments(p *rawPut, n int, baseTC int64, chunkSize int) error {
	if err := p.chunk(m.header); err != nil {
		return err
	}
	var pending [][]byte
	size := 0
	flush := func() error {
		err := p.chunk(pending...)
		pending, size = pending[:0], 0
		return err
	}
	for i := 0; i < n; i++ {
		pending = append(pending, clusterStart(nil, baseTC+int64(i)*1000))
		for _, blk := range m.blocks {
			pending = append(pending, blk)
			if size += len(blk); size >= chunkSize {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// ackCounter tallies ACK lines and checks that PERSISTED lines come in
// fragment-number order.
type ackCounter struct {
	mu            sync.Mutex
	counts        map[string]int
	errs          []string
	lastPersisted string
}

func (c *ackCounter) line(l []byte, _ time.Time) {
	var a ack
	if err := json.Unmarshal(l, &a); err != nil {
		c.mu.Lock()
		c.errs = append(c.errs, string(l))
		c.mu.Unlock()
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[a.EventType]++
	if a.EventType == ackError {
		c.errs = append(c.errs, string(l))
	}
	if a.EventType == ackPersisted {
		if a.FragmentNumber <= c.lastPersisted {
			c.errs = append(c.errs, "PERSISTED out of order: "+string(l))
		}
		c.lastPersisted = a.FragmentNumber
	}
}

// BenchmarkIngestOneStream sends b.N fragments of about 1 MB on one PutMedia
// session as fast as the endpoint takes them (throughput and fragment-rate
// limits raised), until the last is PERSISTED; then the same bytes go to
// the discarding peer, and the same number of bytes are written as fsynced
// files. MB/s is the ingest rate; raw-MB/s the loopback peer's and
// disk-MB/s the disk peer's, with the ratios of the ingest rate to them;
// disk-2inflight-MB/s is the disk peer with two files written and synced at
// a time; disk-all-MB/s the same bytes written to one file and fsynced once
// at the end (the disk's sequential write rate, which no store that makes
// each fragment durable on its own can beat), with x-of-disk-all the ingest
// rate's ratio to it.
func BenchmarkIngestOneStream(b *testing.B) {
	benchIngestOne(b, newBenchMedia(b, 30, 34_900)) // 30 frames, ~1 MB, 1 s
}

// BenchmarkIngestBigFragments is BenchmarkIngestOneStream with fragments of
// about 4 MB (30 frames of 139.6 kB, 1 s): fewer syncs for the same bytes.
func BenchmarkIngestBigFragments(b *testing.B) {
	benchIngestOne(b, newBenchMedia(b, 30, 139_600))
}

func benchIngestOne(b *testing.B, m *benchMedia) {
	const chunkSize = 64 << 10
	bs := newBenchServer(b, Limits{MaxBytesPerSecond: 1e12, MaxFragmentsPerSecond: 1e9})
	bs.createStreams(b, "one")
	b.SetBytes(int64(m.size))
	base := time.Now().UnixMilli()
	// First, while the disk is as fresh as it will be for the ingest: on a
	// shared virtual disk a second burst of writes right after the first
	// often runs slower.
	seq := diskWriteAll(b, b.N, m.size)

	b.ResetTimer()
	start := time.Now()
	var acks ackCounter
	p, err := dialPut(bs.ts.URL, "one", acks.line)
	if err != nil {
		b.Fatal(err)
	}
	if err := m.sendFragments(p, b.N, base, chunkSize); err != nil {
		b.Fatal(err)
	}
	if err := p.finish(); err != nil {
		b.Fatal(err)
	}
	ingest := time.Since(start)
	b.StopTimer()
	if acks.counts[ackPersisted] != b.N || len(acks.errs) > 0 {
		b.Fatalf("%d of %d fragments persisted; errors %v", acks.counts[ackPersisted], b.N, acks.errs)
	}

	start = time.Now()
	p, err = dialPut(bs.peer.URL, "one", nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := m.sendFragments(p, b.N, base, chunkSize); err != nil {
		b.Fatal(err)
	}
	if err := p.finish(); err != nil {
		b.Fatal(err)
	}
	raw := time.Since(start)
	disk := diskPeer(b, b.N, m.size, 1)
	disk2 := diskPeer(b, b.N, m.size, 2)
	total := float64(m.size) * float64(b.N)
	b.ReportMetric(total/raw.Seconds()/1e6, "raw-MB/s")
	b.ReportMetric(raw.Seconds()/ingest.Seconds(), "x-of-raw-loopback")
	b.ReportMetric(total/disk.Seconds()/1e6, "disk-MB/s")
	b.ReportMetric(disk.Seconds()/ingest.Seconds(), "x-of-disk")
	b.ReportMetric(total/disk2.Seconds()/1e6, "disk-2inflight-MB/s")
	b.ReportMetric(total/seq.Seconds()/1e6, "disk-all-MB/s")
	b.ReportMetric(seq.Seconds()/ingest.Seconds(), "x-of-disk-all")
}

// diskWriteAll writes the same bytes as diskPeer into one file, then
// fsyncs it: the disk's sequential write rate for these bytes, with no
// fragment durable before the end.
func diskWriteAll(b *testing.B, n, size int) time.Duration {
	b.Helper()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 5)
	}
	start := time.Now()
	f, err := os.Create(filepath.Join(benchDir(b), "all"))
	if err != nil {
		b.Fatal(err)
	}
	for range n {
		if _, err := f.Write(data); err != nil {
			b.Fatal(err)
		}
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// diskPeer writes n files of size bytes, each made durable with fsync, on
// the benchmark's file system, with up to inflight files being written and
// synced at a time: the least a store that acknowledges only durable
// fragments must do, without HTTP, parsing or an index.
func diskPeer(b *testing.B, n, size, inflight int) time.Duration {
	b.Helper()
	dir := benchDir(b)
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	write := func(i int) error {
		return testenv.WriteSynced(filepath.Join(dir, fmt.Sprintf("%08d.frag", i)), data)
	}
	start := time.Now()
	sem := make(chan struct{}, inflight)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := write(i); err != nil {
				mu.Lock()
				first = cmp.Or(first, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	if first != nil {
		b.Fatal(first)
	}
	return d
}

// cpuTime returns the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pacedLoad is 100 cameras: each sends 30 frames a second, a 2 s fragment
// of about 1 MB (4 Mbit/s), starts staggered over one fragment duration.
type pacedLoad struct {
	streams  int
	duration time.Duration
	fps      int
	perFrag  int // frames per fragment
	m        *benchMedia
}

type pacedResult struct {
	bytes     int64
	wall      time.Duration
	cpu       time.Duration
	latencies []time.Duration // last byte of a fragment written -> PERSISTED
	persisted int
	errs      []string
}

// run drives the load against url; with acks set it matches PERSISTED lines
// to the moment each fragment's last byte was written.
func (l *pacedLoad) run(b *testing.B, url string, acks bool) pacedResult {
	b.Helper()
	var (
		mu  sync.Mutex
		res pacedResult
		wg  sync.WaitGroup
	)
	interval := time.Second / time.Duration(l.fps)
	fragDur := interval * time.Duration(l.perFrag)
	cpu0 := cpuTime()
	start := time.Now()
	end := start.Add(l.duration)
	for s := 0; s < l.streams; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("cam-%03d", s)
			written := map[int64]time.Time{} // fragment timecode -> its last byte written
			var wmu sync.Mutex
			var lines func([]byte, time.Time)
			if acks {
				lines = func(line []byte, at time.Time) {
					var a ack
					if err := json.Unmarshal(line, &a); err != nil || a.EventType == ackError {
						mu.Lock()
						res.errs = append(res.errs, string(line))
						mu.Unlock()
						return
					}
					if a.EventType != ackPersisted {
						return
					}
					wmu.Lock()
					w, ok := written[*a.FragmentTimecode]
					wmu.Unlock()
					mu.Lock()
					res.persisted++
					if ok {
						res.latencies = append(res.latencies, at.Sub(w))
					} else {
						res.errs = append(res.errs, "PERSISTED for a fragment not sent: "+string(line))
					}
					mu.Unlock()
				}
			}
			p, err := dialPut(url, name, lines)
			if err != nil {
				b.Error(err)
				return
			}
			var sent int64
			send := func(bufs ...[]byte) bool {
				for _, x := range bufs {
					sent += int64(len(x))
				}
				if err := p.chunk(bufs...); err != nil {
					b.Errorf("%s: %v", name, err)
					return false
				}
				return true
			}
			next := start.Add(fragDur * time.Duration(s) / time.Duration(l.streams))
			time.Sleep(time.Until(next))
			tc := next.UnixMilli()
			if !send(l.m.header, clusterStart(nil, tc)) {
				return
			}
			for frame := 0; ; frame++ {
				i := frame % l.perFrag
				last := i == l.perFrag-1
				next = next.Add(interval)
				stop := last && next.After(end)
				bufs := [][]byte{l.m.blocks[i]}
				if last && !stop {
					// The next cluster starts with the frame's bytes: the
					// server sees the fragment end as its last byte arrives.
					bufs = append(bufs, clusterStart(nil, tc+int64(fragDur/time.Millisecond)))
				}
				if last {
					// Set before the write too, so a PERSISTED line can
					// never find it missing; the time after the write
					// replaces it.
					wmu.Lock()
					written[tc] = time.Now()
					wmu.Unlock()
				}
				if !send(bufs...) {
					return
				}
				if last {
					wmu.Lock()
					written[tc] = time.Now()
					wmu.Unlock()
					tc += int64(fragDur / time.Millisecond)
				}
				if stop {
					break
				}
				time.Sleep(time.Until(next))
			}
			if err := p.finish(); err != nil {
				b.Errorf("%s: %v", name, err)
			}
			mu.Lock()
			res.bytes += sent
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.wall = time.Since(start)
	res.cpu = cpuTime() - cpu0
	return res
}

// BenchmarkIngest100Streams runs 100 paced PutMedia sessions (4 Mbit/s each,
// 2 s fragments of about 1 MB, 30 frames a second) for 20 s against the
// endpoint with the service's default limits, and reports the aggregate
// rate, the PERSISTED latency (from the write of a fragment's last byte to
// the arrival of its PERSISTED line) and the process CPU use; then 10 s of
// the same load against the discarding peer, for the CPU cost of the client
// and of loopback HTTP alone. Run it with -benchtime=1x.
func BenchmarkIngest100Streams(b *testing.B) {
	const streams = 100
	bs := newBenchServer(b, Limits{})
	names := make([]string, streams)
	for i := range names {
		names[i] = fmt.Sprintf("cam-%03d", i)
	}
	bs.createStreams(b, names...)
	load := &pacedLoad{streams: streams, duration: 20 * time.Second, fps: 30, perFrag: 60,
		m: newBenchMedia(b, 60, 17_400)} // 60 frames of 17.4 kB: ~1 MB per 2 s
	b.ResetTimer()
	for range b.N {
		res := load.run(b, bs.ts.URL, true)
		if len(res.errs) > 0 {
			b.Fatalf("%d errors, first: %s", len(res.errs), res.errs[0])
		}
		want := streams * int(load.duration/(2*time.Second))
		if res.persisted < want {
			b.Fatalf("%d fragments persisted, want at least %d", res.persisted, want)
		}
		lat := res.latencies
		slices.Sort(lat)
		pct := func(p float64) float64 {
			return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond)
		}
		b.ReportMetric(float64(res.bytes)/res.wall.Seconds()/1e6, "MB/s")
		b.ReportMetric(float64(res.persisted), "fragments")
		b.ReportMetric(pct(0.5), "p50-ms")
		b.ReportMetric(pct(0.99), "p99-ms")
		b.ReportMetric(pct(1), "max-ms")
		b.ReportMetric(res.cpu.Seconds()/res.wall.Seconds(), "cpu-cores")

		load.duration = 10 * time.Second
		peer := load.run(b, bs.peer.URL, false)
		load.duration = 20 * time.Second
		b.ReportMetric(peer.cpu.Seconds()/peer.wall.Seconds(), "peer-cpu-cores")
	}
}
