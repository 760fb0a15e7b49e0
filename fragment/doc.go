// Package fragment turns a sequence of media frames into Kinesis Video
// Streams fragments: each Fragment becomes one Matroska Cluster of a PutMedia
// session.
//
// A Fragmenter decides where fragments begin and end and keeps every
// fragment acceptable to the service:
//
//   - With a video track and key-frame fragmentation (the default) video
//     frames before the first video key frame are dropped and counted
//     (Stats.DroppedVideoBeforeKey): they cannot be decoded without it.
//     Frames of other tracks (audio frames are all key frames) wait for it
//     and open the first fragment, with the video key frame right behind
//     them: the fragment starts at the earliest of them, so the AAC priming
//     frame of an MP4 file and the audio of a stream that starts between key
//     frames are kept. Such a lead-in reaches back at most half the maximum
//     duration (and half the int16 block-timecode range) from the key frame;
//     older frames, and frames still waiting at a Flush, are dropped and
//     counted in Stats.DroppedBeforeKey. The same holds after a Flush. A new
//     fragment starts at the first video key frame at or after Start +
//     target duration (default 2 s). Without a
//     video track, or with key-frame fragmentation off, a fragment is cut at
//     the first frame of any track at or after Start + target duration. A
//     frame less than half a timecode unit short of that counts as at it.
//   - A fragment never lasts longer than the maximum duration (default 20 s)
//     and never holds a frame whose block timecode relative to the cluster
//     falls outside int16 (in timecode units, default 1 ms). When a frame
//     would break either limit the fragment is cut before it even without a
//     key frame (a forced cut, counted and logged at warn level).
//   - A fragment never grows past the maximum size (default 50 MB, the
//     service's limit; frame data plus block headers): it is cut at a video
//     key frame that would pass it, even before the target duration, or at
//     its latest video key frame when a frame inside the following GOP
//     would. A GOP that alone passes it cannot be sent: Push refuses the
//     frame with ErrFragmentTooLarge (naming the GOP's length and the
//     encoder setting that shortens it), drops the GOP and waits for the
//     next video key frame. Without key-frame fragmentation any frame may
//     cut.
//   - Timecodes never go backwards. Per track, a frame whose DTS is not later
//     than the previous frame's DTS is moved to the previous DTS plus one
//     timecode unit, its PTS shifted by the same amount, and a PTS earlier
//     than the DTS is raised to the DTS. A step back of at least the gap
//     limit (see Durations) is a discontinuity, such as a source
//     restarting its clock: the frame is placed one frame duration after the
//     track's previous frame and the track's later frames keep that offset,
//     so their spacing survives. Across fragments, the first frame of
//     each fragment is strictly later, in timecode units, than every frame of
//     the previous fragment, so each Start is strictly greater than the
//     previous one and the service never answers 4004
//     (FRAGMENT_TIMECODE_LESSER_THAN_PREVIOUS). Every changed frame is counted
//     in Stats.Repaired.
//
// # Frame order across a cut
//
// Frames of one track stay in the order they were pushed (decoding order).
// When a cut happens, frames of other tracks (typically audio) at the end of
// the closing fragment whose timecodes are not earlier than the new
// fragment's first frame are moved to the new fragment, right after its
// first frame. This keeps audio and video timestamps untouched when the two
// tracks arrive slightly out of step; only when that is not enough (frames
// of the cutting frame's own track, or of the video track, at or after it)
// is the first frame of the new fragment moved forward in time.
//
// # B-frames
//
// PTS and DTS are both kept: within a track the DTS increases strictly while
// the PTS may go back and forth. The cluster timecode (Fragment.Start) is the
// first frame's PTS truncated to the timecode unit, and block timecodes are
// PTS-based and may be negative (for example the leading B-frames of an open
// GOP).
//
// # Durations
//
// A frame's duration is estimated from its track's latest DTS step; a step
// longer than the gap limit, max(target duration, 1 s) but less than the
// maximum duration, is taken for a gap and the previous estimate is kept.
// Fragment.Duration runs from Start to the latest end (PTS plus estimated
// duration) of its frames and never exceeds the maximum duration.
//
// # Allocation
//
// Push allocates nothing per frame beyond appending to the open fragment's
// Frames slice; each fragment gets one new Frames slice (it is handed off),
// sized from the previous fragment. Frame.Data is never copied.
package fragment
