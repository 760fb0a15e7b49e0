package mkv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// el builds an element of known size from its children.
func el(id uint32, body ...[]byte) []byte {
	return AppendElement(nil, id, bytes.Join(body, nil))
}

// unk builds the start of an unknown-size element followed by its children.
func unk(id uint32, body ...[]byte) []byte {
	return append(AppendVint(AppendID(nil, id), UnknownSize), bytes.Join(body, nil)...)
}

func u(id uint32, v uint64) []byte { return AppendUint(nil, id, v) }
func s(id uint32, v string) []byte { return AppendString(nil, id, v) }
func f64(id uint32, v float64) []byte {
	return el(id, binary.BigEndian.AppendUint64(nil, math.Float64bits(v)))
}
func f32(id uint32, v float32) []byte {
	return el(id, binary.BigEndian.AppendUint32(nil, math.Float32bits(v)))
}
func cat(b ...[]byte) []byte { return bytes.Join(b, nil) }

func ebmlHead(docType string) []byte {
	return el(IDEBML, u(IDEBMLVersion, 1), u(IDEBMLReadVersion, 1), s(IDDocType, docType),
		u(IDDocTypeVersion, 4), u(IDDocTypeReadVersion, 2))
}

// block body: track, timecode, flags, then payload.
func blockBody(track uint64, tc int16, flags byte, payload ...[]byte) []byte {
	b := AppendVint(nil, track)
	b = append(b, byte(uint16(tc)>>8), byte(tc), flags)
	return append(b, bytes.Join(payload, nil)...)
}

func xiphSizes(frames [][]byte) []byte {
	b := []byte{byte(len(frames) - 1)}
	for _, f := range frames[:len(frames)-1] {
		n := len(f)
		for n >= 255 {
			b = append(b, 255)
			n -= 255
		}
		b = append(b, byte(n))
	}
	return b
}

func ebmlLaceSizes(frames [][]byte) []byte {
	b := []byte{byte(len(frames) - 1)}
	if len(frames) == 1 {
		return b
	}
	b = AppendVint(b, uint64(len(frames[0])))
	for i := 1; i < len(frames)-1; i++ {
		d := int64(len(frames[i]) - len(frames[i-1]))
		// signed vint: pick the shortest length whose range holds d
		for n := 1; n <= 8; n++ {
			bias := int64(1)<<(7*uint(n)-1) - 1
			if d >= -bias && d <= bias {
				b = appendVintN(b, uint64(d+bias), n)
				break
			}
		}
	}
	return b
}

func frameSet(sizes ...int) [][]byte {
	out := make([][]byte, len(sizes))
	for i, n := range sizes {
		out[i] = bytes.Repeat([]byte{byte(i + 1)}, n)
	}
	return out
}

var testTracks = el(IDTracks,
	el(IDTrackEntry, u(IDTrackNumber, 1), u(IDTrackUID, 11), u(IDTrackType, 1), s(IDCodecID, "V_MPEG4/ISO/AVC"),
		el(IDCodecPrivate, []byte{1, 2}), s(IDName, "v\x00\x00"), u(IDDefaultDuration, 33366666),
		el(IDVideo, u(IDPixelWidth, 320), u(IDPixelHeight, 240), u(0x54B0, 320)), u(0x9C, 0)),
	el(IDTrackEntry, u(IDTrackNumber, 2), u(IDTrackUID, 22), u(IDTrackType, 2), s(IDCodecID, "A_AAC/MPEG4/LC"),
		u(IDCodecDelay, 6500000), el(IDAudio, f32(IDSamplingFrequency, 48000), u(IDChannels, 2))),
	el(IDTrackEntry, u(IDTrackNumber, 3), u(IDTrackType, 0x11), s(IDCodecID, "S_TEXT/UTF8")))

// knownSizeFile is laid out like mkvmerge output: known sizes everywhere,
// SeekHead, Void, CRC-32, Cues, BlockGroups and laced audio, followed by a
// second, unknown-size segment.
func knownSizeFile() []byte {
	cluster1 := el(IDCluster, el(IDCRC32, []byte{1, 2, 3, 4}), u(IDTimecode, 0), u(IDPosition, 0),
		el(IDSimpleBlock, blockBody(1, 0, 0x80, []byte("key"))),
		el(IDSimpleBlock, blockBody(2, 0, 0x80|0x02, xiphSizes(frameSet(300, 255, 10)), bytes.Join(frameSet(300, 255, 10), nil))),
		el(IDBlockGroup, el(IDBlock, blockBody(1, 40, 0x08, []byte("inter"))), u(IDReferenceBlock, 0x7F), u(IDBlockDuration, 40)),
		el(IDSimpleBlock, blockBody(2, 21, 0x80|0x06, ebmlLaceSizes(frameSet(100, 400, 50, 50)), bytes.Join(frameSet(100, 400, 50, 50), nil))),
	)
	cluster2 := el(IDCluster, u(IDTimecode, 1000), u(IDPrevSize, uint64(len(cluster1))), el(IDSilentTracks, u(0x58D7, 3)),
		el(IDBlockGroup, u(IDBlockDuration, 20), el(IDBlock, blockBody(2, 0, 0x04, []byte{2}, bytes.Repeat([]byte{9}, 30)))),
		el(IDSimpleBlock, blockBody(1, 1, 0x01, []byte("disc"))),
	)
	seg1 := el(IDSegment,
		el(IDSeekHead, el(0x4DBB, el(0x53AB, []byte{0x15, 0x49, 0xA9, 0x66}), u(0x53AC, 100))),
		el(IDVoid, make([]byte, 20)),
		el(IDInfo, u(IDTimecodeScale, 1000000), s(IDMuxingApp, "libebml"), s(IDWritingApp, "mkvmerge"),
			f64(IDDuration, 1020), el(IDSegmentUID, bytes.Repeat([]byte{7}, 16)), s(IDTitle, "known"), u(0x4461, 0)),
		testTracks,
		el(IDChapters, el(0x45B9, u(0x45BC, 1))),
		el(IDTags, el(IDTag, el(IDTargets, u(0x68CA, 50)),
			el(IDSimpleTag, s(IDTagName, "TITLE"), s(0x447A, "eng"), s(IDTagString, "hello"),
				el(IDSimpleTag, s(IDTagName, "NESTED"), el(IDTagBinary, []byte{0xDE, 0xAD}))))),
		cluster1,
		cluster2,
		el(IDCues, el(0xBB, u(0xB3, 0))),
		el(IDAttachments, el(0x61A7, s(0x466E, "a.txt"))),
		el(0x1F1F1F1F, []byte("an unknown level-1 element")),
	)
	seg2 := unk(IDSegment, el(IDInfo, u(IDTimecodeScale, 1000)),
		unk(IDCluster, u(IDTimecode, 5), el(IDSimpleBlock, blockBody(1, 0, 0x80, []byte("s2")))),
		unk(IDCluster, u(IDTimecode, 6)),
		el(IDCues))
	return cat(ebmlHead("matroska"), seg1, el(IDVoid), ebmlHead("webm"), seg2)
}

func TestKnownSizeFile(t *testing.T) {
	data := knownSizeFile()
	evs, err := readEvents(data)
	if err != nil {
		t.Fatal(err)
	}
	want := []EventType{EventHeader, EventInfo, EventTracks, EventTags,
		EventClusterStart, EventBlock, EventBlock, EventBlock, EventBlock, EventClusterEnd,
		EventClusterStart, EventBlock, EventBlock, EventClusterEnd, EventSegmentEnd,
		EventHeader, EventInfo, EventClusterStart, EventBlock, EventClusterEnd, EventClusterStart, EventClusterEnd, EventSegmentEnd}
	if got := eventTypes(evs); !reflect.DeepEqual(got, want) {
		t.Fatalf("events\n got %v\nwant %v", got, want)
	}
	info := evs[1].Info
	if info.TimecodeScale != 1000000 || info.Duration != 1020 || info.Title != "known" || info.MuxingApp != "libebml" ||
		info.WritingApp != "mkvmerge" || !bytes.Equal(info.SegmentUID, bytes.Repeat([]byte{7}, 16)) {
		t.Errorf("info %+v", info)
	}
	tr := evs[2].Tracks
	if len(tr) != 3 {
		t.Fatalf("tracks %+v", tr)
	}
	if v := tr[0]; v.Number != 1 || v.TrackUID != 11 || v.Codec != "H264" || v.Width != 320 || v.Height != 240 ||
		v.Name != "v" || v.DefaultDuration != 33366666 || !bytes.Equal(v.CodecPrivate, []byte{1, 2}) || v.Kind != 1 {
		t.Errorf("video track %+v", v)
	}
	if a := tr[1]; a.Codec != "AAC" || a.SampleRate != 48000 || a.SamplingFrequency != 48000 || a.Channels != 2 ||
		a.CodecDelay != 6500000 || a.Kind != 2 || a.CodecID != "A_AAC/MPEG4/LC" {
		t.Errorf("audio track %+v", a)
	}
	if s := tr[2]; s.Codec != "" || s.CodecID != "S_TEXT/UTF8" || s.TrackType != 0x11 {
		t.Errorf("subtitle track %+v", s)
	}
	wantTags := []Tag{{Name: "TITLE", Value: "hello"}, {Name: "NESTED", Binary: []byte{0xDE, 0xAD}}}
	if !reflect.DeepEqual(evs[3].Tags, wantTags) {
		t.Errorf("tags %+v", evs[3].Tags)
	}
	blocks := []Block{
		{Track: 1, Key: true, Frames: [][]byte{[]byte("key")}},
		{Track: 2, Key: true, Frames: frameSet(300, 255, 10)},
		{Track: 1, Timecode: 40, Invisible: true, Duration: 40, Frames: [][]byte{[]byte("inter")}},
		{Track: 2, Timecode: 21, Key: true, Frames: frameSet(100, 400, 50, 50)},
	}
	for i, b := range blocks {
		if got := evs[5+i].Block; !reflect.DeepEqual(got, b) {
			t.Errorf("block %d\n got %+v\nwant %+v", i, got, b)
		}
	}
	if got := evs[11].Block; got.Track != 2 || !got.Key || got.Duration != 20 || len(got.Frames) != 3 || len(got.Frames[0]) != 10 {
		t.Errorf("fixed-laced BlockGroup %+v", got)
	}
	if got := evs[12].Block; got.Key || !got.Discardable || got.Timecode != 1 {
		t.Errorf("discardable block %+v", got)
	}
	if evs[10].Timecode != 1000 || evs[17].Timecode != 5 || evs[16].Info.TimecodeScale != 1000 || evs[15].DocType != "webm" {
		t.Errorf("second part: %+v %+v %+v", evs[10], evs[15], evs[17])
	}
	// SegmentEnd of the known-size segment is at its end; ClusterEnd of a
	// known-size cluster too.
	seg1End := evs[14].Offset
	if !bytes.Equal(data[seg1End:seg1End+2], []byte{0xEC, 0x80}) {
		t.Errorf("first SegmentEnd at %d", seg1End)
	}
	for _, e := range evs {
		if e.Raw != nil && !bytes.Equal(data[e.Offset:e.Offset+int64(len(e.Raw))], e.Raw) {
			t.Errorf("%v at %d: Raw does not match the stream", e.Type, e.Offset)
		}
	}
}

func TestReaderGetters(t *testing.T) {
	r := NewReader(bytes.NewReader(knownSizeFile()))
	if r.Info().TimecodeScale != DefaultTimecodeScale {
		t.Error("default timecode scale")
	}
	for i := 0; i < 3; i++ {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if r.DocType() != "matroska" || r.Info().Title != "known" || len(r.Tracks()) != 3 || r.Offset() == 0 {
		t.Errorf("getters: %q %+v %d %d", r.DocType(), r.Info(), len(r.Tracks()), r.Offset())
	}
	for {
		if _, err := r.Next(); err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
	}
	if r.Offset() != int64(len(knownSizeFile())) {
		t.Errorf("Offset at end %d", r.Offset())
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("Next after EOF: %v", err)
	}
}

func TestLacing(t *testing.T) {
	sets := [][][]byte{
		frameSet(1, 2),
		frameSet(0, 0, 0),
		frameSet(254, 255, 256, 510, 511, 3),
		frameSet(1000, 10, 5000, 4999, 1),
		frameSet(7),
		frameSet(make([]int, 256)...),
	}
	for i, frames := range sets {
		for _, lacing := range []struct {
			flag  byte
			sizes func([][]byte) []byte
		}{{0x02, xiphSizes}, {0x06, ebmlLaceSizes}} {
			body := blockBody(1, 0, 0x80|lacing.flag, lacing.sizes(frames), bytes.Join(frames, nil))
			var blk Block
			if err := parseBlock(&blk, body, 0, true); err != nil {
				t.Fatalf("set %d lacing %x: %v", i, lacing.flag, err)
			}
			if !reflect.DeepEqual(normalize(blk.Frames), normalize(frames)) {
				t.Errorf("set %d lacing %x: frames differ", i, lacing.flag)
			}
		}
	}
	// Fixed-size lacing.
	frames := frameSet(10, 10, 10)
	var blk Block
	if err := parseBlock(&blk, blockBody(1, 0, 0x04, []byte{2}, bytes.Join(frames, nil)), 0, true); err != nil ||
		!reflect.DeepEqual(blk.Frames, frames) {
		t.Errorf("fixed lacing: %v %v", err, blk.Frames)
	}
	bad := [][]byte{
		nil,
		{0x81},
		{0x00, 0, 0, 0},
		{0xFF, 0, 0, 0x80}, // reserved track number
		blockBody(1, 0, 0x04, []byte{2}, make([]byte, 10)), // 10 bytes in 3 fixed frames
		blockBody(1, 0, 0x02),                              // no lace count
		blockBody(1, 0, 0x02, []byte{2, 255}),              // Xiph sizes truncated
		blockBody(1, 0, 0x02, []byte{1, 20}, make([]byte, 5)),
		blockBody(1, 0, 0x06, []byte{1, 0x40 | 0x3F, 0xFF}),            // unknown size lace
		blockBody(1, 0, 0x06, []byte{2, 0x85, 0x80}, make([]byte, 20)), // second size negative
		blockBody(1, 0, 0x06, []byte{1, 0x90}, make([]byte, 5)),
	}
	for i, b := range bad {
		if err := parseBlock(&blk, b, 0, true); !errors.Is(err, ErrInvalid) {
			t.Errorf("bad block %d (%x): %v", i, b, err)
		}
	}
}

func normalize(frames [][]byte) [][]byte {
	out := make([][]byte, len(frames))
	for i, f := range frames {
		out[i] = append([]byte{}, f...)
	}
	return out
}

func TestInvalid(t *testing.T) {
	head := ebmlHead("matroska")
	okCluster := unk(IDCluster, u(IDTimecode, 0), el(IDSimpleBlock, blockBody(1, 0, 0x80, []byte{1})))
	cases := []struct {
		name string
		data []byte
	}{
		{"zero byte", []byte{0, 1, 2, 3}},
		{"not EBML", []byte("RIFF\x00\x00\x00\x00WAVE")},
		{"void first", cat(el(IDVoid), head)},
		{"doc type", cat(ebmlHead("mp4"), unk(IDSegment))},
		{"unknown-size EBML header", unk(IDEBML, u(IDEBMLVersion, 1))},
		{"no segment", cat(head, el(IDInfo))},
		{"bad size vint", cat(head, []byte{0x18, 0x53, 0x80, 0x67, 0x00})},
		{"five-byte ID", cat(head, unk(IDSegment), []byte{0x08, 1, 2, 3, 4, 0x80})},
		{"unknown-size Info", cat(head, unk(IDSegment, unk(IDInfo)))},
		{"unknown-size unknown element", cat(head, unk(IDSegment, unk(0x4444)))},
		{"block before timecode", cat(head, unk(IDSegment, unk(IDCluster, el(IDSimpleBlock, blockBody(1, 0, 0x80, []byte{1})))))},
		{"two timecodes", cat(head, unk(IDSegment, unk(IDCluster, u(IDTimecode, 0), u(IDTimecode, 1))))},
		{"nine-byte timecode", cat(head, unk(IDSegment, unk(IDCluster, el(IDTimecode, make([]byte, 9)))))},
		{"timecode out of range", cat(head, unk(IDSegment, unk(IDCluster, el(IDTimecode, bytes.Repeat([]byte{0xFF}, 8)))))},
		{"unknown-size block", cat(head, unk(IDSegment, unk(IDCluster, u(IDTimecode, 0), unk(IDSimpleBlock))))},
		{"level-1 inside known cluster", cat(head, unk(IDSegment, el(IDCluster, u(IDTimecode, 0), el(IDTags))))},
		{"child overruns cluster", cat(head, unk(IDSegment, el(IDCluster, u(IDTimecode, 0)), el(IDSimpleBlock)))[:0]},
		{"element overruns segment", cat(head, el(IDSegment, []byte{0xEC, 0x85}), make([]byte, 10))},
		{"EBML header in known segment", cat(head, el(IDSegment, head))},
		{"BlockGroup without Block", cat(head, unk(IDSegment, unk(IDCluster, u(IDTimecode, 0), el(IDBlockGroup, u(IDBlockDuration, 1)))))},
		{"two Blocks", cat(head, unk(IDSegment, unk(IDCluster, u(IDTimecode, 0), el(IDBlockGroup,
			el(IDBlock, blockBody(1, 0, 0, []byte{1})), el(IDBlock, blockBody(1, 0, 0, []byte{1}))))))},
		{"bad block", cat(head, unk(IDSegment, unk(IDCluster, u(IDTimecode, 0), el(IDSimpleBlock, []byte{0x81, 0}))))},
		{"bad track entry", cat(head, unk(IDSegment, el(IDTracks, el(IDTrackEntry, el(IDTrackNumber, make([]byte, 9))))))},
		{"child overruns Tracks", cat(head, unk(IDSegment, el(IDTracks, []byte{0xAE, 0x85, 0xD7})))},
		{"zero TimecodeScale", cat(head, unk(IDSegment, el(IDInfo, u(IDTimecodeScale, 0))))},
		{"bad Duration", cat(head, unk(IDSegment, el(IDInfo, el(IDDuration, []byte{1, 2}))))},
		{"deep SimpleTags", cat(head, unk(IDSegment, el(IDTags, el(IDTag, deepTag(40)))))},
		{"MaxIDLength 5", cat(el(IDEBML, u(IDEBMLMaxIDLength, 5), s(IDDocType, "matroska")), unk(IDSegment))},
		{"after cluster garbage", cat(head, unk(IDSegment, okCluster), []byte{0x00, 0x00})},
	}
	for _, c := range cases {
		if len(c.data) == 0 {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			_, err := readEvents(c.data)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v, want ErrInvalid", err)
			}
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Offset < 0 || fe.Offset > int64(len(c.data)) || !strings.Contains(err.Error(), "offset") {
				t.Errorf("error %v is not a FormatError with a sensible offset", err)
			}
		})
	}
}

func deepTag(depth int) []byte {
	b := el(IDSimpleTag, s(IDTagName, "leaf"))
	for i := 0; i < depth; i++ {
		b = el(IDSimpleTag, s(IDTagName, "n"), b)
	}
	return b
}

func TestRandomBytes(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 100; i++ {
		data := make([]byte, 1<<16)
		rng.Read(data)
		r := NewReader(bytes.NewReader(data))
		_, err := r.Next()
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("random input %d: %v", i, err)
		}
		if r.Offset() > 12 {
			t.Fatalf("random input %d: consumed %d bytes before failing", i, r.Offset())
		}
	}
	// Random bytes after a valid header are rejected or end the stream
	// without reading megabytes into memory.
	for i := 0; i < 200; i++ {
		data := make([]byte, 1<<16)
		rng.Read(data)
		full := cat(writeSequences(t, roundTripCases[0].seqs), data)
		err := drain(t, full, WithMaxElementSize(1<<20))
		if err == io.EOF {
			t.Fatalf("random tail %d accepted", i)
		}
	}
}

func TestTruncated(t *testing.T) {
	// Known sizes: every cut is an error wrapping io.ErrUnexpectedEOF.
	data := knownSizeFile()
	seg2 := bytes.LastIndex(data, ebmlHead("webm"))
	for n := 1; n < seg2; n++ {
		err := drain(t, data[:n])
		if n == seg2-2 { // cut before the Void between the segments: a clean end
			if err != io.EOF {
				t.Errorf("cut at %d: %v", n, err)
			}
			continue
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ErrInvalid) {
			t.Fatalf("cut at %d of %d: %v", n, len(data), err)
		}
	}
	// KVS layout (unknown sizes): every cut either fails or ends cleanly at
	// an element boundary with a prefix of the events.
	full := writeSequences(t, roundTripCases[2].seqs)
	all, err := readEvents(full)
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(full); n++ {
		evs, err := readEvents(full[:n])
		if err != nil {
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("cut at %d: %v", n, err)
			}
			continue
		}
		blocks := 0
		for i, e := range evs {
			if e.Type == EventBlock {
				blocks++
				if !reflect.DeepEqual(e.Block, all[i].Block) {
					t.Fatalf("cut at %d: block %d differs", n, i)
				}
			}
		}
		if len(evs) > 0 && evs[len(evs)-1].Type != EventSegmentEnd {
			t.Fatalf("cut at %d: clean end without SegmentEnd: %v", n, eventTypes(evs))
		}
	}
}

func TestTooLarge(t *testing.T) {
	head := cat(ebmlHead("matroska"), unk(IDSegment))
	huge := cat(head, unk(IDCluster, u(IDTimecode, 0)), AppendID(nil, IDSimpleBlock), AppendVint(nil, 1<<40), make([]byte, 100))
	r := NewReader(bytes.NewReader(huge))
	var err error
	for err == nil {
		_, err = r.Next()
	}
	if !errors.Is(err, ErrElementTooLarge) {
		t.Fatalf("huge block: %v", err)
	}
	block := el(IDSimpleBlock, blockBody(1, 0, 0x80, make([]byte, 200)))
	data := cat(head, unk(IDCluster, u(IDTimecode, 0), block))
	if _, err := readEvents(data, WithMaxElementSize(100)); !errors.Is(err, ErrElementTooLarge) {
		t.Errorf("block over the limit: %v", err)
	}
	if _, err := readEvents(data, WithMaxElementSize(300)); err != nil {
		t.Errorf("block under the limit: %v", err)
	}
	tags := cat(head, AppendID(nil, IDTags), AppendVint(nil, 1<<30))
	if _, err := readEvents(tags); !errors.Is(err, ErrElementTooLarge) {
		t.Errorf("huge Tags: %v", err)
	}
	// A huge element that is skipped is not limited, but the stream ends in it.
	cues := cat(head, AppendID(nil, IDCues), AppendVint(nil, 1<<40), make([]byte, 1000))
	if _, err := readEvents(cues); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("huge Cues: %v", err)
	}
	// A large declared size on a short stream must not allocate it.
	short := cat(head, unk(IDCluster, u(IDTimecode, 0)), AppendID(nil, IDSimpleBlock), AppendVint(nil, 60<<20), make([]byte, 10))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := readEvents(short); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated 60 MiB block: %v", err)
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
		t.Errorf("truncated 60 MiB block allocated %d bytes", n)
	}
}

func TestReadErrorPropagates(t *testing.T) {
	data := writeSequences(t, roundTripCases[1].seqs)
	r := NewReader(io.MultiReader(bytes.NewReader(data[:300]), errReader{}))
	var err error
	for err == nil {
		_, err = r.Next()
	}
	if !errors.Is(err, errBroken) {
		t.Fatalf("error %v", err)
	}
	if _, err2 := r.Next(); err2 != err {
		t.Errorf("error not sticky: %v", err2)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBroken }

func TestAppendHelpers(t *testing.T) {
	tags := []Tag{{Name: "a", Value: "1"}, {Name: "bin", Binary: []byte{1, 2}}, {Name: "both", Value: "v", Binary: []byte{}}, {Name: "empty"}}
	blocks := [][]byte{AppendSimpleBlock(nil, 1, 0, true, []byte("k")), AppendSimpleBlock(nil, 300, -3, false, bytes.Repeat([]byte{1}, 200))}
	data := cat(EBMLHeader(), AppendSegmentStart(nil), AppendTags(nil, tags), AppendCluster(nil, 1<<40, blocks...), AppendCluster(nil, 7), AppendTags(nil, nil))
	evs, err := readEvents(data)
	if err != nil {
		t.Fatal(err)
	}
	want := []EventType{EventHeader, EventTags, EventClusterStart, EventBlock, EventBlock, EventClusterEnd,
		EventClusterStart, EventClusterEnd, EventTags, EventSegmentEnd}
	if got := eventTypes(evs); !reflect.DeepEqual(got, want) {
		t.Fatalf("events %v", got)
	}
	if !reflect.DeepEqual(evs[1].Tags, tags) {
		t.Errorf("tags %+v", evs[1].Tags)
	}
	if evs[2].Timecode != 1<<40 || evs[4].Block.Track != 300 || evs[4].Block.Timecode != -3 || evs[4].Block.Key {
		t.Errorf("cluster %+v block %+v", evs[2], evs[4].Block)
	}
	if len(evs[8].Tags) != 0 {
		t.Errorf("empty Tags: %+v", evs[8].Tags)
	}
}
