package device

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/asticode/go-astits"

	"kvskit/internal/testenv"
	"kvskit/media"
)

// TestOpenReaderPipe reads clips through an io.Pipe, which offers neither
// seeking nor ReadAt, and expects exactly what OpenFile reads.
func TestOpenReaderPipe(t *testing.T) {
	for _, name := range []string{
		"h264_aac.mkv", "h264_aac.ts", "h264.h264", "h265.hevc", "h265_aac.ts",
		"h264_aac_frag.mp4",
		"h264_aac_faststart.mp4", // moov first: read as a stream
		"h264_aac.mp4",           // moov last: copied to a temporary file
		"h264_bf.mp4",
	} {
		t.Run(name, func(t *testing.T) {
			path := clip(t, name)
			want := readAll(t, openFile(t, path))
			wantTracks := openFile(t, path).Tracks()
			s, err := OpenReader(pipeReader(t, path))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if !equalTracks(s.Tracks(), wantTracks) {
				t.Fatalf("tracks %+v, OpenFile %+v", s.Tracks(), wantTracks)
			}
			got := readAll(t, s)
			if len(got) != len(want) {
				t.Fatalf("%d frames, OpenFile %d", len(got), len(want))
			}
			// The order may differ between frames of equal DTS.
			gt, wt := byTrack(got), byTrack(want)
			for tr, fs := range wt {
				for i, w := range fs {
					g := gt[tr][i]
					if g.PTS != w.PTS || g.DTS != w.DTS || g.Key != w.Key || !bytes.Equal(g.Data, w.Data) {
						t.Fatalf("track %d frame %d: %v %v %v %d bytes, OpenFile %v %v %v %d bytes",
							tr, i, g.PTS, g.DTS, g.Key, len(g.Data), w.PTS, w.DTS, w.Key, len(w.Data))
					}
				}
			}
		})
	}
}

func equalTracks(a, b []media.Track) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Number != y.Number || x.Kind != y.Kind || x.Codec != y.Codec || !bytes.Equal(x.CodecPrivate, y.CodecPrivate) ||
			x.Width != y.Width || x.Height != y.Height || x.SampleRate != y.SampleRate || x.Channels != y.Channels {
			return false
		}
	}
	return true
}

// TestMKVMerge reads a Matroska file written by mkvmerge, which laces audio
// frames into blocks, and compares it with the same packets read from the
// MP4 it was made from.
func TestMKVMerge(t *testing.T) {
	src := clip(t, "h264_aac.mkv")
	out := t.TempDir() + "/mkvmerge.mkv"
	testenv.Run(t, "mkvmerge", "-q", "-o", out, src)
	want := byTrack(readAll(t, openFile(t, src)))
	s := openFile(t, out)
	got := byTrack(readAll(t, s))
	if len(s.Tracks()) != 2 {
		t.Fatalf("tracks %+v", s.Tracks())
	}
	for tr, fs := range want {
		if len(got[tr]) != len(fs) {
			t.Fatalf("track %d: %d frames, ffmpeg's file %d", tr, len(got[tr]), len(fs))
		}
		for i, w := range fs {
			g := got[tr][i]
			if !bytes.Equal(g.Data, w.Data) || g.Key != w.Key {
				t.Fatalf("track %d frame %d differs", tr, i)
			}
			// Laced frames are timed from the block and the AAC frame
			// duration; Matroska itself keeps milliseconds.
			if d := g.PTS - w.PTS; d < -1e6 || d > 1e6 {
				t.Fatalf("track %d frame %d: pts %v, ffmpeg's file %v", tr, i, g.PTS, w.PTS)
			}
		}
	}
}

// TestTSTimestampWrap reads a transport stream whose 33-bit timestamps wrap
// in the middle and expects the timing of the same stream without the wrap.
func TestTSTimestampWrap(t *testing.T) {
	src := clip(t, "h264_aac.ts")
	wrapped := t.TempDir() + "/wrap.ts"
	// 2^33 / 90 kHz is 95443.7 s; ffmpeg starts the clip at 1.4 s.
	ffmpeg(t, "-i", src, "-c", "copy", "-output_ts_offset", "95441.5", wrapped)
	if !tsWraps(t, wrapped) {
		t.Fatal("the remuxed clip does not wrap")
	}
	want := byTrack(readAll(t, openFile(t, src)))
	got := byTrack(readAll(t, openFile(t, wrapped)))
	for tr, fs := range want {
		if len(got[tr]) != len(fs) {
			t.Fatalf("track %d: %d frames, unwrapped clip %d", tr, len(got[tr]), len(fs))
		}
		for i, w := range fs {
			g := got[tr][i]
			if d := g.PTS - w.PTS; d < -1e5 || d > 1e5 {
				t.Fatalf("track %d frame %d: pts %v, without wrap %v", tr, i, g.PTS, w.PTS)
			}
			if d := g.DTS - w.DTS; d < -1e5 || d > 1e5 {
				t.Fatalf("track %d frame %d: dts %v, without wrap %v", tr, i, g.DTS, w.DTS)
			}
		}
	}
}

// tsWraps reports whether the PES timestamps of a transport stream
// wrap around 2^33.
func tsWraps(t *testing.T, path string) bool {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dmx := astits.NewDemuxer(context.Background(), f)
	var last int64 = -1
	for {
		d, err := dmx.NextData()
		if err != nil {
			return false
		}
		if d.PES == nil || d.PES.Header.OptionalHeader == nil || d.PES.Header.OptionalHeader.PTS == nil {
			continue
		}
		pts := d.PES.Header.OptionalHeader.PTS.Base
		if last >= 0 && pts < last-1<<32 {
			return true
		}
		last = pts
	}
}

// mp4Boxes lists the offset and size of the top-level boxes of an MP4
// file by type.
func mp4Boxes(t *testing.T, b []byte) map[string][][2]int64 {
	t.Helper()
	out := map[string][][2]int64{}
	for off := int64(0); off < int64(len(b)); {
		typ, _, size, need := boxHeader(b[off:])
		if need > 0 {
			t.Fatalf("box header at %d", off)
		}
		if size < 0 {
			size = int64(len(b)) - off
		}
		out[typ] = append(out[typ], [2]int64{off, size})
		off += size
	}
	return out
}

// TestBadInput checks that broken input yields errors of the documented
// kinds that name the problem, from OpenFile and from OpenReader alike.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := dir + "/" + name
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	read := func(t *testing.T, path string) []byte {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	faststart := read(t, clip(t, "h264_aac_faststart.mp4"))
	moovLast := read(t, clip(t, "h264_aac.mp4"))
	frag := read(t, clip(t, "h264_aac_frag.mp4"))
	fs := mp4Boxes(t, faststart)
	ml := mp4Boxes(t, moovLast)
	fr := mp4Boxes(t, frag)
	half := func(b []byte, box [][2]int64, i int) []byte { return b[:box[i][0]+box[i][1]/2] }

	annexb := read(t, clip(t, "h264.h264"))
	var noSPS []byte
	for _, n := range splitAnnexB(annexb) {
		if typ := n[0] & 0x1F; typ != 7 && typ != 8 {
			noSPS = append(append(noSPS, 0, 0, 0, 1), n...)
		}
	}
	random := make([]byte, 8192)
	for i := range random {
		random[i] = byte(i*7919 + i*i*31 + 13)
	}
	mkvData := read(t, clip(t, "h264_aac.mkv"))

	cases := []struct {
		name string
		data []byte
		opts []Option
		// open: the error expected from opening; else from reading.
		open bool
		kind error
		says []string
	}{
		{"mp4 cut mid-moov", half(faststart, fs["moov"], 0), nil, true, ErrTruncated, []string{"moov"}},
		{"mp4 moov first, cut mid-mdat", half(faststart, fs["mdat"], 0), nil, false, ErrTruncated, []string{"mdat"}},
		{"mp4 moov last, cut mid-mdat", half(moovLast, ml["mdat"], 0), nil, true, ErrTruncated, []string{"moov", "mdat"}},
		{"mp4 moov last, cut mid-moov", half(moovLast, ml["moov"], 0), nil, true, ErrTruncated, []string{"moov"}},
		{"fragmented mp4 cut mid-moov", half(frag, fr["moov"], 0), nil, true, ErrTruncated, []string{"moov"}},
		{"fragmented mp4 cut in the second moof", half(frag, fr["moof"], 1), nil, false, ErrTruncated, []string{"moof"}},
		{"fragmented mp4 cut in the second mdat", half(frag, fr["mdat"], 1), nil, false, ErrTruncated, []string{"mdat"}},
		{"h264 without SPS", noSPS, nil, true, ErrNoParameterSets, []string{"no SPS/PPS before the first picture"}},
		{"h265 given h264", read(t, clip(t, "h264.h264")), []Option{WithFormat(FormatH265)}, true, ErrNoParameterSets, []string{"no VPS/SPS/PPS"}},
		{"random bytes", random, nil, true, ErrUnknownFormat, []string{"first bytes"}},
		{"random bytes as mp4", random, []Option{WithFormat(FormatMP4)}, true, ErrTruncated, []string{"no moov box"}},
		{"random bytes as ts", random, []Option{WithFormat(FormatTS)}, true, ErrNoTracks, []string{"PMT"}},
		{"random bytes as mkv", random, []Option{WithFormat(FormatMKV)}, true, ErrInvalid, []string{"mkv"}},
		{"random bytes as h264", random, []Option{WithFormat(FormatH264)}, true, ErrNoTracks, []string{"no picture"}},
		{"mkv cut in half", mkvData[:len(mkvData)/2], nil, false, ErrTruncated, []string{"mkv"}},
		{"empty", nil, nil, true, ErrEmptyInput, []string{"empty"}},
		{"avi", append([]byte("RIFF\x00\x00\x00\x00AVI LIST"), random[:100]...), nil, true, ErrUnsupported, []string{"AVI"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := write(strings.ReplaceAll(c.name, " ", "_"), c.data)
			for _, via := range []string{"OpenFile", "OpenReader"} {
				var s Source
				var err error
				if via == "OpenFile" {
					s, err = OpenFile(path, c.opts...)
				} else {
					s, err = OpenReader(bytes.NewReader(c.data), c.opts...)
				}
				if err == nil {
					if c.open {
						s.Close()
						t.Fatalf("%s: no error opening", via)
					}
					n := 0
					for ; err == nil; n++ {
						_, err = s.ReadFrame()
					}
					s.Close()
					if n < 2 {
						t.Errorf("%s: error after %d frames, want some frames before it", via, n)
					}
				} else if !c.open {
					t.Fatalf("%s: opening: %v", via, err)
				}
				if !errors.Is(err, c.kind) {
					t.Fatalf("%s: error %q is not %v", via, err, c.kind)
				}
				for _, w := range c.says {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s: error %q does not mention %q", via, err, w)
					}
				}
				t.Logf("%s: %v", via, err)
			}
		})
	}
}

func splitAnnexB(b []byte) [][]byte {
	var out [][]byte
	s := nalSplitter{}
	s.write(b)
	for {
		n, _ := s.next(true)
		if n == nil {
			return out
		}
		out = append(out, append([]byte(nil), n...))
	}
}

// TestTruncatedKeepsFrames: the frames before the point where a file is
// cut are delivered, identical to the whole file's, before the error.
func TestTruncatedKeepsFrames(t *testing.T) {
	for _, name := range []string{"h264_aac_faststart.mp4", "h264_aac_frag.mp4", "h264_aac.mkv", "h264_aac.ts"} {
		t.Run(name, func(t *testing.T) {
			path := clip(t, name)
			full := byTrack(readAll(t, openFile(t, path)))
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			cut := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(cut, data[:len(data)*3/4], 0o644); err != nil {
				t.Fatal(err)
			}
			s := openFile(t, cut)
			var got []media.Frame
			for {
				f, err := s.ReadFrame()
				if err != nil {
					t.Logf("after %d frames: %v", len(got), err)
					break
				}
				got = append(got, f)
			}
			total := 0
			for tr, fs := range byTrack(got) {
				total += len(fs)
				for i, f := range fs {
					w := full[tr][i]
					if f.PTS != w.PTS || f.DTS != w.DTS || !bytes.Equal(f.Data, w.Data) {
						t.Fatalf("track %d frame %d differs from the whole file's", tr, i)
					}
				}
			}
			all := len(full[1]) + len(full[2])
			if total < all/2 {
				t.Errorf("%d of %d frames from three quarters of the file", total, all)
			}
		})
	}
}
