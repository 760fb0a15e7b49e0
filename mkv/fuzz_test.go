package mkv

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"kvskit/internal/testenv"
)

// fuzzSeeds are small valid streams and damaged variants of them.
func fuzzSeeds(t testing.TB) map[string][]byte {
	kvs := writeSequences(t, roundTripCases[2].seqs)
	known := knownSizeFile()
	tags := writeSequences(t, roundTripCases[1].seqs[:1])
	if len(tags) > 2000 {
		tags = tags[:2000]
	}
	mutated := append([]byte(nil), kvs...)
	for i := 60; i < len(mutated); i += 97 {
		mutated[i] ^= 0x5A
	}
	sizeFlip := append([]byte(nil), known...)
	sizeFlip[4] = 0x01 // EBML header size becomes an 8-byte vint
	return map[string][]byte{
		"kvs_two_segments":     kvs,
		"known_sizes_laced":    known,
		"tags_and_big_block":   tags,
		"kvs_truncated":        kvs[:len(kvs)/2],
		"known_truncated":      known[:len(known)*2/3],
		"kvs_mutated":          mutated,
		"known_size_flip":      sizeFlip,
		"ebml_header_only":     EBMLHeader(),
		"unknown_segment_only": append(EBMLHeader(), AppendSegmentStart(nil)...),
	}
}

func FuzzReader(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), WithMaxElementSize(1<<20))
		events := 0
		for {
			ev, err := r.Next()
			if err != nil {
				break
			}
			events++
			// Every event consumes input except the few that close elements.
			if events > 4*len(data)+8 {
				t.Fatalf("%d events from %d bytes", events, len(data))
			}
			if ev.Raw != nil && (ev.Offset < 0 || ev.Offset+int64(len(ev.Raw)) > int64(len(data)) ||
				!bytes.Equal(data[ev.Offset:ev.Offset+int64(len(ev.Raw))], ev.Raw)) {
				t.Fatalf("%v at %d: Raw does not match the input", ev.Type, ev.Offset)
			}
			if r.Offset() > int64(len(data)) {
				t.Fatalf("offset %d beyond %d bytes", r.Offset(), len(data))
			}
		}
		// Blocks read into the caller's memory (those of odd sizes): the
		// same events and the same end.
		want, wantErr := readEvents(data, WithMaxElementSize(1<<20))
		got, gotErr := readEvents(data, WithMaxElementSize(1<<20), WithBlockSpace(func(n int) []byte {
			if n%2 == 0 {
				return nil
			}
			return make([]byte, n)
		}))
		if len(got) != len(want) || (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("with block space: %d events, %v; without: %d events, %v", len(got), gotErr, len(want), wantErr)
		}
		for i := range want {
			if got[i].Type != want[i].Type || got[i].Offset != want[i].Offset || !bytes.Equal(got[i].Raw, want[i].Raw) {
				t.Fatalf("event %d differs with block space", i)
			}
		}
		// Blocks skipped (those whose size is a multiple of 3): on valid
		// input, the same events without them.
		skipped, skipErr := readEvents(data, WithMaxElementSize(1<<20), WithMaxMetadataSize(1<<20), WithBlockSpace(func(n int) []byte {
			if n%3 == 0 {
				return []byte{}
			}
			return make([]byte, n)
		}))
		if wantErr != nil {
			return
		}
		var kept []Event
		for _, ev := range want {
			if ev.Type != EventBlock || len(ev.Raw)%3 != 0 {
				kept = append(kept, ev)
			}
		}
		if skipErr != nil || len(skipped) != len(kept) {
			t.Fatalf("skipping blocks: %d events, %v; want %d", len(skipped), skipErr, len(kept))
		}
		for i := range kept {
			if skipped[i].Type != kept[i].Type || skipped[i].Offset != kept[i].Offset {
				t.Fatalf("event %d differs with blocks skipped", i)
			}
		}
	})
}

// TestWriteFuzzCorpus rewrites the committed seed corpus when run with
// -update-corpus; otherwise it checks that the seeds are present.
func TestWriteFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzReader")
	for name, data := range fuzzSeeds(t) {
		if testenv.UpdateCorpus() {
			testenv.WriteSeed(t, "FuzzReader", name, data)
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("seed %s missing (run go test -run TestWriteFuzzCorpus -update-corpus): %v", name, err)
		}
	}
}
