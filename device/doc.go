// Package device provides sources of media frames: the tracks of a stream and
// then its frames, in decoding order, with timestamps measured from the
// stream's start. This package holds the file sources (Matroska/WebM, MP4,
// MPEG-TS and Annex-B H.264/H.265 elementary streams, from a file or a pipe
// such as stdin); live sources (cameras, RTSP, a test pattern) implement the
// same Source interface.
//
// # Sources
//
// A Source lists its tracks once, numbered 1..n with video first, complete with
// their decoder configuration, then yields frames one by one. Frame.Data is a
// fresh slice for every frame that the source never touches again, so a fan-out
// can hand the same frame to several consumers that only read it, and a
// consumer may keep frames (a buffer, a GOP cache) without copying (the test
// pattern hands out the same read-only bytes on every pass). Video frames
// are access units with 4-byte NAL unit lengths (AVCC/HVCC), audio frames are
// raw AAC frames (or G.711 bytes). Live sources implement the same interface:
// their tracks are known once they are open, ReadFrame blocks until the next
// frame is captured, and Close stops a blocked ReadFrame.
//
// ReadFrame returns frames with DTS non-decreasing across all tracks: sources
// whose container stores tracks in another order are merged by DTS (see
// "Interleaving" below). PTS and DTS are offsets from the DTS of the first
// frame, so they are never negative.
//
// # Formats
//
// Detect recognises the format from the first bytes; OpenFile and OpenReader
// use it unless WithFormat forces one.
//
//   - Matroska and WebM (FormatMKV), read with kvskit/mkv as a stream: H.264,
//     H.265, AAC, PCMA and PCMU tracks. PTS comes from the cluster and block
//     timecodes. Matroska stores no DTS, so for video it is derived: frames pass
//     a window of 16 frames (the largest H.264/H.265 decoded picture buffer) in
//     decoding order; the k-th frame's DTS is the k-th smallest PTS of the
//     track minus the largest amount by which a sorted PTS has so far exceeded
//     the PTS of the frame at its position (the reordering delay, estimated
//     from the first window and only ever raised). DTS therefore equals PTS
//     when the track has no reordering, never exceeds PTS and never decreases.
//     Payloads stored in Annex-B form, or with 1- or 2-byte NAL lengths, are
//     converted.
//   - MP4 (FormatMP4), by this package's own box parser: progressive files
//     (moov before or after mdat) and fragmented ones (moof/mdat with tfhd,
//     tfdt and trun, trex defaults), H.264 (avc1/avc3), H.265 (hvc1/hev1) and
//     AAC (mp4a with esds, also inside a QuickTime wave box). Composition
//     offsets (ctts, trun) give PTS; negative ones (version 1) move the
//     track's DTS back by the largest negative offset seen, so that PTS never
//     precedes DTS. The first edit of an edit list is applied as a time shift
//     (an initial empty edit delays the track, the first media edit's
//     media_time is subtracted, as players do); further edits are ignored. Files opened with OpenFile are
//     read at random, in DTS order; OpenReader reads the input once from the
//     start. A non-seekable progressive MP4 whose moov follows its mdat cannot
//     be read that way: OpenReader then copies the input from the mdat on to a
//     temporary file, which Close removes. Boxes that must be held in memory
//     (moov, moof) are limited to 64 MiB.
//   - MPEG-TS (FormatTS), demultiplexed with github.com/asticode/go-astits:
//     stream types 0x1B (H.264), 0x24 (H.265) and 0x0F (AAC in ADTS) of the
//     first program. PTS and DTS come from the PES headers (90 kHz, with the
//     33-bit wrap undone). Video PES payloads are split into access units as
//     for elementary streams; an access unit takes the timestamps of the PES
//     packet in which it starts, or continues from the previous one. ADTS
//     frames get the PES timestamp when they start in that packet, otherwise
//     the previous frame's plus 1024 samples.
//   - Annex-B elementary streams (FormatH264, FormatH265): access units are
//     delimited as H.264 clause 7.4.1.2.3 and H.265 clause 7.4.2.4.4 describe:
//     a new one starts at an access unit delimiter, parameter set, SEI (prefix
//     SEI for H.265) or other leading NAL unit type, or at a slice whose
//     first_mb_in_slice is 0 (first_slice_segment_in_pic_flag is 1), each only
//     once the current access unit holds a picture. The parameter sets before
//     the first picture become the track's CodecPrivate (an error wrapping
//     ErrNoParameterSets if there are none). Frames are spaced 1/fps apart,
//     fps being WithFPS, else the H.264 SPS timing information, else 30.
//     Pictures may be coded out of presentation order (B-frames): the PTS of
//     a picture is n/fps for the n-th picture in output order, which the
//     picture order counts of the slice headers give (H.264 clause 8.2.1,
//     all three pic_order_cnt_type; H.265 clause 8.3.1), as a decoder
//     outputs them: once more pictures wait than the stream's reordering
//     depth (H.264 max_num_reorder_frames, H.265 sps_max_num_reorder_pics),
//     the one of smallest order count comes next, and an IDR picture (H.264
//     memory_management_control_operation 5, an H.265 IRAP picture that
//     begins a coded video sequence) first lets every earlier one out and
//     takes the depth of its own SPS. The DTS of the n-th picture in
//     decoding order is (n - depth)/fps, at least a millisecond after the
//     previous DTS and never after its PTS. When the H.264 SPS gives no
//     depth the source looks 16 pictures ahead and the DTS uses the deepest
//     reordering seen; when it says the stream does not reorder
//     (pic_order_cnt_type 2, Baseline, a depth of 0) PTS = DTS = n/fps in
//     decoding order and slice headers are not read, until an SPS that
//     allows reordering comes (streams joined one after the other). RASL
//     pictures of an H.265 CRA picture that starts the stream are left out
//     (their references precede it; decoders do not output them), with a
//     warning that counts them. In a stream whose slice headers are read, a
//     field-coded H.264 picture (interlaced field coding) ends the stream
//     with an error wrapping ErrUnsupported (MBAFF frames are read), and a
//     slice header that cannot be read with an error wrapping ErrInvalid
//     that names its offset.
//
// # Interleaving
//
// Frames of several tracks are merged by DTS: a frame is returned once every
// other track has a frame queued (or has ended). A track that stays silent
// while the others advance by more than 30 s, or when 64 MiB are queued, is
// no longer waited for; should it resume with older timestamps, its DTS is
// raised to keep the output non-decreasing and a warning is logged.
//
// When the input is cut short or malformed, ReadFrame first returns the
// frames read before the problem and then the error (an MPEG-TS simply ends
// with its last complete frame).
//
// Tracks whose decoder configuration is not in the container header (MP4 avc3
// without parameter sets, MPEG-TS) are completed from the stream before
// OpenFile or OpenReader return: video from the first parameter sets in the
// stream (frames before them cannot be decoded and are dropped), AAC from the
// first ADTS header.
package device
