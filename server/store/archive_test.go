package store

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// appendN appends n fragments with producer timestamps t0 + i*2s and server
// timestamps a little later, returning them.
func appendN(t testing.TB, s *Store, arn string, n int) []Fragment {
	t.Helper()
	var out []Fragment
	for i := range n {
		ts := t0.Add(time.Duration(i) * 2 * time.Second)
		f, err := s.AppendFragment(arn, Fragment{
			ProducerTimestamp: ts,
			ServerTimestamp:   ts.Add(300 * time.Millisecond),
			Duration:          2 * time.Second,
			Timecode:          int64(i * 2000),
			HeaderID:          "h",
		}, payload(i))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

func payload(i int) []byte {
	return bytes.Repeat([]byte{byte(i), byte(i >> 8), 0xAB}, 100+i)
}

func numbers(fs []Fragment) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Number)
	}
	return out
}

func TestAppendRead(t *testing.T) {
	s, dir := openTest(t)
	arn := mustStream(t, s, "cam", 1)
	frags := appendN(t, s, arn, 20)
	for i, f := range frags {
		if len(f.Number) != 47 || !validNumber(f.Number) {
			t.Fatalf("number %q is not 47 digits", f.Number)
		}
		if i > 0 && f.Number <= frags[i-1].Number {
			t.Fatalf("numbers do not increase: %s then %s", frags[i-1].Number, f.Number)
		}
		if f.Size != int64(len(payload(i))) {
			t.Fatalf("size %d, want %d", f.Size, len(payload(i)))
		}
		got, err := s.Fragment(arn, f.Number)
		if err != nil || !reflect.DeepEqual(got, f) {
			t.Fatalf("Fragment = %+v, %v; want %+v", got, err, f)
		}
		data, err := s.ReadFragment(arn, f.Number)
		if err != nil || !bytes.Equal(data, payload(i)) {
			t.Fatalf("ReadFragment %d: %v", i, err)
		}
	}
	if _, err := s.Fragment(arn, formatNumber(999999)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing fragment: %v", err)
	}
	if _, err := s.ReadFragment(arn, "junk"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("junk number: %v", err)
	}
	if _, err := s.AppendFragment("arn:none", Fragment{}, []byte("x")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("append to missing stream: %v", err)
	}
	last, err := s.LastFragment(arn)
	if err != nil || last.Number != frags[19].Number {
		t.Fatalf("LastFragment = %v, %v", last.Number, err)
	}
	empty := mustStream(t, s, "empty", 1)
	if _, err := s.LastFragment(empty); !errors.Is(err, ErrNotFound) {
		t.Fatalf("LastFragment of empty: %v", err)
	}
	if fs, err := s.FragmentsAfter(empty, "", 10); err != nil || len(fs) != 0 {
		t.Fatalf("FragmentsAfter of empty: %v, %v", fs, err)
	}

	// Reopen: same records, and numbers keep growing.
	s.Close()
	s = reopen(t, dir)
	all, err := s.FragmentsAfter(arn, "", 0)
	if err != nil || !reflect.DeepEqual(all, frags) {
		t.Fatalf("after reopen: %v", err)
	}
	more := appendN(t, s, arn, 1)
	if more[0].Number <= frags[19].Number {
		t.Fatalf("number after reopen %s not above %s", more[0].Number, frags[19].Number)
	}
	checkClean(t, s)
}

func TestHeaders(t *testing.T) {
	s, _ := openTest(t)
	arn := mustStream(t, s, "cam", 1)
	h := []byte("info+tracks")
	id, err := s.PutHeader(arn, h)
	if err != nil {
		t.Fatal(err)
	}
	id2, err := s.PutHeader(arn, bytes.Clone(h))
	if err != nil || id2 != id {
		t.Fatalf("second PutHeader = %s, %v; want %s", id2, err, id)
	}
	other, _ := s.PutHeader(arn, []byte("other"))
	if other == id {
		t.Fatal("different headers share an id")
	}
	got, err := s.Header(arn, id)
	if err != nil || !bytes.Equal(got, h) {
		t.Fatalf("Header = %q, %v", got, err)
	}
	if _, err := s.Header(arn, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if _, err := s.PutHeader("arn:none", h); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}

func TestFragmentsAfterPagination(t *testing.T) {
	s, _ := openTest(t)
	arn := mustStream(t, s, "cam", 1)
	other := mustStream(t, s, "other", 1)
	frags := appendN(t, s, arn, 23)
	appendN(t, s, other, 5)
	var got []Fragment
	after := ""
	for {
		page, err := s.FragmentsAfter(arn, after, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 5 {
			t.Fatalf("page of %d", len(page))
		}
		got = append(got, page...)
		after = page[len(page)-1].Number
	}
	if !reflect.DeepEqual(numbers(got), numbers(frags)) {
		t.Fatalf("paged %v\nwant %v", numbers(got), numbers(frags))
	}
	if _, err := s.FragmentsAfter(arn, "12", 5); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad after: %v", err)
	}
	// An `after` that is not a stored number still bounds the result.
	mid := frags[10].Number
	c, _ := parseCounter(mid)
	below := formatNumber(c - 1)
	page, _ := s.FragmentsAfter(arn, below, 1)
	if len(page) != 1 || page[0].Number != mid {
		t.Fatalf("after a gap: %v", numbers(page))
	}
}

func TestFragmentsInRange(t *testing.T) {
	for _, ordered := range []bool{true, false} {
		t.Run(fmt.Sprintf("ordered=%v", ordered), func(t *testing.T) {
			s, _ := openTest(t)
			arn := mustStream(t, s, "cam", 1)
			// Producer timestamps: 0,2,4,...s; when unordered, every third
			// fragment jumps back 5 s.
			var frags []Fragment
			for i := range 40 {
				p := t0.Add(time.Duration(i) * 2 * time.Second)
				if !ordered && i%3 == 2 {
					p = p.Add(-5 * time.Second)
				}
				f, err := s.AppendFragment(arn, Fragment{ProducerTimestamp: p, ServerTimestamp: t0.Add(time.Duration(i) * time.Second)}, []byte{byte(i)})
				if err != nil {
					t.Fatal(err)
				}
				frags = append(frags, f)
			}
			brute := func(kind TimestampKind, start, end time.Time, after string, limit int) []string {
				var out []string
				for _, f := range frags {
					ts := timeOf(&f, kind)
					if f.Number > after && !ts.Before(start) && !ts.After(end) && (limit <= 0 || len(out) < limit) {
						out = append(out, f.Number)
					}
				}
				return out
			}
			rng := rand.New(rand.NewPCG(1, 2))
			for range 300 {
				kind := TimestampKind(rng.IntN(2))
				start := t0.Add(time.Duration(rng.IntN(100)-10) * time.Second)
				end := start.Add(time.Duration(rng.IntN(60)) * time.Second)
				if rng.IntN(10) == 0 {
					end = start // a single instant
				}
				after := ""
				if rng.IntN(2) == 0 {
					after = frags[rng.IntN(len(frags))].Number
				}
				limit := rng.IntN(8)
				got, err := s.FragmentsInRange(arn, kind, start, end, after, limit)
				if err != nil {
					t.Fatal(err)
				}
				if want := brute(kind, start, end, after, limit); !reflect.DeepEqual(numbers(got), want) {
					t.Fatalf("kind %d [%v, %v] after %s limit %d:\n got %v\nwant %v", kind, start, end, after, limit, numbers(got), want)
				}
				// Paging through the range yields the whole range.
				var paged []string
				a := ""
				for {
					page, err := s.FragmentsInRange(arn, kind, start, end, a, 3)
					if err != nil {
						t.Fatal(err)
					}
					if len(page) == 0 {
						break
					}
					paged = append(paged, numbers(page)...)
					a = page[len(page)-1].Number
				}
				if want := brute(kind, start, end, "", 0); !reflect.DeepEqual(paged, want) {
					t.Fatalf("paging kind %d [%v, %v]:\n got %v\nwant %v", kind, start, end, paged, want)
				}
				// FirstFragmentAtOrAfter agrees with a scan.
				first, err := s.FirstFragmentAtOrAfter(arn, kind, start)
				want := brute(kind, start, t0.Add(time.Hour), "", 1)
				switch {
				case len(want) == 0 && !errors.Is(err, ErrNotFound):
					t.Fatalf("FirstFragmentAtOrAfter(%v) = %v, %v; want ErrNotFound", start, first.Number, err)
				case len(want) == 1 && (err != nil || first.Number != want[0]):
					t.Fatalf("FirstFragmentAtOrAfter(%v) = %v, %v; want %s", start, first.Number, err, want[0])
				}
			}
			if got, err := s.FragmentsInRange(arn, ServerTimestamp, t0.Add(time.Minute), t0, "", 0); err != nil || len(got) != 0 {
				t.Fatalf("empty range: %v, %v", got, err)
			}
			if _, err := s.FragmentsInRange(arn, TimestampKind(7), t0, t0, "", 0); !errors.Is(err, ErrInvalid) {
				t.Fatalf("bad kind: %v", err)
			}
		})
	}
}

func TestDeleteAndRecreate(t *testing.T) {
	s, dir := openTest(t)
	arn := mustStream(t, s, "cam", 1)
	old := appendN(t, s, arn, 5)
	hid, _ := s.PutHeader(arn, []byte("hdr"))
	if err := s.DeleteStream("cam"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadFragment(arn, old[0].Number); !errors.Is(err, ErrNotFound) {
		t.Fatalf("read after delete: %v", err)
	}
	if _, err := s.Header(arn, hid); !errors.Is(err, ErrNotFound) {
		t.Fatalf("header after delete: %v", err)
	}
	if _, err := s.AppendFragment(arn, Fragment{}, []byte("x")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("append after delete: %v", err)
	}
	arn2 := mustStream(t, s, "cam", 1)
	if arn2 == arn {
		t.Fatal("test ARNs collide")
	}
	if fs, err := s.FragmentsAfter(arn2, "", 0); err != nil || len(fs) != 0 {
		t.Fatalf("re-created stream has %d fragments, %v", len(fs), err)
	}
	if _, err := s.LastFragment(arn2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("LastFragment of re-created stream: %v", err)
	}
	if _, err := s.Header(arn2, hid); !errors.Is(err, ErrNotFound) {
		t.Fatalf("header leaked into the new stream: %v", err)
	}
	nf := appendN(t, s, arn2, 1)
	if nf[0].Number <= old[4].Number {
		t.Fatalf("number %s reused or lower than %s", nf[0].Number, old[4].Number)
	}
	checkClean(t, s) // waits for the background removal
	s.Close()
	// The deleted stream's files are gone.
	entries, _ := os.ReadDir(filepath.Join(dir, "fragments"))
	if len(entries) != 1 {
		t.Fatalf("fragment directories: %v", entries)
	}
}

func TestExpire(t *testing.T) {
	s, dir := openTest(t)
	keep := mustStream(t, s, "keep", 1)   // 1 hour
	none := mustStream(t, s, "none", 0)   // keeps nothing
	long := mustStream(t, s, "long", 100) // keeps everything here
	now := t0.Add(2 * time.Hour)
	var wantKept []string
	for i := range 120 {
		ts := t0.Add(time.Duration(i) * time.Minute) // server times t0 .. t0+119m
		for _, arn := range []string{keep, none, long} {
			f, err := s.AppendFragment(arn, Fragment{ServerTimestamp: ts, ProducerTimestamp: ts}, []byte{1, 2, 3})
			if err != nil {
				t.Fatal(err)
			}
			if arn == keep && !ts.Before(now.Add(-time.Hour)) {
				wantKept = append(wantKept, f.Number)
			}
		}
	}
	n, err := s.Expire(now)
	if err != nil {
		t.Fatal(err)
	}
	if want := 60 + 120; n != want {
		t.Fatalf("Expire = %d, want %d", n, want)
	}
	got, _ := s.FragmentsAfter(keep, "", 0)
	if !reflect.DeepEqual(numbers(got), wantKept) {
		t.Fatalf("kept %d fragments, want %d", len(got), len(wantKept))
	}
	if got, _ := s.FragmentsAfter(none, "", 0); len(got) != 0 {
		t.Fatalf("retention 0 kept %d", len(got))
	}
	if got, _ := s.FragmentsAfter(long, "", 0); len(got) != 120 {
		t.Fatalf("long retention kept %d", len(got))
	}
	if n, err := s.Expire(now); n != 0 || err != nil {
		t.Fatalf("second Expire = %d, %v", n, err)
	}
	checkClean(t, s)
	countFiles := func(arn string) int {
		id, err := s.streamID(arn)
		if err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(filepath.Join(dir, "fragments", dirName(id)))
		return len(entries)
	}
	if a, b, c := countFiles(keep), countFiles(none), countFiles(long); a != 60 || b != 0 || c != 120 {
		t.Fatalf("files left: %d %d %d", a, b, c)
	}
}

func TestConcurrentAppends(t *testing.T) {
	s, _ := openTest(t)
	const streams, writers, each = 6, 3, 15
	arns := make([]string, streams)
	for i := range arns {
		arns[i] = mustStream(t, s, fmt.Sprintf("s%d", i), 1)
	}
	type result struct {
		arn string
		f   Fragment
		sum []byte
	}
	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
	)
	for i := range streams * writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			arn := arns[i%streams]
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			for range each {
				data := make([]byte, 1+rng.IntN(64<<10))
				for j := range data {
					data[j] = byte(rng.Uint32())
				}
				f, err := s.AppendFragment(arn, Fragment{ServerTimestamp: time.Now()}, data)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				results = append(results, result{arn, f, data})
				mu.Unlock()
			}
		}()
	}
	// Readers follow two streams as a live consumer would (always asking
	// for what comes after the last number seen); they must never skip a
	// fragment, which holds only if fragments become visible in number order.
	stop := make(chan struct{})
	var rwg sync.WaitGroup
	followed := make([][]string, 2)
	for r, arn := range arns[:2] {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			seen := ""
			for {
				select {
				case <-stop:
					return
				default:
				}
				page, err := s.FragmentsAfter(arn, seen, 0)
				if err != nil {
					t.Error(err)
					return
				}
				for _, f := range page {
					if _, err := s.ReadFragment(arn, f.Number); err != nil {
						t.Error(err)
					}
					seen = f.Number
					followed[r] = append(followed[r], f.Number)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	rwg.Wait()
	for r, arn := range arns[:2] {
		all, _ := s.FragmentsAfter(arn, "", 0)
		n := len(followed[r])
		if n == 0 || n > len(all) || !reflect.DeepEqual(followed[r], numbers(all)[:n]) {
			t.Fatalf("a follower of %s saw %d fragments out of order or with gaps", arn, n)
		}
	}

	seen := make(map[string]bool)
	for _, r := range results {
		if seen[r.f.Number] {
			t.Fatalf("number %s issued twice", r.f.Number)
		}
		seen[r.f.Number] = true
		data, err := s.ReadFragment(r.arn, r.f.Number)
		if err != nil || !bytes.Equal(data, r.sum) {
			t.Fatalf("fragment %s: %v", r.f.Number, err)
		}
	}
	for _, arn := range arns {
		all, err := s.FragmentsAfter(arn, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != writers*each || !sort.SliceIsSorted(all, func(i, j int) bool { return all[i].Number < all[j].Number }) {
			t.Fatalf("stream %s: %d fragments", arn, len(all))
		}
	}
	checkClean(t, s)
}

// A failed data write leaves nothing behind and does not break later appends.
func TestAppendWriteError(t *testing.T) {
	s, dir := openTest(t)
	arn := mustStream(t, s, "cam", 1)
	good := appendN(t, s, arn, 2)
	s.write = func(f *os.File, data []byte) (int, error) {
		n, _ := f.Write(data[:len(data)/2])
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	if _, err := s.AppendFragment(arn, Fragment{}, make([]byte, 4096)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("append on a full disk: %v, want ENOSPC", err)
	}
	s.write = (*os.File).Write
	all, _ := s.FragmentsAfter(arn, "", 0)
	if !reflect.DeepEqual(all, good) {
		t.Fatalf("index after failed append: %v", numbers(all))
	}
	checkClean(t, s)
	next := appendN(t, s, arn, 1)
	if next[0].Number <= good[1].Number {
		t.Fatal("numbers went backwards")
	}
	s.Close()
	s = reopen(t, dir)
	checkClean(t, s)
}

// Open removes files no record references and drops records without data.
func TestRecoverRepairs(t *testing.T) {
	s, dir := openTest(t)
	arn := mustStream(t, s, "cam", 1)
	frags := appendN(t, s, arn, 4)
	id, _ := s.streamID(arn)
	sdir := filepath.Join(dir, "fragments", dirName(id))
	s.Close()

	// A torn append, a stray file, a directory of no stream, a lost file.
	mustWrite := func(p string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(filepath.Join(sdir, formatNumber(999)+".frag"))
	mustWrite(filepath.Join(sdir, "junk.tmp"))
	mustWrite(filepath.Join(dir, "fragments", dirName(12345), formatNumber(1000)+".frag"))
	if err := os.Remove(filepath.Join(sdir, frags[1].Number+".frag")); err != nil {
		t.Fatal(err)
	}

	s = reopen(t, dir)
	checkClean(t, s)
	all, _ := s.FragmentsAfter(arn, "", 0)
	if want := []string{frags[0].Number, frags[2].Number, frags[3].Number}; !reflect.DeepEqual(numbers(all), want) {
		t.Fatalf("after repair: %v", numbers(all))
	}
	for _, f := range all {
		if _, err := s.ReadFragment(arn, f.Number); err != nil {
			t.Fatal(err)
		}
	}
}

// Check notices damage.
func TestCheckFindsProblems(t *testing.T) {
	s, dir := openTest(t)
	arn := mustStream(t, s, "cam", 1)
	frags := appendN(t, s, arn, 3)
	id, _ := s.streamID(arn)
	sdir := filepath.Join(dir, "fragments", dirName(id))
	os.Remove(filepath.Join(sdir, frags[0].Number+".frag"))
	os.WriteFile(filepath.Join(sdir, frags[1].Number+".frag"), []byte("short"), 0o644)
	os.WriteFile(filepath.Join(sdir, "stray"), nil, 0o644)
	problems, err := s.Check()
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 3 {
		t.Fatalf("problems: %q", problems)
	}
	if _, err := s.ReadFragment(arn, frags[1].Number); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("damaged fragment read: %v", err)
	}
}

func TestCloseWaitsForAppends(t *testing.T) {
	s, dir := openTest(t)
	arn := mustStream(t, s, "cam", 1)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok []string
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				f, err := s.AppendFragment(arn, Fragment{}, payload(i))
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				ok = append(ok, f.Number)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(5 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	s = reopen(t, dir)
	for _, n := range ok {
		if _, err := s.ReadFragment(arn, n); err != nil {
			t.Fatalf("fragment %s acknowledged before Close is gone: %v", n, err)
		}
	}
	checkClean(t, s)
}

// Deleting a stream while appends to it are in flight leaves nothing behind.
func TestDeleteDuringAppends(t *testing.T) {
	s, _ := openTest(t)
	for round := range 5 {
		name := fmt.Sprintf("victim-%d", round)
		arn := mustStream(t, s, name, 1)
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					_, err := s.AppendFragment(arn, Fragment{}, make([]byte, 8<<10))
					if errors.Is(err, ErrNotFound) {
						return
					}
					if err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		time.Sleep(time.Duration(round) * time.Millisecond)
		if err := s.DeleteStream(name); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		checkClean(t, s)
	}
}

func TestReservedNumbers(t *testing.T) {
	s, _ := openTest(t)
	arn := "arn:aws:kinesisvideo:us-east-1:000000000000:stream/r/1"
	if err := s.CreateStream(Stream{Name: "r", ARN: arn}); err != nil {
		t.Fatal(err)
	}
	n1, n2 := s.NextNumber(), s.NextNumber()
	if !(n1 < n2) || len(n1) != numberLen {
		t.Fatalf("reserved numbers not increasing fixed-width: %s %s", n1, n2)
	}
	f, err := s.AppendFragment(arn, Fragment{Number: n2}, []byte("b"))
	if err != nil || f.Number != n2 {
		t.Fatalf("append with a reserved number: %v %s", err, f.Number)
	}
	// A number at or below the stream's last is refused, nothing is stored.
	if _, err := s.AppendFragment(arn, Fragment{Number: n1}, []byte("a")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("out-of-order number: %v", err)
	}
	if _, err := s.AppendFragment(arn, Fragment{Number: "123"}, []byte("a")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("malformed number: %v", err)
	}
	if probs, err := s.Check(); err != nil || len(probs) != 0 {
		t.Fatalf("check after refused appends: %v %v", probs, err)
	}
	// Numbers assigned by the store stay above reserved ones.
	f3, err := s.AppendFragment(arn, Fragment{}, []byte("c"))
	if err != nil || f3.Number <= n2 {
		t.Fatalf("assigned %s after reserved %s: %v", f3.Number, n2, err)
	}
}
