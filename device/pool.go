package device

import "kvskit/media"

// Recycler is implemented by the sources of OpenFile and OpenReader. A
// consumer that is done with a frame's Data (for the producer: once the
// frame's fragment is acknowledged) may hand the frame back with Recycle;
// the source then reads later frames into that memory instead of allocating,
// which keeps the garbage collector idle during long uploads. Nothing may
// read or write the Data after Recycle. Recycle may be called from any
// goroutine, also after Close.
type Recycler interface {
	Recycle(f media.Frame)
}

// Recycle gives a frame's Data back to the source; see Recycler.
func (s *source) Recycle(f media.Frame) { s.pool.Put(f.Data) }
