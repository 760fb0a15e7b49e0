package device

import (
	"io"
)

// The MP4 and MPEG-TS readers are not part of this package yet.

func newMP4FileDemuxer(io.ReaderAt, int64, *config) (demuxer, error) {
	return nil, errorf(FormatMP4, ErrUnsupported, "MP4 is not supported yet")
}

func newMP4StreamDemuxer(io.Reader, *config) (demuxer, error) {
	return nil, errorf(FormatMP4, ErrUnsupported, "MP4 is not supported yet")
}

func newTSDemuxer(io.Reader, *config) (demuxer, error) {
	return nil, errorf(FormatTS, ErrUnsupported, "MPEG-TS is not supported yet")
}
