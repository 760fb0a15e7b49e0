//go:build linux

package v4l2

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// mdRun is what an in-VM mediadevices capture reports to the host.
type mdRun struct {
	Frames int     `json:"frames"`
	Wall   float64 `json:"wall"` // seconds from before Open to the last frame
	Writes int     `json:"writes,omitempty"`
}

// readToMKV reads n frames from src, checks them (key frames every keyint
// with SPS first, PTS strictly increasing from 0, each frame's wall-clock
// capture time Origin+PTS at most a second before ReadFrame returned it
// and never after), and returns them as an MKV file.
func readToMKV(t *testing.T, src *Source, n, keyint int) []byte {
	t.Helper()
	tr := src.Tracks()
	var buf bytes.Buffer
	w := newMKVSink(t, &buf, tr)
	var last time.Duration
	var worst time.Duration
	for i := 0; i < n; i++ {
		f, err := src.ReadFrame()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		now := time.Now()
		if want := i%keyint == 0; keyint > 0 && f.Key != want {
			t.Fatalf("frame %d: key %v, want %v", i, f.Key, want)
		}
		if (i == 0 && f.PTS != 0) || (i > 0 && f.PTS <= last) || f.DTS != f.PTS {
			t.Fatalf("frame %d: PTS %v DTS %v after %v", i, f.PTS, f.DTS, last)
		}
		if i > 0 {
			lag := now.Sub(src.Origin().Add(f.PTS))
			if lag < -time.Millisecond || lag > time.Second {
				t.Fatalf("frame %d: captured %v before ReadFrame returned it", i, lag)
			}
			worst = max(worst, lag)
		}
		checkEncodedFrame(t, i, f)
		last = f.PTS
		w.write(f)
	}
	t.Logf("%d frames over %v; longest capture-to-return %v", n, last, worst)
	return buf.Bytes()
}

func saveJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	saveArtifact(name, b)
}

// TestVMCaptureMediadevices captures vivid through the mediadevices path
// (blackjack/webcam and mediadevices' decoders) in YUYV, NV12 and I420,
// encodes with the lossless test encoder and writes md-<format>.mkv.
func TestVMCaptureMediadevices(t *testing.T) {
	needVM(t)
	v := findDevice(t, "vivid capture device", isVivid)
	for _, pf := range vmMDFormats {
		t.Run(string(pf), func(t *testing.T) {
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			url := fmt.Sprintf("v4l2://%s?format=%s&width=%d&height=%d&fps=%d&capture=mediadevices", v.Path, pf, vmCaptureW, vmCaptureH, vmCaptureFPS)
			src := openVMEncoded(t, ctx, url)
			fourcc, _ := pf.fourcc()
			st := src.Stats()
			if st.Capture != "mediadevices" || st.PixelFormat != fourccString(fourcc) || st.FPS != vmCaptureFPS || st.Encoder != "custom" ||
				st.Width != vmCaptureW || st.Height != vmCaptureH {
				t.Fatalf("stats %+v", st)
			}
			file := readToMKV(t, src, vmMDFrames, vmCaptureKeyint)
			wall := time.Since(start)
			st = src.Stats()
			t.Logf("stats %+v, %v from Open", st, wall)
			if st.Frames != vmMDFrames || st.DriverDrops != 0 {
				t.Errorf("stats %+v", st)
			}
			if err := src.Close(); err != nil {
				t.Fatal(err)
			}
			name := "md-" + string(pf)
			saveArtifact(name+".mkv", file)
			saveJSON(t, name+".json", mdRun{Frames: vmMDFrames, Wall: wall.Seconds()})
		})
	}
}

// mjpegPictures are the JPEG pictures written into the MJPEG loopback:
// uniform gray levels, 4:2:0 as image/jpeg writes them.
func mjpegPictures(t *testing.T) [][]byte {
	t.Helper()
	var out [][]byte
	for k := range vmMJPEGLevels {
		m := image.NewYCbCr(image.Rect(0, 0, vmLoopW, vmLoopH), image.YCbCrSubsampleRatio420)
		for i := range m.Y {
			m.Y[i] = byte(vmMJPEGLevel(k))
		}
		for i := range m.Cb {
			m.Cb[i], m.Cr[i] = 128, 128
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 90}); err != nil {
			t.Fatal(err)
		}
		out = append(out, b.Bytes())
	}
	return out
}

// TestVMMJPEGLoopback writes JPEG pictures into v4l2loopback in format MJPG
// and reads them back as an MJPEG camera: decoded with image/jpeg on the
// mediadevices path, encoded, and written to mjpeg.mkv, whose pictures the
// host compares with the levels written.
func TestVMMJPEGLoopback(t *testing.T) {
	needVM(t)
	lp := findDevice(t, "MJPEG v4l2loopback device", isMJPEGLoopback)
	start := time.Now()
	w := startLoopWriterFormat(t, lp.Path, pixMJPG, vmLoopW, vmLoopH, mjpegPictures(t), 30)
	defer w.close()
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	src, err := Open(ctx, fmt.Sprintf("v4l2://%s?width=%d&height=%d&fps=30", lp.Path, vmLoopW, vmLoopH),
		WithEncoder(pcmEncoder{keyint: 10}), WithStallTimeout(time.Minute), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if st := src.Stats(); st.Capture != "mediadevices" || st.PixelFormat != "MJPG" || st.Width != vmLoopW || st.Height != vmLoopH {
		t.Fatalf("stats %+v", st)
	}
	file := readToMKV(t, src, vmMJPEGFrames, 10)
	wall := time.Since(start)
	if err := w.close(); err != nil {
		t.Fatalf("loopback writer: %v", err)
	}
	st := src.Stats()
	t.Logf("stats %+v, %d pictures written", st, w.n)
	if st.Dropped != 0 {
		t.Errorf("%d pictures dropped (undecodable)", st.Dropped)
	}
	// With the writer stopped ReadFrame blocks (after what the loopback
	// still holds); Close ends it at once, and stops the capture goroutine
	// (waiting in webcam for up to a second) before it returns.
	done := readUntilBlocked(t, src)
	closeStart := time.Now()
	closed := make(chan error, 1)
	go func() { closed <- src.Close() }()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("blocked ReadFrame after Close: %v", err)
	}
	if d := time.Since(closeStart); d > 200*time.Millisecond {
		t.Errorf("Close took %v to end a blocked ReadFrame", d)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(closeStart); d > 1500*time.Millisecond {
		t.Errorf("Close took %v", d)
	}
	t.Logf("Close returned after %v", time.Since(closeStart))
	saveArtifact("mjpeg.mkv", file)
	saveJSON(t, "mjpeg.json", mdRun{Frames: vmMJPEGFrames, Wall: wall.Seconds(), Writes: w.n})
}

// TestVMM2MVicodecImages feeds vicodec's stateful encoder with pictures
// captured and decoded on the mediadevices path, converted into the
// encoder's OUTPUT format (padded to 640x368 for 4:2:0): one coded frame per
// picture, with its timestamp, of the right size and chroma layout.
func TestVMM2MVicodecImages(t *testing.T) {
	needVM(t)
	v := findDevice(t, "vivid capture device", isVivid)
	enc := findDevice(t, "vicodec encoder", isVicodecEncoder)
	for _, tc := range []struct {
		name        string
		format      PixelFormat
		raw         uint32
		fullChromaH bool // the FWHT header says 4:2:2 (YUYV) rather than 4:2:0
	}{
		{"yuyv-to-i420", FormatYUYV, pixI420, false},
		{"nv12-to-yuyv", FormatNV12, pixYUYV, true},
		{"nv12-picked", FormatNV12, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := defaultConfig()
			cfg.path, cfg.format, cfg.width, cfg.height, cfg.fps = v.Path, tc.format, 640, 360, vmCaptureFPS
			cfg.capture = CaptureMediadevices
			log := testLogger(t)
			cam, md, err := openCapture(v.Path, cfg, log, func() {})
			if err != nil {
				t.Fatal(err)
			}
			if cam != nil || md == nil {
				t.Fatal("not opened through mediadevices")
			}
			defer md.close()
			const n = 20
			e, err := newM2MEncoder(enc.Path, m2mParams{coded: pixFWHT, src: md.lay, image: true, fps: vmCaptureFPS,
				bitrate: 1_000_000, keyint: 10, raw: tc.raw, buffers: 4}, log)
			if err != nil {
				t.Fatal(err)
			}
			defer e.close()
			if tc.raw == 0 && e.outLayout.pixfmt != pixNV12 {
				t.Errorf("OUTPUT format %s for NV12 pictures, want NV12 (vicodec takes it)", fourccString(e.outLayout.pixfmt))
			}
			var sent []time.Duration
			var got []encodedFrame
			deadline := time.Now().Add(20 * time.Second)
			var pending *rawFrame
			var release func()
			for len(got) < n && time.Now().Before(deadline) {
				ef, ok, err := e.receive()
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					got = append(got, ef)
					continue
				}
				if pending == nil && len(sent) < n {
					select {
					case f := <-md.frames:
						if f.err != nil {
							t.Fatal(f.err)
						}
						img, rel, err := md.decode(f.data)
						if err != nil {
							t.Fatal(err)
						}
						release = rel
						pending = &rawFrame{img: img, layout: md.lay, ts: f.mono}
					case <-time.After(100 * time.Millisecond):
					}
				}
				if pending != nil {
					accepted, err := e.send(*pending)
					if err != nil {
						t.Fatal(err)
					}
					if accepted {
						sent = append(sent, pending.ts)
						pending = nil
						release()
						continue
					}
				}
				fds := []unix.PollFd{{Fd: int32(e.d.fd), Events: unix.POLLIN | unix.POLLOUT}}
				if _, err := poll(fds, 20*time.Millisecond); err != nil {
					t.Fatal(err)
				}
			}
			if len(got) != n || len(sent) != n {
				t.Fatalf("sent %d pictures, got %d coded frames; want %d each", len(sent), len(got), n)
			}
			for i, f := range got {
				// V4L2 buffers carry microseconds.
				if want := sent[i].Truncate(time.Microsecond); f.ts != want {
					t.Fatalf("frame %d: timestamp %v, want the picture's %v", i, f.ts, want)
				}
				if len(f.data) < 44 || binary.LittleEndian.Uint32(f.data) != 0x4f4f4f4f {
					t.Fatalf("frame %d: no FWHT header", i)
				}
				w, h := binary.BigEndian.Uint32(f.data[12:]), binary.BigEndian.Uint32(f.data[16:])
				flags := binary.BigEndian.Uint32(f.data[20:])
				if w != 640 || h != 360 {
					t.Fatalf("frame %d: FWHT size %dx%d", i, w, h)
				}
				if full := flags&(1<<7) != 0; full != tc.fullChromaH {
					t.Fatalf("frame %d: FWHT chroma full height %v, want %v (flags %#x)", i, full, tc.fullChromaH, flags)
				}
			}
			t.Logf("%d frames through %s, first %d bytes", n, strings.TrimPrefix(e.name(), encoderM2M+" "), len(got[0].data))
		})
	}
}
