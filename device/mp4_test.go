package device

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"kvskit/media/h264"
)

// A small MP4 writer for cases ffmpeg does not produce.

func box(typ string, parts ...[]byte) []byte {
	n := 8
	for _, p := range parts {
		n += len(p)
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(n))
	b = append(b, typ...)
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func fullBox(typ string, version uint8, flags uint32, parts ...[]byte) []byte {
	return box(typ, append([][]byte{be32b(uint32(version)<<24 | flags)}, parts...)...)
}

func be16b(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func be32b(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func be64b(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// avc1Entry is a visual sample entry holding avcC.
func avc1Entry(avcc []byte) []byte {
	fields := make([]byte, 78)
	binary.BigEndian.PutUint16(fields[6:], 1)   // data_reference_index
	binary.BigEndian.PutUint16(fields[24:], 16) // width
	binary.BigEndian.PutUint16(fields[26:], 16) // height
	return box("avc1", fields, box("avcC", avcc))
}

func videoTrak(id uint32, stbl []byte, edts []byte) []byte {
	return box("trak",
		fullBox("tkhd", 0, 3, make([]byte, 8), be32b(id), make([]byte, 68)),
		edts,
		box("mdia",
			fullBox("mdhd", 0, 0, make([]byte, 8), be32b(90000), be32b(0), be32b(0)),
			fullBox("hdlr", 0, 0, be32b(0), []byte("vide"), make([]byte, 13)),
			box("minf", box("stbl", stbl))))
}

// TestMP4Tables reads a progressive file with 2-byte NAL lengths, stz2,
// co64, ctts, stss and an edit list, with a gap between its chunks, at
// random and as a stream.
func TestMP4Tables(t *testing.T) {
	cfg, _ := h264.NewAVCConfig([][]byte{nSPS}, [][]byte{nPPS})
	cfg.NALULengthSize = 2
	avcc2, _ := cfg.Marshal()
	samples := [][]byte{
		lengthPrefixed(2, nIDR),
		lengthPrefixed(2, nP, nPSlice),
		lengthPrefixed(2, nP),
	}
	build := func(chunk1, chunk2 uint64) []byte {
		stbl := cat(
			fullBox("stsd", 0, 0, be32b(1), avc1Entry(avcc2)),
			fullBox("stts", 0, 0, be32b(1), be32b(3), be32b(3000)),
			fullBox("ctts", 0, 0, be32b(3), be32b(1), be32b(3000), be32b(1), be32b(6000), be32b(1), be32b(0)),
			fullBox("stsc", 0, 0, be32b(1), be32b(1), be32b(2), be32b(1)),
			fullBox("stz2", 0, 0, []byte{0, 0, 0, 16}, be32b(3),
				be16b(uint16(len(samples[0]))), be16b(uint16(len(samples[1]))), be16b(uint16(len(samples[2])))),
			fullBox("co64", 0, 0, be32b(2), be64b(chunk1), be64b(chunk2)),
			fullBox("stss", 0, 0, be32b(1), be32b(1)),
		)
		edts := box("edts", fullBox("elst", 0, 0, be32b(1), be32b(100), be32b(3000), be32b(1<<16)))
		moov := box("moov", fullBox("mvhd", 0, 0, make([]byte, 8), be32b(1000), make([]byte, 84)), videoTrak(7, stbl, edts))
		return cat(box("ftyp", []byte("isom\x00\x00\x02\x00isom")), moov)
	}
	head := build(0, 0)
	mdatStart := uint64(len(head)) + 8
	junk := []byte("----junk----")
	chunk2 := mdatStart + uint64(len(samples[0])+len(samples[1])+len(junk))
	file := cat(build(mdatStart, chunk2), box("mdat", samples[0], samples[1], junk, samples[2]))
	path := filepath.Join(t.TempDir(), "tables.mp4")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	wantCP, _ := h264.BuildAVCC([][]byte{nSPS}, [][]byte{nPPS})
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	wantDTS := []time.Duration{0, ms(33.333333), ms(66.666666)}
	wantPTS := []time.Duration{ms(33.333333), ms(100), ms(66.666666)}
	for _, via := range []string{"file", "stream"} {
		var s Source
		var err error
		if via == "file" {
			s, err = OpenFile(path)
		} else {
			s, err = OpenReader(bytes.NewReader(file))
		}
		if err != nil {
			t.Fatalf("%s: %v", via, err)
		}
		tr := s.Tracks()
		if len(tr) != 1 || !bytes.Equal(tr[0].CodecPrivate, wantCP) || tr[0].Width != 160 || tr[0].Name != "track 7" {
			t.Fatalf("%s: tracks %+v", via, tr)
		}
		frames := readAll(t, s)
		s.Close()
		if len(frames) != 3 {
			t.Fatalf("%s: %d frames", via, len(frames))
		}
		for i, f := range frames {
			units, _ := h264.SplitLengthPrefixed(samples[i], 2)
			if !bytes.Equal(f.Data, lengthPrefixed(4, units...)) {
				t.Errorf("%s frame %d: data %x", via, i, f.Data)
			}
			if d := f.DTS - wantDTS[i]; d < -1000 || d > 1000 {
				t.Errorf("%s frame %d: dts %v, want %v", via, i, f.DTS, wantDTS[i])
			}
			if d := f.PTS - wantPTS[i]; d < -1000 || d > 1000 {
				t.Errorf("%s frame %d: pts %v, want %v", via, i, f.PTS, wantPTS[i])
			}
			if f.Key != (i == 0) {
				t.Errorf("%s frame %d: key %v", via, i, f.Key)
			}
		}
	}
}

// TestMP4Fragments reads a fragmented file that relies on trex defaults,
// tfhd defaults, a negative composition offset (trun version 1) and
// fragments without tfdt.
func TestMP4Fragments(t *testing.T) {
	avcc, _ := h264.BuildAVCC([][]byte{nSPS}, [][]byte{nPPS})
	stbl := cat(
		fullBox("stsd", 0, 0, be32b(1), avc1Entry(avcc)),
		fullBox("stts", 0, 0, be32b(0)),
		fullBox("stsc", 0, 0, be32b(0)),
		fullBox("stsz", 0, 0, be32b(0), be32b(0)),
		fullBox("stco", 0, 0, be32b(0)),
	)
	moov := box("moov",
		fullBox("mvhd", 0, 0, make([]byte, 8), be32b(1000), make([]byte, 84)),
		videoTrak(1, stbl, nil),
		box("mvex", fullBox("trex", 0, 0, be32b(1), be32b(1), be32b(3000), be32b(0), be32b(sampleNonSync))))
	s0, s1, s2, s3 := lengthPrefixed(4, nIDR), lengthPrefixed(4, nP), lengthPrefixed(4, nP, nPSlice), lengthPrefixed(4, nPSlice)
	// Fragment 1: tfdt 9000, three samples (I P B), the first a sync
	// sample through first_sample_flags, sizes and composition offsets per
	// sample, the last negative.
	frag1 := func(dataOffset uint32) []byte {
		return box("moof",
			fullBox("mfhd", 0, 0, be32b(1)),
			box("traf",
				fullBox("tfhd", 0, 0x20000, be32b(1)),
				fullBox("tfdt", 1, 0, be64b(9000)),
				fullBox("trun", 1, trunDataOffset|trunFirstSampleFlags|trunSize|trunCTO, be32b(3), be32b(dataOffset), be32b(0),
					be32b(uint32(len(s0))), be32b(0),
					be32b(uint32(len(s1))), be32b(3000),
					be32b(uint32(len(s2))), be32b(uint32(0xFFFFFFFF-2999))))) // -3000
	}
	m1 := frag1(0)
	m1 = frag1(uint32(len(m1) + 8))
	// Fragment 2: no tfdt (continues at 18000), size from tfhd.
	frag2 := func(dataOffset uint32) []byte {
		return box("moof",
			fullBox("mfhd", 0, 0, be32b(2)),
			box("traf",
				fullBox("tfhd", 0, 0x20000|0x10, be32b(1), be32b(uint32(len(s3)))),
				fullBox("trun", 0, trunDataOffset, be32b(1), be32b(dataOffset))))
	}
	m2 := frag2(0)
	m2 = frag2(uint32(len(m2) + 8))
	file := cat(box("ftyp", []byte("iso5\x00\x00\x02\x00iso5")), moov, m1, box("mdat", s0, s1, s2), m2, box("mdat", s3))
	s, err := OpenReader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	frames := readAll(t, s)
	tick := time.Second / 30
	// The offset of -1 tick shifts DTS back by one tick.
	want := []struct {
		pts, dts time.Duration
		key      bool
		data     []byte
	}{
		{tick, 0, true, s0}, {3 * tick, tick, false, s1}, {2 * tick, 2 * tick, false, s2}, {4 * tick, 3 * tick, false, s3},
	}
	if len(frames) != len(want) {
		t.Fatalf("%d frames", len(frames))
	}
	for i, f := range frames {
		w := want[i]
		if d := f.DTS - w.dts; d < -1000 || d > 1000 || f.Key != w.key || !bytes.Equal(f.Data, w.data) {
			t.Errorf("frame %d: %v %v key %v, want %v %v key %v", i, f.PTS, f.DTS, f.Key, w.pts, w.dts, w.key)
		}
		if d := f.PTS - w.pts; d < -1000 || d > 1000 {
			t.Errorf("frame %d: pts %v, want %v", i, f.PTS, w.pts)
		}
	}
}

// TestMP4Unsupported: a file of only unsupported tracks names them.
func TestMP4Unsupported(t *testing.T) {
	entry := box("mp4v", make([]byte, 78))
	stbl := cat(fullBox("stsd", 0, 0, be32b(1), entry), fullBox("stsz", 0, 0, be32b(0), be32b(0)))
	moov := box("moov", fullBox("mvhd", 0, 0, make([]byte, 8), be32b(1000), make([]byte, 84)), videoTrak(3, stbl, nil))
	_, err := OpenReader(bytes.NewReader(cat(box("ftyp", []byte("isom")), moov)))
	if !errors.Is(err, ErrNoTracks) || !bytes.Contains([]byte(err.Error()), []byte(`track 3 (sample entry "mp4v")`)) {
		t.Fatalf("error %v", err)
	}
}
