package device

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	benchOnce sync.Once
	benchDir  string
)

// benchClip returns a 10 s 640x360 H.264 + AAC clip in the given container,
// made once per test binary.
func benchClip(b *testing.B, name string) string {
	b.Helper()
	benchOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kvs-device-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchDir = dir
		mp4 := filepath.Join(dir, "bench.mp4")
		ffmpeg(b, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=sample_rate=48000",
			"-t", "10", "-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-b:v", "2M", "-c:a", "aac", "-ac", "2",
			"-movflags", "+faststart", mp4)
		ffmpeg(b, "-i", mp4, "-c", "copy", filepath.Join(dir, "bench.mkv"))
		ffmpeg(b, "-i", mp4, "-c", "copy", filepath.Join(dir, "bench.ts"))
		ffmpeg(b, "-i", mp4, "-c", "copy", "-movflags", "frag_keyframe+empty_moov+default_base_moof", filepath.Join(dir, "bench_frag.mp4"))
	})
	if benchDir == "" {
		b.Fatal("no benchmark clips")
	}
	return filepath.Join(benchDir, name)
}

// benchRead opens and reads the whole clip b.N times, reporting the input
// rate and the allocations per frame.
func benchRead(b *testing.B, name string) {
	path := benchClip(b, name)
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	b.ReportAllocs()
	var ms0, ms1 runtime.MemStats
	frames := 0
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := OpenFile(path)
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, err := s.ReadFrame()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			frames++
		}
		s.Close()
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(frames), "allocs/frame")
	b.ReportMetric(float64(frames)/float64(b.N), "frames/op")
}

func BenchmarkMP4Read(b *testing.B)     { benchRead(b, "bench.mp4") }
func BenchmarkMP4FragRead(b *testing.B) { benchRead(b, "bench_frag.mp4") }
func BenchmarkMKVRead(b *testing.B)     { benchRead(b, "bench.mkv") }
func BenchmarkTSRead(b *testing.B)      { benchRead(b, "bench.ts") }
