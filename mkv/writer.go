package mkv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/at-wat/ebml-go"

	"kvskit/media"
)

// SegmentInfo is what WriteHeader puts into the Info element.
type SegmentInfo struct {
	// SegmentUID is 16 bytes, or empty to leave it out.
	SegmentUID []byte
	Title      string
	MuxingApp  string
	WritingApp string
	// TimecodeScale in ns per timecode unit; 0 means DefaultTimecodeScale.
	TimecodeScale uint64
}

// Header element structures for ebml-go's Marshal.
type ebmlHeaderElem struct {
	EBMLVersion        uint64 `ebml:"EBMLVersion"`
	EBMLReadVersion    uint64 `ebml:"EBMLReadVersion"`
	EBMLMaxIDLength    uint64 `ebml:"EBMLMaxIDLength"`
	EBMLMaxSizeLength  uint64 `ebml:"EBMLMaxSizeLength"`
	DocType            string `ebml:"EBMLDocType"`
	DocTypeVersion     uint64 `ebml:"EBMLDocTypeVersion"`
	DocTypeReadVersion uint64 `ebml:"EBMLDocTypeReadVersion"`
}

type infoElem struct {
	SegmentUID    []byte `ebml:"SegmentUID,omitempty"`
	TimecodeScale uint64 `ebml:"TimecodeScale"`
	Title         string `ebml:"Title,omitempty"`
	MuxingApp     string `ebml:"MuxingApp,omitempty"`
	WritingApp    string `ebml:"WritingApp,omitempty"`
}

type videoElem struct {
	PixelWidth  uint64 `ebml:"PixelWidth"`
	PixelHeight uint64 `ebml:"PixelHeight"`
}

type audioElem struct {
	SamplingFrequency float64 `ebml:"SamplingFrequency"`
	Channels          uint64  `ebml:"Channels"`
}

type trackEntryElem struct {
	TrackNumber     uint64     `ebml:"TrackNumber"`
	TrackUID        uint64     `ebml:"TrackUID"`
	TrackType       uint64     `ebml:"TrackType"`
	Name            string     `ebml:"Name,omitempty"`
	CodecID         string     `ebml:"CodecID"`
	CodecPrivate    []byte     `ebml:"CodecPrivate,omitempty"`
	CodecDelay      uint64     `ebml:"CodecDelay,omitempty"`
	DefaultDuration uint64     `ebml:"DefaultDuration,omitempty"`
	Video           *videoElem `ebml:"Video,omitempty"`
	Audio           *audioElem `ebml:"Audio,omitempty"`
}

type tracksElem struct {
	TrackEntry []trackEntryElem `ebml:"TrackEntry"`
}

type segmentHeadElem struct {
	Info   infoElem   `ebml:"Info"`
	Tracks tracksElem `ebml:"Tracks"`
}

type streamHeadElem struct {
	Header  ebmlHeaderElem  `ebml:"EBML"`
	Segment segmentHeadElem `ebml:"Segment,size=unknown"`
}

var kvsEBMLHeader = ebmlHeaderElem{
	EBMLVersion:        1,
	EBMLReadVersion:    1,
	EBMLMaxIDLength:    4,
	EBMLMaxSizeLength:  8,
	DocType:            "matroska",
	DocTypeVersion:     2,
	DocTypeReadVersion: 2,
}

var ebmlHeaderBytes = sync.OnceValues(func() ([]byte, error) {
	var b bytes.Buffer
	err := ebml.Marshal(&struct {
		Header ebmlHeaderElem `ebml:"EBML"`
	}{kvsEBMLHeader}, &b)
	return b.Bytes(), err
})

// EBMLHeader returns the EBML header element WriteHeader and WriteRawHeader
// write (DocType "matroska", version 2).
func EBMLHeader() []byte {
	b, err := ebmlHeaderBytes()
	if err != nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// AppendSegmentStart appends the start of an unknown-size Segment.
func AppendSegmentStart(dst []byte) []byte {
	return AppendVint(AppendID(dst, IDSegment), UnknownSize)
}

// Writer writes the KVS producer layout of Matroska: an EBML header, an
// unknown-size Segment with Info and Tracks, then unknown-size Clusters of
// SimpleBlocks with level-1 Tags between them. The caller orders the calls;
// the Writer does not check the sequence. After a write error every call
// returns that error.
type Writer struct {
	w   io.Writer
	n   int64
	buf []byte
	err error
}

// NewWriter returns a Writer writing to w. Every element is passed to w in a
// single Write call.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w}
}

// Written returns the number of bytes written so far.
func (w *Writer) Written() int64 { return w.n }

func (w *Writer) write(b []byte) error {
	if w.err != nil {
		return w.err
	}
	n, err := w.w.Write(b)
	w.n += int64(n)
	if err != nil {
		w.err = fmt.Errorf("mkv: write at offset %d: %w", w.n, err)
	}
	return w.err
}

// WriteHeader writes the EBML header, the start of an unknown-size Segment,
// Info and Tracks. Track UIDs are the track numbers; CodecIDs follow the
// codecs (H.264, H.265, AAC, and A_MS/ACM for G.711 with a WAVEFORMATEX
// built when CodecPrivate is empty).
func (w *Writer) WriteHeader(info SegmentInfo, tracks []media.Track) error {
	entries := make([]TrackEntry, len(tracks))
	for i, t := range tracks {
		entries[i] = TrackEntry{Track: t}
	}
	return w.WriteHeaderEntries(info, entries)
}

// WriteHeaderEntries is WriteHeader with full track entries: CodecID,
// TrackUID, DefaultDuration, CodecDelay and SamplingFrequency are used when
// set.
func (w *Writer) WriteHeaderEntries(info SegmentInfo, tracks []TrackEntry) error {
	if w.err != nil {
		return w.err
	}
	head, err := headElements(info, tracks)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := ebml.Marshal(head, &b); err != nil {
		return fmt.Errorf("mkv: marshal header: %w", err)
	}
	return w.write(b.Bytes())
}

func headElements(info SegmentInfo, tracks []TrackEntry) (*streamHeadElem, error) {
	if n := len(info.SegmentUID); n != 0 && n != 16 {
		return nil, fmt.Errorf("mkv: SegmentUID has %d bytes, want 16", n)
	}
	if len(tracks) == 0 {
		return nil, errors.New("mkv: no tracks")
	}
	scale := info.TimecodeScale
	if scale == 0 {
		scale = DefaultTimecodeScale
	}
	head := &streamHeadElem{
		Header: kvsEBMLHeader,
		Segment: segmentHeadElem{
			Info: infoElem{
				SegmentUID:    info.SegmentUID,
				TimecodeScale: scale,
				Title:         info.Title,
				MuxingApp:     info.MuxingApp,
				WritingApp:    info.WritingApp,
			},
		},
	}
	seen := make(map[uint64]bool, len(tracks))
	for _, t := range tracks {
		e, err := trackElem(t)
		if err != nil {
			return nil, err
		}
		if seen[e.TrackNumber] {
			return nil, fmt.Errorf("mkv: track number %d used twice", e.TrackNumber)
		}
		seen[e.TrackNumber] = true
		head.Segment.Tracks.TrackEntry = append(head.Segment.Tracks.TrackEntry, e)
	}
	return head, nil
}

func trackElem(t TrackEntry) (trackEntryElem, error) {
	if t.Number == 0 || t.Number > MaxVint {
		return trackEntryElem{}, fmt.Errorf("mkv: bad track number %d", t.Number)
	}
	kind := t.Kind
	if kind == 0 {
		switch t.Codec {
		case media.CodecH264, media.CodecH265:
			kind = media.KindVideo
		case media.CodecAAC, media.CodecPCMA, media.CodecPCMU:
			kind = media.KindAudio
		}
	}
	trackType := t.TrackType
	if trackType == 0 {
		trackType = uint64(kind)
	}
	if trackType == 0 {
		return trackEntryElem{}, fmt.Errorf("mkv: track %d has no kind", t.Number)
	}
	codecID := t.CodecID
	if codecID == "" {
		codecID = CodecIDFor(t.Codec)
	}
	if codecID == "" {
		return trackEntryElem{}, fmt.Errorf("mkv: track %d: no Matroska CodecID for codec %q", t.Number, t.Codec)
	}
	uid := t.TrackUID
	if uid == 0 {
		uid = t.Number
	}
	e := trackEntryElem{
		TrackNumber:     t.Number,
		TrackUID:        uid,
		TrackType:       trackType,
		Name:            t.Name,
		CodecID:         codecID,
		CodecPrivate:    t.CodecPrivate,
		CodecDelay:      t.CodecDelay,
		DefaultDuration: t.DefaultDuration,
	}
	if codecID == CodecIDMSACM && len(e.CodecPrivate) == 0 && (t.Codec == media.CodecPCMA || t.Codec == media.CodecPCMU) {
		e.CodecPrivate = waveFormatEx(t.Codec, t.SampleRate, t.Channels)
	}
	switch kind {
	case media.KindVideo:
		if t.Width < 0 || t.Height < 0 {
			return trackEntryElem{}, fmt.Errorf("mkv: track %d: bad size %dx%d", t.Number, t.Width, t.Height)
		}
		e.Video = &videoElem{PixelWidth: uint64(t.Width), PixelHeight: uint64(t.Height)}
	case media.KindAudio:
		freq := t.SamplingFrequency
		if freq == 0 {
			freq = float64(t.SampleRate)
		}
		if freq < 0 || math.IsNaN(freq) || t.Channels < 0 {
			return trackEntryElem{}, fmt.Errorf("mkv: track %d: bad audio format %v Hz, %d channels", t.Number, freq, t.Channels)
		}
		ch := uint64(t.Channels)
		if ch == 0 {
			ch = 1
		}
		e.Audio = &audioElem{SamplingFrequency: freq, Channels: ch}
	}
	return e, nil
}

// WriteRawHeader writes the EBML header and the start of an unknown-size
// Segment followed by already-encoded Info and Tracks elements (as found in
// Event.Raw). Each must be exactly one whole element of its kind.
func (w *Writer) WriteRawHeader(rawInfo, rawTracks []byte) error {
	if w.err != nil {
		return w.err
	}
	if err := checkWhole(rawInfo, IDInfo); err != nil {
		return err
	}
	if err := checkWhole(rawTracks, IDTracks); err != nil {
		return err
	}
	hdr, err := ebmlHeaderBytes()
	if err != nil {
		return fmt.Errorf("mkv: marshal EBML header: %w", err)
	}
	b := append(w.buf[:0], hdr...)
	b = AppendSegmentStart(b)
	b = append(b, rawInfo...)
	b = append(b, rawTracks...)
	w.buf = b
	return w.write(b)
}

// checkWhole verifies that b is exactly one element with the given ID.
func checkWhole(b []byte, id uint32) error {
	c := children{b: b}
	if !c.next() {
		if c.err != nil {
			return fmt.Errorf("mkv: raw element 0x%X: %w", id, c.err)
		}
		return formatErr(0, "raw element 0x%X is empty", id)
	}
	if c.id != id || c.pos != len(b) {
		return formatErr(0, "raw data is not one whole element 0x%X", id)
	}
	return nil
}

// StartCluster starts an unknown-size Cluster with the given Timecode (in
// timecode units). The cluster lasts until the next Cluster, Tags or header.
func (w *Writer) StartCluster(timecode int64) error {
	if w.err != nil {
		return w.err
	}
	if timecode < 0 {
		return fmt.Errorf("mkv: negative cluster timecode %d", timecode)
	}
	b := AppendVint(AppendID(w.buf[:0], IDCluster), UnknownSize)
	b = AppendUint(b, IDTimecode, uint64(timecode))
	w.buf = b
	return w.write(b)
}

// WriteBlock writes one frame as a SimpleBlock (no lacing) with the key-frame
// flag when key is set. It allocates nothing once its buffer has grown to
// the frame size.
func (w *Writer) WriteBlock(track uint64, relTimecode int16, key bool, data []byte) error {
	if w.err != nil {
		return w.err
	}
	if track == 0 || track > MaxVint {
		return fmt.Errorf("mkv: bad track number %d", track)
	}
	w.buf = AppendSimpleBlock(w.buf[:0], track, relTimecode, key, data)
	return w.write(w.buf)
}

// WriteTags writes a level-1 Tags element: Tags > Tag > SimpleTag*.
func (w *Writer) WriteTags(tags []Tag) error {
	if w.err != nil {
		return w.err
	}
	w.buf = AppendTags(w.buf[:0], tags)
	return w.write(w.buf)
}

// WriteRaw writes already-encoded bytes unchanged.
func (w *Writer) WriteRaw(b []byte) error {
	return w.write(b)
}

// AppendSimpleBlock appends a SimpleBlock element carrying one frame.
func AppendSimpleBlock(dst []byte, track uint64, relTimecode int16, key bool, data []byte) []byte {
	return append(AppendSimpleBlockHeader(dst, track, relTimecode, key, len(data)), data...)
}

// AppendSimpleBlockHeader appends what AppendSimpleBlock writes before the
// frame (ID, size, track, timecode, flags) for a frame of frameSize bytes,
// for callers that send the frame's bytes separately, without copying them.
func AppendSimpleBlockHeader(dst []byte, track uint64, relTimecode int16, key bool, frameSize int) []byte {
	size := uint64(VintSize(track)) + 3 + uint64(frameSize)
	dst = AppendID(dst, IDSimpleBlock)
	dst = AppendVint(dst, size)
	dst = AppendVint(dst, track)
	var flags byte
	if key {
		flags = 0x80
	}
	return append(dst, byte(uint16(relTimecode)>>8), byte(relTimecode), flags)
}

// AppendCluster appends a known-size Cluster holding a Timecode element and
// the given already-encoded children (SimpleBlock or BlockGroup elements).
// A negative timecode is written as 0.
func AppendCluster(dst []byte, timecode int64, children ...[]byte) []byte {
	tc := uint64(max(timecode, 0))
	size := uint64(2 + uintSize(tc))
	for _, c := range children {
		size += uint64(len(c))
	}
	dst = AppendID(dst, IDCluster)
	dst = AppendVint(dst, size)
	dst = AppendUint(dst, IDTimecode, tc)
	for _, c := range children {
		dst = append(dst, c...)
	}
	return dst
}

func elemSize(id uint32, body uint64) uint64 {
	return uint64(idSize(id)) + uint64(VintSize(body)) + body
}

func simpleTagBodySize(t *Tag) uint64 {
	n := elemSize(IDTagName, uint64(len(t.Name)))
	if t.Value != "" || t.Binary == nil {
		n += elemSize(IDTagString, uint64(len(t.Value)))
	}
	if t.Binary != nil {
		n += elemSize(IDTagBinary, uint64(len(t.Binary)))
	}
	return n
}

// AppendTags appends a level-1 Tags element holding one Tag with a
// SimpleTag (TagName, TagString and/or TagBinary) per entry. TagString is
// written unless only Binary is set.
func AppendTags(dst []byte, tags []Tag) []byte {
	var tagBody uint64
	for i := range tags {
		tagBody += elemSize(IDSimpleTag, simpleTagBodySize(&tags[i]))
	}
	dst = AppendID(dst, IDTags)
	dst = AppendVint(dst, elemSize(IDTag, tagBody))
	dst = AppendID(dst, IDTag)
	dst = AppendVint(dst, tagBody)
	for i := range tags {
		t := &tags[i]
		dst = AppendID(dst, IDSimpleTag)
		dst = AppendVint(dst, simpleTagBodySize(t))
		dst = AppendString(dst, IDTagName, t.Name)
		if t.Value != "" || t.Binary == nil {
			dst = AppendString(dst, IDTagString, t.Value)
		}
		if t.Binary != nil {
			dst = AppendElement(dst, IDTagBinary, t.Binary)
		}
	}
	return dst
}
