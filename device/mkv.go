package device

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"kvskit/media"
	"kvskit/media/aac"
	"kvskit/media/h264"
	"kvskit/media/h265"
	"kvskit/mkv"
)

// mkvTrack is a Matroska track being read.
type mkvTrack struct {
	idx        int
	info       *trackInfo
	lengthSize int   // NAL unit length size of video samples
	frameDur   int64 // ns between laced frames
	dts        *media.DTSDeriver[packet]
}

// mkvDemuxer reads Matroska and WebM through mkv.Reader.
type mkvDemuxer struct {
	pool    *media.BufferPool // where frame buffers come from
	r       *mkv.Reader
	log     *slog.Logger
	infos   []*trackInfo
	byNum   map[uint64]*mkvTrack
	cluster int64
	scale   int64
	out     packetQueue // packets ready to be returned
	eof     bool
	badData int
	raw     []byte // pooled buffer the block being read went into, or nil
}

// blockSpaceMin is the size from which a block is read into a pooled
// buffer of its own (blockSpace); smaller ones, audio frames above all, are
// copied out of the Reader's buffer.
const blockSpaceMin = 8 << 10

// blockSpace gives the Reader a pooled buffer to read a large block into:
// the block's only frame then becomes the packet's data without a copy.
func (d *mkvDemuxer) blockSpace(n int) []byte {
	d.putRaw()
	if n < blockSpaceMin {
		return nil
	}
	d.raw = d.pool.Get(n)
	return d.raw
}

// putRaw gives the block buffer back unless a packet took it.
func (d *mkvDemuxer) putRaw() {
	if d.raw != nil {
		d.pool.Put(d.raw)
		d.raw = nil
	}
}

func newMKVDemuxer(r io.Reader, cfg *config) (*mkvDemuxer, error) {
	d := &mkvDemuxer{log: cfg.log, pool: cfg.pool, byNum: map[uint64]*mkvTrack{}, scale: mkv.DefaultTimecodeScale}
	d.r = mkv.NewReader(r, mkv.WithBlockSpace(d.blockSpace))
	for {
		ev, err := d.r.Next()
		if err == io.EOF {
			return nil, errorf(FormatMKV, ErrNoTracks, "no Tracks element before the end of the stream")
		}
		if err != nil {
			return nil, mkvError(err)
		}
		switch ev.Type {
		case mkv.EventInfo:
			d.setScale(ev.Info.TimecodeScale)
		case mkv.EventClusterStart, mkv.EventBlock:
			return nil, errorf(FormatMKV, ErrInvalid, "cluster at offset %d before the Tracks element", ev.Offset)
		case mkv.EventTracks:
			if err := d.setTracks(ev.Tracks); err != nil {
				return nil, err
			}
			return d, nil
		}
	}
}

func mkvError(err error) error {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return wrapf(FormatMKV, ErrTruncated, err, "truncated")
	case errors.Is(err, mkv.ErrElementTooLarge):
		return wrapf(FormatMKV, ErrTooLarge, err, "too large")
	case errors.Is(err, mkv.ErrInvalid):
		return wrapf(FormatMKV, ErrInvalid, err, "malformed")
	}
	return fmt.Errorf("device: mkv: %w", err)
}

func (d *mkvDemuxer) setScale(s uint64) {
	if s == 0 || s > 1e12 {
		s = mkv.DefaultTimecodeScale
	}
	d.scale = int64(s)
}

// setTracks takes the supported tracks of a Tracks element.
func (d *mkvDemuxer) setTracks(entries []mkv.TrackEntry) error {
	var skipped []string
	for _, e := range entries {
		t := e.ToMedia()
		if t.Codec == "" {
			t.Codec = mkv.CodecFromID(e.CodecID, e.CodecPrivate)
		}
		kind := media.KindAudio
		switch t.Codec {
		case media.CodecH264, media.CodecH265:
			kind = media.KindVideo
		case media.CodecAAC, media.CodecPCMA, media.CodecPCMU:
		default:
			skipped = append(skipped, fmt.Sprintf("%d (%s)", e.Number, e.CodecID))
			continue
		}
		if _, dup := d.byNum[e.Number]; dup {
			continue
		}
		t.Kind = kind
		mt := &mkvTrack{idx: len(d.infos), info: &trackInfo{Track: t}}
		switch t.Codec {
		case media.CodecH264, media.CodecH265:
			mt.lengthSize = 4
			if err := mt.videoConfig(); err != nil {
				return err
			}
			mt.dts = media.NewDTSDeriver[packet](media.MaxReorderFrames)
			mt.frameDur = int64(e.DefaultDuration)
		case media.CodecAAC:
			if len(t.CodecPrivate) == 0 {
				mt.info.CodecPrivate = aacConfigFromCodecID(e.CodecID, t.SampleRate, t.Channels)
			}
			if c, err := aac.ParseAudioSpecificConfig(mt.info.CodecPrivate); err == nil && c.SampleRate() > 0 {
				mt.frameDur = int64(c.FrameDuration())
			}
		default:
			mt.frameDur = int64(e.DefaultDuration)
		}
		d.byNum[e.Number] = mt
		d.infos = append(d.infos, mt.info)
	}
	if len(skipped) > 0 {
		d.log.Warn("device: skipping Matroska tracks of unsupported codecs", "tracks", strings.Join(skipped, ", "))
	}
	if len(d.infos) == 0 {
		return errorf(FormatMKV, ErrNoTracks, "no H.264, H.265, AAC or G.711 track (found %s)", strings.Join(skipped, ", "))
	}
	return nil
}

// videoConfig checks a video track's CodecPrivate, converting one stored as
// Annex-B parameter sets to a decoder configuration record and noting the
// NAL unit length size.
func (t *mkvTrack) videoConfig() error {
	cp := t.info.CodecPrivate
	if len(cp) == 0 {
		return nil // completed from the stream
	}
	if hasStartCode(cp) {
		t.info.CodecPrivate = nil
		if t.info.resolve(h264.AnnexBToAVCC(nil, cp)) {
			return nil
		}
		return errorf(FormatMKV, ErrInvalid, "track %d: CodecPrivate holds Annex-B data without complete parameter sets", t.info.Number)
	}
	var err error
	if t.info.Codec == media.CodecH264 {
		var c h264.AVCConfig
		if c, err = h264.ParseAVCC(cp); err == nil {
			t.lengthSize = c.NALULengthSize
			if c.NALULengthSize != 4 {
				c.NALULengthSize = 4
				t.info.CodecPrivate, err = c.Marshal()
			}
		}
	} else {
		var c h265.HEVCConfig
		if c, err = h265.ParseHVCC(cp); err == nil {
			t.lengthSize = c.NALULengthSize
			if c.NALULengthSize != 4 {
				c.NALULengthSize = 4
				t.info.CodecPrivate, err = c.Marshal()
			}
		}
	}
	if err != nil {
		return wrapf(FormatMKV, ErrInvalid, err, "track %d CodecPrivate", t.info.Number)
	}
	return nil
}

// aacConfigFromCodecID builds the AudioSpecificConfig of the old A_AAC/...
// codec IDs that carry no CodecPrivate.
func aacConfigFromCodecID(id string, rate, channels int) []byte {
	c := aac.AudioSpecificConfig{ObjectType: aac.ObjectTypeAACLC, ChannelConfig: uint8(channels)}
	switch {
	case strings.HasSuffix(id, "/MAIN"):
		c.ObjectType = aac.ObjectTypeAACMain
	case strings.HasSuffix(id, "/SSR"):
		c.ObjectType = aac.ObjectTypeAACSSR
	case strings.HasSuffix(id, "/LTP"):
		c.ObjectType = aac.ObjectTypeAACLTP
	}
	if rate <= 0 || channels <= 0 || channels > 7 {
		return nil
	}
	if i, ok := aac.FrequencyIndex(rate); ok {
		c.FrequencyIndex = i
	} else {
		c.FrequencyIndex, c.Frequency = aac.FrequencyIndexExplicit, uint32(rate)
	}
	return c.Marshal()
}

func (d *mkvDemuxer) format() Format       { return FormatMKV }
func (d *mkvDemuxer) tracks() []*trackInfo { return d.infos }
func (d *mkvDemuxer) done(int) bool        { return false }
func (d *mkvDemuxer) close() error         { return nil }

func (d *mkvDemuxer) next() (packet, error) {
	for {
		if p, ok := d.out.pop(); ok {
			return p, nil
		}
		if d.eof {
			return packet{}, io.EOF
		}
		ev, err := d.r.Next()
		if err == io.EOF {
			d.eof = true
			for _, t := range d.byNum {
				if t.dts != nil {
					t.dts.Flush()
					t.popDerived(&d.out)
				}
			}
			continue
		}
		if err != nil {
			d.putRaw()
			return packet{}, mkvError(err)
		}
		switch ev.Type {
		case mkv.EventInfo:
			d.setScale(ev.Info.TimecodeScale)
		case mkv.EventTracks:
			d.checkTracks(ev.Tracks)
		case mkv.EventClusterStart:
			d.cluster = ev.Timecode
		case mkv.EventBlock:
			d.block(&ev.Block)
			d.putRaw()
		}
	}
}

// checkTracks compares the Tracks of a later segment with the first.
func (d *mkvDemuxer) checkTracks(entries []mkv.TrackEntry) {
	for _, e := range entries {
		t := d.byNum[e.Number]
		if t == nil {
			continue
		}
		if c := mkv.CodecFromID(e.CodecID, e.CodecPrivate); c != t.info.Codec {
			d.log.Warn("device: Matroska track changed codec in a later segment; its blocks are ignored",
				"track", e.Number, "from", t.info.Codec, "to", c)
			delete(d.byNum, e.Number)
		}
	}
}

// block turns the frames of a block into packets.
func (d *mkvDemuxer) block(b *mkv.Block) {
	t := d.byNum[b.Track]
	if t == nil {
		return
	}
	base := (d.cluster + int64(b.Timecode)) * d.scale
	for i, f := range b.Frames {
		ts := base + int64(i)*t.frameDur
		p := packet{track: t.idx, pts: ts, dts: ts, key: b.Key}
		if t.dts != nil {
			var data []byte
			ok := true
			if d.raw != nil && len(b.Frames) == 1 && t.lengthSize == 4 && validAVCC(f) {
				data, d.raw = f, nil // read into a buffer of its own: take it
			} else {
				data, ok = videoPayload(d.pool, f, t.lengthSize)
			}
			if !ok {
				d.badData++
				if d.badData == 1 {
					d.log.Warn("device: dropping a Matroska video frame that is neither length-prefixed nor Annex-B",
						"track", b.Track, "size", len(f))
				}
				continue
			}
			p.data = data
			t.dts.Push(time.Duration(p.pts), p)
			t.popDerived(&d.out)
			continue
		}
		p.data = d.pool.Clone(f)
		d.out.push(p)
	}
}

// popDerived queues the video packets whose DTS the track's deriver
// assigned, as the package documentation describes.
func (t *mkvTrack) popDerived(out *packetQueue) {
	for f, ok := t.dts.Pop(); ok; f, ok = t.dts.Pop() {
		p := f.Value
		p.dts = int64(f.DTS)
		out.push(p)
	}
}
