package mkv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"

	"kvskit/media"
)

// item is one step of a writer script: exactly one field is set.
type item struct {
	cluster *int64
	block   *testBlock
	tags    []Tag
}

type testBlock struct {
	track uint64
	tc    int16
	key   bool
	data  []byte
}

type sequence struct {
	info   SegmentInfo
	tracks []media.Track
	items  []item
}

func cl(tc int64) item { return item{cluster: &tc} }
func bl(track uint64, tc int16, key bool, data string) item {
	return item{block: &testBlock{track, tc, key, []byte(data)}}
}
func tg(kv ...string) item {
	var tags []Tag
	for i := 0; i+1 < len(kv); i += 2 {
		tags = append(tags, Tag{Name: kv[i], Value: kv[i+1]})
	}
	return item{tags: tags}
}

var (
	uid1 = []byte("0123456789abcdef")
	uid2 = []byte("fedcba9876543210")

	h264Track = media.Track{Number: 1, Kind: media.KindVideo, Codec: media.CodecH264, Name: "video",
		CodecPrivate: []byte{1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f, 1, 0, 4, 0x68, 0xee, 0x3c, 0x80},
		Width:        1920, Height: 1080}
	aacTrack = media.Track{Number: 2, Kind: media.KindAudio, Codec: media.CodecAAC, Name: "audio",
		CodecPrivate: []byte{0x12, 0x10}, SampleRate: 44100, Channels: 2}
	h265Track = media.Track{Number: 1, Kind: media.KindVideo, Codec: media.CodecH265, CodecPrivate: []byte{1, 2, 3}, Width: 640, Height: 480}
	pcmaTrack = media.Track{Number: 3, Kind: media.KindAudio, Codec: media.CodecPCMA, SampleRate: 8000, Channels: 1}
	pcmuTrack = media.Track{Number: 2, Kind: media.KindAudio, Codec: media.CodecPCMU, SampleRate: 8000, Channels: 1}
)

var roundTripCases = []struct {
	name string
	seqs []sequence
}{
	{
		name: "video only, one cluster",
		seqs: []sequence{{
			info:   SegmentInfo{SegmentUID: uid1, Title: "cam", MuxingApp: "kvs", WritingApp: "kvs"},
			tracks: []media.Track{h264Track},
			items:  []item{cl(0), bl(1, 0, true, "idr"), bl(1, 33, false, "p1"), bl(1, 66, false, "p2")},
		}},
	},
	{
		name: "H.264 + AAC, clusters and tags between them",
		seqs: []sequence{{
			info:   SegmentInfo{SegmentUID: uid1, Title: "t", MuxingApp: "m", WritingApp: "w"},
			tracks: []media.Track{h264Track, aacTrack},
			items: []item{
				tg("AWS_KINESISVIDEO_NOTIFICATION", "x", "k", "v"),
				cl(1663277247152), bl(1, 0, true, "key0"), bl(2, 0, true, "a0"), bl(2, 23, true, "a1"), bl(1, 33, false, "p"),
				tg("AWS_KINESISVIDEO_END_OF_FRAGMENT", ""),
				cl(1663277249152), bl(1, 0, true, "key1"), bl(2, -5, true, "a2"), bl(1, 32767, false, "last"),
				cl(1663277251152), bl(1, 0, true, string(bytes.Repeat([]byte{0xAB}, 70000))),
				tg("after", "last cluster"),
			},
		}},
	},
	{
		name: "two header+segment sequences back to back",
		seqs: []sequence{
			{
				info:   SegmentInfo{SegmentUID: uid1, Title: "first"},
				tracks: []media.Track{h264Track, aacTrack},
				items:  []item{cl(100), bl(1, 0, true, "k"), bl(2, 1, true, "a")},
			},
			{
				info:   SegmentInfo{SegmentUID: uid2, Title: "second", TimecodeScale: 100000},
				tracks: []media.Track{h265Track, pcmuTrack},
				items:  []item{tg("n", "v"), cl(200), bl(1, 0, true, "k2"), cl(300), bl(2, 0, true, "mu")},
			},
		},
	},
	{
		name: "G.711 and header without clusters",
		seqs: []sequence{
			{info: SegmentInfo{}, tracks: []media.Track{h264Track, pcmaTrack}},
			{info: SegmentInfo{SegmentUID: uid2}, tracks: []media.Track{pcmaTrack}, items: []item{cl(5), bl(3, 0, true, "alaw")}},
		},
	},
}

func writeSequences(t testing.TB, seqs []sequence) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, s := range seqs {
		w := NewWriter(&b)
		if err := w.WriteHeader(s.info, s.tracks); err != nil {
			t.Fatal(err)
		}
		for _, it := range s.items {
			var err error
			switch {
			case it.cluster != nil:
				err = w.StartCluster(*it.cluster)
			case it.block != nil:
				err = w.WriteBlock(it.block.track, it.block.tc, it.block.key, it.block.data)
			default:
				err = w.WriteTags(it.tags)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return b.Bytes()
}

// expectedEvents lists what a Reader must report for the sequences.
func expectedEvents(seqs []sequence) []Event {
	var evs []Event
	for _, s := range seqs {
		evs = append(evs, Event{Type: EventHeader, DocType: "matroska"})
		scale := s.info.TimecodeScale
		if scale == 0 {
			scale = DefaultTimecodeScale
		}
		evs = append(evs, Event{Type: EventInfo, Info: Info{TimecodeScale: scale, SegmentUID: s.info.SegmentUID,
			Title: s.info.Title, MuxingApp: s.info.MuxingApp, WritingApp: s.info.WritingApp}})
		evs = append(evs, Event{Type: EventTracks})
		open := false
		for _, it := range s.items {
			switch {
			case it.cluster != nil:
				if open {
					evs = append(evs, Event{Type: EventClusterEnd})
				}
				open = true
				evs = append(evs, Event{Type: EventClusterStart, Timecode: *it.cluster})
			case it.block != nil:
				evs = append(evs, Event{Type: EventBlock, Block: Block{Track: it.block.track, Timecode: it.block.tc,
					Key: it.block.key, Frames: [][]byte{it.block.data}}})
			default:
				if open {
					evs = append(evs, Event{Type: EventClusterEnd})
					open = false
				}
				evs = append(evs, Event{Type: EventTags, Tags: it.tags})
			}
		}
		if open {
			evs = append(evs, Event{Type: EventClusterEnd})
		}
		evs = append(evs, Event{Type: EventSegmentEnd})
	}
	return evs
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range roundTripCases {
		t.Run(tc.name, func(t *testing.T) {
			data := writeSequences(t, tc.seqs)
			got, err := readEvents(data)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			want := expectedEvents(tc.seqs)
			if !reflect.DeepEqual(eventTypes(got), eventTypes(want)) {
				t.Fatalf("event types\n got %v\nwant %v", eventTypes(got), eventTypes(want))
			}
			seq := -1
			for i, g := range got {
				w := want[i]
				if g.Offset < 0 || g.Offset > int64(len(data)) {
					t.Fatalf("event %d: offset %d out of range", i, g.Offset)
				}
				if g.Raw != nil && !bytes.Equal(data[g.Offset:g.Offset+int64(len(g.Raw))], g.Raw) {
					t.Fatalf("event %d (%v): Raw does not match the stream at its offset", i, g.Type)
				}
				switch g.Type {
				case EventHeader:
					seq++
					if g.DocType != "matroska" {
						t.Errorf("DocType %q", g.DocType)
					}
				case EventInfo:
					if !reflect.DeepEqual(g.Info, w.Info) {
						t.Errorf("info\n got %+v\nwant %+v", g.Info, w.Info)
					}
				case EventTracks:
					checkTracks(t, g.Tracks, tc.seqs[seq].tracks)
				case EventTags:
					if !reflect.DeepEqual(g.Tags, w.Tags) {
						t.Errorf("tags\n got %+v\nwant %+v", g.Tags, w.Tags)
					}
				case EventClusterStart:
					if g.Timecode != w.Timecode {
						t.Errorf("cluster timecode %d, want %d", g.Timecode, w.Timecode)
					}
				case EventBlock:
					if !reflect.DeepEqual(g.Block, w.Block) {
						t.Errorf("event %d: block\n got %+v\nwant %+v", i, g.Block, w.Block)
					}
					raw := AppendSimpleBlock(nil, w.Block.Track, w.Block.Timecode, w.Block.Key, w.Block.Frames[0])
					if !bytes.Equal(raw, g.Raw) {
						t.Errorf("event %d: Raw differs from AppendSimpleBlock", i)
					}
				}
			}
			// The last SegmentEnd is at the end of the stream.
			if last := got[len(got)-1]; last.Offset != int64(len(data)) {
				t.Errorf("SegmentEnd offset %d, stream length %d", last.Offset, len(data))
			}
		})
	}
}

func checkTracks(t *testing.T, got []TrackEntry, want []media.Track) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d tracks, want %d", len(got), len(want))
	}
	for i, g := range got {
		w := want[i]
		m := g.ToMedia()
		if w.Codec == media.CodecPCMA || w.Codec == media.CodecPCMU {
			if g.CodecID != CodecIDMSACM || len(m.CodecPrivate) != 18 {
				t.Errorf("G.711 track: CodecID %q, CodecPrivate %x", g.CodecID, m.CodecPrivate)
			}
			m.CodecPrivate = w.CodecPrivate
		}
		if !reflect.DeepEqual(m, w) {
			t.Errorf("track %d\n got %+v\nwant %+v", i, m, w)
		}
		if g.TrackUID != w.Number || g.TrackType != uint64(w.Kind) || g.CodecID != CodecIDFor(w.Codec) {
			t.Errorf("track %d: UID %d, type %d, CodecID %q", i, g.TrackUID, g.TrackType, g.CodecID)
		}
	}
}

// TestRawHeaderReplay replays Info and Tracks from Event.Raw through
// WriteRawHeader and AppendCluster, as the server does.
func TestRawHeaderReplay(t *testing.T) {
	data := writeSequences(t, roundTripCases[1].seqs)
	evs, err := readEvents(data)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := NewWriter(&out)
	var rawInfo, rawTracks []byte
	var blocks [][]byte
	var tc int64
	flush := func() {
		if blocks != nil {
			if err := w.WriteRaw(AppendCluster(nil, tc, blocks...)); err != nil {
				t.Fatal(err)
			}
		}
		blocks = nil
	}
	for _, e := range evs {
		switch e.Type {
		case EventInfo:
			rawInfo = e.Raw
		case EventTracks:
			rawTracks = e.Raw
			if err := w.WriteRawHeader(rawInfo, rawTracks); err != nil {
				t.Fatal(err)
			}
		case EventTags:
			flush()
			if err := w.WriteRaw(AppendTags(nil, e.Tags)); err != nil {
				t.Fatal(err)
			}
		case EventClusterStart:
			flush()
			tc = e.Timecode
			blocks = [][]byte{}
		case EventBlock:
			blocks = append(blocks, e.Raw)
		}
	}
	flush()
	if w.Written() != int64(out.Len()) {
		t.Errorf("Written %d, buffer %d", w.Written(), out.Len())
	}
	got, err := readEvents(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(evs) {
		t.Fatalf("%d events after replay, want %d:\n%v\n%v", len(got), len(evs), eventTypes(got), eventTypes(evs))
	}
	for i := range got {
		g, e := got[i], evs[i]
		g.Offset, e.Offset = 0, 0
		if g.Type == EventClusterEnd || g.Type == EventSegmentEnd || g.Type == EventClusterStart {
			g.Raw, e.Raw = nil, nil
		}
		if !reflect.DeepEqual(g, e) {
			t.Errorf("event %d\n got %+v\nwant %+v", i, g, e)
		}
	}
	if err := NewWriter(io.Discard).WriteRawHeader(rawTracks, rawInfo); !errors.Is(err, ErrInvalid) {
		t.Errorf("WriteRawHeader with swapped elements: %v", err)
	}
	if err := NewWriter(io.Discard).WriteRawHeader(rawInfo[:len(rawInfo)-1], rawTracks); !errors.Is(err, ErrInvalid) {
		t.Errorf("WriteRawHeader with short Info: %v", err)
	}
	if err := NewWriter(io.Discard).WriteRawHeader(append(rawInfo, 0xEC, 0x80), rawTracks); !errors.Is(err, ErrInvalid) {
		t.Errorf("WriteRawHeader with trailing bytes: %v", err)
	}
}

func TestEBMLHeaderBytes(t *testing.T) {
	want := []byte{0x1A, 0x45, 0xDF, 0xA3, 0xA3,
		0x42, 0x86, 0x81, 0x01, 0x42, 0xF7, 0x81, 0x01, 0x42, 0xF2, 0x81, 0x04, 0x42, 0xF3, 0x81, 0x08,
		0x42, 0x82, 0x88, 'm', 'a', 't', 'r', 'o', 's', 'k', 'a',
		0x42, 0x87, 0x81, 0x02, 0x42, 0x85, 0x81, 0x02}
	if got := EBMLHeader(); !bytes.Equal(got, want) {
		t.Fatalf("EBMLHeader\n got %x\nwant %x", got, want)
	}
	var b bytes.Buffer
	if err := NewWriter(&b).WriteHeader(SegmentInfo{}, []media.Track{h264Track}); err != nil {
		t.Fatal(err)
	}
	seg := AppendSegmentStart(append([]byte(nil), want...))
	if !bytes.HasPrefix(b.Bytes(), seg) {
		t.Fatalf("WriteHeader does not start with the EBML header and an unknown-size Segment: %x", b.Bytes()[:60])
	}
}

func TestVint(t *testing.T) {
	cases := []struct {
		v   uint64
		enc []byte
	}{
		{0, []byte{0x80}},
		{1, []byte{0x81}},
		{126, []byte{0xFE}},
		{127, []byte{0x40, 0x7F}},
		{0x3FFE, []byte{0x7F, 0xFE}},
		{0x3FFF, []byte{0x20, 0x3F, 0xFF}},
		{MaxVint, []byte{0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE}},
		{UnknownSize, []byte{0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}},
	}
	for _, c := range cases {
		got := AppendVint(nil, c.v)
		if !bytes.Equal(got, c.enc) {
			t.Errorf("AppendVint(%d) = %x, want %x", c.v, got, c.enc)
		}
		if VintSize(c.v) != len(c.enc) {
			t.Errorf("VintSize(%d) = %d", c.v, VintSize(c.v))
		}
		v, n, ok := ReadVint(append(c.enc, 0x55))
		if !ok || v != c.v || n != len(c.enc) {
			t.Errorf("ReadVint(%x) = %d, %d, %v", c.enc, v, n, ok)
		}
	}
	for v := uint64(0); v < 1<<21; v += 7 {
		b := AppendVint(nil, v)
		got, n, ok := ReadVint(b)
		if !ok || got != v || n != len(b) {
			t.Fatalf("round trip %d: %x -> %d", v, b, got)
		}
	}
	// All-ones in any length is the unknown size.
	for _, b := range [][]byte{{0xFF}, {0x7F, 0xFF}, {0x1F, 0xFF, 0xFF, 0xFF}} {
		if v, _, ok := ReadVint(b); !ok || v != UnknownSize {
			t.Errorf("ReadVint(%x) = %d, %v; want UnknownSize", b, v, ok)
		}
	}
	for _, b := range [][]byte{nil, {0x00}, {0x40}, {0x01, 1, 2, 3, 4, 5, 6}} {
		if _, _, ok := ReadVint(b); ok {
			t.Errorf("ReadVint(%x) accepted", b)
		}
	}
	if got := AppendUint(nil, IDTimecode, 0); !bytes.Equal(got, []byte{0xE7, 0x81, 0}) {
		t.Errorf("AppendUint 0: %x", got)
	}
	if got := AppendUint(nil, IDTimecodeScale, 1000000); !bytes.Equal(got, []byte{0x2A, 0xD7, 0xB1, 0x83, 0x0F, 0x42, 0x40}) {
		t.Errorf("AppendUint 1e6: %x", got)
	}
}

func TestCodecMapping(t *testing.T) {
	cases := []struct {
		id   string
		priv []byte
		want media.Codec
	}{
		{"V_MPEG4/ISO/AVC", nil, media.CodecH264},
		{"V_MPEGH/ISO/HEVC", nil, media.CodecH265},
		{"A_AAC", nil, media.CodecAAC},
		{"A_AAC/MPEG4/LC", nil, media.CodecAAC},
		{"A_MS/ACM", []byte{6, 0}, media.CodecPCMA},
		{"A_MS/ACM", []byte{7, 0}, media.CodecPCMU},
		{"A_MS/ACM", []byte{1, 0}, ""},
		{"A_MS/ACM", nil, ""},
		{"V_VP8", nil, ""},
		{"A_OPUS", nil, ""},
	}
	for _, c := range cases {
		if got := CodecFromID(c.id, c.priv); got != c.want {
			t.Errorf("CodecFromID(%q, %x) = %q, want %q", c.id, c.priv, got, c.want)
		}
	}
}

func TestWriterErrors(t *testing.T) {
	w := NewWriter(io.Discard)
	if err := w.WriteHeader(SegmentInfo{SegmentUID: []byte{1, 2, 3}}, []media.Track{h264Track}); err == nil {
		t.Error("short SegmentUID accepted")
	}
	if err := w.WriteHeader(SegmentInfo{}, nil); err == nil {
		t.Error("no tracks accepted")
	}
	if err := w.WriteHeader(SegmentInfo{}, []media.Track{{Number: 1, Kind: media.KindVideo, Codec: "VP8"}}); err == nil {
		t.Error("unknown codec without CodecID accepted")
	}
	if err := w.WriteHeader(SegmentInfo{}, []media.Track{h264Track, h264Track}); err == nil {
		t.Error("duplicate track number accepted")
	}
	if err := w.WriteHeader(SegmentInfo{}, []media.Track{{Kind: media.KindVideo, Codec: media.CodecH264}}); err == nil {
		t.Error("track number 0 accepted")
	}
	if err := w.StartCluster(-1); err == nil {
		t.Error("negative cluster timecode accepted")
	}
	if err := w.WriteBlock(0, 0, true, nil); err == nil {
		t.Error("track 0 accepted")
	}
	if w.Written() != 0 {
		t.Errorf("rejected calls wrote %d bytes", w.Written())
	}
	// A custom CodecID passes through WriteHeaderEntries.
	var b bytes.Buffer
	if err := NewWriter(&b).WriteHeaderEntries(SegmentInfo{}, []TrackEntry{{Track: media.Track{Number: 1, Kind: media.KindVideo, Width: 2, Height: 2},
		CodecID: "V_VP8", TrackUID: 99, DefaultDuration: 33333333}}); err != nil {
		t.Fatal(err)
	}
	evs, err := readEvents(b.Bytes())
	if err != nil || len(evs) < 3 {
		t.Fatal(err)
	}
	tr := evs[2].Tracks[0]
	if tr.CodecID != "V_VP8" || tr.TrackUID != 99 || tr.DefaultDuration != 33333333 || tr.Codec != "" {
		t.Errorf("entry %+v", tr)
	}

	// Write errors stick.
	fw := NewWriter(failWriter{})
	err1 := fw.StartCluster(0)
	err2 := fw.WriteBlock(1, 0, true, []byte{1})
	if err1 == nil || !errors.Is(err2, errBroken) {
		t.Errorf("errors %v, %v", err1, err2)
	}
}

var errBroken = errors.New("broken pipe")

type failWriter struct{}

func (failWriter) Write(p []byte) (int, error) { return 0, errBroken }

func TestWriteBlockAllocs(t *testing.T) {
	w := NewWriter(io.Discard)
	frame := make([]byte, 40000)
	_ = w.WriteBlock(1, 0, true, frame)
	allocs := testing.AllocsPerRun(1000, func() {
		_ = w.WriteBlock(1, 1234, false, frame)
	})
	if allocs != 0 {
		t.Errorf("WriteBlock: %v allocations per call", allocs)
	}
}

// TestReaderSteadyStateAllocs checks that reading blocks reuses buffers.
func TestReaderSteadyStateAllocs(t *testing.T) {
	data := benchStream(t, 40, 60, 20000)
	r := NewReader(bytes.NewReader(data))
	for i := 0; i < 200; i++ { // warm up: header, first clusters, largest blocks
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Reader.Next: %v allocations per call in steady state", allocs)
	}
}

// benchStream builds a KVS-layout stream of clusters x blocks video frames
// of about frameSize bytes plus one audio frame per video frame.
func benchStream(t testing.TB, clusters, blocks, frameSize int) []byte {
	t.Helper()
	var b bytes.Buffer
	w := NewWriter(&b)
	if err := w.WriteHeader(SegmentInfo{SegmentUID: uid1}, []media.Track{h264Track, aacTrack}); err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, frameSize)
	for i := range frame {
		frame[i] = byte(i * 7)
	}
	audio := make([]byte, 300)
	for c := 0; c < clusters; c++ {
		_ = w.StartCluster(int64(c * 2000))
		for i := 0; i < blocks; i++ {
			n := frameSize / 4
			if i == 0 {
				n = frameSize
			}
			_ = w.WriteBlock(1, int16(i*33), i == 0, frame[:n+i])
			_ = w.WriteBlock(2, int16(i*33+5), true, audio)
		}
	}
	return b.Bytes()
}

func ExampleWriter() {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	_ = w.WriteHeader(SegmentInfo{Title: "front door", MuxingApp: "kvs", WritingApp: "kvs"}, []media.Track{
		{Number: 1, Kind: media.KindVideo, Codec: media.CodecH264, Width: 1280, Height: 720},
	})
	_ = w.WriteTags([]Tag{{Name: "AWS_KINESISVIDEO_NOTIFICATION", Value: "motion"}})
	_ = w.StartCluster(1000)
	_ = w.WriteBlock(1, 0, true, []byte{0, 0, 0, 1, 0x65})
	_ = w.WriteBlock(1, 33, false, []byte{0, 0, 0, 1, 0x41})

	r := NewReader(&buf)
	for {
		ev, err := r.Next()
		if err != nil {
			fmt.Println(err)
			break
		}
		switch ev.Type {
		case EventTracks:
			fmt.Println(ev.Type, ev.Tracks[0].CodecID, ev.Tracks[0].Width, ev.Tracks[0].Height)
		case EventTags:
			fmt.Println(ev.Type, ev.Tags[0].Name, ev.Tags[0].Value)
		case EventClusterStart:
			fmt.Println(ev.Type, ev.Timecode)
		case EventBlock:
			fmt.Println(ev.Type, ev.Block.Track, ev.Block.Timecode, ev.Block.Key, len(ev.Block.Frames[0]))
		default:
			fmt.Println(ev.Type)
		}
	}
	// Output:
	// Header
	// Info
	// Tracks V_MPEG4/ISO/AVC 1280 720
	// Tags AWS_KINESISVIDEO_NOTIFICATION motion
	// ClusterStart 1000
	// Block 1 0 true 5
	// Block 1 33 false 5
	// ClusterEnd
	// SegmentEnd
	// EOF
}
