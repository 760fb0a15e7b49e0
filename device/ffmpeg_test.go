package device

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"kvskit/internal/testenv"
	"kvskit/media"
	"kvskit/media/aac"
	"kvskit/media/h264"
	"kvskit/media/h265"
)

// clipDir holds the clips of the ffmpeg tests, made once per test binary.
var (
	clipOnce sync.Once
	clipDir  string
	clipErr  error
)

// clip returns the path of a generated test clip. The masters are encoded
// once; the others are remuxed from them with -c copy, so every container
// carries the same packets.
func clip(t *testing.T, name string) string {
	t.Helper()
	testenv.Tool(t, "ffmpeg")
	testenv.Tool(t, "ffprobe")
	clipOnce.Do(func() {
		clipDir, clipErr = os.MkdirTemp("", "kvs-device-clips-")
		if clipErr != nil {
			return
		}
		clipErr = makeClips(t, clipDir)
	})
	if clipErr != nil {
		t.Fatal(clipErr)
	}
	p := filepath.Join(clipDir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("clip %s: %v", name, err)
	}
	return p
}

func makeClips(t *testing.T, dir string) error {
	p := func(n string) string { return filepath.Join(dir, n) }
	// 318x238 is coded as 320x240 with cropping.
	video := []string{"-f", "lavfi", "-i", "testsrc2=size=318x238:rate=25"}
	stereo := []string{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"}
	mono := []string{"-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100"}
	x264 := []string{"-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-pix_fmt", "yuv420p"}
	aacEnc := []string{"-c:a", "aac", "-b:a", "64k"}
	cat := func(parts ...[]string) []string {
		var out []string
		for _, x := range parts {
			out = append(out, x...)
		}
		return out
	}
	ffmpeg(t, cat(video, stereo, []string{"-t", "2"}, x264, []string{"-bf", "0"}, aacEnc, []string{"-ac", "2", p("h264_aac.mp4")})...)
	ffmpeg(t, cat(video, stereo, []string{"-t", "2"}, x264, []string{"-bf", "2"}, aacEnc, []string{"-ac", "2", p("h264_bf.mp4")})...)
	ffmpeg(t, cat(video, mono, []string{"-t", "2", "-c:v", "libx265", "-preset", "fast", "-x265-params", "log-level=error:keyint=25:bframes=3",
		"-tag:v", "hvc1", "-pix_fmt", "yuv420p"}, aacEnc, []string{"-ac", "1", p("h265_aac.mp4")})...)

	remux := func(in, out string, args ...string) {
		ffmpeg(t, append(append([]string{"-i", p(in)}, args...), p(out))...)
	}
	remux("h264_aac.mp4", "h264_aac_faststart.mp4", "-c", "copy", "-movflags", "+faststart")
	remux("h264_aac.mp4", "h264_aac_frag.mp4", "-c", "copy", "-movflags", "frag_keyframe+empty_moov+default_base_moof")
	remux("h264_aac.mp4", "h264_aac.mkv", "-c", "copy")
	remux("h264_aac.mp4", "h264_aac.mov", "-c", "copy")
	remux("h264_aac.mp4", "h264_aac_fragmoov.mp4", "-c", "copy", "-movflags", "frag_keyframe")
	remux("h264_aac.mp4", "h264_aac.ts", "-c", "copy")
	remux("h264_aac.mp4", "h264.h264", "-map", "0:v", "-c", "copy", "-bsf:v", "h264_mp4toannexb", "-f", "h264")
	remux("h264_bf.mp4", "h264_bf.ts", "-c", "copy")
	remux("h264_bf.mp4", "h264_bf.mkv", "-c", "copy")
	remux("h265_aac.mp4", "h265_aac.mkv", "-c", "copy")
	remux("h265_aac.mp4", "h265_aac.ts", "-c", "copy")
	remux("h265_aac.mp4", "h265.hevc", "-map", "0:v", "-c", "copy", "-bsf:v", "hevc_mp4toannexb", "-f", "hevc")
	return nil
}

// fileCase is one clip and what its reading must show.
type fileCase struct {
	clip  string
	video media.Codec
	audio bool
	// annexB: the container stores Annex-B video (and ADTS audio); packet
	// data is compared unit by unit with ffprobe's instead of by MD5.
	annexB bool
	// fps: an elementary stream, timestamps n/fps.
	fps  float64
	opts []Option
	// dts: compare DTS with ffprobe's too.
	dts bool
}

var fileCases = []fileCase{
	{clip: "h264_aac.mkv", video: media.CodecH264, audio: true},
	{clip: "h264_aac_faststart.mp4", video: media.CodecH264, audio: true, dts: true},
	{clip: "h264_aac.mp4", video: media.CodecH264, audio: true, dts: true},
	{clip: "h264_aac_frag.mp4", video: media.CodecH264, audio: true, dts: true},
	{clip: "h264_aac_fragmoov.mp4", video: media.CodecH264, audio: true, dts: true}, // first fragment in moov
	{clip: "h264_aac.mov", video: media.CodecH264, audio: true, dts: true},          // QuickTime sound entry, wave box
	{clip: "h264_aac.ts", video: media.CodecH264, audio: true, annexB: true, dts: true},
	{clip: "h264.h264", video: media.CodecH264, annexB: true, fps: 25}, // rate from the SPS timing
	{clip: "h264_bf.mp4", video: media.CodecH264, audio: true, dts: true},
	{clip: "h264_bf.ts", video: media.CodecH264, audio: true, annexB: true, dts: true},
	{clip: "h264_bf.mkv", video: media.CodecH264, audio: true},
	{clip: "h265_aac.mp4", video: media.CodecH265, audio: true, dts: true},
	{clip: "h265_aac.mkv", video: media.CodecH265, audio: true},
	{clip: "h265_aac.ts", video: media.CodecH265, audio: true, annexB: true, dts: true},
	{clip: "h265.hevc", video: media.CodecH265, annexB: true, fps: 30}, // no VUI parsing: default
	{clip: "h265.hevc", video: media.CodecH265, annexB: true, fps: 25, opts: []Option{WithFPS(25)}},
}

var codecNames = map[string]media.Codec{"h264": media.CodecH264, "hevc": media.CodecH265, "aac": media.CodecAAC}

// TestFiles reads each clip and compares tracks, frame counts, key frames,
// frame data and timestamps with what ffprobe and ffmpeg's framemd5 report.
// Timestamps are compared per track after removing one offset per clip
// (ours start at 0, ffprobe's at the container's first timestamp); the
// offset must be the same for all tracks.
func TestFiles(t *testing.T) {
	for _, c := range fileCases {
		name := c.clip
		if c.opts != nil {
			name += fmt.Sprintf("/fps%v", c.fps)
		}
		t.Run(name, func(t *testing.T) {
			path := clip(t, c.clip)
			s := openFile(t, path, c.opts...)
			frames := readAll(t, s)
			checkAgainstFFprobe(t, c, path, s.Tracks(), frames)
		})
	}
}

func checkAgainstFFprobe(t *testing.T, c fileCase, path string, tracks []media.Track, frames []media.Frame) {
	pr := ffprobe(t, path, c.annexB)
	wantTracks := 1
	if c.audio {
		wantTracks = 2
	}
	if len(tracks) != wantTracks {
		t.Fatalf("%d tracks, want %d: %+v", len(tracks), wantTracks, tracks)
	}
	per := byTrack(frames)
	var offsets []time.Duration
	for i, tr := range tracks {
		if tr.Number != uint64(i+1) {
			t.Errorf("track %d numbered %d", i, tr.Number)
		}
		kind := "video"
		if tr.Kind == media.KindAudio {
			kind = "audio"
		}
		if i == 0 && tr.Kind != media.KindVideo {
			t.Errorf("track 1 is %v, want video first", tr.Kind)
		}
		var st *probeStream
		for j := range pr.Streams {
			if pr.Streams[j].CodecType == kind {
				st = &pr.Streams[j]
				break
			}
		}
		if st == nil {
			t.Fatalf("ffprobe shows no %s stream", kind)
		}
		if want := codecNames[st.CodecName]; tr.Codec != want {
			t.Errorf("track %d codec %s, ffprobe %s", tr.Number, tr.Codec, st.CodecName)
		}
		checkConfig(t, c, path, tr, st)
		var pkts []probePacket
		for _, p := range pr.Packets {
			if p.StreamIndex == st.Index {
				pkts = append(pkts, p)
			}
		}
		got := per[tr.Number]
		if len(got) != len(pkts) {
			t.Fatalf("track %d: %d frames, ffprobe %d packets", tr.Number, len(got), len(pkts))
		}
		keys, wantKeys := 0, 0
		for j := range got {
			if got[j].Key {
				keys++
			}
			if len(pkts[j].Flags) > 0 && pkts[j].Flags[0] == 'K' {
				wantKeys++
			}
		}
		if keys != wantKeys || keys == 0 {
			t.Errorf("track %d: %d key frames, ffprobe %d", tr.Number, keys, wantKeys)
		}
		checkData(t, c, path, tr, got, pkts)
		offsets = append(offsets, checkTimes(t, c, path, tr, got, pkts))
	}
	if len(offsets) == 2 {
		if d := offsets[1] - offsets[0]; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("audio is %v later than the video relative to ffprobe", d)
		}
	}
}

// checkConfig compares the track's dimensions, audio parameters and
// CodecPrivate with ffprobe's view.
func checkConfig(t *testing.T, c fileCase, path string, tr media.Track, st *probeStream) {
	t.Helper()
	if tr.Kind == media.KindVideo {
		if tr.Width != st.Width || tr.Height != st.Height {
			t.Errorf("track %d: %dx%d, ffprobe %dx%d", tr.Number, tr.Width, tr.Height, st.Width, st.Height)
		}
		if tr.Width != 318 || tr.Height != 238 {
			t.Errorf("track %d: %dx%d, the clip is 318x238", tr.Number, tr.Width, tr.Height)
		}
	} else {
		if strconv.Itoa(tr.SampleRate) != st.SampleRate || tr.Channels != st.Channels {
			t.Errorf("track %d: %d Hz %d ch, ffprobe %s Hz %d ch", tr.Number, tr.SampleRate, tr.Channels, st.SampleRate, st.Channels)
		}
	}
	extra := hexdump(t, st.Extradata)
	switch {
	case c.annexB && tr.Kind == media.KindVideo:
		// ffprobe shows the parameter sets in Annex-B form; ours are in a
		// decoder configuration record: compare the units.
		var got [][]byte
		if tr.Codec == media.CodecH264 {
			cfg, err := h264.ParseAVCC(tr.CodecPrivate)
			if err != nil {
				t.Fatalf("CodecPrivate: %v", err)
			}
			got = append(cfg.SPS, cfg.PPS...)
		} else {
			cfg, err := h265.ParseHVCC(tr.CodecPrivate)
			if err != nil {
				t.Fatalf("CodecPrivate: %v", err)
			}
			vps, sps, pps := cfg.ParameterSets()
			got = append(append(vps, sps...), pps...)
		}
		want := h264.SplitAnnexB(extra)
		if !equalUnits(got, want) {
			t.Errorf("track %d parameter sets %x, ffprobe %x", tr.Number, got, want)
		}
	case tr.Kind == media.KindAudio:
		cfg, err := aac.ParseAudioSpecificConfig(tr.CodecPrivate)
		if err != nil {
			t.Fatalf("CodecPrivate: %v", err)
		}
		if cfg.ObjectType != aac.ObjectTypeAACLC || cfg.SampleRate() != tr.SampleRate || cfg.Channels() != tr.Channels {
			t.Errorf("AudioSpecificConfig %+v for %d Hz %d ch AAC-LC", cfg, tr.SampleRate, tr.Channels)
		}
		if !c.annexB && !bytes.Equal(tr.CodecPrivate, extra) {
			t.Errorf("track %d CodecPrivate %x, ffprobe extradata %x", tr.Number, tr.CodecPrivate, extra)
		}
	default:
		if !bytes.Equal(tr.CodecPrivate, extra) {
			t.Errorf("track %d CodecPrivate %x, ffprobe extradata %x", tr.Number, tr.CodecPrivate, extra)
		}
	}
}

func equalUnits(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// checkData compares frame data: by MD5 with framemd5 for length-prefixed
// containers, unit by unit with ffprobe's packet data otherwise.
func checkData(t *testing.T, c fileCase, path string, tr media.Track, got []media.Frame, pkts []probePacket) {
	t.Helper()
	if !c.annexB {
		stream := "0:v:0"
		if tr.Kind == media.KindAudio {
			stream = "0:a:0"
		}
		sums, _ := framemd5(t, path, stream)
		if len(sums) != len(got) {
			t.Fatalf("track %d: %d frames, framemd5 %d", tr.Number, len(got), len(sums))
		}
		for i, f := range got {
			if h := md5.Sum(f.Data); hex.EncodeToString(h[:]) != sums[i] {
				t.Fatalf("track %d frame %d: MD5 %x, framemd5 %s", tr.Number, i, h, sums[i])
			}
		}
		return
	}
	for i, f := range got {
		want := hexdump(t, pkts[i].Data)
		if tr.Kind == media.KindAudio {
			_, raw, _, err := aac.NextADTS(want)
			if err != nil {
				t.Fatalf("ffprobe packet %d: %v", i, err)
			}
			if !bytes.Equal(f.Data, raw) {
				t.Fatalf("track %d frame %d: %d bytes differ from ffprobe's %d-byte ADTS payload", tr.Number, i, len(f.Data), len(raw))
			}
			continue
		}
		units, err := h264.SplitAVCC(f.Data)
		if err != nil {
			t.Fatalf("track %d frame %d: %v", tr.Number, i, err)
		}
		if !equalUnits(units, h264.SplitAnnexB(want)) {
			t.Fatalf("track %d frame %d: NAL units differ from ffprobe's packet", tr.Number, i)
		}
	}
}

// checkTimes compares PTS (and DTS) with ffprobe's and returns the offset
// between ours and ffprobe's.
func checkTimes(t *testing.T, c fileCase, path string, tr media.Track, got []media.Frame, pkts []probePacket) time.Duration {
	t.Helper()
	if c.fps > 0 {
		// The n-th picture in ffmpeg's output order is at n/fps, from the
		// first one's PTS.
		f := FormatH264
		if tr.Codec == media.CodecH265 {
			f = FormatH265
		}
		order := outputOrder(t, path, f)
		if len(order) != len(got) {
			t.Fatalf("%d frames, ffprobe %d", len(got), len(order))
		}
		var base time.Duration
		for i, fr := range got {
			if order[i] == 0 {
				base = fr.PTS
			}
		}
		for i, fr := range got {
			want := base + time.Duration(math.Round(float64(order[i])*1e9/c.fps))
			if fr.PTS != want || fr.DTS > fr.PTS || i > 0 && fr.DTS <= got[i-1].DTS {
				t.Fatalf("frame %d: pts %v dts %v, want pts %v at %v fps (output position %d)", i, fr.PTS, fr.DTS, want, c.fps, order[i])
			}
		}
		return 0
	}
	off := time.Duration(-1 << 63)
	compared := 0
	for i, f := range got {
		p, ok := secs(pkts[i].PTSTime)
		if !ok {
			continue
		}
		want := time.Duration(math.Round(p * 1e9))
		if off == -1<<63 {
			off = f.PTS - want
		}
		if d := f.PTS - want - off; d < -time.Millisecond || d > time.Millisecond {
			t.Fatalf("track %d frame %d: pts %v, ffprobe %v (+%v)", tr.Number, i, f.PTS, want, off)
		}
		compared++
		if c.dts {
			d, ok := secs(pkts[i].DTSTime)
			if !ok {
				t.Fatalf("track %d frame %d: ffprobe has no DTS", tr.Number, i)
			}
			want := time.Duration(math.Round(d * 1e9))
			if d := f.DTS - want - off; d < -time.Millisecond || d > time.Millisecond {
				t.Fatalf("track %d frame %d: dts %v, ffprobe %v (+%v)", tr.Number, i, f.DTS, want, off)
			}
		}
		if f.DTS > f.PTS {
			t.Fatalf("track %d frame %d: dts %v > pts %v", tr.Number, i, f.DTS, f.PTS)
		}
	}
	if compared < len(got)*9/10 {
		t.Fatalf("track %d: only %d of %d frames have an ffprobe pts", tr.Number, compared, len(got))
	}
	return off
}
