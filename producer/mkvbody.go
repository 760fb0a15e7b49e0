package producer

import (
	"io"
	"sync/atomic"
	"time"

	"kvskit/fragment"
	"kvskit/media"
	"kvskit/mkv"
)

// endOfFragment is the fragment-metadata tag that closes an unknown-size
// cluster early, so the service acknowledges a fragment without waiting for
// the next one.
var endOfFragment = []mkv.Tag{{Name: "AWS_KINESISVIDEO_END_OF_FRAGMENT"}}

// sessionWriter writes one PutMedia body: the KVS MKV layout.
type sessionWriter struct {
	mw     *mkv.Writer
	info   mkv.SegmentInfo
	tracks []media.Track
	cw     countingWriter
}

// countingWriter counts the bytes that reached the underlying writer.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

func newSessionWriter(w io.Writer, counter *atomic.Int64, segmentUID []byte, tracks []media.Track) *sessionWriter {
	s := &sessionWriter{
		info: mkv.SegmentInfo{
			SegmentUID: segmentUID, Title: "kvskit", MuxingApp: "kvskit", WritingApp: "kvskit producer",
			TimecodeScale: uint64(time.Millisecond),
		},
		tracks: tracks,
		cw:     countingWriter{w: w, n: counter},
	}
	s.mw = mkv.NewWriter(&s.cw)
	return s
}

// writeHeader writes the EBML header, the Segment start, Info and Tracks.
func (s *sessionWriter) writeHeader() error {
	return s.mw.WriteHeader(s.info, s.tracks)
}

// writeFragment writes the fragment as one cluster with the given timecode
// (ms since the epoch). It allocates nothing once the writer's buffer has
// grown to the largest frame.
func (s *sessionWriter) writeFragment(f *fragment.Fragment, timecode int64) error {
	if err := s.mw.StartCluster(timecode); err != nil {
		return err
	}
	for i := range f.Frames {
		fr := &f.Frames[i]
		if err := s.mw.WriteBlock(fr.Track, f.RelTimecode(*fr, time.Millisecond), fr.Key, fr.Data); err != nil {
			return err
		}
	}
	return nil
}

// endFragment closes the open cluster with an END_OF_FRAGMENT tag.
func (s *sessionWriter) endFragment() error {
	return s.mw.WriteTags(endOfFragment)
}
