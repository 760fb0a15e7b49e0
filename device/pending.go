package device

import (
	"io"
)

// The MPEG-TS reader is not part of this package yet.

func newTSDemuxer(io.Reader, *config) (demuxer, error) {
	return nil, errorf(FormatTS, ErrUnsupported, "MPEG-TS is not supported yet")
}
