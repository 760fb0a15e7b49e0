// Package store is the durable store of the local KVS endpoint: it keeps the
// control-plane records (video streams and signaling channels, with their
// configurations as JSON inside each record, so members added to them keep
// older data directories readable) and the
// fragment archive (stream headers and fragment bytes with their index).
//
// Records and the fragment index live in a bbolt database (DIR/index.db).
// Fragment bytes live in one file per fragment under
// DIR/fragments/<stream-id>/<number>.frag, behind a header that describes
// the fragment completely (stream, number, timestamps, length, CRC-32C of
// the data, CRC of the header). AppendFragment returns once the file and
// its directory entry are durable, made so together with other appends'
// files by a group flush (flush.go); the index record is committed afterwards
// by one committer goroutine that groups the commits of all streams, in
// number order per stream. Reads of a stream wait for the index commits of
// the appends that have returned, so they see every fragment whose append
// succeeded. If the process dies before an index commit, Open indexes the
// file again when it is complete and valid, and removes files that are cut
// off, damaged or belong to no stream, so a fragment cut off by a crash
// never appears while every fragment whose append returned survives.
//
// Fragment numbers are 47-digit decimal strings drawn from one persistent
// counter: they increase with every append, are never reused, and compare
// lexicographically in numeric order.
package store
