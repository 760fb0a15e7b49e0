package v4l2

import (
	"fmt"
	"image"
)

// frameLayout describes a raw picture in one buffer (single-planar formats,
// or the single plane of a multi-planar format): its pixel format, visible
// size, line pitch of the first plane and the buffer size the driver
// reported.
type frameLayout struct {
	pixfmt        uint32
	width, height int
	stride        int // bytesperline of the first plane
	sizeImage     int
	// planeRows is the format height the driver reported; when it exceeds
	// height it is the number of luma rows before the chroma of 4:2:0
	// planar formats, else that number is derived from sizeImage.
	planeRows int
}

// planeHeight is the number of luma rows before the chroma planes of a
// 4:2:0 planar layout. Drivers that align the height (the Raspberry Pi's
// codec pads to a multiple of 16) report it only through sizeimage.
func (l frameLayout) planeHeight() int {
	if l.planeRows > l.height {
		return l.planeRows
	}
	if l.stride <= 0 {
		return l.height
	}
	h := l.sizeImage * 2 / (l.stride * 3)
	if h < l.height || h > l.height+64 {
		return l.height
	}
	return h &^ 1
}

// minSize is the smallest buffer that can hold the picture.
func (l frameLayout) minSize() int {
	switch l.pixfmt {
	case pixYUYV, pixUYVY:
		return l.stride * l.height
	case pixNV12, pixI420:
		return l.stride*l.planeHeight() + l.stride*(l.height/2)
	}
	return 0
}

// check validates the layout against a buffer.
func (l frameLayout) check(n int) error {
	if l.width <= 0 || l.height <= 0 || l.width%2 != 0 || l.height%2 != 0 {
		return fmt.Errorf("v4l2: frame size %dx%d: %w", l.width, l.height, ErrUnsupportedFormat)
	}
	minStride := l.width
	if l.pixfmt == pixYUYV || l.pixfmt == pixUYVY {
		minStride = 2 * l.width
	}
	if l.stride < minStride {
		return fmt.Errorf("v4l2: %s line pitch %d below %d", fourccString(l.pixfmt), l.stride, minStride)
	}
	need := l.minSize()
	if need == 0 {
		return fmt.Errorf("v4l2: converting %s: %w", fourccString(l.pixfmt), ErrUnsupportedFormat)
	}
	if n < need {
		return fmt.Errorf("v4l2: %s %dx%d buffer has %d bytes, needs %d", fourccString(l.pixfmt), l.width, l.height, n, need)
	}
	return nil
}

// canConvert reports whether convertFrame handles src -> dst.
func canConvert(src, dst uint32) bool {
	switch src {
	case pixYUYV, pixUYVY, pixNV12, pixI420:
	default:
		return false
	}
	return dst == pixI420 || dst == pixNV12 || dst == src
}

// convertFrame writes the picture src (laid out as sl) into dst (laid out
// as dl), converting between the packed 4:2:2 and planar 4:2:0 formats.
// Both must have the same visible size.
func convertFrame(dst []byte, dl frameLayout, src []byte, sl frameLayout) error {
	if dl.width != sl.width || dl.height != sl.height {
		return fmt.Errorf("v4l2: converting %dx%d into %dx%d", sl.width, sl.height, dl.width, dl.height)
	}
	if !canConvert(sl.pixfmt, dl.pixfmt) {
		return fmt.Errorf("v4l2: converting %s to %s: %w", fourccString(sl.pixfmt), fourccString(dl.pixfmt), ErrUnsupportedFormat)
	}
	if err := sl.check(len(src)); err != nil {
		return err
	}
	if err := dl.check(len(dst)); err != nil {
		return err
	}
	w, h := sl.width, sl.height
	if sl.pixfmt == dl.pixfmt {
		rowBytes := w
		if sl.pixfmt == pixYUYV || sl.pixfmt == pixUYVY {
			rowBytes = 2 * w
		}
		for y := 0; y < h; y++ {
			copy(dst[y*dl.stride:y*dl.stride+rowBytes], src[y*sl.stride:])
		}
		if sl.pixfmt == pixYUYV || sl.pixfmt == pixUYVY {
			return nil
		}
		sc, dc := sl.stride*sl.planeHeight(), dl.stride*dl.planeHeight()
		if sl.pixfmt == pixNV12 {
			for y := 0; y < h/2; y++ {
				copy(dst[dc+y*dl.stride:dc+y*dl.stride+w], src[sc+y*sl.stride:])
			}
			return nil
		}
		scs, dcs := sl.stride/2, dl.stride/2
		for p := 0; p < 2; p++ {
			so, do := sc+p*scs*(h/2), dc+p*dcs*(h/2)
			for y := 0; y < h/2; y++ {
				copy(dst[do+y*dcs:do+y*dcs+w/2], src[so+y*scs:])
			}
		}
		return nil
	}
	// Luma.
	switch sl.pixfmt {
	case pixYUYV, pixUYVY:
		off := 0
		if sl.pixfmt == pixUYVY {
			off = 1
		}
		for y := 0; y < h; y++ {
			s := src[y*sl.stride:]
			d := dst[y*dl.stride : y*dl.stride+w]
			for x := range d {
				d[x] = s[2*x+off]
			}
		}
	default:
		for y := 0; y < h; y++ {
			copy(dst[y*dl.stride:y*dl.stride+w], src[y*sl.stride:])
		}
	}
	// Chroma: cb, cr samples at (x, y) of the 4:2:0 grid.
	var cb, cr func(x, y int) byte
	switch sl.pixfmt {
	case pixYUYV, pixUYVY:
		u, v := 1, 3
		if sl.pixfmt == pixUYVY {
			u, v = 0, 2
		}
		avg := func(x, y, o int) byte {
			a := int(src[2*y*sl.stride+4*x+o])
			b := int(src[(2*y+1)*sl.stride+4*x+o])
			return byte((a + b + 1) / 2)
		}
		cb = func(x, y int) byte { return avg(x, y, u) }
		cr = func(x, y int) byte { return avg(x, y, v) }
	case pixNV12:
		c := sl.stride * sl.planeHeight()
		cb = func(x, y int) byte { return src[c+y*sl.stride+2*x] }
		cr = func(x, y int) byte { return src[c+y*sl.stride+2*x+1] }
	case pixI420:
		c := sl.stride * sl.planeHeight()
		cs := sl.stride / 2
		c2 := c + cs*(h/2)
		cb = func(x, y int) byte { return src[c+y*cs+x] }
		cr = func(x, y int) byte { return src[c2+y*cs+x] }
	}
	dc := dl.stride * dl.planeHeight()
	if dl.pixfmt == pixNV12 {
		for y := 0; y < h/2; y++ {
			row := dst[dc+y*dl.stride:]
			for x := 0; x < w/2; x++ {
				row[2*x] = cb(x, y)
				row[2*x+1] = cr(x, y)
			}
		}
		return nil
	}
	dcs := dl.stride / 2
	dc2 := dc + dcs*(h/2)
	for y := 0; y < h/2; y++ {
		rb, rr := dst[dc+y*dcs:], dst[dc2+y*dcs:]
		for x := 0; x < w/2; x++ {
			rb[x] = cb(x, y)
			rr[x] = cr(x, y)
		}
	}
	return nil
}

// toYCbCr converts a raw picture into a new 4:2:0 image, as software
// encoders take it. The image's planes share one I420 buffer.
func toYCbCr(src []byte, sl frameLayout) (*image.YCbCr, error) {
	w, h := sl.width, sl.height
	dl := frameLayout{pixfmt: pixI420, width: w, height: h, stride: w}
	dl.sizeImage = dl.minSize()
	buf := make([]byte, dl.sizeImage)
	if err := convertFrame(buf, dl, src, sl); err != nil {
		return nil, err
	}
	ys, cs := w*h, (w/2)*(h/2)
	return &image.YCbCr{
		Y:              buf[:ys:ys],
		Cb:             buf[ys : ys+cs : ys+cs],
		Cr:             buf[ys+cs:],
		YStride:        w,
		CStride:        w / 2,
		SubsampleRatio: image.YCbCrSubsampleRatio420,
		Rect:           image.Rect(0, 0, w, h),
	}, nil
}
