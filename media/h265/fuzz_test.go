package h265

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpora under testdata/fuzz from the test tables")

// checkCorpus keeps testdata/fuzz/<name> in step with seeds: with
// -update-corpus it writes them, otherwise it fails when one is missing.
func checkCorpus(t *testing.T, name string, seeds [][]byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", name)
	for _, s := range seeds {
		content := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s)) + ")\n"
		sum := sha256.Sum256([]byte(content))
		file := filepath.Join(dir, hex.EncodeToString(sum[:8]))
		if *updateCorpus {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got, err := os.ReadFile(file); err != nil || string(got) != content {
			t.Errorf("seed %x of %s missing from %s; run go test -run TestFuzzCorpus -update-corpus", s, name, dir)
		}
	}
}

func TestFuzzCorpus(t *testing.T) {
	var sps [][]byte
	for _, c := range spsCases {
		sps = append(sps, encodeSPS(c.sps))
	}
	for _, c := range x265SPS {
		sps = append(sps, mustHex(t, c.hex))
	}
	checkCorpus(t, "FuzzParseSPS", sps)
	var records [][]byte
	for _, c := range hvccCases(t) {
		records = append(records, c.record)
	}
	checkCorpus(t, "FuzzParseHVCC", records)
}

func FuzzParseSPS(f *testing.F) {
	f.Fuzz(func(t *testing.T, nalu []byte) {
		s, err := ParseSPS(nalu)
		if err != nil {
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrInvalidValue) && !errors.Is(err, ErrNALType) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if s.Width() <= 0 || s.Height() <= 0 || s.Width() > int(s.PicWidth) || s.Height() > int(s.PicHeight) {
			t.Fatalf("size %dx%d of %dx%d", s.Width(), s.Height(), s.PicWidth, s.PicHeight)
		}
		_ = s.ProfileTierLevel.General.CodecString()
		again, err := ParseSPS(encodeSPS(s))
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("re-encoded SPS parses as %+v, %v; want %+v", again, err, s)
		}
	})
}

func FuzzParseHVCC(f *testing.F) {
	f.Fuzz(func(t *testing.T, record []byte) {
		c, err := ParseHVCC(record)
		if err != nil {
			return
		}
		b, err := c.Marshal()
		if err != nil {
			t.Fatalf("Marshal of parsed record: %v", err)
		}
		again, err := ParseHVCC(b)
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip = %+v, %v; want %+v", again, err, c)
		}
	})
}
