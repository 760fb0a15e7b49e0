package device

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"kvskit/media"
	"kvskit/media/h264"
)

// H.264 NAL units for tests: header byte plus a few payload bytes. A slice
// payload starting with bit 1 has first_mb_in_slice 0.
var (
	// SPS and PPS of x264, baseline 160x128 at 30 fps.
	nSPS      = unhex("6742c00bd902846c0440000003004000000f03c50a92")
	nPPS      = unhex("68cb83cb20")
	nAUD      = []byte{0x09, 0xF0}
	nSEI      = []byte{0x06, 0x05, 0x01, 0x01, 0x80}
	nIDR      = []byte{0x65, 0x88, 0x84, 0x21}
	nIDRSlice = []byte{0x65, 0x40, 0x84, 0x21} // a further slice of the same picture
	nP        = []byte{0x41, 0x9A, 0x02, 0x21}
	nPSlice   = []byte{0x41, 0x5A, 0x02, 0x21}
	nEOS      = []byte{0x0A}
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func annexB(nalus ...[]byte) []byte {
	var b []byte
	for i, n := range nalus {
		if i%2 == 0 {
			b = append(b, 0, 0, 0, 1)
		} else {
			b = append(b, 0, 0, 1)
		}
		b = append(b, n...)
	}
	return b
}

func TestDetect(t *testing.T) {
	ts := make([]byte, 188*3)
	ts[0], ts[188], ts[376] = 0x47, 0x47, 0x47
	h265 := annexB([]byte{0x40, 0x01, 0x0C}, []byte{0x42, 0x01, 0x01}, []byte{0x44, 0x01, 0xC0}, []byte{0x26, 0x01, 0xAF})
	cases := []struct {
		name string
		head []byte
		want Format
		err  error
	}{
		{"matroska", []byte{0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86}, FormatMKV, nil},
		{"mp4 ftyp", []byte("\x00\x00\x00\x20ftypisom\x00\x00\x02\x00"), FormatMP4, nil},
		{"fragment styp", []byte("\x00\x00\x00\x18stypmsdh"), FormatMP4, nil},
		{"mp4 moov first", []byte("\x00\x00\x01\x00moov"), FormatMP4, nil},
		{"transport stream", ts, FormatTS, nil},
		{"h264 annex-b", annexB(nAUD, nSPS, nPPS, nIDR), FormatH264, nil},
		{"h264 leading zeros", append([]byte{0, 0}, annexB(nSPS, nPPS, nIDR)...), FormatH264, nil},
		{"h264 without sps", annexB(nIDR, nP), FormatH264, nil},
		{"h265 annex-b", h265, FormatH265, nil},
		{"h265 delimiter", annexB([]byte{0x46, 0x01, 0x50}, []byte{0x26, 0x01, 0xAF}), FormatH265, nil},
		{"empty", nil, "", ErrEmptyInput},
		{"avi", []byte("RIFF\x00\x00\x00\x00AVI LIST"), "", ErrUnsupported},
		{"ogg", []byte("OggS\x00\x02"), "", ErrUnsupported},
		{"adts", []byte{0xFF, 0xF1, 0x50, 0x80, 0x02, 0x1F, 0xFC}, "", ErrUnsupported},
		{"text", []byte("hello, world"), "", ErrUnknownFormat},
		{"short ts", ts[:100], "", ErrUnknownFormat},
		{"ts with a bad second packet", append(append([]byte{}, ts[:188]...), 0x00), "", ErrUnknownFormat},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Detect(c.head)
			if got != c.want || !errors.Is(err, c.err) {
				t.Fatalf("Detect = %q, %v; want %q, %v", got, err, c.want, c.err)
			}
		})
	}
	_, err := Detect([]byte("hello, world"))
	if !strings.Contains(err.Error(), `"hello, world"`) || !strings.Contains(err.Error(), "68 65 6c") {
		t.Errorf("error %q does not show the bytes", err)
	}
}

// TestAccessUnits checks the access unit rules on a hand-made H.264
// stream, fed to the splitter in pieces of every size.
func TestAccessUnits(t *testing.T) {
	stream := annexB(
		nAUD, nSPS, nPPS, nSEI, nIDR, nIDRSlice, // 1: key, two slices
		nP, nPSlice, // 2: no delimiter, new picture by first_mb_in_slice
		nSEI, nP, // 3: SEI starts it
		nAUD, nP, nEOS, // 4: end of sequence stays with it
		nSPS, nPPS, nIDR, // 5: key
	)
	want := [][][]byte{
		{nAUD, nSPS, nPPS, nSEI, nIDR, nIDRSlice},
		{nP, nPSlice},
		{nSEI, nP},
		{nAUD, nP, nEOS},
		{nSPS, nPPS, nIDR},
	}
	wantKey := []bool{true, false, false, false, true}
	for _, piece := range []int{1, 2, 3, 5, 7, 1000} {
		var sp nalSplitter
		asm := auAssembler{codec: media.CodecH264}
		var aus []accessUnit
		for i := 0; i <= len(stream); i += piece {
			final := i+piece >= len(stream)
			sp.write(stream[i:min(i+piece, len(stream))])
			for {
				n, pos := sp.next(final)
				if n == nil {
					break
				}
				if !bytes.Equal(stream[pos:pos+int64(len(n))], n) {
					t.Fatalf("piece %d: offset %d does not hold the unit", piece, pos)
				}
				if au, ok := asm.add(n, pos); ok {
					aus = append(aus, au)
				}
			}
			if final {
				break
			}
		}
		if au, ok := asm.flush(); ok {
			aus = append(aus, au)
		}
		if len(aus) != len(want) {
			t.Fatalf("piece %d: %d access units, want %d", piece, len(aus), len(want))
		}
		for i, au := range aus {
			units, err := h264.SplitAVCC(au.data)
			if err != nil || !equalUnits(units, want[i]) || au.key != wantKey[i] {
				t.Fatalf("piece %d: access unit %d = %x key %v, want %x key %v", piece, i, units, au.key, want[i], wantKey[i])
			}
		}
	}
}

func TestAccessUnitsH265(t *testing.T) {
	vps, sps, pps := []byte{0x40, 0x01, 0x0C}, []byte{0x42, 0x01, 0x01}, []byte{0x44, 0x01, 0xC0}
	aud := []byte{0x46, 0x01, 0x50}
	idr := []byte{0x26, 0x01, 0xAF, 0x21}    // IDR_W_RADL, first slice segment
	idr2 := []byte{0x26, 0x01, 0x2F, 0x21}   // a further segment
	trail := []byte{0x02, 0x01, 0xD0, 0x21}  // TRAIL_R, first segment
	suffix := []byte{0x50, 0x01, 0x05, 0x21} // suffix SEI stays
	layer1 := []byte{0x02, 0x09, 0xD0, 0x21} // nuh_layer_id 1: same access unit
	prefix := []byte{0x4E, 0x01, 0x05, 0x21} // prefix SEI starts one
	cra := []byte{0x2A, 0x01, 0xAF, 0x21}    // CRA
	stream := [][]byte{aud, vps, sps, pps, idr, idr2, suffix, trail, layer1, prefix, trail, cra}
	want := [][][]byte{{aud, vps, sps, pps, idr, idr2, suffix}, {trail, layer1}, {prefix, trail}, {cra}}
	wantKey := []bool{true, false, false, true}
	asm := auAssembler{codec: media.CodecH265}
	var aus []accessUnit
	for i, n := range stream {
		if au, ok := asm.add(n, int64(i)); ok {
			aus = append(aus, au)
		}
	}
	if au, ok := asm.flush(); ok {
		aus = append(aus, au)
	}
	if len(aus) != len(want) {
		t.Fatalf("%d access units, want %d", len(aus), len(want))
	}
	for i, au := range aus {
		units, _ := h264.SplitAVCC(au.data)
		if !equalUnits(units, want[i]) || au.key != wantKey[i] {
			t.Errorf("access unit %d = %x key %v, want %x key %v", i, units, au.key, want[i], wantKey[i])
		}
	}
}

// TestAnnexBSPS opens a hand-made stream: CodecPrivate from its parameter
// sets, picture size from the SPS, timestamps at the SPS's 30 fps.
func TestAnnexBSPS(t *testing.T) {
	stream := annexB(nSPS, nPPS, nIDR, nP, nP, nAUD, nIDR)
	s, err := OpenReader(bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tr := s.Tracks()
	if len(tr) != 1 || tr[0].Codec != media.CodecH264 || tr[0].Width != 160 || tr[0].Height != 128 {
		t.Fatalf("tracks %+v", tr)
	}
	want, _ := h264.BuildAVCC([][]byte{nSPS}, [][]byte{nPPS})
	if !bytes.Equal(tr[0].CodecPrivate, want) {
		t.Errorf("CodecPrivate %x, want %x", tr[0].CodecPrivate, want)
	}
	frames := readAll(t, s)
	if len(frames) != 4 {
		t.Fatalf("%d frames", len(frames))
	}
	for i, f := range frames {
		ts := time.Duration(i) * time.Second / 30
		if d := f.PTS - ts; f.PTS != f.DTS || d < -1 || d > 1 {
			t.Errorf("frame %d: pts %v dts %v, want %v", i, f.PTS, f.DTS, ts)
		}
		if f.Key != (i == 0 || i == 3) {
			t.Errorf("frame %d: key %v", i, f.Key)
		}
	}
}

// TestDTSDeriver derives DTS from decoding-order PTS as Matroska gives
// them, through the Matroska reader's use of media.DTSDeriver.
func TestDTSDeriver(t *testing.T) {
	const ms = int64(time.Millisecond)
	frame := 40 * ms
	cases := []struct {
		name  string
		order []int64 // PTS in decoding order, in frames
		delay int64   // expected steady DTS delay in frames
	}{
		{"no reordering", []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21}, 0},
		{"IPBB", []int64{0, 3, 1, 2, 6, 4, 5, 9, 7, 8, 12, 10, 11, 15, 13, 14, 18, 16, 17, 21, 19, 20, 24, 22, 23}, 1},
		{"pyramid", []int64{0, 4, 2, 1, 3, 8, 6, 5, 7, 12, 10, 9, 11, 16, 14, 13, 15, 20, 18, 17, 19, 24, 22, 21, 23}, 2},
		{"reordering starts late", []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 33, 31, 32, 36, 34, 35, 39, 37, 38}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := &mkvTrack{dts: media.NewDTSDeriver[packet](media.MaxReorderFrames)}
			var q packetQueue
			for _, p := range c.order {
				tr.dts.Push(time.Duration(p*frame), packet{pts: p * frame, dts: -1})
				tr.popDerived(&q)
			}
			tr.dts.Flush()
			tr.popDerived(&q)
			var out []packet
			for p, ok := q.pop(); ok; p, ok = q.pop() {
				out = append(out, p)
			}
			if len(out) != len(c.order) {
				t.Fatalf("%d packets out of %d", len(out), len(c.order))
			}
			for i, p := range out {
				if p.pts != c.order[i]*frame {
					t.Fatalf("packet %d reordered", i)
				}
				if p.dts > p.pts {
					t.Fatalf("packet %d: dts %d > pts %d", i, p.dts/ms, p.pts/ms)
				}
				if i > 0 && p.dts < out[i-1].dts {
					t.Fatalf("packet %d: dts %d after %d", i, p.dts/ms, out[i-1].dts/ms)
				}
			}
			// At the end the DTS run one frame apart, delay frames behind
			// the sorted PTS.
			sorted := slices.Clone(c.order)
			slices.Sort(sorted)
			for i := len(out) - 6; i < len(out); i++ {
				if want := (sorted[i] - c.delay) * frame; out[i].dts != want {
					t.Errorf("packet %d: dts %d ms, want %d ms", i, out[i].dts/ms, want/ms)
				}
			}
			if c.delay == 0 {
				for i, p := range out {
					if p.dts != p.pts {
						t.Fatalf("packet %d: dts %d != pts %d without reordering", i, p.dts, p.pts)
					}
				}
			}
		})
	}
}

func TestUnwrap(t *testing.T) {
	const wrap = int64(1) << 33
	var u unwrapper
	in := []int64{wrap - 3000, wrap - 1500, 100, 1600, 1000, 3100, wrap - 10, 200}
	want := []int64{wrap - 3000, wrap - 1500, wrap + 100, wrap + 1600, wrap + 1000, wrap + 3100, wrap - 10, wrap + 200}
	for i, v := range in {
		if got := u.unwrap(v); got != want[i] {
			t.Errorf("unwrap(%d) = %d, want %d", v, got, want[i])
		}
	}
}

// fakeDemuxer returns prepared packets.
type fakeDemuxer struct {
	infos   []*trackInfo
	packets []packet
	ended   []bool
}

func (f *fakeDemuxer) format() Format       { return FormatMKV }
func (f *fakeDemuxer) tracks() []*trackInfo { return f.infos }
func (f *fakeDemuxer) done(i int) bool {
	return f.ended != nil && f.ended[i]
}
func (f *fakeDemuxer) close() error { return nil }
func (f *fakeDemuxer) next() (packet, error) {
	if len(f.packets) == 0 {
		return packet{}, io.EOF
	}
	p := f.packets[0]
	f.packets = f.packets[1:]
	return p, nil
}

func pcmTracks() []*trackInfo {
	return []*trackInfo{
		{Track: media.Track{Kind: media.KindAudio, Codec: media.CodecPCMU, SampleRate: 8000, Channels: 1}},
		{Track: media.Track{Kind: media.KindAudio, Codec: media.CodecPCMA, SampleRate: 8000, Channels: 1}},
	}
}

// TestInterleave merges tracks delivered in bursts by DTS, relative to the
// first DTS.
func TestInterleave(t *testing.T) {
	const s = int64(time.Second)
	var pk []packet
	// Track 0 a second ahead of track 1, in bursts of five.
	for burst := int64(0); burst < 4; burst++ {
		for i := int64(0); i < 5; i++ {
			pk = append(pk, packet{track: 0, pts: 10*s + (burst*5+i)*s/10, dts: 10*s + (burst*5+i)*s/10, data: []byte{0}})
		}
		for i := int64(0); i < 5; i++ {
			pk = append(pk, packet{track: 1, pts: 9*s + (burst*5+i)*s/10, dts: 9*s + (burst*5+i)*s/10, data: []byte{1}})
		}
	}
	src, err := newSource(&fakeDemuxer{infos: pcmTracks(), packets: pk}, mustConfig(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	frames := readAll(t, src)
	if len(frames) != 40 {
		t.Fatalf("%d frames", len(frames))
	}
	if frames[0].Track != 2 || frames[0].DTS != 0 {
		t.Fatalf("first frame %+v, want track 2 at 0", frames[0])
	}
	if last := frames[len(frames)-1]; last.Track != 1 || last.DTS != 29*time.Second/10 {
		t.Fatalf("last frame %+v", last)
	}
}

// TestLaggingTrack: a track silent for longer than the queue span is no
// longer waited for; its late frames are raised to keep DTS order, with a
// warning.
func TestLaggingTrack(t *testing.T) {
	const s = int64(time.Second)
	var pk []packet
	pk = append(pk, packet{track: 1, dts: 0, pts: 0, data: []byte{1}})
	for i := int64(0); i <= 40; i++ {
		pk = append(pk, packet{track: 0, dts: i * s, pts: i * s, data: []byte{0}})
	}
	pk = append(pk, packet{track: 1, dts: 5 * s, pts: 5 * s, data: []byte{1}})
	var logs bytes.Buffer
	cfg := mustConfig(t, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	src, err := newSource(&fakeDemuxer{infos: pcmTracks(), packets: pk}, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	frames := readAll(t, src)
	if len(frames) != 43 {
		t.Fatalf("%d frames", len(frames))
	}
	late := frames[len(frames)-1]
	for _, f := range frames {
		if f.Track == 2 && f.DTS > 0 {
			late = f
		}
	}
	if late.DTS <= 5*time.Second || late.PTS < late.DTS {
		t.Errorf("late frame %+v not raised", late)
	}
	if !strings.Contains(logs.String(), "lagging track") {
		t.Errorf("no warning logged: %s", logs.String())
	}
}

// TestEndedTrack: a track known to have ended is not waited for.
func TestEndedTrack(t *testing.T) {
	pk := []packet{{track: 0, dts: 0, data: []byte{0}}}
	d := &fakeDemuxer{infos: pcmTracks(), packets: pk, ended: []bool{false, true}}
	s, err := newSource(d, mustConfig(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := s.il.pick(false, s.trackDone); ok {
		t.Fatalf("picked %d before reading", o)
	}
	p, _ := d.next()
	s.il.push(0, p)
	if _, ok := s.il.pick(false, s.trackDone); !ok {
		t.Fatal("waits for a track that ended")
	}
	d.ended[1] = false
	if _, ok := s.il.pick(false, s.trackDone); ok {
		t.Fatal("does not wait for a live track")
	}
}

func mustConfig(t *testing.T, opts ...Option) *config {
	t.Helper()
	c, err := newConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOptions(t *testing.T) {
	for _, o := range []Option{WithFPS(0), WithFPS(-1), WithFPS(1e9), WithFormat("avi"), WithLogger(nil)} {
		if _, err := OpenReader(bytes.NewReader(nil), o); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("error %v, want ErrInvalidOption", err)
		}
	}
	s, err := OpenReader(bytes.NewReader(annexB(nSPS, nPPS, nIDR, nP)), WithFormat(FormatH264), WithFPS(50))
	if err != nil {
		t.Fatal(err)
	}
	f1, _ := s.ReadFrame()
	f2, _ := s.ReadFrame()
	if f2.PTS-f1.PTS != 20*time.Millisecond {
		t.Errorf("frame interval %v at 50 fps", f2.PTS-f1.PTS)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadFrame(); !errors.Is(err, ErrClosed) {
		t.Errorf("ReadFrame after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestFrameDataOwned checks that frames do not share memory: a consumer may
// keep or modify one without affecting the next.
func TestFrameDataOwned(t *testing.T) {
	s, err := OpenReader(bytes.NewReader(annexB(nSPS, nPPS, nIDR, nP, nP, nP)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	frames := readAll(t, s)
	kept := make([][]byte, len(frames))
	for i, f := range frames {
		kept[i] = slices.Clone(f.Data)
	}
	for i := range frames[0].Data {
		frames[0].Data[i] = 0xEE
	}
	for i := 1; i < len(frames); i++ {
		if !bytes.Equal(frames[i].Data, kept[i]) {
			t.Fatalf("writing frame 0 changed frame %d", i)
		}
	}
}

// TestSplitterRandom compares the streaming splitter with h264.SplitAnnexB
// on random streams fed in random pieces.
func TestSplitterRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 200; iter++ {
		var b []byte
		for n := r.IntN(20); n > 0; n-- {
			switch r.IntN(4) {
			case 0:
				b = append(b, 0, 0, 1)
			case 1:
				b = append(b, 0, 0, 0, 1)
			case 2:
				b = append(b, 0)
			default:
				for k := r.IntN(10); k > 0; k-- {
					b = append(b, byte(r.IntN(4)))
				}
			}
		}
		want := h264.SplitAnnexB(b)
		var sp nalSplitter
		var got [][]byte
		for i := 0; i <= len(b); {
			n := 1 + r.IntN(6)
			end := min(i+n, len(b))
			sp.write(b[i:end])
			final := end == len(b)
			for {
				u, _ := sp.next(final)
				if u == nil {
					break
				}
				got = append(got, slices.Clone(u))
			}
			if final {
				break
			}
			i = end
		}
		if !equalUnits(got, want) {
			t.Fatalf("stream %x: units %x, want %x", b, got, want)
		}
	}
}
