// Package mkv reads and writes the Matroska (MKV/WebM) streams that Kinesis
// Video Streams carries: it writes the KVS producer layout (EBML header,
// unknown-size Segment, Info, Tracks, unknown-size Clusters of SimpleBlocks,
// level-1 Tags) and reads any Matroska as a stream of header, track, tag,
// cluster and block events.
//
// # Writing
//
// A Writer produces the KVS layout. The header elements (EBML header, Info,
// Tracks) are built with github.com/at-wat/ebml-go's Marshal from tagged
// structs; blocks, clusters and tags are written directly into a reused
// buffer without reflection, so Writer.WriteBlock performs no allocation in
// steady state. The Append* functions build the same elements into byte
// slices (for example a known-size Cluster from stored block elements).
//
// # Reading
//
// A Reader reads from an io.Reader strictly as a stream and never holds more
// than one element body in memory. It understands unknown-size Segments and
// Clusters (the KVS producer layout), known sizes (ffmpeg, mkvmerge),
// several EBML header + Segment sequences back to back, SimpleBlock and
// BlockGroup with Xiph, EBML and fixed-size lacing, and skips everything it
// does not need (SeekHead, Cues, Chapters, Attachments, Void, CRC-32, unknown
// elements).
//
// Errors: malformed data yields an error wrapping ErrInvalid (a *FormatError
// carrying the stream offset); an element body larger than the configured
// maximum yields an error wrapping ErrElementTooLarge; a stream that ends in
// the middle of an element, or inside a Segment or Cluster of known size,
// yields an error wrapping io.ErrUnexpectedEOF (and not ErrInvalid). A stream
// that ends at an element boundary inside unknown-size elements is a clean
// end: the Reader closes the open Cluster and Segment and then returns io.EOF.
package mkv
