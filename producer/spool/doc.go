// Package spool keeps a stream's closed fragments on disk until the service
// has acknowledged them, so that neither an outage longer than the memory
// buffer nor a crash or power cut of the producer loses what was captured.
//
// A spool is one directory, used by one process at a time (an flock on the
// file LOCK; a second Open fails with ErrLocked). Each fragment is one file,
// named by its write sequence and cluster timecode,
// <16-digit sequence>-<timecode>.frag, holding everything needed to send it
// again after a restart: the stream name, the tracks (codec, CodecPrivate,
// dimensions, sample rate), the cluster timecode (the producer timestamp, in
// milliseconds since the Unix epoch), the duration, and every frame (track,
// PTS and DTS relative to the cluster timecode, key flag, data). A CRC-32C
// (Castagnoli) over the whole file, stored at its end, with a magic number
// and the payload length at its start, detects a file that is truncated,
// zeroed or altered. See Encode for the layout.
//
// Durability (the fsync policy): Put writes the file under a temporary name,
// fsyncs it, renames it to its final name and fsyncs the directory, so that
// once Put returns the fragment survives a power cut, and a file with a
// final name is either whole or detected as corrupt. The two fsyncs are most
// of Put's cost: BenchmarkPut writes a 2 MB fragment (2 s of 8 Mbit/s video)
// in about 7-10 ms with them and 0.6-0.8 ms without, on an ext4 virtual
// disk; the producer writes from its own goroutine, so neither the source
// nor the upload waits for it, and a fragment is sent that much later. WithSync(false) skips
// both fsyncs (the kernel writes back on its own schedule, about 30 s on
// Linux): a crash of the process still loses nothing, a power cut may lose
// the last fragments. Remove does not fsync: a removed file that comes back
// after a power cut is sent again, and the service recognises it as a
// fragment it already stored.
//
// The spool is bounded by WithMaxBytes: when a new fragment does not fit,
// Put deletes the oldest fragments (whole fragments, each starting with a
// key frame, so whole GOPs) until it does, and returns them so the caller
// can report them; Stats counts them. Open lists the fragments found, oldest
// first; a file that is not whole (bad magic, length or checksum) is
// deleted, counted in Stats.Corrupt and logged, never fatal. Read verifies
// the checksum again, since a file's middle can be zeroed with its header
// intact. Leftover temporary files of an interrupted Put are deleted. Files
// are created 0600 and directories 0700.
package spool
