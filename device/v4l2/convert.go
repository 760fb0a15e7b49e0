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
	return i420Image(buf, w, h), nil
}

// canConvertImage reports whether convertImage can write dst.
func canConvertImage(dst uint32) bool {
	return dst == pixI420 || dst == pixNV12 || dst == pixYUYV || dst == pixUYVY
}

// limitedRange maps full-range samples (JPEG's, 0..255) to the limited
// range H.264 encoders assume: luma 16..235, chroma 16..240.
var limitedRange = func() (t [2][256]byte) {
	for v := range 256 {
		t[0][v] = byte(16 + (v*219+127)/255)
		t[1][v] = byte(16 + (v*224+127)/255)
	}
	return t
}()

// convertImage writes img, a picture decoded by
// github.com/pion/mediadevices/pkg/frame (an *image.YCbCr of any chroma
// subsampling, or an *image.Gray for grayscale JPEG), into dst laid out as
// dl (I420, NV12, YUYV or UYVY). Chroma is averaged over the samples each
// destination sample covers. fullRange scales the samples from the full
// range of JPEG to the limited range of video.
func convertImage(dst []byte, dl frameLayout, img image.Image, fullRange bool) error {
	if !canConvertImage(dl.pixfmt) {
		return fmt.Errorf("v4l2: converting a picture to %s: %w", fourccString(dl.pixfmt), ErrUnsupportedFormat)
	}
	b := img.Bounds()
	if b.Dx() != dl.width || b.Dy() != dl.height {
		return fmt.Errorf("v4l2: picture is %dx%d, the encoder takes %dx%d", b.Dx(), b.Dy(), dl.width, dl.height)
	}
	if err := dl.check(len(dst)); err != nil {
		return err
	}
	var yRow func(y int) []byte // the w luma samples of line y
	// cAt returns the mean Cb and Cr over the w x h luma block at (x, y).
	var cAt func(x, y, w, h int) (byte, byte)
	switch m := img.(type) {
	case *image.YCbCr:
		yRow = func(y int) []byte { return m.Y[m.YOffset(b.Min.X, b.Min.Y+y):][:dl.width] }
		cAt = ycbcrChroma(m)
	case *image.Gray:
		yRow = func(y int) []byte { return m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:dl.width] }
		cAt = func(int, int, int, int) (byte, byte) { return 128, 128 }
	default:
		return fmt.Errorf("v4l2: converting a %T picture: %w", img, ErrUnsupportedFormat)
	}
	ly, lc := func(v byte) byte { return v }, func(v byte) byte { return v }
	if fullRange {
		ly = func(v byte) byte { return limitedRange[0][v] }
		lc = func(v byte) byte { return limitedRange[1][v] }
	}
	w, h := dl.width, dl.height
	switch dl.pixfmt {
	case pixYUYV, pixUYVY:
		yo, co := 0, 1
		if dl.pixfmt == pixUYVY {
			yo, co = 1, 0
		}
		for y := 0; y < h; y++ {
			row, sy := dst[y*dl.stride:], yRow(y)
			for x := 0; x < w; x += 2 {
				cb, cr := cAt(x, y, 2, 1)
				row[2*x+yo] = ly(sy[x])
				row[2*x+2+yo] = ly(sy[x+1])
				row[2*x+co] = lc(cb)
				row[2*x+2+co] = lc(cr)
			}
		}
		return nil
	}
	for y := 0; y < h; y++ {
		row, sy := dst[y*dl.stride:y*dl.stride+w], yRow(y)
		if !fullRange {
			copy(row, sy)
			continue
		}
		for x, v := range sy {
			row[x] = limitedRange[0][v]
		}
	}
	dc := dl.stride * dl.planeHeight()
	if dl.pixfmt == pixNV12 {
		for y := 0; y < h/2; y++ {
			row := dst[dc+y*dl.stride:]
			for x := 0; x < w/2; x++ {
				cb, cr := cAt(2*x, 2*y, 2, 2)
				row[2*x], row[2*x+1] = lc(cb), lc(cr)
			}
		}
		return nil
	}
	dcs := dl.stride / 2
	dc2 := dc + dcs*(h/2)
	for y := 0; y < h/2; y++ {
		rb, rr := dst[dc+y*dcs:], dst[dc2+y*dcs:]
		for x := 0; x < w/2; x++ {
			cb, cr := cAt(2*x, 2*y, 2, 2)
			rb[x], rr[x] = lc(cb), lc(cr)
		}
	}
	return nil
}

// ycbcrChroma returns the chroma sampler of m: the rounded mean of the
// distinct chroma samples that the w x h luma block at (x, y) (relative to
// m.Rect.Min; x and y even, w and h 1 or 2) covers.
func ycbcrChroma(m *image.YCbCr) func(x, y, w, h int) (byte, byte) {
	x0, y0 := m.Rect.Min.X, m.Rect.Min.Y
	if x0 == 0 && y0 == 0 {
		switch m.SubsampleRatio {
		case image.YCbCrSubsampleRatio420:
			return func(x, y, w, h int) (byte, byte) {
				i := (y/2)*m.CStride + x/2
				return m.Cb[i], m.Cr[i]
			}
		case image.YCbCrSubsampleRatio422:
			return func(x, y, w, h int) (byte, byte) {
				i := y*m.CStride + x/2
				if h == 1 {
					return m.Cb[i], m.Cr[i]
				}
				j := i + m.CStride
				return byte((int(m.Cb[i]) + int(m.Cb[j]) + 1) / 2), byte((int(m.Cr[i]) + int(m.Cr[j]) + 1) / 2)
			}
		}
	}
	// Any subsampling: average the distinct samples under the block.
	return func(x, y, w, h int) (byte, byte) {
		var offs [4]int
		n := 0
		for dy := 0; dy < h; dy++ {
			for dx := 0; dx < w; dx++ {
				o := m.COffset(x0+x+dx, y0+y+dy)
				dup := false
				for _, p := range offs[:n] {
					dup = dup || p == o
				}
				if !dup {
					offs[n] = o
					n++
				}
			}
		}
		var sb, sr int
		for _, o := range offs[:n] {
			sb += int(m.Cb[o])
			sr += int(m.Cr[o])
		}
		return byte((sb + n/2) / n), byte((sr + n/2) / n)
	}
}

// imageToYCbCr converts a decoded picture into a new 4:2:0 image in one I420
// buffer, as software encoders take it.
func imageToYCbCr(img image.Image, fullRange bool) (*image.YCbCr, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 || w%2 != 0 || h%2 != 0 {
		return nil, fmt.Errorf("v4l2: picture size %dx%d: %w", w, h, ErrUnsupportedFormat)
	}
	dl := frameLayout{pixfmt: pixI420, width: w, height: h, stride: w}
	dl.sizeImage = dl.minSize()
	buf := make([]byte, dl.sizeImage)
	if err := convertImage(buf, dl, img, fullRange); err != nil {
		return nil, err
	}
	return i420Image(buf, w, h), nil
}

// i420Image is the image.YCbCr view of a tight I420 buffer.
func i420Image(buf []byte, w, h int) *image.YCbCr {
	ys, cs := w*h, (w/2)*(h/2)
	return &image.YCbCr{
		Y:              buf[:ys:ys],
		Cb:             buf[ys : ys+cs : ys+cs],
		Cr:             buf[ys+cs : ys+2*cs],
		YStride:        w,
		CStride:        w / 2,
		SubsampleRatio: image.YCbCrSubsampleRatio420,
		Rect:           image.Rect(0, 0, w, h),
	}
}
