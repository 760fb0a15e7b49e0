package mkv

import (
	"bytes"
	"io"
	"testing"
)

func BenchmarkWriteBlock(b *testing.B) {
	w := NewWriter(io.Discard)
	frame := make([]byte, 40000) // a 1080p P-frame at a few Mbit/s
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := w.WriteBlock(1, int16(i%1000), i%30 == 0, frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReader(b *testing.B) {
	data := benchStream(b, 20, 60, 40000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := NewReader(bytes.NewReader(data))
		blocks := 0
		for {
			ev, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if ev.Type == EventBlock {
				blocks++
			}
		}
		if blocks != 20*60*2 {
			b.Fatalf("%d blocks", blocks)
		}
	}
}
