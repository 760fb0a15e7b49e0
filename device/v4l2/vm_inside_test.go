//go:build linux

package v4l2

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"kvskit/media"
	"kvskit/media/h264"
	"kvskit/mkv"
)

// The tests named TestVM* run inside the VM that test/vm/run-vivid.sh boots
// (KVSKIT_VM=1), against the vivid, vicodec and v4l2loopback drivers;
// TestVividVM on the host runs that script and checks what they wrote.
// These constants are shared by both sides.
const (
	vmCaptureW, vmCaptureH = 320, 180
	vmCaptureFPS           = 30
	vmCaptureFrames        = 60
	vmCaptureKeyint        = 15
	vmLoopFrames           = 40
	vmLoopW, vmLoopH       = 320, 240
	// The mediadevices capture from vivid, per format.
	vmMDFrames = 45
	// The MJPEG camera: JPEG pictures of uniform gray levels written into
	// a second v4l2loopback device.
	vmMJPEGFrames = 40
	vmMJPEGLevels = 30 // picture k has luma vmMJPEGLevel(k % vmMJPEGLevels)
)

// vmMJPEGLevel is the (full-range) luma of the k-th JPEG picture.
func vmMJPEGLevel(k int) int { return 40 + 5*k }

// vmMDFormats are the vivid formats captured through mediadevices.
var vmMDFormats = []PixelFormat{FormatYUYV, FormatNV12, FormatI420}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func findDevice(t *testing.T, what string, ok func(DeviceInfo) bool) DeviceInfo {
	t.Helper()
	devs, err := ListDevices()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if ok(d) {
			return d
		}
	}
	t.Fatalf("no %s among %+v", what, devs)
	return DeviceInfo{}
}

func isVivid(d DeviceInfo) bool { return d.Driver == "vivid" && d.Capture }

func isVicodecEncoder(d DeviceInfo) bool {
	return d.Driver == "vicodec" && d.M2M && slices.ContainsFunc(d.Formats, func(f FormatInfo) bool { return f.PixelFormat == "FWHT" })
}

func isLoopback(d DeviceInfo) bool { return d.Card == "kvskit-loopback" }

func isMJPEGLoopback(d DeviceInfo) bool { return d.Card == "kvskit-mjpeg" }

func TestVMListDevices(t *testing.T) {
	needVM(t)
	devs, err := ListDevices()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		t.Logf("%s: driver=%s card=%q bus=%s caps=%v formats=%d inputs=%d err=%s", d.Path, d.Driver, d.Card, d.BusInfo, d.Capabilities, len(d.Formats), len(d.InputFormats), d.Err)
	}
	v := findDevice(t, "vivid capture device", isVivid)
	yuyv := slices.IndexFunc(v.Formats, func(f FormatInfo) bool { return f.PixelFormat == "YUYV" })
	if yuyv < 0 {
		t.Fatalf("vivid formats %+v lack YUYV", v.Formats)
	}
	sizes := v.Formats[yuyv].Sizes
	i := slices.IndexFunc(sizes, func(s FrameSize) bool { return s.Width == vmCaptureW && s.Height == vmCaptureH })
	if i < 0 {
		t.Fatalf("vivid YUYV sizes %+v lack %dx%d", sizes, vmCaptureW, vmCaptureH)
	}
	if !slices.ContainsFunc(sizes[i].Intervals, func(iv Interval) bool { return iv.FPS() == vmCaptureFPS }) {
		t.Fatalf("vivid YUYV %dx%d intervals %+v lack 1/%d", vmCaptureW, vmCaptureH, sizes[i].Intervals, vmCaptureFPS)
	}
	enc := findDevice(t, "vicodec encoder", isVicodecEncoder)
	if enc.H264Encoder || len(enc.InputFormats) == 0 || !slices.Contains(enc.Capabilities, "m2m-mplane") {
		t.Fatalf("vicodec encoder described as %+v", enc)
	}
	findDevice(t, "v4l2loopback device", isLoopback)
	findDevice(t, "second v4l2loopback device", isMJPEGLoopback)
	for _, f := range v.Formats {
		want := ""
		switch f.PixelFormat {
		case "YUYV", "UYVY", "NV12", "YU12", "H264":
			want = "native"
		}
		if f.Capture != want {
			t.Errorf("vivid %s: capture %q, want %q", f.PixelFormat, f.Capture, want)
		}
	}
}

// openVMEncoded opens a raw vivid capture at the VM test size, encoded by
// pcmEncoder, and checks its one H.264 track. The source is closed when
// the test ends.
func openVMEncoded(t *testing.T, ctx context.Context, url string) *Source {
	t.Helper()
	src, err := Open(ctx, url, WithEncoder(pcmEncoder{keyint: vmCaptureKeyint}), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	tr := src.Tracks()
	if len(tr) != 1 || tr[0].Codec != media.CodecH264 || tr[0].Width != vmCaptureW || tr[0].Height != vmCaptureH {
		t.Fatalf("tracks %+v", tr)
	}
	return src
}

func TestVMCaptureEncodeMKV(t *testing.T) {
	needVM(t)
	v := findDevice(t, "vivid capture device", isVivid)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := fmt.Sprintf("v4l2://%s?format=yuyv&width=%d&height=%d&fps=%d&capture=native", v.Path, vmCaptureW, vmCaptureH, vmCaptureFPS)
	src := openVMEncoded(t, ctx, url)
	tr := src.Tracks()
	if _, err := h264.ParseAVCC(tr[0].CodecPrivate); err != nil {
		t.Fatalf("CodecPrivate: %v", err)
	}
	// The origin comes from the first picture's kernel timestamp mapped to
	// the wall clock; under emulation the mapping may land a few
	// milliseconds ahead of time.Now.
	if d := time.Since(src.Origin()); d < -100*time.Millisecond || d > 10*time.Second {
		t.Fatalf("origin %v is %v from now", src.Origin(), d)
	}
	var buf bytes.Buffer
	w := newMKVSink(t, &buf, tr)
	var last time.Duration
	for i := 0; i < vmCaptureFrames; i++ {
		f, err := src.ReadFrame()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if want := i%vmCaptureKeyint == 0; f.Key != want {
			t.Fatalf("frame %d: key %v, want %v", i, f.Key, want)
		}
		if i == 0 && f.PTS != 0 {
			t.Fatalf("first PTS %v, want 0", f.PTS)
		}
		if i > 0 && f.PTS <= last {
			t.Fatalf("frame %d: PTS %v after %v", i, f.PTS, last)
		}
		if f.DTS != f.PTS {
			t.Fatalf("frame %d: DTS %v != PTS %v", i, f.DTS, f.PTS)
		}
		checkEncodedFrame(t, i, f)
		last = f.PTS
		w.write(f)
	}
	// The emulated VM runs slowly, more so on a loaded machine, and vivid
	// then drops frames (leaving gaps in its sequence numbers); the
	// timestamps must span the frames returned plus those dropped.
	st := src.Stats()
	span := time.Duration(vmCaptureFrames-1+int(st.DriverDrops)) * time.Second / vmCaptureFPS
	t.Logf("stats %+v; PTS span %v for %v of frames", st, last, span)
	if d := (last - span).Abs(); d > span*15/100+2*time.Second/vmCaptureFPS {
		t.Errorf("PTS span %v, want about %v", last, span)
	}
	if st.Frames != vmCaptureFrames || st.PixelFormat != "YUYV" || st.Encoder != "custom" || st.FPS != vmCaptureFPS || st.Capture != "native" {
		t.Errorf("stats %+v", st)
	}
	saveArtifact("capture.json", []byte(fmt.Sprintf(`{"frames":%d,"driver_drops":%d}`, vmCaptureFrames, st.DriverDrops)))
	saveArtifact("capture.mkv", buf.Bytes())
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := src.ReadFrame(); !errors.Is(err, ErrClosed) {
		t.Fatalf("ReadFrame after Close: %v", err)
	}
}

func TestVMOpenErrors(t *testing.T) {
	needVM(t)
	v := findDevice(t, "vivid capture device", isVivid)
	enc := findDevice(t, "vicodec encoder", isVicodecEncoder)
	ctx := context.Background()
	_, err := Open(ctx, "v4l2://"+v.Path+"?format=yuyv&width=640&height=480")
	if !errors.Is(err, ErrNoEncoder) || !strings.Contains(err.Error(), "-tags x264") {
		t.Errorf("raw capture without an encoder: %v", err)
	}
	_, err = Open(ctx, "v4l2://"+v.Path+"?format=yuyv&width=640&height=480&encoder="+enc.Path)
	if !errors.Is(err, ErrNotEncoder) {
		t.Errorf("vicodec (FWHT) as the H.264 encoder: %v", err)
	}
	_, err = Open(ctx, "v4l2://"+enc.Path)
	if !errors.Is(err, ErrNotCapture) {
		t.Errorf("opening an M2M device as a camera: %v", err)
	}
	_, err = Open(ctx, "v4l2://"+v.Path+"?format=h264")
	if !errors.Is(err, ErrUnsupportedFormat) {
		t.Errorf("h264 from vivid: %v", err)
	}
	_, err = Open(ctx, "v4l2:///dev/video99")
	if !errors.Is(err, unix.ENOENT) {
		t.Errorf("missing node: %v", err)
	}
	_, err = Open(ctx, "v4l2://"+v.Path+"?format=mjpeg")
	if !errors.Is(err, ErrUnsupportedFormat) {
		t.Errorf("mjpeg from vivid: %v", err)
	}
	_, err = Open(ctx, "v4l2://"+enc.Path+"?capture=mediadevices")
	if !errors.Is(err, ErrNotCapture) {
		t.Errorf("opening an M2M device as a mediadevices camera: %v", err)
	}
	_, err = Open(ctx, "v4l2://"+v.Path+"?format=nv12&width=640&height=480&capture=mediadevices")
	if !errors.Is(err, ErrNoEncoder) {
		t.Errorf("mediadevices capture without an encoder: %v", err)
	}
}

// TestVMM2MVicodec runs the memory-to-memory encoder against vicodec's
// stateful FWHT encoder (multi-planar): vivid YUYV pictures in, one coded
// frame out per picture with the picture's timestamp.
func TestVMM2MVicodec(t *testing.T) {
	needVM(t)
	v := findDevice(t, "vivid capture device", isVivid)
	enc := findDevice(t, "vicodec encoder", isVicodecEncoder)
	for _, tc := range []struct {
		name        string
		raw         uint32
		fullChromaH bool // the FWHT header says 4:2:2 (YUYV) rather than 4:2:0
	}{
		{"yuyv-native", 0, true},
		{"i420-converted", pixI420, false},
		{"nv12-converted", pixNV12, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := defaultConfig()
			// vicodec's smallest picture is 640x360; 4:2:0 formats are
			// padded to 640x368, with the visible size set as the crop.
			cfg.path, cfg.format, cfg.width, cfg.height, cfg.fps = v.Path, FormatYUYV, 640, 360, vmCaptureFPS
			log := testLogger(t)
			cam, err := openCamera(cfg, log)
			if err != nil {
				t.Fatal(err)
			}
			defer cam.close()
			const gop, n = 10, 30
			e, err := newM2MEncoder(enc.Path, m2mParams{coded: pixFWHT, src: cam.layout(), fps: vmCaptureFPS,
				bitrate: 1_000_000, keyint: gop, raw: tc.raw, buffers: 4}, log)
			if err != nil {
				t.Fatal(err)
			}
			defer e.close()
			if g, err := e.d.getControl(cidGOPSize); err != nil || g != gop {
				t.Fatalf("GOP size control %d, %v; want %d", g, err, gop)
			}
			var sent []time.Duration
			var got []encodedFrame
			deadline := time.Now().Add(20 * time.Second)
			for len(got) < n && time.Now().Before(deadline) {
				ef, ok, err := e.receive()
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					got = append(got, ef)
					continue
				}
				if len(sent) < n {
					d, err := cam.q.dequeue()
					if err == nil {
						ts := captureTime(d.ts, d.flags, false, monoNow())
						accepted, err := e.send(rawFrame{data: d.data, layout: cam.layout(), ts: ts})
						if err != nil {
							t.Fatal(err)
						}
						if accepted {
							sent = append(sent, ts)
						}
						if err := cam.q.enqueue(d.index, 0, 0); err != nil {
							t.Fatal(err)
						}
						continue
					} else if err != errWouldBlock {
						t.Fatal(err)
					}
				}
				fds := []unix.PollFd{{Fd: int32(cam.dev.fd), Events: unix.POLLIN}, {Fd: int32(e.d.fd), Events: unix.POLLIN}}
				if _, err := poll(fds, 100*time.Millisecond); err != nil {
					t.Fatal(err)
				}
			}
			if len(got) != n || len(sent) != n {
				t.Fatalf("sent %d pictures, got %d coded frames; want %d each", len(sent), len(got), n)
			}
			lastI := -1
			for i, f := range got {
				if f.ts != sent[i] {
					t.Fatalf("frame %d: timestamp %v, want the picture's %v", i, f.ts, sent[i])
				}
				if i > 0 && f.ts <= got[i-1].ts {
					t.Fatalf("frame %d: timestamp %v after %v", i, f.ts, got[i-1].ts)
				}
				if len(f.data) < 44 || binary.LittleEndian.Uint32(f.data) != 0x4f4f4f4f || binary.LittleEndian.Uint32(f.data[4:]) != 0xffffffff {
					t.Fatalf("frame %d: no FWHT header: % x", i, f.data[:min(16, len(f.data))])
				}
				w, h := binary.BigEndian.Uint32(f.data[12:]), binary.BigEndian.Uint32(f.data[16:])
				flags := binary.BigEndian.Uint32(f.data[20:])
				if w != 640 || h != 360 {
					t.Fatalf("frame %d: FWHT size %dx%d", i, w, h)
				}
				if full := flags&(1<<7) != 0; full != tc.fullChromaH {
					t.Fatalf("frame %d: FWHT chroma full height %v, want %v (flags %#x)", i, full, tc.fullChromaH, flags)
				}
				if flags&(1<<10) != 0 {
					if lastI >= 0 && i-lastI > gop {
						t.Fatalf("I frames %d and %d further apart than the GOP of %d", lastI, i, gop)
					}
					lastI = i
				} else if i == 0 {
					t.Fatalf("first frame is not an I frame (flags %#x)", flags)
				}
			}
			if n-1-lastI > gop {
				t.Fatalf("no I frame after frame %d", lastI)
			}
			t.Logf("%d frames, first %d bytes, span %v", n, len(got[0].data), got[n-1].ts-got[0].ts)
		})
	}
}

// TestVMReconnect unplugs vivid (unbinding it from its driver) while a
// source reads it, on both capture paths, and plugs it back.
func TestVMReconnect(t *testing.T) {
	needVM(t)
	for _, c := range []Capture{CaptureNative, CaptureMediadevices} {
		t.Run(string(c), func(t *testing.T) { testReconnect(t, c) })
	}
}

func testReconnect(t *testing.T, capture Capture) {
	v := findDevice(t, "vivid capture device", isVivid)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	src, err := Open(ctx, "v4l2://"+v.Path+"?format=yuyv&width=320&height=180&fps=30&capture="+string(capture),
		WithEncoder(pcmEncoder{keyint: 30}), WithReconnectBackoff(50*time.Millisecond, 200*time.Millisecond),
		WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if got := src.Stats().Capture; got != string(capture) {
		t.Fatalf("capture path %q, want %q", got, capture)
	}
	var last time.Duration
	for i := 0; i < 10; i++ {
		f, err := src.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		last = f.PTS
	}
	const drv = "/sys/bus/platform/drivers/vivid/"
	if err := os.WriteFile(drv+"unbind", []byte("vivid.0"), 0); err != nil {
		t.Fatalf("unbinding vivid: %v", err)
	}
	if _, err := os.Stat(v.Path); err == nil {
		t.Logf("%s still present right after unbind", v.Path)
	}
	const away = 1500 * time.Millisecond
	var wg sync.WaitGroup
	wg.Add(1)
	bindErr := make(chan error, 1)
	go func() {
		defer wg.Done()
		time.Sleep(away)
		bindErr <- os.WriteFile(drv+"bind", []byte("vivid.0"), 0)
	}()
	defer wg.Wait()
	// The mediadevices path may still hand over the frames its capture
	// goroutine took before the unplug (one waiting, one being handed
	// over); the native path reads the driver's queue directly.
	buffered := 0
	if capture == CaptureMediadevices {
		buffered = 2
	}
	var gap time.Duration
	gapAt := -1
	for i := 0; i < 10; i++ {
		f, err := src.ReadFrame()
		if err != nil {
			t.Fatalf("frame %d after unplug: %v", i, err)
		}
		if f.PTS <= last {
			t.Fatalf("PTS %v after %v", f.PTS, last)
		}
		if gapAt < 0 && f.PTS-last > away/2 {
			gap, gapAt = f.PTS-last, i
			if !f.Key {
				t.Fatalf("frame %d, the first after the reconnect, is not a key frame", i)
			}
		}
		last = f.PTS
	}
	if gapAt < 0 || gapAt > buffered {
		t.Fatalf("the reconnect's gap came before frame %d after the unplug, want within the first %d", gapAt, buffered+1)
	}
	if err := <-bindErr; err != nil {
		t.Fatalf("binding vivid: %v", err)
	}
	// A key frame on request, well before the encoder's interval of 30.
	src.RequestKeyFrame()
	key := -1
	for i := 0; i < 5 && key < 0; i++ {
		f, err := src.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if f.Key {
			key = i
		}
	}
	if key < 0 {
		t.Error("no key frame within 5 frames of RequestKeyFrame")
	}
	st := src.Stats()
	t.Logf("gap %v before frame %d after the unplug, stats %+v", gap, gapAt, st)
	if gap < away-200*time.Millisecond {
		t.Errorf("gap over the unplug %v, want at least about %v", gap, away)
	}
	if st.Reconnects != 1 || st.Capture != string(capture) {
		t.Errorf("reconnects %d on %q, want 1 on %q", st.Reconnects, st.Capture, capture)
	}
}

// clipAUs splits the recorded clip (x264, with access unit delimiters) into
// Annex-B access units.
func clipAUs(t *testing.T) [][]byte {
	t.Helper()
	b, err := os.ReadFile("testdata/clip320x240.h264")
	if err != nil {
		t.Fatal(err)
	}
	var aus [][]byte
	for _, n := range h264.SplitAnnexB(b) {
		if h264.NALType(n) == h264.NALUAUD || len(aus) == 0 {
			aus = append(aus, nil)
		}
		aus[len(aus)-1] = append(append(aus[len(aus)-1], 0, 0, 0, 1), n...)
	}
	return aus
}

// loopWriter feeds access units into the OUTPUT side of a v4l2loopback
// device at fps until stopped.
type loopWriter struct {
	d    *device
	stop chan struct{}
	wg   sync.WaitGroup
	n    int
	mu   sync.Mutex
	err  error
}

func startLoopWriter(t *testing.T, path string, aus [][]byte, fps int) *loopWriter {
	return startLoopWriterFormat(t, path, pixH264, vmLoopW, vmLoopH, aus, fps)
}

// startLoopWriterFormat feeds pictures in pixfmt of w x h.
func startLoopWriterFormat(t *testing.T, path string, pixfmt uint32, width, height int, aus [][]byte, fps int) *loopWriter {
	t.Helper()
	d, err := openDevice(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.setFormat(bufTypeVideoOutput, pixfmt, width, height, 256<<10); err != nil {
		d.close()
		t.Fatal(err)
	}
	w := &loopWriter{d: d, stop: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		tick := time.NewTicker(time.Second / time.Duration(fps))
		defer tick.Stop()
		for i := 0; ; i++ {
			if _, err := unix.Write(d.fd, aus[i%len(aus)]); err != nil {
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
				return
			}
			w.mu.Lock()
			w.n++
			w.mu.Unlock()
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func (w *loopWriter) close() error {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	w.wg.Wait()
	w.d.close()
	return w.err
}

// TestVMPassthroughLoopback feeds recorded H.264 into v4l2loopback and reads
// it back through Open with format=h264: the pass-through path on a real
// driver's buffers.
func TestVMPassthroughLoopback(t *testing.T) {
	needVM(t)
	lp := findDevice(t, "v4l2loopback device", isLoopback)
	aus := clipAUs(t)
	w := startLoopWriter(t, lp.Path, aus, 30)
	defer w.close()
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	src, err := Open(ctx, fmt.Sprintf("v4l2://%s?format=h264&width=%d&height=%d&fps=30", lp.Path, vmLoopW, vmLoopH),
		WithStallTimeout(time.Minute), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tr := src.Tracks()
	if len(tr) != 1 || tr[0].Width != vmLoopW || tr[0].Height != vmLoopH {
		t.Fatalf("tracks %+v", tr)
	}
	cfg, err := h264.ParseAVCC(tr[0].CodecPrivate)
	if err != nil {
		t.Fatal(err)
	}
	clipSPS, _ := h264.ParameterSets(h264.SplitAnnexB(aus[0]))
	if len(cfg.SPS) != 1 || !bytes.Equal(cfg.SPS[0], clipSPS[0]) {
		t.Fatalf("CodecPrivate SPS differs from the clip's")
	}
	// The VCL NAL units of each clip access unit, to find frames by.
	vcl := make([][]byte, len(aus))
	for i, au := range aus {
		for _, n := range h264.SplitAnnexB(au) {
			if h264.NALType(n).IsVCL() {
				vcl[i] = n
			}
		}
	}
	var buf bytes.Buffer
	mw := newMKVSink(t, &buf, tr)
	var last time.Duration
	prev, steps := -1, 0
	for i := 0; i < vmLoopFrames; i++ {
		f, err := src.ReadFrame()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		nalus, err := h264.SplitAVCC(f.Data)
		if err != nil {
			t.Fatal(err)
		}
		j := -1
		for _, n := range nalus {
			if h264.NALType(n) == h264.NALUAUD {
				t.Fatalf("frame %d kept an access unit delimiter", i)
			}
			if h264.NALType(n).IsVCL() {
				j = slices.IndexFunc(vcl, func(v []byte) bool { return bytes.Equal(v, n) })
			}
		}
		if j < 0 {
			t.Fatalf("frame %d matches no access unit of the clip", i)
		}
		if i == 0 && j%10 != 0 {
			t.Fatalf("first frame is clip access unit %d, not an IDR", j)
		}
		if prev >= 0 {
			step := (j - prev + len(aus)) % len(aus)
			if step != 1 {
				t.Logf("frame %d: clip access unit %d after %d (the loopback skipped some)", i, j, prev)
			}
			steps += step
		}
		prev = j
		idr := h264.IsKeyFrame(nalus)
		if f.Key != idr {
			t.Fatalf("frame %d: key %v, IDR %v", i, f.Key, idr)
		}
		if f.Key {
			sps, pps := h264.ParameterSets(nalus)
			if len(sps) != 1 || len(pps) != 1 {
				t.Fatalf("key frame %d (clip %d) without SPS/PPS", i, j)
			}
		}
		if i > 0 && f.PTS <= last {
			t.Fatalf("frame %d: PTS %v after %v", i, f.PTS, last)
		}
		last = f.PTS
		mw.write(f)
	}
	saveArtifact("passthrough.mkv", buf.Bytes())
	saveArtifact("passthrough.json", []byte(fmt.Sprintf(`{"frames":%d,"writes":%d}`, vmLoopFrames, steps)))
	t.Logf("stats %+v", src.Stats())

	// With the writer stopped, ReadFrame blocks; Close must end it.
	if err := w.close(); err != nil {
		t.Fatalf("loopback writer: %v", err)
	}
	done := readUntilBlocked(t, src)
	start := time.Now()
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("blocked ReadFrame after Close: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close took %v to end a blocked ReadFrame", d)
	}
}

// readUntilBlocked reads (and drops) frames until a ReadFrame has blocked
// for 500 ms, and returns the channel on which that read will report.
func readUntilBlocked(t *testing.T, src *Source) <-chan error {
	t.Helper()
	for {
		done := make(chan error, 1)
		go func() {
			_, err := src.ReadFrame()
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("ReadFrame: %v", err)
			}
		case <-time.After(500 * time.Millisecond):
			return done
		}
	}
}

// mkvSink writes the frames of one H.264 track as KVS-layout Matroska, a
// cluster from the first frame and from every key frame.
type mkvSink struct {
	t       *testing.T
	w       *mkv.Writer
	cluster int64
	started bool
}

func newMKVSink(t *testing.T, out io.Writer, tracks []media.Track) *mkvSink {
	t.Helper()
	w := mkv.NewWriter(out)
	if err := w.WriteHeader(mkv.SegmentInfo{MuxingApp: "kvskit", WritingApp: "v4l2 vm test"}, tracks); err != nil {
		t.Fatal(err)
	}
	return &mkvSink{t: t, w: w}
}

func (s *mkvSink) write(f media.Frame) {
	s.t.Helper()
	ms := f.PTS.Milliseconds()
	if f.Key || !s.started {
		s.cluster, s.started = ms, true
		if err := s.w.StartCluster(ms); err != nil {
			s.t.Fatal(err)
		}
	}
	if err := s.w.WriteBlock(1, int16(ms-s.cluster), f.Key, f.Data); err != nil {
		s.t.Fatal(err)
	}
}

// checkEncodedFrame checks that frame i is AVCC and that a key frame starts
// with its SPS and holds an IDR picture.
func checkEncodedFrame(t *testing.T, i int, f media.Frame) {
	t.Helper()
	nalus, err := h264.SplitAVCC(f.Data)
	if err != nil || len(nalus) == 0 {
		t.Fatalf("frame %d: not AVCC: %v", i, err)
	}
	if f.Key && (h264.NALType(nalus[0]) != h264.NALUSPS || !h264.IsKeyFrame(nalus)) {
		t.Fatalf("frame %d: key frame without SPS first / IDR", i)
	}
}
