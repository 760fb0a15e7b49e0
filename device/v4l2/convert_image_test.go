package v4l2

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"testing"

	"github.com/pion/mediadevices/pkg/frame"
)

// patternYCbCr builds a w x h image of ratio r whose samples follow from
// their position, with a row stride wider than needed.
func patternYCbCr(w, h int, r image.YCbCrSubsampleRatio) *image.YCbCr {
	m := image.NewYCbCr(image.Rect(0, 0, w, h), r)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.Y[m.YOffset(x, y)] = byte(3 + 5*x + 11*y)
		}
	}
	cw, ch := chromaSize(w, h, r)
	for y := 0; y < ch; y++ {
		for x := 0; x < cw; x++ {
			m.Cb[y*m.CStride+x] = byte(40 + 9*x + 13*y)
			m.Cr[y*m.CStride+x] = byte(250 - 7*x - 17*y)
		}
	}
	return m
}

// chromaSize and chromaOf spell out the subsampling ratios the way the
// JPEG and image packages define them: which chroma sample luma (x, y)
// uses.
func chromaSize(w, h int, r image.YCbCrSubsampleRatio) (int, int) {
	x, y := chromaOf(w-1, h-1, r)
	return x + 1, y + 1
}

func chromaOf(x, y int, r image.YCbCrSubsampleRatio) (int, int) {
	switch r {
	case image.YCbCrSubsampleRatio444:
		return x, y
	case image.YCbCrSubsampleRatio422:
		return x / 2, y
	case image.YCbCrSubsampleRatio420:
		return x / 2, y / 2
	case image.YCbCrSubsampleRatio440:
		return x, y / 2
	case image.YCbCrSubsampleRatio411:
		return x / 4, y
	}
	panic("ratio")
}

// wantChroma is the rounded mean of the distinct chroma samples under the
// luma block of bw x bh at (x, y).
func wantChroma(m *image.YCbCr, x, y, bw, bh int) (byte, byte) {
	// The planes of a sub-image start at its corner's chroma sample.
	mx, my := chromaOf(m.Rect.Min.X, m.Rect.Min.Y, m.SubsampleRatio)
	seen := map[[2]int]bool{}
	var sb, sr, n int
	for dy := 0; dy < bh; dy++ {
		for dx := 0; dx < bw; dx++ {
			cx, cy := chromaOf(x+dx, y+dy, m.SubsampleRatio)
			if seen[[2]int{cx, cy}] {
				continue
			}
			seen[[2]int{cx, cy}] = true
			sb += int(m.Cb[(cy-my)*m.CStride+cx-mx])
			sr += int(m.Cr[(cy-my)*m.CStride+cx-mx])
			n++
		}
	}
	return byte((sb + n/2) / n), byte((sr + n/2) / n)
}

// readPicture reads the samples of a picture laid out as l: luma and the
// chroma of each block of bw x bh luma samples (2x2 for 4:2:0, 2x1 for
// the packed 4:2:2 formats).
func readPicture(t *testing.T, b []byte, l frameLayout) (yAt func(x, y int) byte, cAt func(x, y int) (byte, byte), bw, bh int) {
	t.Helper()
	switch l.pixfmt {
	case pixYUYV, pixUYVY:
		yo, co := 0, 1
		if l.pixfmt == pixUYVY {
			yo, co = 1, 0
		}
		return func(x, y int) byte { return b[y*l.stride+2*x+yo] },
			func(x, y int) (byte, byte) {
				o := y*l.stride + 2*x
				return b[o+co], b[o+2+co]
			}, 2, 1
	case pixNV12:
		c := l.stride * l.planeHeight()
		return func(x, y int) byte { return b[y*l.stride+x] },
			func(x, y int) (byte, byte) {
				o := c + (y/2)*l.stride + x
				return b[o], b[o+1]
			}, 2, 2
	case pixI420:
		c := l.stride * l.planeHeight()
		c2 := c + l.stride/2*(l.height/2)
		return func(x, y int) byte { return b[y*l.stride+x] },
			func(x, y int) (byte, byte) {
				o := (y/2)*(l.stride/2) + x/2
				return b[c+o], b[c2+o]
			}, 2, 2
	}
	t.Fatalf("no reader for %s", fourccString(l.pixfmt))
	return nil, nil, 0, 0
}

func TestConvertImage(t *testing.T) {
	const w, h = 12, 6
	ratios := []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411,
	}
	layouts := []frameLayout{
		{pixfmt: pixI420, width: w, height: h, stride: w},
		{pixfmt: pixI420, width: w, height: h, stride: w + 4, planeRows: h + 2}, // padded, as M2M encoders take it
		{pixfmt: pixNV12, width: w, height: h, stride: w + 2},
		{pixfmt: pixYUYV, width: w, height: h, stride: 2 * w},
		{pixfmt: pixUYVY, width: w, height: h, stride: 2*w + 8},
	}
	for _, r := range ratios {
		src := patternYCbCr(w, h, r)
		// The same picture inside a larger one, which takes the
		// general path.
		big := patternYCbCr(w+4, h+4, r)
		sub := big.SubImage(image.Rect(2, 2, w+2, h+2)).(*image.YCbCr)
		for _, l := range layouts {
			l.sizeImage = l.minSize()
			for _, tc := range []struct {
				name string
				img  *image.YCbCr
				x0   int
			}{{"whole", src, 0}, {"sub", sub, 2}} {
				t.Run(fmt.Sprintf("%v/%s/%s", r, fourccString(l.pixfmt), tc.name), func(t *testing.T) {
					dst := bytes.Repeat([]byte{0xEE}, l.sizeImage)
					if err := convertImage(dst, l, tc.img, false); err != nil {
						t.Fatal(err)
					}
					yAt, cAt, bw, bh := readPicture(t, dst, l)
					for y := 0; y < h; y++ {
						for x := 0; x < w; x++ {
							if got, want := yAt(x, y), tc.img.Y[tc.img.YOffset(x+tc.x0, y+tc.x0)]; got != want {
								t.Fatalf("Y(%d,%d) = %d, want %d", x, y, got, want)
							}
						}
					}
					for y := 0; y < h; y += bh {
						for x := 0; x < w; x += bw {
							gb, gr := cAt(x, y)
							// The block's position in the source image's own
							// coordinates: chroma siting follows them.
							wb, wr := wantChroma(tc.img, x+tc.x0, y+tc.x0, bw, bh)
							if gb != wb || gr != wr {
								t.Fatalf("chroma of block (%d,%d) = %d,%d, want %d,%d", x, y, gb, gr, wb, wr)
							}
						}
					}
				})
			}
		}
	}
}

// TestConvertImageDecoded runs pictures through mediadevices' decoders and
// convertImage, and checks them against convertFrame on the raw bytes: the
// two capture paths must hand the encoder the same samples.
func TestConvertImageDecoded(t *testing.T) {
	const w, h = 16, 8
	yuyv := yuyvFrame(w, h, 2*w)
	yuyvL := frameLayout{pixfmt: pixYUYV, width: w, height: h, stride: 2 * w, sizeImage: len(yuyv)}
	// NV12 and I420 made from the YUYV picture.
	nv12L := frameLayout{pixfmt: pixNV12, width: w, height: h, stride: w}
	nv12L.sizeImage = nv12L.minSize()
	nv12 := make([]byte, nv12L.sizeImage)
	if err := convertFrame(nv12, nv12L, yuyv, yuyvL); err != nil {
		t.Fatal(err)
	}
	i420L := frameLayout{pixfmt: pixI420, width: w, height: h, stride: w}
	i420L.sizeImage = i420L.minSize()
	i420 := make([]byte, i420L.sizeImage)
	if err := convertFrame(i420, i420L, yuyv, yuyvL); err != nil {
		t.Fatal(err)
	}
	for _, src := range []struct {
		name  frame.Format
		data  []byte
		l     frameLayout
		ratio image.YCbCrSubsampleRatio
	}{
		{frame.FormatYUYV, yuyv, yuyvL, image.YCbCrSubsampleRatio422},
		{frame.FormatNV12, nv12, nv12L, image.YCbCrSubsampleRatio420},
		{frame.FormatI420, i420, i420L, image.YCbCrSubsampleRatio420},
	} {
		dec, err := frame.NewDecoder(src.name)
		if err != nil {
			t.Fatal(err)
		}
		img, release, err := dec.Decode(bytes.Clone(src.data), w, h)
		if err != nil {
			t.Fatalf("%s: %v", src.name, err)
		}
		if m, ok := img.(*image.YCbCr); !ok || m.SubsampleRatio != src.ratio {
			t.Fatalf("%s decodes to %T, want YCbCr %v", src.name, img, src.ratio)
		}
		for _, dstFmt := range []uint32{pixI420, pixNV12, pixYUYV} {
			if !canConvert(src.l.pixfmt, dstFmt) {
				continue
			}
			dl := frameLayout{pixfmt: dstFmt, width: w, height: h, stride: w + 6}
			if dstFmt == pixYUYV {
				dl.stride = 2*w + 6
			}
			dl.sizeImage = dl.minSize()
			want := make([]byte, dl.sizeImage)
			got := make([]byte, dl.sizeImage)
			if err := convertFrame(want, dl, src.data, src.l); err != nil {
				t.Fatal(err)
			}
			if err := convertImage(got, dl, img, false); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s -> %s: decoded picture converts to\n% x\nraw bytes to\n% x", src.name, fourccString(dstFmt), got, want)
			}
		}
		if release != nil {
			release()
		}
	}
}

// TestConvertImageMJPEG decodes JPEG frames as the mediadevices path does
// and checks the scaling from JPEG's full range to video's limited range.
func TestConvertImageMJPEG(t *testing.T) {
	const w, h = 32, 16
	dec, err := frame.NewDecoder(frame.FormatMJPEG)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name             string
		img              image.Image
		wantY, wantC     int // after scaling
		wantYCbCr, wantG bool
	}{
		{"black", uniform(w, h, 0, 128, 128), 16, 128, true, false},
		{"white", uniform(w, h, 255, 128, 128), 235, 128, true, false},
		{"mid", uniform(w, h, 128, 200, 60), 126, 0, true, false},
		{"gray", grayImage(w, h, 255), 235, 128, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var jb bytes.Buffer
			if err := jpeg.Encode(&jb, c.img, &jpeg.Options{Quality: 100}); err != nil {
				t.Fatal(err)
			}
			img, _, err := dec.Decode(jb.Bytes(), w, h)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := img.(*image.Gray); ok != c.wantG {
				t.Fatalf("decoded to %T", img)
			}
			l := frameLayout{pixfmt: pixI420, width: w, height: h, stride: w}
			l.sizeImage = l.minSize()
			out := make([]byte, l.sizeImage)
			if err := convertImage(out, l, img, true); err != nil {
				t.Fatal(err)
			}
			yAt, cAt, _, _ := readPicture(t, out, l)
			near := func(got byte, want int) bool { return int(got) >= want-2 && int(got) <= want+2 }
			if y := yAt(w/2, h/2); !near(y, c.wantY) {
				t.Errorf("Y = %d, want %d", y, c.wantY)
			}
			cb, cr := cAt(w/2, h/2)
			if c.name == "mid" {
				// 200 and 60 full range.
				if !near(cb, 16+200*224/255) || !near(cr, 16+60*224/255) {
					t.Errorf("Cb,Cr = %d,%d, want %d,%d", cb, cr, 16+200*224/255, 16+60*224/255)
				}
			} else if !near(cb, c.wantC) || !near(cr, c.wantC) {
				t.Errorf("Cb,Cr = %d,%d, want %d", cb, cr, c.wantC)
			}
			// Without scaling, the decoded samples pass unchanged.
			if err := convertImage(out, l, img, false); err != nil {
				t.Fatal(err)
			}
			var raw byte
			switch m := img.(type) {
			case *image.YCbCr:
				raw = m.Y[m.YOffset(w/2, h/2)]
			case *image.Gray:
				raw = m.GrayAt(w/2, h/2).Y
			}
			if y := yAt(w/2, h/2); y != raw {
				t.Errorf("unscaled Y = %d, want the decoded %d", y, raw)
			}
			// As a software encoder takes it.
			yc, err := imageToYCbCr(img, true)
			if err != nil {
				t.Fatal(err)
			}
			if yc.SubsampleRatio != image.YCbCrSubsampleRatio420 || yc.Rect != image.Rect(0, 0, w, h) || !near(yc.Y[yc.YOffset(3, 3)], c.wantY) {
				t.Errorf("imageToYCbCr: %v %v Y %d", yc.SubsampleRatio, yc.Rect, yc.Y[yc.YOffset(3, 3)])
			}
		})
	}
	if limitedRange[0][0] != 16 || limitedRange[0][255] != 235 || limitedRange[1][0] != 16 || limitedRange[1][128] != 128 || limitedRange[1][255] != 240 {
		t.Errorf("range table ends: %d %d %d %d %d", limitedRange[0][0], limitedRange[0][255], limitedRange[1][0], limitedRange[1][128], limitedRange[1][255])
	}
}

func uniform(w, h int, y, cb, cr byte) image.Image {
	m := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio444)
	for i := range m.Y {
		m.Y[i] = y
	}
	for i := range m.Cb {
		m.Cb[i], m.Cr[i] = cb, cr
	}
	return m
}

func grayImage(w, h int, v byte) image.Image {
	m := image.NewGray(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = v
	}
	return m
}

func TestConvertImageErrors(t *testing.T) {
	const w, h = 8, 4
	img := patternYCbCr(w, h, image.YCbCrSubsampleRatio420)
	l := frameLayout{pixfmt: pixI420, width: w, height: h, stride: w}
	l.sizeImage = l.minSize()
	buf := make([]byte, l.sizeImage)
	for _, c := range []struct {
		name string
		dst  []byte
		l    frameLayout
		img  image.Image
		want error
	}{
		{"coded destination", buf, frameLayout{pixfmt: pixFWHT, width: w, height: h, stride: w}, img, ErrUnsupportedFormat},
		{"RGBA picture", buf, l, image.NewRGBA(image.Rect(0, 0, w, h)), ErrUnsupportedFormat},
		{"other size", buf, l, patternYCbCr(w+2, h, image.YCbCrSubsampleRatio420), nil},
		{"short buffer", buf[:len(buf)-1], l, img, nil},
	} {
		err := convertImage(c.dst, c.l, c.img, false)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if _, err := imageToYCbCr(patternYCbCr(7, 4, image.YCbCrSubsampleRatio444), false); !errors.Is(err, ErrUnsupportedFormat) {
		t.Errorf("odd width: %v", err)
	}
	_ = color.Gray{}
}

// BenchmarkPicture720p measures what each capture path does to one 1280x720
// picture before the encoder gets it, writing the I420 an M2M encoder's
// OUTPUT buffer takes: native YUYV (convertFrame), and on the mediadevices
// path YUYV, NV12 and MJPEG decoded by mediadevices/pkg/frame and then
// converted (convertImage).
func BenchmarkPicture720p(b *testing.B) {
	const w, h = 1280, 720
	yuyv := yuyvFrame(w, h, 2*w)
	yuyvL := frameLayout{pixfmt: pixYUYV, width: w, height: h, stride: 2 * w, sizeImage: len(yuyv)}
	dl := frameLayout{pixfmt: pixI420, width: w, height: h, stride: w}
	dl.sizeImage = dl.minSize()
	dst := make([]byte, dl.sizeImage)
	nv12L := frameLayout{pixfmt: pixNV12, width: w, height: h, stride: w}
	nv12L.sizeImage = nv12L.minSize()
	nv12 := make([]byte, nv12L.sizeImage)
	if err := convertFrame(nv12, nv12L, yuyv, yuyvL); err != nil {
		b.Fatal(err)
	}
	var jb bytes.Buffer
	src, _ := mustDecode(b, frame.FormatYUYV, yuyv, w, h)
	if err := jpeg.Encode(&jb, src, &jpeg.Options{Quality: 85}); err != nil {
		b.Fatal(err)
	}
	b.Run("native-yuyv", func(b *testing.B) {
		b.SetBytes(int64(len(yuyv)))
		for b.Loop() {
			if err := convertFrame(dst, dl, yuyv, yuyvL); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, c := range []struct {
		name      string
		f         frame.Format
		data      []byte
		fullRange bool
	}{
		{"mediadevices-yuyv", frame.FormatYUYV, yuyv, false},
		{"mediadevices-nv12", frame.FormatNV12, nv12, false},
		{"mediadevices-mjpeg", frame.FormatMJPEG, jb.Bytes(), true},
	} {
		b.Run(c.name, func(b *testing.B) {
			dec, err := frame.NewDecoder(c.f)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(c.data)))
			b.ReportAllocs()
			for b.Loop() {
				img, release, err := dec.Decode(c.data, w, h)
				if err != nil {
					b.Fatal(err)
				}
				if err := convertImage(dst, dl, img, c.fullRange); err != nil {
					b.Fatal(err)
				}
				release()
			}
		})
	}
}

func mustDecode(b *testing.B, f frame.Format, data []byte, w, h int) (image.Image, func()) {
	b.Helper()
	dec, err := frame.NewDecoder(f)
	if err != nil {
		b.Fatal(err)
	}
	img, release, err := dec.Decode(data, w, h)
	if err != nil {
		b.Fatal(err)
	}
	return img, release
}
