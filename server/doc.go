// Package server is the local Kinesis Video Streams endpoint behind `kvs serve`.
//
// One http.Handler serves the control plane (streams, signaling channels and
// their configurations: every operation of the kinesisvideo API), the PutMedia ingest, GetMedia and the archived-media
// reads (ListFragments, GetMediaForFragmentList) on a single listener. Every API
// request is SigV4-verified against the identities of an AWS shared-credentials
// file. Fragments are kept durably by the store subpackage; a fragment is
// acknowledged PERSISTED only once it is on disk.
//
// Wire facts (paths, headers, ACK events, error names) follow the public KVS API
// models; see docs/server.md for what is implemented and the limits enforced.
package server
