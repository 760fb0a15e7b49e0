package v4l2

import (
	"bytes"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"kvskit/internal/testenv"
)

// TestPCMEncoderDecodesExactly checks the tests' I_PCM encoder against
// ffmpeg: the decoded pictures must equal the input samples exactly (I_PCM
// is lossless), at a size that needs cropping.
func TestPCMEncoderDecodesExactly(t *testing.T) {
	ffmpeg := testenv.Tool(t, "ffmpeg")
	const w, h = 70, 38 // not multiples of 16: exercises the cropping
	var stream []byte
	var want []byte
	for i := 0; i < 5; i++ {
		img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
		for j := range img.Y {
			img.Y[j] = byte(1 + (j*7+i*13)%254)
		}
		for j := range img.Cb {
			img.Cb[j] = byte(1 + (j*3+i)%254)
			img.Cr[j] = byte(1 + (j*5+2*i)%254)
		}
		want = append(want, img.Y...)
		want = append(want, img.Cb...)
		want = append(want, img.Cr...)
		stream = append(stream, pcmPicture(img, w, h, i%3 == 0, i/3, i%3)...)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "pcm.h264")
	if err := os.WriteFile(in, stream, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(ffmpeg, "-v", "error", "-xerror", "-f", "h264", "-i", in,
		"-f", "rawvideo", "-pix_fmt", "yuv420p", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}
	if !bytes.Equal(out, want) {
		t.Fatalf("decoded %d bytes differ from the %d input bytes", len(out), len(want))
	}
}
