package producer

import (
	"bufio"
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

// bodyBufferSize is the buffer between the MKV writer and the PutMedia body:
// a fragment's small elements (audio frames, cluster and tag headers) reach
// the HTTP transport together, in chunks of the size it reads request bodies
// in (32 KB), instead of one chunk, one pipe hand-over and up to three socket
// writes each. Every write method flushes it before returning, so nothing of
// a fragment waits in it.
const bodyBufferSize = 32 << 10

// sessionWriter writes one PutMedia body: the KVS MKV layout.
type sessionWriter struct {
	mw     *mkv.Writer
	bw     *bufio.Writer
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
	s.bw = bufio.NewWriterSize(&s.cw, bodyBufferSize)
	s.mw = mkv.NewWriter(s.bw)
	return s
}

// writeHeader writes the EBML header, the Segment start, Info and Tracks.
func (s *sessionWriter) writeHeader() error {
	if err := s.mw.WriteHeader(s.info, s.tracks); err != nil {
		return err
	}
	return s.bw.Flush()
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
	return s.bw.Flush()
}

// endFragment closes the open cluster with an END_OF_FRAGMENT tag.
func (s *sessionWriter) endFragment() error {
	if err := s.mw.WriteTags(endOfFragment); err != nil {
		return err
	}
	return s.bw.Flush()
}
