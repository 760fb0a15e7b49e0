package aac

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
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
	var adts [][]byte
	for _, c := range adtsCases {
		adts = append(adts, mustHex(t, c.hex))
	}
	lc := AudioSpecificConfig{ObjectType: 2, FrequencyIndex: 3, ChannelConfig: 2}
	adts = append(adts, AppendADTS(AppendADTS(nil, lc, []byte{0x21, 0x10, 0x04, 0x60, 0x8c, 0x1c}), lc, []byte{0x01, 0x18}))
	checkCorpus(t, "FuzzParseADTS", adts)
	var asc [][]byte
	for _, c := range ascCases {
		asc = append(asc, mustHex(t, c.hex))
	}
	checkCorpus(t, "FuzzParseAudioSpecificConfig", asc)
}

func FuzzParseADTS(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if h, err := ParseADTSHeader(data); err == nil {
			b, err := h.AppendBinary(nil)
			if err != nil || !bytes.Equal(b, data[:h.HeaderLength()]) {
				t.Fatalf("AppendBinary(%+v) = %x, %v; parsed from %x", h, b, err, data[:h.HeaderLength()])
			}
		}
		frames, hdr, err := SplitADTS(data)
		if err != nil {
			return
		}
		var rebuilt []byte
		for _, f := range frames {
			h := hdr
			h.FrameLength = hdr.HeaderLength() + len(f)
			rebuilt, _ = h.AppendBinary(rebuilt)
			rebuilt = append(rebuilt, f...)
		}
		again, hdr2, err := SplitADTS(rebuilt)
		if err != nil || !reflect.DeepEqual(again, frames) || (len(frames) > 0 && ConfigFromADTS(hdr2) != ConfigFromADTS(hdr)) {
			t.Fatalf("re-framed stream splits as %x, %v", again, err)
		}
	})
}

func FuzzParseAudioSpecificConfig(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseAudioSpecificConfig(data)
		if err != nil {
			return
		}
		_, _, _, _ = c.SampleRate(), c.OutputSampleRate(), c.Channels(), c.FrameDuration()
		again, err := ParseAudioSpecificConfig(c.Marshal())
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip of %+v (SBR %+v) = %+v, %v", c, c.SBR, again, err)
		}
		AppendADTS(nil, c, data)
	})
}
