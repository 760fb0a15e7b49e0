package spool

import (
	"fmt"
	"testing"
)

// BenchmarkPut writes and removes 2 s fragments of an 8 Mbit/s stream (2 MB,
// 60 frames), with the fsync policy (file and directory) and without it:
// the difference is what durability costs per fragment on this disk.
func BenchmarkPut(b *testing.B) {
	rec := testRecord(1_700_000_000_000, 60, 2<<20/60)
	for _, sync := range []bool{true, false} {
		b.Run(fmt.Sprintf("sync=%v", sync), func(b *testing.B) {
			s, err := Open(b.TempDir(), WithSync(sync))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.SetBytes(rec.Size())
			for b.Loop() {
				e, _, err := s.Put(rec)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Remove(e.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
