package rtsp

import (
	"testing"
	"time"
)

// TestUDPReaderWaitsAfterShortBatch: after a batch that did not fill the
// room for it, the reader waits for the next datagram instead of reading an
// empty socket, and a datagram that comes later is read.
func TestUDPReaderWaitsAfterShortBatch(t *testing.T) {
	rx, tx := udpPair(t)
	r, err := newUDPReader(rx, 8, udpSlot)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := tx.Write([]byte("first")); err != nil {
			t.Fatal(err)
		}
	}
	sent := make(chan error, 1)
	got, batches := 0, 0
	_ = rx.SetReadDeadline(time.Now().Add(5 * time.Second))
	err = r.run(func(pkts []udpPacket) bool {
		batches++
		got += len(pkts)
		if got == 5 {
			go func() {
				time.Sleep(50 * time.Millisecond)
				_, err := tx.Write([]byte("later"))
				sent <- err
			}()
		}
		return got < 6
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if got != 6 || batches != 2 {
		t.Errorf("%d datagrams in %d batches, want 6 in 2", got, batches)
	}
	if r.empty != 0 {
		t.Errorf("%d reads found the socket empty", r.empty)
	}
}
