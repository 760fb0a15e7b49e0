//go:build linux

package v4l2

import (
	"context"
	"encoding/json"
	"errors"
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
// checks the MKV files they wrote with ffprobe and ffmpeg: the vivid capture
// (YUYV, encoded in the VM by the tests' lossless I_PCM H.264 encoder
// through the software encoder path) and the H.264 pass-through from
// v4l2loopback.
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
	ffmpeg := testenv.Tool(t, "ffmpeg")
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
		"TestVMReconnect", "TestVMPassthroughLoopback",
	} {
		if !strings.Contains(string(console), "--- PASS: "+name+" ") {
			t.Errorf("%s did not pass in the VM", name)
		}
	}
	if t.Failed() {
		t.Fatalf("console:\n%s", console)
	}

	capture := filepath.Join(out, "files", "capture.mkv")
	probeVideo(t, ffprobe, capture, vmCaptureW, vmCaptureH, vmCaptureFrames, vmCaptureFPS)
	decodes(t, ffmpeg, capture)
	pass := filepath.Join(out, "files", "passthrough.mkv")
	probeVideo(t, ffprobe, pass, vmLoopW, vmLoopH, vmLoopFrames, 30)
	decodes(t, ffmpeg, pass)
}

// probeVideo checks an MKV's only stream with ffprobe: H.264 of the size,
// frame count (decoded) and frame rate (from the packet timestamps, within
// 25%: the emulated VM's drivers run with some jitter).
func probeVideo(t *testing.T, ffprobe, path string, w, h, frames int, fps float64) {
	t.Helper()
	b, err := exec.Command(ffprobe, "-v", "error", "-count_frames", "-show_entries",
		"stream=codec_name,width,height,nb_read_frames:packet=pts_time", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
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
	first, _ := strconv.ParseFloat(res.Packets[0].PTSTime, 64)
	last, _ := strconv.ParseFloat(res.Packets[len(res.Packets)-1].PTSTime, 64)
	rate := float64(frames-1) / (last - first)
	if rate < fps*0.75 || rate > fps*1.25 {
		t.Errorf("%s: %.2f frames per second from the timestamps, want about %v", path, rate, fps)
	}
	t.Logf("%s: %s %dx%d, %d frames, %.2f fps", filepath.Base(path), s.CodecName, s.Width, s.Height, n, rate)
}

// decodes checks that ffmpeg decodes the file without an error.
func decodes(t *testing.T, ffmpeg, path string) {
	t.Helper()
	if b, err := exec.Command(ffmpeg, "-v", "error", "-xerror", "-i", path, "-f", "null", "-").CombinedOutput(); err != nil || len(b) > 0 {
		t.Errorf("ffmpeg decoding %s: %v %s", filepath.Base(path), err, b)
	}
}
