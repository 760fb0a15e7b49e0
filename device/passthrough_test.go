package device

import "testing"

func TestPassesThrough(t *testing.T) {
	for uri, want := range map[string]bool{
		"rtsp://user:pass@cam:554/live": true,
		"RTSPS://cam/live":              true,
		"test://":                       true,
		"test:///var/clip.mkv":          true,
		"v4l2:///dev/video0?width=1280": false,
		"http://cam/live":               false,
		"%zz":                           false,
	} {
		if got := PassesThrough(uri); got != want {
			t.Errorf("PassesThrough(%q) = %v, want %v", uri, got, want)
		}
	}
}
