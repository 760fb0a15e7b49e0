package testenv

import (
	"encoding/json"
	"testing"
)

// VideoProbe is what ffprobe reports about the first video stream of a file
// (with -show_streams, -count_frames, -show_packets, -show_data as asked).
type VideoProbe struct {
	Streams []struct {
		Width        int    `json:"width"`
		Height       int    `json:"height"`
		Profile      string `json:"profile"`
		NbReadFrames string `json:"nb_read_frames"`
		Extradata    string `json:"extradata"`
	} `json:"streams"`
	Packets []struct {
		Flags string `json:"flags"`
	} `json:"packets"`
}

// ProbeVideo runs ffprobe with args on the first video stream of file and
// fails the test unless it reports exactly one stream.
func ProbeVideo(t testing.TB, file string, args ...string) VideoProbe {
	t.Helper()
	args = append([]string{"-v", "error", "-of", "json", "-select_streams", "v:0"}, args...)
	var p VideoProbe
	if err := json.Unmarshal(Run(t, "ffprobe", append(args, file)...), &p); err != nil {
		t.Fatalf("ffprobe %s: %v", file, err)
	}
	if len(p.Streams) != 1 {
		t.Fatalf("ffprobe %s: %d streams", file, len(p.Streams))
	}
	return p
}
