// Package store is the durable store of the local KVS endpoint: it keeps the
// control-plane records (video streams and signaling channels) and the
// fragment archive (stream headers and fragment bytes with their index).
//
// Records and the fragment index live in a bbolt database (DIR/index.db).
// Fragment bytes live in one file per fragment under
// DIR/fragments/<stream-id>/<number>.frag. A fragment's file is written and
// fsynced before its index record is committed, and index commits of
// concurrent appends are grouped so that many streams share one fsync. Open
// removes files that no index record references, so a fragment cut off by a
// crash never appears, while every fragment whose AppendFragment returned
// nil survives.
//
// Fragment numbers are 47-digit decimal strings drawn from one persistent
// counter: they increase with every append, are never reused, and compare
// lexicographically in numeric order.
package store
