// Package producer uploads one Kinesis Video Streams stream: media frames go
// in, fragments acknowledged by the service come out.
//
// New resolves the stream (describe, create when allowed and missing, tag,
// discover the PutMedia data endpoint). WriteFrame hands frames to a
// fragmenter (package kvskit/fragment); every closed fragment enters a
// bounded buffer and stays there until the service acknowledges it
// PERSISTED (RECEIVED when the stream keeps no data). A sender goroutine runs
// PutMedia sessions: one HTTP/1.1 chunked request whose body is the KVS MKV
// layout written by package kvskit/mkv, and whose response is the stream of
// ACK events, matched to fragments by their cluster timecodes. A fragment is
// sent once it is closed; when nothing else follows at once it is ended with
// an AWS_KINESISVIDEO_END_OF_FRAGMENT tag so that the service acknowledges it
// without waiting for the next one. Dropped connections, HTTP errors and retriable ACK errors lead
// to a reconnect with exponential backoff and full jitter; the new session
// starts again from the first unacknowledged fragment behind a fresh EBML
// header and Segment with the same SegmentUID, so no video is lost. Sessions
// are renewed before the service's connection limit at a fragment boundary.
//
// Every blocking step of a session is bounded: a connection that is
// accepted and then answers nothing (a frozen endpoint, a middlebox that
// drops traffic) is abandoned after Config.ConnectionStaleness, the data
// endpoint is looked up again, and a new session resends what was not
// acknowledged. A fragment resent after a lost acknowledgement keeps its
// producer timestamp (Stats.Duplicates counts resends), so an endpoint can
// recognise it.
//
// Memory is bounded by Config.BufferBytes and Config.BufferDuration: in Block
// mode WriteFrame waits for room, otherwise the oldest whole GOPs are
// dropped and reported (FragmentDropped events, Stats.Dropped and
// Stats.FramesDropped, and Close's error). The idle flush (Config.IdleFlush)
// never cuts a fragment while WriteFrame waits for room, and the frames
// after an idle flush open the next fragment whether or not they start with
// a key frame, so no frame is lost to it. The producer keeps each frame's
// Data until its fragment is acknowledged: callers must not modify it after
// WriteFrame.
//
// With Config.SpoolDir every closed fragment is also written to a disk
// spool (package kvskit/producer/spool) before it is sent, and deleted once
// acknowledged. A live producer then keeps only a window of fragments in
// memory and reads older ones back from disk when their turn comes, so an
// outage loses nothing until the spool is full (then its oldest fragments are
// dropped and reported). New uploads the fragments an earlier run left in the
// spool (a crash, a power cut) first, oldest first, with their own producer
// timestamps and, when they differ, their own tracks, while new frames are
// accepted; damaged files are skipped and reported.
//
// The context given to New bounds the setup only; the upload runs until
// Close, whose context bounds the wait for the last acknowledgements. When
// Close returns, every goroutine of the producer has ended.
package producer
