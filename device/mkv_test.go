package device

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"kvskit/media"
	"kvskit/media/h264"
	"kvskit/mkv"
)

// writeMKV writes a Matroska stream with mkv.Writer: one cluster per call
// of frames, each frame at its timecode in ms.
func writeMKV(t *testing.T, entries []mkv.TrackEntry, blocks []mkvTestBlock) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := mkv.NewWriter(&buf)
	if err := w.WriteHeaderEntries(mkv.SegmentInfo{}, entries); err != nil {
		t.Fatal(err)
	}
	if err := w.StartCluster(1000); err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		if err := w.WriteBlock(b.track, int16(b.ms), b.key, b.data); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

type mkvTestBlock struct {
	track uint64
	ms    int
	key   bool
	data  []byte
}

func lengthPrefixed(size int, nalus ...[]byte) []byte {
	var b []byte
	for _, n := range nalus {
		switch size {
		case 2:
			b = binary.BigEndian.AppendUint16(b, uint16(len(n)))
		case 4:
			b = binary.BigEndian.AppendUint32(b, uint32(len(n)))
		}
		b = append(b, n...)
	}
	return b
}

// TestMKVConversions reads video stored with 2-byte NAL lengths, video
// stored as Annex-B with Annex-B CodecPrivate, and G.711 audio.
func TestMKVConversions(t *testing.T) {
	avcc, _ := h264.BuildAVCC([][]byte{nSPS}, [][]byte{nPPS})
	cfg, _ := h264.ParseAVCC(avcc)
	cfg.NALULengthSize = 2
	avcc2, _ := cfg.Marshal()
	entries := []mkv.TrackEntry{
		{Track: media.Track{Number: 1, Kind: media.KindAudio, Codec: media.CodecPCMU, SampleRate: 8000, Channels: 1}},
		{Track: media.Track{Number: 2, Kind: media.KindVideo, Codec: media.CodecH264, CodecPrivate: avcc2, Width: 1, Height: 1}},
		{Track: media.Track{Number: 3, Kind: media.KindVideo, Codec: media.CodecH264, CodecPrivate: annexB(nSPS, nPPS)}},
	}
	blocks := []mkvTestBlock{
		{2, 0, true, lengthPrefixed(2, nIDR)},
		{3, 0, true, annexB(nIDR)},
		{1, 0, true, []byte{1, 2, 3}},
		{2, 40, false, lengthPrefixed(2, nP, nPSlice)},
		{3, 40, false, annexB(nP, nPSlice)},
		{1, 20, true, []byte{4, 5, 6}},
	}
	s, err := OpenReader(bytes.NewReader(writeMKV(t, entries, blocks)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tr := s.Tracks()
	if len(tr) != 3 || tr[0].Kind != media.KindVideo || tr[1].Kind != media.KindVideo || tr[2].Codec != media.CodecPCMU {
		t.Fatalf("tracks %+v", tr)
	}
	for _, v := range tr[:2] {
		if !bytes.Equal(v.CodecPrivate, avcc) || v.Width != 160 || v.Height != 128 {
			t.Errorf("track %d: CodecPrivate %x %dx%d, want %x 160x128", v.Number, v.CodecPrivate, v.Width, v.Height, avcc)
		}
	}
	if tr[2].SampleRate != 8000 || tr[2].Channels != 1 {
		t.Errorf("G.711 track %+v", tr[2])
	}
	per := byTrack(readAll(t, s))
	for _, n := range []uint64{1, 2} {
		fs := per[n]
		if len(fs) != 2 || !bytes.Equal(fs[0].Data, lengthPrefixed(4, nIDR)) || !bytes.Equal(fs[1].Data, lengthPrefixed(4, nP, nPSlice)) {
			t.Errorf("track %d frames %+v", n, fs)
		}
		if fs[1].PTS != 40*time.Millisecond || !fs[0].Key || fs[1].Key {
			t.Errorf("track %d timing/keys %+v", n, fs)
		}
	}
	if a := per[3]; len(a) != 2 || a[1].PTS != 20*time.Millisecond || !bytes.Equal(a[1].Data, []byte{4, 5, 6}) {
		t.Errorf("G.711 frames %+v", a)
	}
}

// TestMKVParameterSetsInBand: a video track without CodecPrivate gets it
// from the first frame that carries SPS and PPS; earlier frames are dropped.
func TestMKVParameterSetsInBand(t *testing.T) {
	entries := []mkv.TrackEntry{{Track: media.Track{Number: 1, Kind: media.KindVideo, Codec: media.CodecH264}}}
	blocks := []mkvTestBlock{
		{1, 0, false, lengthPrefixed(4, nP)},
		{1, 40, true, lengthPrefixed(4, nSPS, nPPS, nIDR)},
		{1, 80, false, lengthPrefixed(4, nP)},
	}
	s, err := OpenReader(bytes.NewReader(writeMKV(t, entries, blocks)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want, _ := h264.BuildAVCC([][]byte{nSPS}, [][]byte{nPPS})
	if tr := s.Tracks(); len(tr) != 1 || !bytes.Equal(tr[0].CodecPrivate, want) || tr[0].Width != 160 {
		t.Fatalf("tracks %+v", tr)
	}
	fs := readAll(t, s)
	if len(fs) != 2 || !fs[0].Key || fs[0].PTS != 0 || fs[1].PTS != 40*time.Millisecond {
		t.Fatalf("frames %+v", fs)
	}
}
