package producer_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"kvskit/internal/testenv"
	"kvskit/producer"
)

// TestProducedMKVReadByRealTools records the PutMedia body the producer sends
// for a real H.264 + AAC clip and has mkvinfo, ffprobe and GStreamer's
// matroskademux read it.
func TestProducedMKVReadByRealTools(t *testing.T) {
	tracks, frames := clip(t, 5)
	fake := newFakeKVS(t, "us-east-1")
	p, err := producer.New(context.Background(), fake.config(t, "tools"), tracks)
	if err != nil {
		t.Fatal(err)
	}
	if err := upload(t, p, frames); err != nil {
		t.Fatalf("Close: %v", err)
	}
	recs := fake.records()
	if len(recs) != 1 {
		t.Fatalf("%d PutMedia requests, want 1", len(recs))
	}
	file := filepath.Join(t.TempDir(), "putmedia-body.mkv")
	if err := os.WriteFile(file, recs[0].Body, 0o644); err != nil {
		t.Fatal(err)
	}

	out, err := exec.Command(testenv.Tool(t, "mkvinfo"), file).CombinedOutput()
	if err != nil || strings.Contains(strings.ToLower(string(out)), "error") {
		t.Fatalf("mkvinfo: %v\n%s", err, out)
	}
	for _, want := range []string{"Segment: size unknown", "Codec ID: V_MPEG4/ISO/AVC", "Codec ID: A_AAC", "Cluster"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("mkvinfo output lacks %q", want)
		}
	}

	probe := exec.Command(testenv.Tool(t, "ffprobe"), "-v", "error", "-count_packets", "-show_entries",
		"stream=codec_name,width,height,nb_read_packets", "-of", "csv=p=0", file)
	pout, err := probe.CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, pout)
	}
	video := 0
	for _, f := range frames {
		if f.Track == 1 {
			video++
		}
	}
	lines := strings.Split(strings.TrimSpace(string(pout)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "h264,320,240,") || !strings.HasPrefix(lines[1], "aac,") {
		t.Fatalf("ffprobe streams:\n%s", pout)
	}
	// Frames before the first key frame are not sent; everything after is.
	if got := lines[0][strings.LastIndex(lines[0], ",")+1:]; got != strconv.Itoa(video) {
		t.Errorf("ffprobe counts %s video packets, %d were written", got, video)
	}

	gst := testenv.Tool(t, "gst-launch-1.0")
	gout, err := exec.Command(gst, "-q", "filesrc", "location="+file, "!", "matroskademux", "name=d",
		"d.video_0", "!", "queue", "!", "h264parse", "!", "fakesink",
		"d.audio_0", "!", "queue", "!", "aacparse", "!", "fakesink").CombinedOutput()
	if err != nil {
		t.Fatalf("GStreamer matroskademux: %v\n%s", err, gout)
	}
}
