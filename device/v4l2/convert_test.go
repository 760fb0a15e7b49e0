package v4l2

import (
	"bytes"
	"errors"
	"testing"
)

// yuyvFrame builds a YUYV picture whose samples follow from their position:
// Y = 10 + x + 20*y, U = 100 + x/2 + 7*y, V = 200 - x/2 - 3*y, with pad
// bytes of 0xEE at the end of each line.
func yuyvFrame(w, h, stride int) []byte {
	b := bytes.Repeat([]byte{0xEE}, stride*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x += 2 {
			o := y*stride + 2*x
			b[o] = byte(10 + x + 20*y)
			b[o+1] = byte(100 + x/2 + 7*y)
			b[o+2] = byte(10 + x + 1 + 20*y)
			b[o+3] = byte(200 - x/2 - 3*y)
		}
	}
	return b
}

func TestConvertYUYV(t *testing.T) {
	const w, h, sstride = 8, 4, 20
	src := yuyvFrame(w, h, sstride)
	sl := frameLayout{pixfmt: pixYUYV, width: w, height: h, stride: sstride, sizeImage: len(src)}
	wantY := func(x, y int) byte { return byte(10 + x + 20*y) }
	// 4:2:0 chroma averages the two lines: U rows 2y and 2y+1.
	wantU := func(x, y int) byte { return byte((2*(100+x) + 7*(2*y) + 7*(2*y+1) + 1) / 2) }
	wantV := func(x, y int) byte { return byte((2*(200-x) - 3*(2*y) - 3*(2*y+1) + 1) / 2) }

	// I420 with a wider stride and two padded rows before the chroma.
	const dstride, rows = 12, h + 2
	dl := frameLayout{pixfmt: pixI420, width: w, height: h, stride: dstride, planeRows: rows}
	dl.sizeImage = dl.minSize()
	dst := make([]byte, dl.sizeImage)
	if err := convertFrame(dst, dl, src, sl); err != nil {
		t.Fatal(err)
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if dst[y*dstride+x] != wantY(x, y) {
				t.Fatalf("I420 Y(%d,%d) = %d, want %d", x, y, dst[y*dstride+x], wantY(x, y))
			}
		}
	}
	cb, cr := dstride*rows, dstride*rows+dstride/2*h/2
	for y := 0; y < h/2; y++ {
		for x := 0; x < w/2; x++ {
			if u := dst[cb+y*dstride/2+x]; u != wantU(x, y) {
				t.Fatalf("I420 U(%d,%d) = %d, want %d", x, y, u, wantU(x, y))
			}
			if v := dst[cr+y*dstride/2+x]; v != wantV(x, y) {
				t.Fatalf("I420 V(%d,%d) = %d, want %d", x, y, v, wantV(x, y))
			}
		}
	}

	// NV12, then back to I420: the same samples.
	nl := frameLayout{pixfmt: pixNV12, width: w, height: h, stride: w}
	nl.sizeImage = nl.minSize()
	nv := make([]byte, nl.sizeImage)
	if err := convertFrame(nv, nl, src, sl); err != nil {
		t.Fatal(err)
	}
	for y := 0; y < h/2; y++ {
		for x := 0; x < w/2; x++ {
			if nv[w*h+y*w+2*x] != wantU(x, y) || nv[w*h+y*w+2*x+1] != wantV(x, y) {
				t.Fatalf("NV12 chroma (%d,%d) = %d,%d", x, y, nv[w*h+y*w+2*x], nv[w*h+y*w+2*x+1])
			}
		}
	}
	il := frameLayout{pixfmt: pixI420, width: w, height: h, stride: w}
	il.sizeImage = il.minSize()
	a := make([]byte, il.sizeImage)
	b := make([]byte, il.sizeImage)
	if err := convertFrame(a, il, src, sl); err != nil {
		t.Fatal(err)
	}
	if err := convertFrame(b, il, nv, nl); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("YUYV->I420 and YUYV->NV12->I420 differ")
	}
	// I420 -> NV12 -> I420 is exact.
	nv2 := make([]byte, nl.sizeImage)
	if err := convertFrame(nv2, nl, a, il); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(nv, nv2) {
		t.Fatal("I420->NV12 differs from YUYV->NV12")
	}

	// Same format, other stride: a line copy.
	wide := frameLayout{pixfmt: pixYUYV, width: w, height: h, stride: 32}
	wide.sizeImage = wide.minSize()
	c := make([]byte, wide.sizeImage)
	if err := convertFrame(c, wide, src, sl); err != nil {
		t.Fatal(err)
	}
	for y := 0; y < h; y++ {
		if !bytes.Equal(c[y*32:y*32+2*w], src[y*sstride:y*sstride+2*w]) {
			t.Fatalf("line %d differs", y)
		}
	}

	img, err := toYCbCr(src, sl)
	if err != nil {
		t.Fatal(err)
	}
	if img.Y[1*w+3] != wantY(3, 1) || img.Cb[1*w/2+2] != wantU(2, 1) || img.Cr[0] != wantV(0, 0) || img.Bounds().Dx() != w {
		t.Fatal("toYCbCr samples differ")
	}
}

func TestConvertErrors(t *testing.T) {
	sl := frameLayout{pixfmt: pixYUYV, width: 8, height: 4, stride: 16, sizeImage: 64}
	dl := frameLayout{pixfmt: pixI420, width: 8, height: 4, stride: 8, sizeImage: 48}
	for _, c := range []struct {
		name    string
		dst     []byte
		dl      frameLayout
		src     []byte
		sl      frameLayout
		wantErr error
	}{
		{"short source", make([]byte, 48), dl, make([]byte, 63), sl, nil},
		{"short destination", make([]byte, 47), dl, make([]byte, 64), sl, nil},
		{"size mismatch", make([]byte, 48), frameLayout{pixfmt: pixI420, width: 8, height: 2, stride: 8}, make([]byte, 64), sl, nil},
		{"odd size", make([]byte, 100), frameLayout{pixfmt: pixI420, width: 7, height: 4, stride: 8}, make([]byte, 100), frameLayout{pixfmt: pixYUYV, width: 7, height: 4, stride: 16}, ErrUnsupportedFormat},
		{"MJPEG", make([]byte, 48), dl, make([]byte, 64), frameLayout{pixfmt: pixMJPG, width: 8, height: 4, stride: 16}, ErrUnsupportedFormat},
		{"to YUYV from I420", make([]byte, 64), sl, make([]byte, 48), dl, ErrUnsupportedFormat},
		{"stride too small", make([]byte, 48), dl, make([]byte, 64), frameLayout{pixfmt: pixYUYV, width: 8, height: 4, stride: 8, sizeImage: 64}, nil},
	} {
		err := convertFrame(c.dst, c.dl, c.src, c.sl)
		if err == nil || (c.wantErr != nil && !errors.Is(err, c.wantErr)) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestPlaneHeight(t *testing.T) {
	for _, c := range []struct {
		l    frameLayout
		want int
	}{
		{frameLayout{pixfmt: pixNV12, width: 640, height: 360, stride: 640, sizeImage: 640 * 360 * 3 / 2}, 360},
		{frameLayout{pixfmt: pixNV12, width: 640, height: 360, stride: 640, sizeImage: 640 * 368 * 3 / 2}, 368},
		{frameLayout{pixfmt: pixNV12, width: 640, height: 360, stride: 640, sizeImage: 640 * 360 * 3}, 360},
		{frameLayout{pixfmt: pixNV12, width: 640, height: 360, stride: 640, planeRows: 376}, 376},
		// The Raspberry Pi's codec reports the height asked for and sizes
		// the buffer for a height padded to 16.
		{frameLayout{pixfmt: pixI420, width: 1920, height: 1080, stride: 1920, sizeImage: 1920 * 1088 * 3 / 2, planeRows: 1080}, 1088},
		{frameLayout{pixfmt: pixNV12, width: 640, height: 360, stride: 0}, 360},
	} {
		if got := c.l.planeHeight(); got != c.want {
			t.Errorf("%+v: plane height %d, want %d", c.l, got, c.want)
		}
	}
}
