package store

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// openBench opens a store with real fsync.
func openBench(b *testing.B) *Store {
	b.Helper()
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

func randomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed))
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	return data
}

// BenchmarkAppendConcurrent runs 100 writers, one stream each, appending
// 1 MB fragments, and reports the latency of AppendFragment. With period=2s
// every writer appends one fragment every two seconds (a camera with 2 s
// fragments; the load the endpoint is sized for), starts staggered over the
// period; with period=0 they append back to back (saturation). b.N is the
// total number of fragments; paced runs need e.g. -benchtime=1000x to see
// 10 fragments per writer.
func BenchmarkAppendConcurrent(b *testing.B) {
	for _, period := range []time.Duration{2 * time.Second, 0} {
		b.Run(fmt.Sprintf("period=%v", period), func(b *testing.B) {
			benchConcurrent(b, 100, 1<<20, period)
		})
	}
}

func benchConcurrent(b *testing.B, writers, size int, period time.Duration) {
	s := openBench(b)
	arns := make([]string, writers)
	for i := range arns {
		arns[i] = mustStream(b, s, fmt.Sprintf("bench-%d", i), 1)
	}
	data := make([][]byte, writers)
	for i := range data {
		data[i] = randomBytes(size, uint64(i))
	}
	lat := make([][]time.Duration, writers)
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := start.Add(period * time.Duration(w) / time.Duration(writers))
			for op := w; op < b.N; op += writers {
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				next = next.Add(period)
				t := time.Now()
				if _, err := s.AppendFragment(arns[w], Fragment{ServerTimestamp: t, ProducerTimestamp: t}, data[w]); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t))
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	reportLatency(b, slices.Concat(lat...))
}

func reportLatency(b *testing.B, all []time.Duration) {
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		i := int(p * float64(len(all)-1))
		return float64(all[i]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
}

// BenchmarkAppendOne measures the throughput of one writer appending back
// to back to one stream.
func BenchmarkAppendOne(b *testing.B) {
	for _, size := range []int{64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("size=%dKiB", size>>10), func(b *testing.B) {
			s := openBench(b)
			arn := mustStream(b, s, "one", 1)
			data := randomBytes(size, 1)
			b.SetBytes(int64(size))
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.AppendFragment(arn, Fragment{ServerTimestamp: time.Now()}, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppendPipelined measures one writer appending back to back to
// one stream with StartAppend, two appends in flight (as an ingest session
// stores its fragments).
func BenchmarkAppendPipelined(b *testing.B) {
	for _, size := range []int{64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("size=%dKiB", size>>10), func(b *testing.B) {
			s := openBench(b)
			arn := mustStream(b, s, "one", 1)
			data := randomBytes(size, 1)
			b.SetBytes(int64(size))
			b.ResetTimer()
			var prev *PendingAppend
			for b.Loop() {
				p := s.StartAppend(arn, Fragment{ServerTimestamp: time.Now()}, data)
				if prev != nil {
					if _, err := prev.Wait(); err != nil {
						b.Fatal(err)
					}
				}
				prev = p
			}
			if _, err := prev.Wait(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
