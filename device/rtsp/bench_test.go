package rtsp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// BenchmarkReceiveTCP measures the receive path of an interleaved TCP
// connection (message reading, RTP parsing, H.264 depacketizing, frame
// assembly and queueing) on a 4 Mbit/s-like stream: 30 fps, 16 kB frames
// with a 100 kB key frame every 30, packetized at 1200 bytes.
func BenchmarkReceiveTCP(b *testing.B) {
	r := rand.New(rand.NewPCG(11, 12))
	payloader := &codecs.H264Payloader{}
	var stream []byte
	var starts []int // of the RTP packets in stream
	seq := uint16(0)
	for i := range 30 {
		size, hdr := 16000, byte(0x41)
		if i == 0 {
			size, hdr = 100000, 0x65
		}
		nalu := randomNALU(r, size, hdr)
		payloads := payloader.Payload(1200, append([]byte{0, 0, 0, 1}, nalu...))
		for j, p := range payloads {
			pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, SSRC: 1,
				Timestamp: uint32(i * 3000), Marker: j == len(payloads)-1}, Payload: p}
			seq++
			raw, _ := pkt.Marshal()
			starts = append(starts, len(stream)+4)
			stream = appendInterleaved(stream, 0, raw)
		}
	}
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	src, s := offlineSession(b)
	s.synced = true
	src.originSet = true
	now := time.Second
	frames := 0
	b.ResetTimer()
	for n := range b.N {
		// Each round continues the sequence numbers and timestamps.
		for i, at := range starts {
			binary.BigEndian.PutUint16(stream[at+2:], uint16(n*len(starts)+i))
			ts := binary.BigEndian.Uint32(stream[at+4:])
			binary.BigEndian.PutUint32(stream[at+4:], ts%90000+uint32(n)*90000)
		}
		br := bufio.NewReaderSize(bytes.NewReader(stream), readerSize)
		for {
			m, err := readMessageInto(br, &s.rbuf)
			if err != nil {
				break
			}
			now += time.Second / time.Duration(len(starts)) // real time
			s.dispatch(m, now)
		}
		for {
			if _, ok, _, _ := src.q.next(time.Duration(1 << 62)); !ok {
				break
			}
			frames++
		}
	}
	if frames != 30*b.N || src.stats.lost.Load() != 0 || src.stats.repairs.Load() != 0 {
		b.Fatalf("%d frames from %d rounds, %d packets lost, %d repairs", frames, b.N, src.stats.lost.Load(), src.stats.repairs.Load())
	}
}
