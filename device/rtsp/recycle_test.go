package rtsp

import (
	"testing"
	"time"

	"kvskit/media"
	"kvskit/media/h264"
)

// TestCameraRecycledFrames gives every frame back (overwritten, as reused
// memory would be) as soon as it is read: later frames must still be the
// clip's, and their buffers must come from the recycled ones.
func TestCameraRecycledFrames(t *testing.T) {
	cam := newCamera(t, func(c *camera) { c.udp = "serve" })
	s := openCamera(t, cam.url(""), WithTransport(UDP))
	c := newCollector(t, s)
	video, reused := 0, 0
	seen := map[*byte]bool{}
	c.read(20*time.Second, func(f media.Frame) bool {
		if f.Track == 1 {
			want := h264.AppendLengthPrefixed(nil, cam.clip.video[video%len(cam.clip.video)]...)
			if string(f.Data) != string(want) {
				t.Fatalf("video frame %d differs", video)
			}
			if seen[&f.Data[0]] {
				reused++
			}
			seen[&f.Data[0]] = true
			video++
		}
		for i := range f.Data {
			f.Data[i] = 0xEE
		}
		s.Recycle(f)
		return video == 90
	})
	if st := s.Stats(); st.PacketsLost != 0 || st.FramesDropped != 0 {
		t.Errorf("stats %+v", st)
	}
	if reused < 30 {
		t.Errorf("only %d of %d video frames reused a recycled buffer", reused, video)
	}
}
