package device

import (
	"encoding/binary"
	"errors"

	"kvskit/media/h264"
	"kvskit/media/h265"
)

// pictureOrder reads the picture order count of each access unit of an
// Annex-B stream, in decoding order.
type pictureOrder interface {
	// next returns the order of the picture of au (length-prefixed NAL
	// units); skip says that the picture is not output by a decoder.
	next(au []byte) (order int64, newSeq, skip bool, err error)
	// depth returns the reordering depth of the latest picture's SPS, and
	// whether the SPS gives it.
	depth() (int, bool)
}

// eachNAL calls fn for each NAL unit of the length-prefixed access unit au
// until fn returns false.
func eachNAL(au []byte, fn func(nal []byte) bool) {
	for len(au) >= 4 {
		n := int(binary.BigEndian.Uint32(au))
		au = au[4:]
		if n > len(au) {
			return
		}
		if !fn(au[:n]) {
			return
		}
		au = au[n:]
	}
}

// h264Order reads H.264 picture order counts.
type h264Order struct {
	ps      h264.ParamSets
	poc     h264.POC
	reorder int
	known   bool
}

func (o *h264Order) next(au []byte) (order int64, newSeq, skip bool, err error) {
	var (
		sh  h264.SliceHeader
		sps *h264.SPS
		got bool
	)
	eachNAL(au, func(nal []byte) bool {
		switch t := h264.NALType(nal); t {
		case h264.NALUSPS, h264.NALUPPS:
			err = o.ps.Add(nal)
		case h264.NALUNonIDR, h264.NALUPartitionA, h264.NALUIDR:
			sh, sps, err = h264.ParseSliceHeader(nal, &o.ps)
			got = err == nil
			return false
		}
		return err == nil
	})
	if err != nil {
		return 0, false, false, err
	}
	if !got {
		return 0, false, false, errNoSlice
	}
	o.reorder, o.known = sps.ReorderFrames()
	p, err := o.poc.Next(sh, sps)
	if err != nil {
		return 0, false, false, err
	}
	return p.Order, p.NewSequence, false, nil
}

func (o *h264Order) depth() (int, bool) { return o.reorder, o.known }

// errNoSlice means an access unit holds no slice of the base layer.
var errNoSlice = errors.New("no slice of a primary coded picture")

// h265Order reads H.265 picture order counts.
type h265Order struct {
	ps      h265.ParamSets
	poc     h265.POC
	reorder int
}

func (o *h265Order) next(au []byte) (order int64, newSeq, skip bool, err error) {
	var (
		p   h265.Picture
		got bool
	)
	eachNAL(au, func(nal []byte) bool {
		h, herr := h265.ParseHeader(nal)
		if herr != nil || h.LayerID != 0 {
			return true
		}
		switch {
		case h.Type == h265.NALUSPS, h.Type == h265.NALUPPS:
			err = o.ps.Add(nal)
		case h.Type == h265.NALUEOS:
			o.poc.EndOfSequence()
		case h.Type.IsVCL() && !got:
			var (
				sh  h265.SliceHeader
				sps *h265.SPS
			)
			if sh, sps, err = h265.ParseSliceHeader(nal, &o.ps); err == nil {
				o.reorder = int(sps.MaxNumReorderPics())
				p, got = o.poc.Next(sh, sps), true
			}
		}
		return err == nil
	})
	if err != nil {
		return 0, false, false, err
	}
	if !got {
		return 0, false, false, errNoSlice
	}
	return p.Order, p.NewSequence, p.Skip, nil
}

func (o *h265Order) depth() (int, bool) { return o.reorder, true }

var (
	_ pictureOrder = (*h264Order)(nil)
	_ pictureOrder = (*h265Order)(nil)
)
