package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestPutMediaHostWithoutPort: a producer that sends and signs Host without
// the port (as the KVS C producer does) gets a data endpoint that carries the
// listener's port, follows it and uploads.
func TestPutMediaHostWithoutPort(t *testing.T) {
	dir := t.TempDir()
	clip := makeClip(t, dir, 3)
	p := startServe(t, filepath.Join(dir, "data"))
	createStream(t, p, "portless", 1)
	out, err := p.python(t, "putmedia.py", p.URL, p.Region, "portless", clip, "--host-without-port")
	if err != nil {
		t.Fatalf("putmedia: %v\n%s", err, out)
	}
	if !strings.Contains(out, "DATA_ENDPOINT "+p.URL+"\n") {
		t.Fatalf("data endpoint for a Host without port: want %s, got:\n%s", p.URL, out)
	}
	status, acks := parseAcks(t, out)
	b, pe, e := countEvents(acks, "BUFFERING"), countEvents(acks, "PERSISTED"), countEvents(acks, "ERROR")
	if !strings.HasPrefix(status, "HTTP/1.1 200") || b == 0 || pe != b || e != 0 {
		t.Fatalf("status %q, %d BUFFERING, %d PERSISTED, %d ERROR:\n%s", status, b, pe, e, out)
	}
}
