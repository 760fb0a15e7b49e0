package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesisvideo"

	"kvskit/internal/awsauth"
	"kvskit/internal/kvsapi"
	"kvskit/internal/testenv"
	"kvskit/mkv"
	"kvskit/server/store"
)

// mkvCluster is one cluster of a Matroska file: its timecode, the raw bytes
// of its blocks in order and, in archive output, the fragment number of the
// Tags element before it.
type mkvCluster struct {
	Number   string
	Timecode int64
	Blocks   [][]byte
}

// readMKVClusters parses a Matroska file into its clusters.
func readMKVClusters(t testing.TB, file string) []mkvCluster {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return readClusters(t, f, filepath.Base(file))
}

// readClusters parses a Matroska stream into its clusters.
func readClusters(t testing.TB, src io.Reader, file string) []mkvCluster {
	t.Helper()
	r := mkv.NewReader(src)
	var out []mkvCluster
	number := ""
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		switch ev.Type {
		case mkv.EventTags:
			for _, tg := range ev.Tags {
				if tg.Name == "AWS_KINESISVIDEO_FRAGMENT_NUMBER" {
					number = tg.Value
				}
			}
		case mkv.EventClusterStart:
			out = append(out, mkvCluster{Number: number, Timecode: ev.Timecode})
			number = ""
		case mkv.EventBlock:
			if len(out) == 0 {
				t.Fatalf("%s: block outside a cluster", file)
			}
			c := &out[len(out)-1]
			c.Blocks = append(c.Blocks, bytes.Clone(ev.Raw))
		}
	}
}

// sourceClusters indexes a source clip's clusters by timecode.
func sourceClusters(t testing.TB, file string) map[int64]mkvCluster {
	t.Helper()
	m := map[int64]mkvCluster{}
	for _, c := range readMKVClusters(t, file) {
		if _, dup := m[c.Timecode]; dup {
			t.Fatalf("%s: two clusters at timecode %d", file, c.Timecode)
		}
		m[c.Timecode] = c
	}
	if len(m) < 10 {
		t.Fatalf("%s: only %d clusters; the test needs many fragments", file, len(m))
	}
	return m
}

// makeFragmentedClip encodes an H.264 + AAC clip with a key frame every
// half second, so that ffmpeg cuts a cluster (one fragment) about every 0.5 s.
func makeFragmentedClip(t testing.TB, dir string, seconds int) string {
	t.Helper()
	ff := testenv.Tool(t, "ffmpeg")
	out := filepath.Join(dir, "fragmented.mkv")
	run(t, ff, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", strconv.Itoa(seconds), "-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-g", "15",
		"-c:a", "aac", "-b:a", "64k", "-y", out)
	return out
}

// archiveCheck is what a stream's archive is checked against: the source
// clusters, the producer start (ms) of every upload session (each session's
// timecodes are RELATIVE to its start), and the fragments acknowledged
// PERSISTED with the source timecode their ACK named.
type archiveCheck struct {
	src    map[int64]mkvCluster
	starts []int64
	acked  map[string]int64
}

// sourceOf maps an archived cluster back to the source cluster it must equal.
func (ac *archiveCheck) sourceOf(tc int64) (int64, bool) {
	start, found := int64(0), false
	for _, s := range ac.starts {
		if s <= tc && (!found || s > start) {
			start, found = s, true
		}
	}
	return tc - start, found
}

// apiClient is a data-plane client of the server, signing with the
// credentials kvs serve generated.
func (p *serveProc) apiClient(t testing.TB) *kvsapi.Client {
	t.Helper()
	profiles, err := awsauth.LoadCredentialsFile(p.Creds)
	if err != nil {
		t.Fatal(err)
	}
	c := profiles["default"]
	return kvsapi.New(aws.Config{
		Region: p.Region,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey}, nil
		}),
	}, p.URL)
}

// createStreams creates streams with a retention in hours.
func createStreams(t testing.TB, p *serveProc, retention int32, names ...string) {
	t.Helper()
	kv := p.apiClient(t).Control()
	for _, name := range names {
		if _, err := kv.CreateStream(context.Background(), &kinesisvideo.CreateStreamInput{
			StreamName: aws.String(name), DataRetentionInHours: aws.Int32(retention),
		}); err != nil {
			t.Fatalf("create stream %s: %v", name, err)
		}
	}
}

// verifyArchive reads a stream back (ListFragments, GetMediaForFragmentList)
// and checks that every fragment acknowledged PERSISTED is there, and that
// every fragment there is a whole source cluster, byte for byte. It returns
// the listed numbers.
func verifyArchive(t *testing.T, p *serveProc, stream string, ac *archiveCheck) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := p.apiClient(t)
	frags, err := c.ListFragments(ctx, kvsapi.ListFragmentsInput{Stream: stream})
	if err != nil {
		t.Fatalf("%s: list fragments: %v", stream, err)
	}
	var listed []string
	for _, f := range frags {
		listed = append(listed, f.Number)
	}
	byProducer := slices.Clone(frags)
	slices.SortStableFunc(byProducer, func(a, b kvsapi.Fragment) int { return a.ProducerTimestamp.Compare(b.ProducerTimestamp) })
	for i := range frags {
		if byProducer[i].Number != frags[i].Number {
			t.Errorf("%s: fragments in producer-time order are not in number order", stream)
			break
		}
	}
	set := map[string]bool{}
	for _, n := range listed {
		set[n] = true
	}
	for n, tc := range ac.acked {
		if !set[n] {
			t.Errorf("%s: fragment %s (timecode %d) was acknowledged PERSISTED but is not listed", stream, n, tc)
		}
	}
	if len(listed) == 0 {
		return nil
	}
	body, err := c.GetMediaForFragmentList(ctx, stream, listed)
	if err != nil {
		t.Fatalf("%s: get media for fragment list: %v", stream, err)
	}
	defer body.Close()
	var numbers []string
	for _, cl := range readClusters(t, body, stream) {
		numbers = append(numbers, cl.Number)
		srcTC, ok := ac.sourceOf(cl.Timecode)
		if !ok {
			t.Errorf("%s: fragment %s at %d precedes every upload", stream, cl.Number, cl.Timecode)
			continue
		}
		want, ok := ac.src[srcTC]
		if !ok {
			t.Errorf("%s: fragment %s (source timecode %d) is not a source cluster: cut off?", stream, cl.Number, srcTC)
			continue
		}
		if len(cl.Blocks) != len(want.Blocks) {
			t.Errorf("%s: fragment %s (source timecode %d) has %d blocks, the source cluster %d",
				stream, cl.Number, srcTC, len(cl.Blocks), len(want.Blocks))
			continue
		}
		for i := range want.Blocks {
			if !bytes.Equal(cl.Blocks[i], want.Blocks[i]) {
				t.Errorf("%s: fragment %s block %d differs from the source", stream, cl.Number, i)
				break
			}
		}
		if tc, ok := ac.acked[cl.Number]; ok && tc != srcTC {
			t.Errorf("%s: fragment %s holds source cluster %d, its ACK named timecode %d", stream, cl.Number, srcTC, tc)
		}
	}
	if !slices.Equal(numbers, listed) {
		t.Errorf("%s: GetMediaForFragmentList returned %v, ListFragments %v", stream, numbers, listed)
	}
	return listed
}

// liveUpload is a putmedia.py upload whose ACKs are followed as they arrive.
type liveUpload struct {
	stream string
	py     *pyProc

	mu        sync.Mutex
	status    string
	buffering []ackLine
	persisted map[string]int64 // number -> timecode
	errs      []ackLine
	other     []string
	reached   chan struct{} // closed when persisted reaches the target
	ended     chan struct{} // closed when the output ended
}

func startLiveUpload(t *testing.T, p *serveProc, stream, file string, target int, args ...string) *liveUpload {
	t.Helper()
	u := &liveUpload{stream: stream, persisted: map[string]int64{},
		reached: make(chan struct{}), ended: make(chan struct{})}
	u.py = p.pythonStream(t, "putmedia.py", append([]string{p.URL, p.Region, stream, file}, args...)...)
	go func() {
		defer close(u.ended)
		once := sync.Once{}
		for line := range u.py.Lines {
			u.mu.Lock()
			switch {
			case strings.HasPrefix(line, "STATUS "):
				u.status = strings.TrimPrefix(line, "STATUS ")
			case strings.HasPrefix(line, "{"):
				var a ackLine
				if err := json.Unmarshal([]byte(line), &a); err != nil {
					u.other = append(u.other, line)
					break
				}
				switch a.EventType {
				case "BUFFERING":
					u.buffering = append(u.buffering, a)
				case "PERSISTED":
					u.persisted[a.FragmentNumber] = a.FragmentTimecode
				case "ERROR":
					u.errs = append(u.errs, a)
				}
			default:
				u.other = append(u.other, line)
			}
			n := len(u.persisted)
			u.mu.Unlock()
			if n >= target {
				once.Do(func() { close(u.reached) })
			}
		}
	}()
	return u
}

// snapshot returns copies of what was received so far.
func (u *liveUpload) snapshot() (status string, buffering []ackLine, persisted map[string]int64, errs []ackLine) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.status, slices.Clone(u.buffering), maps.Clone(u.persisted), slices.Clone(u.errs)
}

// fragmentFiles lists the fragment numbers that have a file in the data dir.
func fragmentFiles(t testing.TB, dataDir string) map[string]bool {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dataDir, "fragments", "*", "*.frag"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, p := range paths {
		out[strings.TrimSuffix(filepath.Base(p), ".frag")] = true
	}
	return out
}

// paceFor returns putmedia.py arguments that spread a file's upload over
// about d, in 4 KiB chunks.
func paceFor(t testing.TB, file string, d time.Duration) []string {
	t.Helper()
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	const chunk = 4096
	chunks := fi.Size()/chunk + 1
	delay := d.Seconds() / float64(chunks)
	return []string{"--chunk", strconv.Itoa(chunk), "--delay", fmt.Sprintf("%.4f", delay)}
}

func startArg(ms int64) string { return fmt.Sprintf("%d.%03d", ms/1000, ms%1000) }

// TestCrashDuringIngest kills kvs serve with SIGKILL while three streams are
// being uploaded, twice, and checks after each restart that every fragment
// acknowledged PERSISTED is intact and nothing cut off is served.
func TestCrashDuringIngest(t *testing.T) {
	dir := t.TempDir()
	clip := makeFragmentedClip(t, dir, 20)
	src := sourceClusters(t, clip)
	dataDir := filepath.Join(dir, "data")
	streams := []string{"crash-0", "crash-1", "crash-2"}
	checks := map[string]*archiveCheck{}
	for _, s := range streams {
		checks[s] = &archiveCheck{src: src, acked: map[string]int64{}}
	}
	// Producer starts are far apart so every archived cluster maps back to
	// one upload; they lie in the past like a replayed recording.
	base := time.Now().Add(-3 * time.Hour).UnixMilli()
	pace := paceFor(t, clip, 8*time.Second)

	p := startServe(t, dataDir)
	createStreams(t, p, 1, streams...)
	var wg sync.WaitGroup

	highest := ""
	for round, killAfter := range []int{3, 12} {
		start := base + int64(round)*1_000_000
		uploads := map[string]*liveUpload{}
		for _, s := range streams {
			checks[s].starts = append(checks[s].starts, start)
			uploads[s] = startLiveUpload(t, p, s, clip, killAfter, append([]string{"--start", startArg(start)}, pace...)...)
		}
		for _, s := range streams {
			select {
			case <-uploads[s].reached:
			case <-uploads[s].ended:
				t.Fatalf("round %d: %s ended before %d fragments were persisted: %+v", round, s, killAfter, uploads[s].other)
			case <-time.After(30 * time.Second):
				t.Fatalf("round %d: %s: no %d PERSISTED within 30 s", round, s, killAfter)
			}
		}
		// Land somewhere inside a fragment.
		time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
		p.Kill()
		total := 0
		for _, s := range streams {
			u := uploads[s]
			<-u.ended
			_ = u.py.Wait() // the connection was reset: an error is expected
			status, _, persisted, errs := u.snapshot()
			if !strings.HasPrefix(status, "HTTP/1.1 200") || len(errs) > 0 {
				t.Fatalf("round %d: %s: status %q, errors %+v", round, s, status, errs)
			}
			for n, tc := range persisted {
				checks[s].acked[n] = tc
				highest = max(highest, n)
			}
			total += len(persisted)
		}

		// The archive as the crash left it: every PERSISTED fragment has its
		// file; opening the store repairs the rest and leaves it consistent.
		before := fragmentFiles(t, dataDir)
		for _, s := range streams {
			for n := range checks[s].acked {
				if !before[n] {
					t.Errorf("round %d: %s: fragment %s acknowledged PERSISTED has no file after the crash", round, s, n)
				}
			}
		}
		st, err := store.Open(dataDir)
		if err != nil {
			t.Fatalf("round %d: open the crashed store: %v", round, err)
		}
		problems, err := st.Check()
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		if err != nil || len(problems) > 0 {
			t.Fatalf("round %d: store check after the crash: %v\n%s", round, err, strings.Join(problems, "\n"))
		}
		after := fragmentFiles(t, dataDir)
		t.Logf("round %d: killed after %d PERSISTED acks; %d fragment files, %d removed as cut off",
			round, total, len(after), len(before)-len(after))

		p = startServe(t, dataDir)
		for _, s := range streams {
			wg.Add(1)
			go func() {
				defer wg.Done()
				verifyArchive(t, p, s, checks[s])
			}()
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
	}

	// After the crashes the streams take new uploads, numbered above
	// everything stored before.
	start := base + 2_000_000
	for _, s := range streams {
		checks[s].starts = append(checks[s].starts, start)
		wg.Add(1)
		go func() {
			defer wg.Done()
			acks := upload(t, p, s, clip, "--start", startArg(start))
			for _, a := range acks {
				if a.EventType != "PERSISTED" {
					continue
				}
				if a.FragmentNumber <= highest {
					t.Errorf("%s: new fragment %s is not above %s, stored before the crash", s, a.FragmentNumber, highest)
				}
				checks[s].acked[a.FragmentNumber] = a.FragmentTimecode
			}
		}()
	}
	wg.Wait()
	for _, s := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			listed := verifyArchive(t, p, s, checks[s])
			if len(listed) < len(src) {
				t.Errorf("%s: %d fragments listed after a complete upload of %d clusters", s, len(listed), len(src))
			}
		}()
	}
	wg.Wait()
}
