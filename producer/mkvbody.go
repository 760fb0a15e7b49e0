package producer

import (
	"fmt"
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

// bodyBufferSize is the buffer a session writes the PutMedia body into
// before handing it to the HTTP transport (through a bodyPipe, which does
// not copy it). Blocks are built in it directly, so a frame's bytes are
// copied once on their way to the socket; a fragment's small elements
// reach the transport together. Every write method hands the buffer over
// before returning, so nothing of a fragment waits in it.
const bodyBufferSize = 128 << 10

// sessionWriter writes one PutMedia body: the KVS MKV layout.
type sessionWriter struct {
	mw     *mkv.Writer // header, cluster starts and tags, into buf
	buf    []byte
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
		buf:    make([]byte, 0, bodyBufferSize),
		cw:     countingWriter{w: w, n: counter},
	}
	s.mw = mkv.NewWriter((*bodyBuffer)(s))
	return s
}

// bodyBuffer is the io.Writer the MKV writer writes a session's small
// elements through: into the buffer, handed over when full.
type bodyBuffer sessionWriter

func (b *bodyBuffer) Write(p []byte) (int, error) {
	s := (*sessionWriter)(b)
	if len(s.buf)+len(p) > cap(s.buf) {
		if err := s.flush(); err != nil {
			return 0, err
		}
		if len(p) > cap(s.buf) {
			return s.cw.Write(p)
		}
	}
	s.buf = append(s.buf, p...)
	return len(p), nil
}

// flush hands the buffered bytes to the underlying writer.
func (s *sessionWriter) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	_, err := s.cw.Write(s.buf)
	s.buf = s.buf[:0]
	return err
}

// writeHeader writes the EBML header, the Segment start, Info and Tracks.
func (s *sessionWriter) writeHeader() error {
	if err := s.mw.WriteHeader(s.info, s.tracks); err != nil {
		return err
	}
	return s.flush()
}

// writeFragment writes the fragment as one cluster with the given timecode
// (ms since the epoch). Each block is built in the body buffer; a frame
// larger than the buffer is handed over as it is. It allocates nothing.
func (s *sessionWriter) writeFragment(f *fragment.Fragment, timecode int64) error {
	if err := s.mw.StartCluster(timecode); err != nil {
		return err
	}
	for i := range f.Frames {
		fr := &f.Frames[i]
		if fr.Track == 0 || fr.Track > mkv.MaxVint {
			return fmt.Errorf("producer: frame of bad track number %d", fr.Track)
		}
		rel := f.RelTimecode(*fr, time.Millisecond)
		const maxBlockHeader = 4 + 8 + 8 + 3
		if len(s.buf)+maxBlockHeader+len(fr.Data) > cap(s.buf) {
			if err := s.flush(); err != nil {
				return err
			}
		}
		if maxBlockHeader+len(fr.Data) > cap(s.buf) {
			s.buf = mkv.AppendSimpleBlockHeader(s.buf, fr.Track, rel, fr.Key, len(fr.Data))
			if err := s.flush(); err != nil {
				return err
			}
			if _, err := s.cw.Write(fr.Data); err != nil {
				return err
			}
			continue
		}
		s.buf = mkv.AppendSimpleBlock(s.buf, fr.Track, rel, fr.Key, fr.Data)
	}
	return s.flush()
}

// endFragment closes the open cluster with an END_OF_FRAGMENT tag.
func (s *sessionWriter) endFragment() error {
	if err := s.mw.WriteTags(endOfFragment); err != nil {
		return err
	}
	return s.flush()
}
