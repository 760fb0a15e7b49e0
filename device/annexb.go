package device

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

	"kvskit/media"
	"kvskit/media/h264"
	"kvskit/media/h265"
)

// maxNALSize bounds the bytes held while looking for the end of a NAL unit.
const maxNALSize = 32 << 20

var startCode = []byte{0, 0, 1}

// nalSplitter cuts an Annex-B byte stream, written to it in pieces, into NAL
// units.
type nalSplitter struct {
	buf   []byte
	start int   // first byte not yet returned
	base  int64 // stream offset of buf[0]
}

// write appends the next piece of the stream.
func (s *nalSplitter) write(b []byte) {
	if s.start > 0 && (s.start >= len(s.buf)/2 || len(s.buf)+len(b) > cap(s.buf)) {
		n := copy(s.buf, s.buf[s.start:])
		s.buf = s.buf[:n]
		s.base += int64(s.start)
		s.start = 0
	}
	s.buf = append(s.buf, b...)
}

// pending returns the number of bytes not yet returned as NAL units.
func (s *nalSplitter) pending() int { return len(s.buf) - s.start }

// offset returns the stream offset of the next byte written.
func (s *nalSplitter) offset() int64 { return s.base + int64(len(s.buf)) }

// next returns the next NAL unit (valid until the next write) and the stream
// offset of its first byte, or nil when more input is needed. Unless final
// (the stream has ended), a unit is returned only once the start code after
// it has arrived.
func (s *nalSplitter) next(final bool) ([]byte, int64) {
	win := s.buf[s.start:]
	nal, rest := h264.NextNALU(win)
	if nal == nil {
		// No unit yet: keep the last start code, or what could begin one.
		switch i := bytes.LastIndex(win, startCode); {
		case final:
			s.start = len(s.buf)
		case i >= 0:
			s.start += i
		case len(win) > 2:
			s.start = len(s.buf) - 2
		}
		return nil, 0
	}
	if rest == nil && !final {
		return nil, 0
	}
	pos := s.base + int64(s.start+cap(win)-cap(nal))
	s.start = len(s.buf) - len(rest)
	return nal, pos
}

// accessUnit is one picture's NAL units in 4-byte length-prefixed form.
type accessUnit struct {
	data []byte
	key  bool
	pos  int64 // stream offset of its first NAL unit
}

// auAssembler groups NAL units into access units (see the package
// documentation for the rules).
type auAssembler struct {
	codec  media.Codec
	data   []byte
	pos    int64
	hasVCL bool
	key    bool
	hint   int // capacity for the next access unit
}

// add appends nal, which starts at stream offset pos, and returns the
// previous access unit when nal begins a new one.
func (a *auAssembler) add(nal []byte, pos int64) (au accessUnit, done bool) {
	if a.hasVCL && startsAccessUnit(a.codec, nal) {
		au, done = a.take(), true
	}
	if len(a.data) == 0 {
		a.pos = pos
		if a.data == nil {
			a.data = make([]byte, 0, max(a.hint, 4096))
		}
	}
	a.data = binary.BigEndian.AppendUint32(a.data, uint32(len(nal)))
	a.data = append(a.data, nal...)
	if a.codec == media.CodecH265 {
		t := h265.NALType(nal)
		a.hasVCL = a.hasVCL || t.IsVCL()
		a.key = a.key || t.IsIRAP()
	} else {
		t := h264.NALType(nal)
		a.hasVCL = a.hasVCL || t.IsVCL()
		a.key = a.key || t == h264.NALUIDR
	}
	return au, done
}

// flush returns the access unit in progress at the end of the stream, if
// it holds a picture.
func (a *auAssembler) flush() (accessUnit, bool) {
	if !a.hasVCL {
		a.data = a.data[:0]
		return accessUnit{}, false
	}
	return a.take(), true
}

func (a *auAssembler) take() accessUnit {
	au := accessUnit{data: a.data, key: a.key, pos: a.pos}
	a.hint = len(a.data) + len(a.data)/4
	a.data, a.hasVCL, a.key = nil, false, false
	return au
}

// startsAccessUnit reports whether nal begins a new access unit when the
// current one already holds a picture (H.264 7.4.1.2.3, H.265 7.4.2.4.4).
func startsAccessUnit(codec media.Codec, nal []byte) bool {
	if codec == media.CodecH265 {
		if len(nal) < 2 || (nal[0]&1)<<5|nal[1]>>3 != 0 { // nuh_layer_id
			return false
		}
		switch t := h265.NALType(nal); {
		case t.IsVCL():
			return len(nal) > 2 && nal[2]&0x80 != 0 // first_slice_segment_in_pic_flag
		case t >= h265.NALUVPS && t <= h265.NALUAUD, t == h265.NALUPrefixSEI,
			t >= 41 && t <= 44, t >= 48 && t <= 55:
			return true
		}
		return false
	}
	switch t := h264.NALType(nal); t {
	case h264.NALUAUD, h264.NALUSPS, h264.NALUPPS, h264.NALUSEI,
		h264.NALUPrefix, h264.NALUSubsetSPS, h264.NALUDPS, 17, 18:
		return true
	case h264.NALUNonIDR, h264.NALUPartitionA, h264.NALUIDR:
		return len(nal) > 1 && nal[1]&0x80 != 0 // first_mb_in_slice == 0
	}
	return false
}

// annexBDemuxer reads an H.264 or H.265 Annex-B elementary stream.
type annexBDemuxer struct {
	f     Format
	r     io.Reader
	log   *slog.Logger
	sp    nalSplitter
	asm   auAssembler
	info  trackInfo
	fps   float64
	n     int64
	eof   bool
	rbuf  []byte
	first *accessUnit

	// Output order: nil when the stream does not reorder pictures, so that
	// access units leave at once in decoding order.
	po      pictureOrder
	order   *media.OutputOrder[accessUnit]
	known   bool  // the SPS gives the reordering depth
	lastDTS int64 // ns
	hasDTS  bool
	ended   bool  // the input has ended and the order was flushed
	skipped int   // pictures not output (RASL of a starting CRA)
	warned  bool  // a picture came out of order
	base    int64 // frames before the pictures that order counts number
}

func newAnnexBDemuxer(r io.Reader, f Format, cfg *config) (*annexBDemuxer, error) {
	codec := media.CodecH264
	if f == FormatH265 {
		codec = media.CodecH265
	}
	d := &annexBDemuxer{f: f, r: r, log: cfg.log, asm: auAssembler{codec: codec}}
	au, err := d.nextAU()
	if err == io.EOF {
		return nil, errorf(f, ErrNoTracks, "no picture in the stream")
	}
	if err != nil {
		return nil, err
	}
	d.first = &au
	nalus, _ := h264.SplitAVCC(au.data)
	d.info.Kind, d.info.Codec = media.KindVideo, codec
	var rec []byte
	spsRate := 0.0
	if codec == media.CodecH264 {
		sps, pps := h264.ParameterSets(nalus)
		if len(sps) == 0 || len(pps) == 0 {
			return nil, errorf(f, ErrNoParameterSets, "no SPS/PPS before the first picture")
		}
		if rec, err = h264.BuildAVCC(sps, pps); err != nil {
			return nil, wrapf(f, ErrInvalid, err, "parameter sets of the first picture")
		}
		if s, err := h264.ParseSPS(sps[0]); err == nil {
			spsRate = s.FrameRate()
		}
	} else {
		vps, sps, pps := h265.ParameterSets(nalus)
		if len(vps) == 0 || len(sps) == 0 || len(pps) == 0 {
			return nil, errorf(f, ErrNoParameterSets, "no VPS/SPS/PPS before the first picture")
		}
		if rec, err = h265.BuildHVCC(vps, sps, pps); err != nil {
			return nil, wrapf(f, ErrInvalid, err, "parameter sets of the first picture")
		}
	}
	d.info.CodecPrivate = rec
	if codec == media.CodecH264 {
		d.po = &h264Order{}
	} else {
		d.po = &h265Order{}
	}
	queued, err := d.push(au)
	if err != nil {
		return nil, err
	}
	if queued {
		d.first = nil
	}
	switch {
	case cfg.fps > 0:
		d.fps = cfg.fps
	case spsRate > 0 && spsRate <= 1000:
		d.fps = spsRate
	default:
		d.fps = defaultFPS
	}
	return d, nil
}

func (d *annexBDemuxer) format() Format       { return d.f }
func (d *annexBDemuxer) tracks() []*trackInfo { return []*trackInfo{&d.info} }
func (d *annexBDemuxer) done(int) bool        { return false }
func (d *annexBDemuxer) close() error         { return nil }

func (d *annexBDemuxer) next() (packet, error) {
	if d.first != nil {
		au := *d.first
		d.first = nil
		return d.inDecodingOrder(au), nil
	}
	for {
		if d.order != nil {
			if p, ok := d.order.Pop(); ok {
				return d.timed(p), nil
			}
		}
		if d.ended {
			if d.skipped > 0 {
				d.log.Warn("device: left out pictures that cannot be decoded: RASL pictures of the CRA picture that starts the stream, whose references precede it",
					"format", d.f, "pictures", d.skipped)
				d.skipped = 0
			}
			return packet{}, io.EOF
		}
		au, err := d.nextAU()
		if err == io.EOF {
			d.ended = true
			if d.order != nil {
				d.order.Flush()
			}
			continue
		}
		if err != nil {
			return packet{}, err
		}
		if d.po == nil && d.announcesReordering(au.data) {
			// A new SPS that allows reordering (streams joined one after
			// the other): the pictures from here on are ordered.
			if d.info.Codec == media.CodecH264 {
				d.po = &h264Order{}
			} else {
				d.po = &h265Order{}
			}
			d.order, d.base = nil, d.n
		}
		queued, err := d.push(au)
		if err != nil {
			return packet{}, err
		}
		if !queued {
			return d.inDecodingOrder(au), nil
		}
	}
}

// announcesReordering reports whether the access unit au holds an SPS that
// does not rule out reordering.
func (d *annexBDemuxer) announcesReordering(au []byte) bool {
	found := false
	eachNAL(au, func(nal []byte) bool {
		if d.info.Codec == media.CodecH264 {
			if h264.NALType(nal) == h264.NALUSPS {
				if s, err := h264.ParseSPS(nal); err == nil {
					n, ok := s.ReorderFrames()
					found = !ok || n > 0
				}
			}
		} else if h265.NALType(nal) == h265.NALUSPS {
			if s, err := h265.ParseSPS(nal); err == nil {
				found = s.MaxNumReorderPics() > 0
			}
		}
		return !found
	})
	return found
}

// push reads the picture order of au and queues it, or leaves it out (a
// picture that is not output); queued is false when au goes out at once in
// decoding order: the SPS says that the stream does not reorder, and the
// slice headers are not read further.
func (d *annexBDemuxer) push(au accessUnit) (queued bool, err error) {
	if d.po == nil {
		return false, nil
	}
	order, newSeq, skip, err := d.po.next(au.data)
	if err != nil {
		if errors.Is(err, h264.ErrFieldPicture) {
			return false, wrapf(d.f, ErrUnsupported, err, "picture at offset %d", au.pos)
		}
		return false, wrapf(d.f, ErrInvalid, err, "picture order of the picture at offset %d", au.pos)
	}
	if d.order == nil {
		depth, known := d.po.depth()
		if known && depth == 0 {
			// Output order is decoding order.
			d.po = nil
			return false, nil
		}
		if !known {
			depth = media.MaxReorderFrames
		}
		d.known = known
		d.order = media.NewOutputOrder[accessUnit](depth)
	}
	if skip {
		d.skipped++
		return true, nil
	}
	if newSeq {
		// A new sequence may come with an SPS of another depth.
		depth, known := d.po.depth()
		if !known {
			depth = media.MaxReorderFrames
		}
		d.known = known
		d.order.SetDepth(depth)
	}
	late := d.order.Late()
	d.order.Push(order, newSeq, au)
	if d.order.Late() > late && !d.warned {
		d.warned = true
		d.log.Warn("device: the stream reorders pictures more deeply than its SPS says: some pictures are out of order",
			"format", d.f, "offset", au.pos, "depth", d.order.Depth())
	}
	return true, nil
}

// inDecodingOrder returns the packet of the next access unit of a stream
// whose output order is its decoding order.
func (d *annexBDemuxer) inDecodingOrder(au accessUnit) packet {
	p := d.timed(media.Ordered[accessUnit]{Value: au, Decode: d.n - d.base, Output: d.n - d.base})
	d.n++
	return p
}

// timed returns the packet of an access unit with its timestamps: the PTS
// from its position in output order, the DTS from its position in decoding
// order less the reordering depth (the SPS's, else the deepest reordering
// seen), at least a millisecond after the previous DTS and never after the
// PTS.
func (d *annexBDemuxer) timed(p media.Ordered[accessUnit]) packet {
	depth := 0
	if d.order != nil {
		depth = d.order.Measured()
		if d.known {
			depth = d.order.Depth()
		}
	}
	pts := d.at(d.base + p.Output)
	dts := d.at(d.base + p.Decode - int64(depth))
	if d.hasDTS && dts <= d.lastDTS {
		// The depth grew (measured, or a stream with B-frames joined to
		// one without): DTS catches up in steps of a millisecond.
		dts = d.lastDTS + int64(time.Millisecond)
	}
	dts = min(dts, pts)
	d.lastDTS, d.hasDTS = dts, true
	return packet{pts: pts, dts: dts, key: p.Value.key, data: p.Value.data}
}

// at returns the time of the n-th frame at the stream's frame rate.
func (d *annexBDemuxer) at(n int64) int64 {
	return int64(math.Round(float64(n) * 1e9 / d.fps))
}

// nextAU reads until an access unit is complete.
func (d *annexBDemuxer) nextAU() (accessUnit, error) {
	for {
		if nal, pos := d.sp.next(d.eof); nal != nil {
			if au, ok := d.asm.add(nal, pos); ok {
				return au, nil
			}
			continue
		}
		if d.eof {
			if au, ok := d.asm.flush(); ok {
				return au, nil
			}
			return accessUnit{}, io.EOF
		}
		if d.sp.pending() > maxNALSize {
			return accessUnit{}, errorf(d.f, ErrTooLarge, "no start code within %d bytes at offset %d", maxNALSize, d.sp.offset()-int64(d.sp.pending()))
		}
		if d.rbuf == nil {
			d.rbuf = make([]byte, readBufferSize)
		}
		n, err := d.r.Read(d.rbuf)
		d.sp.write(d.rbuf[:n])
		if err == io.EOF {
			d.eof = true
		} else if err != nil {
			return accessUnit{}, fmt.Errorf("device: %s: reading at offset %d: %w", d.f, d.sp.offset(), err)
		}
	}
}
