package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"kvskit/internal/testenv"
)

// toolRun runs a program and returns its combined output and exit error.
func toolRun(name string, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// frameCounts decodes a file with ffprobe and returns the frames read per
// stream type, failing on anything ffprobe reports as an error.
func frameCounts(t *testing.T, file string) map[string]int {
	t.Helper()
	ffprobe := testenv.Tool(t, "ffprobe")
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(ffprobe, "-v", "error", "-count_frames",
		"-show_entries", "stream=codec_type,codec_name,nb_read_frames", "-of", "json", file)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("ffprobe %s: %v\n%s", filepath.Base(file), err, stderr.String())
	}
	var out struct {
		Streams []struct {
			CodecType    string `json:"codec_type"`
			CodecName    string `json:"codec_name"`
			NbReadFrames string `json:"nb_read_frames"`
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("ffprobe output %q: %v", stdout.String(), err)
	}
	counts := map[string]int{}
	for _, s := range out.Streams {
		var n int
		if _, err := fmt.Sscan(s.NbReadFrames, &n); err != nil {
			t.Fatalf("ffprobe %s: frames of %s: %q", filepath.Base(file), s.CodecName, s.NbReadFrames)
		}
		counts[s.CodecType+"/"+s.CodecName] += n
	}
	return counts
}

// mkvinfoProblem matches what mkvinfo prints about a damaged or
// non-conforming structure.
var mkvinfoProblem = regexp.MustCompile(`(?i)error|warning|invalid|unknown element|broken|not a valid`)

// gstPipelines are GStreamer pipelines that must run a file to its end.
var gstPipelines = []string{
	"filesrc location=%s ! matroskademux ! fakesink",
	"filesrc location=%s ! matroskademux name=d d.video_0 ! queue ! h264parse ! video/x-h264,stream-format=byte-stream,alignment=au ! fakesink d.audio_0 ! queue ! fakesink",
	"filesrc location=%s ! matroskademux name=d d.video_0 ! queue ! h264parse ! avdec_h264 ! fakesink d.audio_0 ! queue ! aacparse ! avdec_aac ! fakesink",
}

// TestArchiveOutputReadByRealTools uploads a clip and reads it back with
// boto3 (GetMedia, GetMediaForFragmentList), then has mkvinfo, ffprobe and
// GStreamer read the MKV the endpoint wrote. It also lists fragments by
// server and producer timestamp ranges with boto3.
func TestArchiveOutputReadByRealTools(t *testing.T) {
	mkvinfo := testenv.Tool(t, "mkvinfo")
	gst := testenv.Tool(t, "gst-launch-1.0")
	dir := t.TempDir()
	clip := makeFragmentedClip(t, dir, 6)
	src := sourceClusters(t, clip)
	p := startServe(t, filepath.Join(dir, "data"))
	createStreams(t, p, 1, "tools")
	start := time.Now().Add(-time.Hour).Truncate(time.Second).UnixMilli()
	// Paced, so the fragments' server timestamps are spread out.
	acks := upload(t, p, "tools", clip, append([]string{"--start", startArg(start)}, paceFor(t, clip, 5*time.Second)...)...)
	if n := countEvents(acks, "PERSISTED"); n != len(src) {
		t.Fatalf("%d fragments persisted, the clip has %d clusters", n, len(src))
	}
	out, err := p.python(t, "getmedia.py", p.URL, p.Region, "tools", dir)
	if err != nil {
		t.Fatal(err)
	}
	type frag struct {
		FragmentNumber   string
		Producer, Server float64
	}
	var all []frag
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var f frag
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			t.Fatalf("fragment line %q: %v", line, err)
		}
		all = append(all, f)
	}
	if len(all) != len(src) {
		t.Fatalf("%d fragments listed, want %d", len(all), len(src))
	}

	want := frameCounts(t, clip)
	if want["video/h264"] == 0 || want["audio/aac"] == 0 {
		t.Fatalf("source frame counts %v", want)
	}
	for _, name := range []string{"list.mkv", "getmedia.mkv"} {
		file := filepath.Join(dir, name)
		t.Run(name, func(t *testing.T) {
			info, err := toolRun(mkvinfo, "--all", file)
			if err != nil {
				t.Errorf("mkvinfo: %v\n%s", err, info)
			}
			for _, line := range strings.Split(info, "\n") {
				if mkvinfoProblem.MatchString(line) {
					t.Errorf("mkvinfo: %s", line)
				}
			}
			if n := strings.Count(info, "\n|+ Cluster\n"); n != len(src) {
				t.Errorf("mkvinfo shows %d clusters, want %d", n, len(src))
			}
			if got := frameCounts(t, file); !mapsEqual(got, want) {
				t.Errorf("ffprobe frame counts %v, source %v", got, want)
			}
			for _, pl := range gstPipelines {
				args := append([]string{"-q"}, strings.Fields(fmt.Sprintf(pl, file))...)
				out, err := toolRun(gst, args...)
				if err != nil || strings.Contains(out, "ERROR") || strings.Contains(out, "WARNING") {
					t.Errorf("gst-launch-1.0 %s: %v\n%s", strings.Join(args, " "), err, out)
				}
			}
		})
	}

	// Timestamp ranges. boto3 sends the bounds of ListFragments as whole
	// epoch seconds (botocore's precision for this API), so the ranges are
	// whole seconds; both bounds are inclusive.
	n := len(all)
	for i := 1; i < n; i++ {
		if all[i].Server <= all[i-1].Server || all[i].Producer <= all[i-1].Producer {
			t.Fatalf("timestamps not increasing: %+v", all)
		}
	}
	type rng struct {
		kind   string
		lo, hi int64
	}
	expect := func(r rng) []string {
		var out []string
		for _, f := range all {
			ts := f.Server
			if r.kind == "PRODUCER_TIMESTAMP" {
				ts = f.Producer
			}
			if ts >= float64(r.lo) && ts <= float64(r.hi) {
				out = append(out, f.FragmentNumber)
			}
		}
		return out
	}
	first, last := int64(math.Ceil(all[0].Server)), int64(math.Floor(all[n-1].Server))
	// Server timestamps carry more precision than the milliseconds listed:
	// keep bounds away from them.
	awayFrom := func(k int64) bool {
		for _, f := range all {
			if math.Abs(f.Server-float64(k)) < 0.002 {
				return false
			}
		}
		return true
	}
	var ranges []rng
	for k := first; k < last; k++ {
		if awayFrom(k) && awayFrom(k+1) {
			ranges = append(ranges, rng{"SERVER_TIMESTAMP", k, k + 1})
		}
	}
	ps := start / 1000 // the producer start, a whole second: fragment 0 is exactly on it
	ranges = append(ranges,
		rng{"SERVER_TIMESTAMP", first - 10, last + 10},
		rng{"SERVER_TIMESTAMP", last + 2, last + 5},
		rng{"PRODUCER_TIMESTAMP", ps, ps + 1},
		rng{"PRODUCER_TIMESTAMP", ps + 2, ps + 4},
		rng{"PRODUCER_TIMESTAMP", ps - 5, ps - 1},
	)
	partial := 0
	for _, r := range ranges {
		if e := len(expect(r)); r.kind == "SERVER_TIMESTAMP" && e > 0 && e < n {
			partial++
		}
	}
	if partial < 2 {
		t.Fatalf("server timestamps %+v too close together for subsets by whole seconds", all)
	}
	args := []string{p.URL, p.Region, "tools"}
	for _, r := range ranges {
		args = append(args, fmt.Sprintf("%s:%d:%d", r.kind, r.lo, r.hi))
	}
	out, err = p.python(t, "listfragments.py", args...)
	if err != nil {
		t.Fatal(err)
	}
	got := make([][]string, len(ranges))
	cur := -1
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if _, err := fmt.Sscanf(line, "RANGE %d", &cur); err == nil {
			continue
		}
		var f frag
		if err := json.Unmarshal([]byte(line), &f); err != nil || cur < 0 {
			t.Fatalf("listfragments line %q: %v", line, err)
		}
		got[cur] = append(got[cur], f.FragmentNumber)
	}
	for i, r := range ranges {
		if want := expect(r); !slices.Equal(got[i], want) {
			t.Errorf("ListFragments %s [%d, %d]: got %d fragments %v, want %d %v", r.kind, r.lo, r.hi, len(got[i]), got[i], len(want), want)
		}
	}
	t.Logf("%d ListFragments ranges checked, %d of them proper subsets by server timestamp", len(ranges), partial)
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
