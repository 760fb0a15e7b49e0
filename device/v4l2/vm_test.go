//go:build linux

package v4l2

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"kvskit/internal/testenv"
)

// TestVividVM boots the VM of test/vm/run-vivid.sh, which runs the TestVM*
// tests against the kernel's vivid, vicodec and v4l2loopback drivers, and
// checks the MKV files they wrote with ffprobe and ffmpeg: the native vivid
// capture (YUYV, encoded in the VM by the tests' lossless I_PCM H.264
// encoder through the software encoder path), the vivid captures through
// the mediadevices path (YUYV, NV12, I420), the MJPEG camera (JPEG pictures
// written into v4l2loopback, decoded on the mediadevices path) and the
// H.264 pass-through from v4l2loopback.
func TestVividVM(t *testing.T) {
	if inVM() {
		t.Skip("this is the VM")
	}
	if testing.Short() {
		t.Skip("boots a VM")
	}
	if runtime.GOARCH != "amd64" {
		t.Skip("the VM is x86-64 with Debian's amd64 kernel")
	}
	testenv.Tool(t, "bash")
	testenv.Tool(t, "qemu-system-x86_64")
	ffprobe := testenv.Tool(t, "ffprobe")
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	script, err := filepath.Abs("../../test/vm/run-vivid.sh")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, "bash", script, out)
	log, err := cmd.CombinedOutput()
	t.Logf("run-vivid.sh (%v):\n%s", time.Since(start).Round(time.Second), log)
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 77 {
		testenv.Missing(t, "the VM's prerequisites ("+strings.TrimSpace(string(log))+")")
	}
	console, _ := os.ReadFile(filepath.Join(out, "console.txt"))
	if err != nil {
		t.Fatalf("run-vivid.sh: %v\nconsole:\n%s", err, console)
	}
	for _, name := range []string{
		"TestVMListDevices", "TestVMCaptureEncodeMKV", "TestVMOpenErrors", "TestVMM2MVicodec",
		"TestVMM2MVicodec/yuyv-native", "TestVMM2MVicodec/i420-converted", "TestVMM2MVicodec/nv12-converted",
		"TestVMReconnect", "TestVMReconnect/native", "TestVMReconnect/mediadevices", "TestVMPassthroughLoopback",
		"TestVMCaptureMediadevices", "TestVMCaptureMediadevices/yuyv", "TestVMCaptureMediadevices/nv12",
		"TestVMCaptureMediadevices/i420", "TestVMMJPEGLoopback", "TestVMM2MVicodecImages",
	} {
		if !strings.Contains(string(console), "--- PASS: "+name+" ") {
			t.Errorf("%s did not pass in the VM", name)
		}
	}
	if t.Failed() {
		t.Fatalf("console:\n%s", console)
	}

	// The capture: vivid's frames, the frames it dropped while the
	// emulated VM fell behind (reported by the VM test from the buffer
	// sequence numbers), and the timestamps spanning both.
	var capInfo struct {
		Frames      int `json:"frames"`
		DriverDrops int `json:"driver_drops"`
	}
	readJSON(t, filepath.Join(out, "files", "capture.json"), &capInfo)
	span := probeVideo(t, ffprobe, filepath.Join(out, "files", "capture.mkv"), vmCaptureW, vmCaptureH, vmCaptureFrames)
	want := float64(vmCaptureFrames-1+capInfo.DriverDrops) / vmCaptureFPS
	t.Logf("capture.mkv: %.3f s for %d frames and %d dropped by the driver at %d fps (%.3f s)", span, vmCaptureFrames, capInfo.DriverDrops, vmCaptureFPS, want)
	if math.Abs(span-want) > 0.15*want+2.0/vmCaptureFPS {
		t.Errorf("capture.mkv spans %.3f s, want about %.3f s", span, want)
	}
	// The pass-through: the writer in the VM wrote the clip at 30 fps at
	// most (later when the VM is slow), so the frames span at least the
	// writes between them.
	var passInfo struct {
		Writes int `json:"writes"`
	}
	readJSON(t, filepath.Join(out, "files", "passthrough.json"), &passInfo)
	span = probeVideo(t, ffprobe, filepath.Join(out, "files", "passthrough.mkv"), vmLoopW, vmLoopH, vmLoopFrames)
	want = float64(passInfo.Writes) / 30
	t.Logf("passthrough.mkv: %.3f s for %d writes at 30 fps (%.3f s)", span, passInfo.Writes, want)
	if span < 0.85*want-2.0/30 || span > 4*want {
		t.Errorf("passthrough.mkv spans %.3f s, want at least about %.3f s", span, want)
	}

	// The mediadevices captures stamp frames when they are dequeued: the
	// frames cannot come faster than vivid's rate, and their timestamps
	// cannot span more than the time the test ran.
	for _, pf := range vmMDFormats {
		name := "md-" + string(pf)
		var run mdRun
		readJSON(t, filepath.Join(out, "files", name+".json"), &run)
		span := probeVideo(t, ffprobe, filepath.Join(out, "files", name+".mkv"), vmCaptureW, vmCaptureH, vmMDFrames)
		least := float64(vmMDFrames-1) / vmCaptureFPS
		t.Logf("%s.mkv: %.3f s for %d frames at %d fps (at least %.3f s), %.3f s of wall-clock time", name, span, vmMDFrames, vmCaptureFPS, least, run.Wall)
		if span < 0.85*least-2.0/vmCaptureFPS || span > run.Wall {
			t.Errorf("%s.mkv spans %.3f s, want %.3f..%.3f s", name, span, least, run.Wall)
		}
	}

	// The MJPEG camera: frame count, size and rate as above, and every
	// picture one of the gray levels written, scaled to the limited range.
	var mj mdRun
	readJSON(t, filepath.Join(out, "files", "mjpeg.json"), &mj)
	mjPath := filepath.Join(out, "files", "mjpeg.mkv")
	span = probeVideo(t, ffprobe, mjPath, vmLoopW, vmLoopH, vmMJPEGFrames)
	t.Logf("mjpeg.mkv: %.3f s for %d frames, %d pictures written at 30 fps, %.3f s of wall-clock time", span, vmMJPEGFrames, mj.Writes, mj.Wall)
	if least := float64(vmMJPEGFrames-1) / 30; span < 0.85*least-2.0/30 || span > mj.Wall {
		t.Errorf("mjpeg.mkv spans %.3f s, want %.3f..%.3f s", span, least, mj.Wall)
	}
	checkMJPEGLevels(t, testenv.Tool(t, "ffmpeg"), mjPath)
}

// checkMJPEGLevels decodes the MJPEG capture and matches each picture's
// mean luma (with its spread) to one of the levels the VM wrote, as the
// encoder got it: JPEG's full range scaled to 16..235.
func checkMJPEGLevels(t *testing.T, ffmpeg, path string) {
	t.Helper()
	// The capture's millisecond timestamps kept as they are: in ffmpeg's
	// default 1/30 s time base two pictures of a jittery camera can fall on
	// the same tick, which its rawvideo muxer reports as an error.
	cmd := exec.Command(ffmpeg, "-v", "error", "-i", path, "-fps_mode", "passthrough", "-enc_time_base", "-1",
		"-f", "rawvideo", "-pix_fmt", "yuv420p", "-")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("ffmpeg %s: %v %s", path, err, stderr.String())
	}
	size := vmLoopW * vmLoopH * 3 / 2
	if len(raw) != vmMJPEGFrames*size {
		t.Fatalf("%d bytes of pictures, want %d frames of %d", len(raw), vmMJPEGFrames, size)
	}
	seen := map[int]bool{}
	for i := 0; i < vmMJPEGFrames; i++ {
		y := raw[i*size : i*size+vmLoopW*vmLoopH]
		lo, hi, sum := 255, 0, 0
		for _, v := range y {
			lo, hi, sum = min(lo, int(v)), max(hi, int(v)), sum+int(v)
		}
		mean := float64(sum) / float64(len(y))
		k := -1
		for j := range vmMJPEGLevels {
			if want := float64(16 + (vmMJPEGLevel(j)*219+127)/255); math.Abs(mean-want) <= 1.5 {
				k = j
			}
		}
		if k < 0 || hi-lo > 4 {
			t.Fatalf("picture %d: luma %d..%d, mean %.2f, matches no level written", i, lo, hi, mean)
		}
		// The chroma is neutral.
		c := raw[i*size+vmLoopW*vmLoopH : (i+1)*size]
		for _, v := range c {
			if v < 126 || v > 130 {
				t.Fatalf("picture %d: chroma %d", i, v)
			}
		}
		seen[k] = true
	}
	t.Logf("mjpeg.mkv: %d pictures match %d of the %d levels written", vmMJPEGFrames, len(seen), vmMJPEGLevels)
	if len(seen) < vmMJPEGFrames/4 {
		t.Errorf("only %d distinct levels in %d pictures", len(seen), vmMJPEGFrames)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// probeVideo checks an MKV's only stream with ffprobe, which decodes every
// frame: H.264 of the size and frame count, no decoding error, strictly
// increasing timestamps. It returns the time from the first frame to the
// last.
func probeVideo(t *testing.T, ffprobe, path string, w, h, frames int) float64 {
	t.Helper()
	cmd := exec.Command(ffprobe, "-v", "error", "-count_frames", "-show_entries",
		"stream=codec_name,width,height,nb_read_frames:packet=pts_time", "-of", "json", path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("ffprobe %s: %v %s", path, err, stderr.String())
	}
	var res struct {
		Streams []struct {
			CodecName    string `json:"codec_name"`
			Width        int    `json:"width"`
			Height       int    `json:"height"`
			NbReadFrames string `json:"nb_read_frames"`
		} `json:"streams"`
		Packets []struct {
			PTSTime string `json:"pts_time"`
		} `json:"packets"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("ffprobe output: %v", err)
	}
	if len(res.Streams) != 1 {
		t.Fatalf("%s: %d streams", path, len(res.Streams))
	}
	s := res.Streams[0]
	n, _ := strconv.Atoi(s.NbReadFrames)
	if s.CodecName != "h264" || s.Width != w || s.Height != h || n != frames {
		t.Errorf("%s: %s %dx%d, %d frames decoded; want h264 %dx%d, %d", path, s.CodecName, s.Width, s.Height, n, w, h, frames)
	}
	if len(res.Packets) != frames {
		t.Fatalf("%s: %d packets, want %d", path, len(res.Packets), frames)
	}
	var first, prev float64
	for i, p := range res.Packets {
		pts, err := strconv.ParseFloat(p.PTSTime, 64)
		if err != nil {
			t.Fatalf("%s: packet %d pts %q", path, i, p.PTSTime)
		}
		if i == 0 {
			first = pts
		} else if pts <= prev {
			t.Fatalf("%s: packet %d at %v s after %v s", path, i, pts, prev)
		}
		prev = pts
	}
	t.Logf("%s: %s %dx%d, %d frames decoded", filepath.Base(path), s.CodecName, s.Width, s.Height, n)
	return prev - first
}
