// Package rtsp is a live source of frames from RTSP cameras: it plays one
// RTSP/1.0 stream (H.264 or H.265 video, AAC or G.711 audio) over UDP or TCP
// and turns its RTP packets into access units with timestamps that keep
// increasing for months, across camera timestamp jumps and reconnects.
//
// # Session
//
// Open sends OPTIONS, DESCRIBE (the session description gives the tracks and,
// usually, the video parameter sets), a SETUP per track and PLAY, answering
// Basic or Digest authentication challenges with the credentials of the URL.
// RTP and RTCP arrive on a pair of UDP ports per track or interleaved on the
// RTSP connection (WithTransport; Auto tries UDP first and stays on TCP once
// UDP failed). GET_PARAMETER, or OPTIONS, keeps the session alive at half
// its timeout (a Digest nonce that expires meanwhile is answered again), and
// RTCP receiver reports go back to the camera. Over UDP, the RTP packets are
// read in batches (recvmmsg on Linux: one system call for all the packets
// that arrived), and packets that arrive out of order are put back in
// sequence (up to 50 ms or 32 packets).
//
// # Frames
//
// RFC 6184 (H.264: single NAL unit, STAP-A, FU-A), RFC 7798 (H.265: single,
// AP, FU) and RFC 3640 (AAC, mpeg4-generic) payloads are reassembled into
// access units, delimited by the marker bit or a new timestamp. Video frames
// are 4-byte length-prefixed (AVCC/HVCC); parameter sets found in the stream
// update the track's CodecPrivate. A lost packet breaks its access unit, and
// video is dropped until the next key frame (Stats counts both).
//
// # Time
//
// RTP timestamps are unwrapped to 64 bits per track and mapped to local time:
// through the RTCP sender reports when the camera sends them (the frames of
// a new session wait up to a few seconds for them), so that audio and video
// line up as captured, else from the arrival of the first packet. PTS is that
// time less Origin, measured on the monotonic clock. A camera whose
// timestamps go back (further than B-frames explain, see below), repeat or
// leap forward gets its track re-anchored at the arrival time, after the
// track's latest frame (Stats.TimestampRepairs), and a slowly drifting camera
// clock is slewed towards local time, so PTS never decrease (but for the
// reordering of B-frames) and stay close to the time of capture. After a reconnect the new session's frames continue
// on the same time line.
//
// ReadFrame returns the frames of all tracks in DTS order: a frame is
// held back (WithInterleaveWindow, 2 s) while another track that is still
// sending has nothing queued. A frame that arrives after later frames of
// another track were returned is moved up to them and counted as a repair.
// Origin is the wall-clock reading at the start plus the monotonic time to
// PTS 0, so host clock steps do not move the frames.
//
// # B-frames
//
// The RTP timestamp of a video access unit is its presentation time, and
// RTP carries no decoding time: with B-frames the timestamps of a video
// track go back and forth in decoding order. How far they may is read from
// the SPS (H.264: the VUI's max_num_reorder_frames, or no reordering for
// pic_order_cnt_type 2, the Baseline and the intra profiles; H.265:
// sps_max_num_reorder_pics). A frame that comes before an earlier one is a
// reordering, not a timestamp jump, when at most that many of the recent
// frames lie after it, by less than 17 frame intervals (1 s at most), and
// it fills a hole in their times without repeating one; anything else is
// repaired as above. The PTS stay the camera's presentation times and the
// DTS are derived with media.DTSDeriver, which holds 2n+2 frames for a
// reordering depth n: DTS increase strictly, never pass the PTS, and the
// first frames' DTS lie before 0 by the reordering delay. A track whose SPS
// rules reordering out gets DTS = PTS with no frame held. When the SPS does
// not say (H.264 Main or High without the bitstream restriction), frames go
// out at once with DTS = PTS until the first reordered frame; from it the
// frames up to the next key frame are dropped (counted in FramesDropped)
// and the track is derived with a window of 16 frames from then on. The
// frames held are released when a session ends.
//
// # Limitations
//
// RTSP over HTTP or TLS (rtsps), multicast, redirects (3xx) and the RECORD
// direction are not supported.
package rtsp
