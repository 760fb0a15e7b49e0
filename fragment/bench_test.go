package fragment

import (
	"runtime"
	"testing"
	"time"

	"kvskit/media"
)

// BenchmarkPush pushes a 30 fps H.264 + AAC stream (key frame every second,
// 2 s fragments); one op is one frame. allocs/frame counts every allocation,
// including the one Frames slice and Fragment per fragment.
func BenchmarkPush(b *testing.B) {
	const loop = 60 * time.Second
	stream := interleave(videoFrames(int(loop/time.Second)*frameRate, gop(frameRate, 0)), audioFrames(aTrack, loop))
	data := make([]byte, 1500)
	f, err := New([]media.Track{videoTrack, audioTrack})
	if err != nil {
		b.Fatal(err)
	}
	frags := 0
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fr := stream[i%len(stream)]
		shift := time.Duration(i/len(stream)) * loop
		fr.PTS += shift
		fr.DTS += shift
		fr.Data = data
		out, err := f.Push(fr)
		if err != nil {
			b.Fatal(err)
		}
		if out != nil {
			frags++
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "allocs/frame")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N), "B/frame")
	if st := f.Stats(); st.Repaired != 0 || st.ForcedCuts != 0 || (b.N > 2*len(stream) && frags == 0) {
		b.Fatalf("unexpected %+v after %d frames", st, b.N)
	}
}
