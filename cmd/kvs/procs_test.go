package main

import (
	"fmt"
	"runtime"
	"testing"
)

func TestTuneProcsForCapture(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	rtsp := func(n int) []string {
		var s []string
		for i := range n {
			s = append(s, fmt.Sprintf("rtsp://cam%d/live", i))
		}
		return s
	}
	for _, tc := range []struct {
		name    string
		sources []string
		procs   int // what GOMAXPROCS was
		want    int
	}{
		{"one RTSP camera", []string{"rtsp://user:pass@cam:554/live"}, 4, 1},
		{"test pattern", []string{"test://"}, 4, 1},
		{"a file looped", []string{"test:///var/clip.mkv"}, 4, 1},
		{"16 cameras", rtsp(16), 4, 1},
		{"17 cameras", rtsp(17), 4, 2},
		{"never above the default", rtsp(100), 4, 4},
		{"a V4L2 camera among them", []string{"rtsp://cam/live", "v4l2:///dev/video0"}, 4, 4},
		{"an unparsable source", []string{"rtsp://cam/live", "%zz"}, 4, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOMAXPROCS", "")
			unsetenv(t, "GOMAXPROCS")
			runtime.GOMAXPROCS(tc.procs)
			if got := tuneProcsForCapture(tc.sources); got != tc.want {
				t.Errorf("tuneProcsForCapture = %d, want %d", got, tc.want)
			}
			if got := runtime.GOMAXPROCS(0); got != tc.want {
				t.Errorf("GOMAXPROCS in effect = %d, want %d", got, tc.want)
			}
		})
	}
	t.Run("GOMAXPROCS set", func(t *testing.T) {
		t.Setenv("GOMAXPROCS", "3")
		runtime.GOMAXPROCS(3)
		if got := tuneProcsForCapture([]string{"rtsp://cam/live"}); got != 3 {
			t.Errorf("tuneProcsForCapture = %d, want the user's 3", got)
		}
	})
}
