package fragment

import "errors"

// ErrNoTracks is returned by New when it is given no tracks.
var ErrNoTracks = errors.New("fragment: no tracks")

// ErrTooManyTracks is returned by New when it is given more tracks than a
// Kinesis Video stream accepts (3).
var ErrTooManyTracks = errors.New("fragment: too many tracks")

// ErrDuplicateTrack is returned by New when two tracks share a number.
var ErrDuplicateTrack = errors.New("fragment: duplicate track number")

// ErrInvalidTrack is returned by New for a track numbered 0 (Matroska track
// numbers start at 1).
var ErrInvalidTrack = errors.New("fragment: invalid track number")

// ErrInvalidOption is wrapped by every error an Option or New reports for a
// value out of range.
var ErrInvalidOption = errors.New("fragment: invalid option")

// ErrUnknownTrack is wrapped by Push for a frame of a track the Fragmenter
// was not created with; the frame is dropped.
var ErrUnknownTrack = errors.New("fragment: unknown track")

// ErrInvalidTimestamp is wrapped by Push for a frame whose PTS or DTS lies
// outside the range the Fragmenter can represent (before -2^60 ns or after
// 2^62 ns, about the year 2116 as a Unix time) or whose PTS is more than an
// hour away from its DTS; the frame is dropped.
var ErrInvalidTimestamp = errors.New("fragment: timestamp out of range")

// ErrFragmentTooLarge is wrapped by Push for a frame that would make the
// open fragment larger than the maximum size (WithMaxSize, default 50 MB, the
// service's limit) where no cut is allowed: within a video GOP, with
// key-frame fragmentation. The frame and the open fragment are dropped
// (counted in Stats.DroppedOversize), and the rest of the GOP with them: the
// next fragment starts at the next video key frame. The error names the
// GOP's length; a shorter key-frame interval at the encoder fixes it.
var ErrFragmentTooLarge = errors.New("fragment: GOP larger than a fragment may be")
