package main

import (
	"encoding/json"
	"math"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"kvskit/internal/testenv"
)

// probePacket is one packet as ffprobe lists it.
type probePacket struct {
	Stream int
	PTS    float64 // seconds
	Size   int
	Hash   string
	Key    bool
}

// probePackets lists the packets of a file, in file order, with their data
// hashes.
func probePackets(t *testing.T, file string) []probePacket {
	t.Helper()
	out := run(t, testenv.Tool(t, "ffprobe"), "-v", "error", "-show_data_hash", "MD5",
		"-show_entries", "packet=stream_index,pts_time,size,flags,data_hash", "-of", "json", file)
	var doc struct {
		Packets []struct {
			StreamIndex int    `json:"stream_index"`
			PTSTime     string `json:"pts_time"`
			Size        string `json:"size"`
			Flags       string `json:"flags"`
			DataHash    string `json:"data_hash"`
		} `json:"packets"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("ffprobe %s: %v", file, err)
	}
	var list []probePacket
	for _, p := range doc.Packets {
		pts, err := strconv.ParseFloat(p.PTSTime, 64)
		if err != nil {
			t.Fatalf("ffprobe %s: pts_time %q", file, p.PTSTime)
		}
		size, _ := strconv.Atoi(p.Size)
		list = append(list, probePacket{Stream: p.StreamIndex, PTS: pts, Size: size, Hash: p.DataHash,
			Key: strings.HasPrefix(p.Flags, "K")})
	}
	return list
}

// packetsOf returns the packets of one kind ("video" or "audio"): ffmpeg's
// MP4 and MKV files made here put video first.
func packetsOf(list []probePacket, stream int) []probePacket {
	var out []probePacket
	for _, p := range list {
		if p.Stream == stream {
			out = append(out, p)
		}
	}
	return out
}

// putDone is the final JSON event of kvs put --output json.
type putDone struct {
	Event           string `json:"event"`
	Frames          uint64 `json:"frames"`
	Dropped         uint64 `json:"frames_dropped_before_key_frame"`
	DroppedVideo    uint64 `json:"video_frames_dropped_before_key_frame"`
	Persisted       int    `json:"persisted"`
	Fragments       int    `json:"fragments"`
	FailedFragments int    `json:"failed"`
}

func lastDone(t *testing.T, out string) putDone {
	t.Helper()
	var d putDone
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, `"event":"done"`) {
			if err := json.Unmarshal([]byte(line), &d); err != nil {
				t.Fatalf("done event %q: %v", line, err)
			}
		}
	}
	if d.Event != "done" {
		t.Fatalf("no final JSON event in:\n%s", out)
	}
	return d
}

// TestPutKeepsAudioBeforeKeyFrame uploads an ffmpeg MP4 with AAC, whose
// first audio packet (the encoder's priming frame) precedes the first
// picture, and the same file cut to start between key frames: every audio
// packet comes back with its data and its time relative to the pictures,
// and only the video frames before the first key frame are left out, counted
// and named.
func TestPutKeepsAudioBeforeKeyFrame(t *testing.T) {
	dir := t.TempDir()
	mp4 := ffmpegMake(t, filepath.Join(dir, "in.mp4"), "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "5",
		"-c:v", "libx264", "-bf", "0", "-g", "30", "-c:a", "aac")
	// The same media without its first 10 pictures: the video starts 20
	// frames before a key frame, the audio a second before it.
	mid := ffmpegMake(t, filepath.Join(dir, "mid.mkv"), "-i", mp4, "-c", "copy", "-bsf:v", `noise=drop=lt(n\,10)`)

	p := startServe(t, filepath.Join(dir, "data"))
	for _, tc := range []struct {
		name, file   string
		droppedVideo int
	}{
		{"mp4-priming", mp4, 0},
		{"mid-gop", mid, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := probePackets(t, tc.file)
			srcV, srcA := packetsOf(src, 0), packetsOf(src, 1)
			if len(srcA) == 0 || !srcV[tc.droppedVideo].Key || srcA[0].PTS >= srcV[tc.droppedVideo].PTS {
				t.Fatalf("source %s: want audio ahead of the first key frame (packet %d)", tc.file, tc.droppedVideo)
			}
			_, errOut, err := p.put(t, nil, tc.file, "--stream", tc.name, "--create-stream", "--output", "json")
			if err != nil {
				t.Fatalf("kvs put: %v\n%s", err, errOut)
			}
			done := lastDone(t, errOut)
			if want := uint64(len(src) - tc.droppedVideo); done.Frames != want || done.Dropped != uint64(tc.droppedVideo) ||
				done.DroppedVideo != uint64(tc.droppedVideo) {
				t.Errorf("done event %+v: want %d frames sent, %d video frames dropped", done, want, tc.droppedVideo)
			}
			_, text, err := p.put(t, nil, tc.file, "--stream", tc.name+"-text", "--create-stream")
			if err != nil {
				t.Fatalf("kvs put: %v\n%s", err, text)
			}
			if tc.droppedVideo > 0 && !strings.Contains(text, "dropped 20 video frames before the first video key frame") {
				t.Errorf("summary does not name the dropped frames:\n%s", text)
			}
			if !strings.Contains(text, strconv.Itoa(len(src)-tc.droppedVideo)+" frames") {
				t.Errorf("summary does not count %d frames sent:\n%s", len(src)-tc.droppedVideo, text)
			}

			var numbers []string
			for _, f := range p.fragmentsOf(t, tc.name) {
				numbers = append(numbers, f.FragmentNumber)
			}
			got := filepath.Join(dir, tc.name+"-out.mkv")
			if _, errOut, err := p.kvs(t, "get", "media", "--stream", tc.name, "--fragments", strings.Join(numbers, ","), "-o", got); err != nil {
				t.Fatalf("get media: %v %s", err, errOut)
			}
			back := probePackets(t, got)
			backV, backA := packetsOf(back, 0), packetsOf(back, 1)
			if len(backA) != len(srcA) {
				t.Fatalf("%d audio packets sent, %d came back", len(srcA), len(backA))
			}
			srcV = srcV[tc.droppedVideo:]
			if len(backV) != len(srcV) {
				t.Fatalf("%d video packets from the first key frame on, %d came back", len(srcV), len(backV))
			}
			// Times relative to the first picture that came back.
			for i := range srcA {
				s, b := srcA[i], backA[i]
				sRel, bRel := s.PTS-srcV[0].PTS, b.PTS-backV[0].PTS
				if s.Hash != b.Hash || s.Size != b.Size || math.Abs(sRel-bRel) > 0.0015 {
					t.Fatalf("audio packet %d: %d bytes %s at %+.4f s from the first picture; came back %d bytes %s at %+.4f s",
						i, s.Size, s.Hash, sRel, b.Size, b.Hash, bRel)
				}
			}
			for i := range srcV {
				if srcV[i].Hash != backV[i].Hash {
					t.Fatalf("video packet %d differs", i)
				}
			}
			if out, err := runErr(testenv.Tool(t, "ffmpeg"), "-v", "error", "-xerror", "-i", got, "-f", "null", "-"); err != nil {
				t.Fatalf("the archive does not decode cleanly: %v\n%s", err, out)
			}
		})
	}
}

// runErr runs a command and returns its combined output and error.
func runErr(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
