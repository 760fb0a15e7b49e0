package rtsp

import (
	"testing"
	"time"

	"github.com/pion/rtp"
)

func TestReorderer(t *testing.T) {
	pkt := func(seq uint16) *rtp.Packet {
		return &rtp.Packet{Header: rtp.Header{SequenceNumber: seq}, Payload: []byte{byte(seq)}}
	}
	cases := []struct {
		name string
		in   []uint16
		at   []time.Duration // arrival per packet; default 1 ms apart
		want []uint16
	}{
		{"in order", []uint16{10, 11, 12}, nil, []uint16{10, 11, 12}},
		{"swap", []uint16{10, 12, 11, 13}, nil, []uint16{10, 11, 12, 13}},
		{"across wrap", []uint16{65534, 0, 65535, 1}, nil, []uint16{65534, 65535, 0, 1}},
		{"three late", []uint16{1, 5, 3, 4, 2, 6}, nil, []uint16{1, 2, 3, 4, 5, 6}},
		{"duplicate held", []uint16{1, 3, 3, 2}, nil, []uint16{1, 2, 3}},
		{"late after gap given up", []uint16{1, 3, 4, 2}, []time.Duration{0, 1, 60, 61}, []uint16{1, 3, 4, 2}},
		{"far jump", []uint16{1, 3, 500, 501}, nil, []uint16{1, 3, 500, 501}},
		{"lost for good", []uint16{1, 3, 4, 5}, []time.Duration{0, 10, 20, 70}, []uint16{1, 3, 4, 5}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r reorderer
			var got []uint16
			for i, seq := range c.in {
				at := time.Duration(i) * time.Millisecond
				if c.at != nil {
					at = c.at[i] * time.Millisecond
				}
				p := pkt(seq)
				for _, h := range r.push(p, at, nil) {
					if h.p.Payload[0] != byte(h.p.SequenceNumber) {
						t.Fatalf("payload of %d is %d", h.p.SequenceNumber, h.p.Payload[0])
					}
					got = append(got, h.p.SequenceNumber)
				}
				p.Payload[0] = 0xff // the caller reuses its buffer
			}
			for _, h := range r.expire(time.Hour, nil) {
				got = append(got, h.p.SequenceNumber)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("got %v, want %v", got, c.want)
				}
			}
		})
	}
}
