package rtsp

import (
	"bytes"
	"errors"
	"testing"

	"kvskit/media"
)

// gstreamerSDP is what GStreamer's RTSP server (1.22) announces for the test
// pipeline of testdata/rtsp_server.py.
const gstreamerSDP = "v=0\r\n" +
	"o=- 12566952911141464852 1 IN IP4 127.0.0.1\r\n" +
	"s=Session streamed with GStreamer\r\n" +
	"i=rtsp-server\r\n" +
	"t=0 0\r\n" +
	"a=tool:GStreamer\r\n" +
	"a=type:broadcast\r\n" +
	"a=control:*\r\n" +
	"a=range:npt=now-\r\n" +
	"m=video 0 RTP/AVP 96\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"b=AS:2097\r\n" +
	"a=rtpmap:96 H264/90000\r\n" +
	"a=framerate:30\r\n" +
	"a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0LAFdoFB+wFqDAwNSgAAAMACAAAAwHkeLF1,aM48gA==;profile-level-id=42c015;level-asymmetry-allowed=1\r\n" +
	"a=control:stream=0\r\n" +
	"a=ts-refclk:local\r\n" +
	"a=mediaclk:sender\r\n" +
	"a=ssrc:750429247 cname:user42795948@host-eae6df77\r\n" +
	"m=audio 0 RTP/AVP 97\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=rtpmap:97 MPEG4-GENERIC/48000/2\r\n" +
	"a=fmtp:97 streamtype=5;profile-level-id=2;mode=AAC-hbr;config=119056e500;sizelength=13;indexlength=3;indexdeltalength=3\r\n" +
	"a=control:stream=1\r\n"

// gstreamerH265SDP is GStreamer's announcement of an x265enc stream.
const gstreamerH265SDP = "v=0\r\n" +
	"a=control:*\r\n" +
	"m=video 0 RTP/AVP 96\r\n" +
	"a=rtpmap:96 H265/90000\r\n" +
	"a=fmtp:96 sprop-vps=QAEMAf//BAgAAAMAmAgAAAMAAD+6AkA=;sprop-sps=QgEBBAgAAAMAmAgAAAMAAD+QAUEB4ilLdJSYX/4AAgAC1BgYGBAAAAMAEAAAAwHggA==;sprop-pps=RAHAcDBgMSA=\r\n" +
	"a=control:stream=0\r\n"

// cameraSDP has the shape of common IP cameras: absolute control URLs,
// G.711 audio on a static payload type, a metadata track.
const cameraSDP = "v=0\n" +
	"o=- 1 1 IN IP4 192.168.1.64\n" +
	"s=Media Presentation\n" +
	"a=control:rtsp://192.168.1.64:554/Streaming/Channels/101/\n" +
	"m=video 0 RTP/AVP 96\n" +
	"a=rtpmap:96 H264/90000\n" +
	"a=fmtp:96 profile-level-id=420029; packetization-mode=1\n" +
	"a=control:rtsp://admin:x@192.168.1.64:554/Streaming/Channels/101/trackID=1\n" +
	"m=audio 0 RTP/AVP 0\n" +
	"a=control:trackID=2\n" +
	"m=application 0 RTP/AVP 107\n" +
	"a=rtpmap:107 isapi.metadata/90000\n" +
	"a=control:trackID=3\n"

func TestSelectTracks(t *testing.T) {
	t.Run("gstreamer", func(t *testing.T) {
		sd, err := parseSDP([]byte(gstreamerSDP))
		if err != nil {
			t.Fatal(err)
		}
		if sd.control != "*" || len(sd.media) != 2 {
			t.Fatalf("session %+v", sd)
		}
		tracks, skipped, err := selectTracks(sd, "rtsp://127.0.0.1:8554/test/")
		if err != nil || len(skipped) != 0 {
			t.Fatalf("select: %v %v", err, skipped)
		}
		v, a := tracks[0], tracks[1]
		if v.codec != media.CodecH264 || v.pt != 96 || v.clockRate != 90000 || v.control != "rtsp://127.0.0.1:8554/test/stream=0" {
			t.Errorf("video %+v", v)
		}
		if len(v.sps) != 1 || len(v.pps) != 1 || v.sps[0][0]&0x1f != 7 || v.pps[0][0]&0x1f != 8 {
			t.Errorf("parameter sets %x %x", v.sps, v.pps)
		}
		cp, w, h, _, err := videoConfig(v.codec, v.vps, v.sps, v.pps)
		if err != nil || w != 320 || h != 240 || len(cp) == 0 {
			t.Errorf("config: %dx%d %v", w, h, err)
		}
		if a.codec != media.CodecAAC || a.sampleRate != 48000 || a.channels != 2 || a.frameSamples != 1024 ||
			!bytes.Equal(a.asc, []byte{0x11, 0x90, 0x56, 0xe5, 0x00}) || a.control != "rtsp://127.0.0.1:8554/test/stream=1" {
			t.Errorf("audio %+v", a)
		}
	})
	t.Run("h265", func(t *testing.T) {
		sd, err := parseSDP([]byte(gstreamerH265SDP))
		if err != nil {
			t.Fatal(err)
		}
		tracks, _, err := selectTracks(sd, "rtsp://h/h265/")
		if err != nil {
			t.Fatal(err)
		}
		v := tracks[0]
		if v.codec != media.CodecH265 || len(v.vps) != 1 || len(v.sps) != 1 || len(v.pps) != 1 || v.donl {
			t.Fatalf("video %+v", v)
		}
		if _, w, h, _, err := videoConfig(v.codec, v.vps, v.sps, v.pps); err != nil || w != 320 || h != 240 {
			t.Errorf("config: %dx%d %v", w, h, err)
		}
	})
	t.Run("camera", func(t *testing.T) {
		sd, err := parseSDP([]byte(cameraSDP))
		if err != nil {
			t.Fatal(err)
		}
		base := "rtsp://192.168.1.64:554/Streaming/Channels/101"
		if hasRTSPScheme(sd.control) {
			base = sd.control
		}
		tracks, skipped, err := selectTracks(sd, base)
		if err != nil {
			t.Fatal(err)
		}
		if len(tracks) != 2 || len(skipped) != 1 {
			t.Fatalf("tracks %+v skipped %v", tracks, skipped)
		}
		if tracks[0].control != "rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=1" || len(tracks[0].sps) != 0 {
			t.Errorf("video %+v", tracks[0])
		}
		if a := tracks[1]; a.codec != media.CodecPCMU || a.sampleRate != 8000 || a.channels != 1 ||
			a.control != "rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=2" {
			t.Errorf("audio %+v", a)
		}
	})
	t.Run("nothing usable", func(t *testing.T) {
		sd, err := parseSDP([]byte("v=0\nm=video 0 RTP/AVP 26\nm=audio 0 RTP/SAVP 97\na=rtpmap:97 opus/48000/2\n"))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := selectTracks(sd, "rtsp://h/"); !errors.Is(err, ErrNoTracks) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("aac without config", func(t *testing.T) {
		sd, _ := parseSDP([]byte("v=0\nm=audio 0 RTP/AVP 97\na=rtpmap:97 mpeg4-generic/16000/1\na=fmtp:97 mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3\n"))
		tracks, _, err := selectTracks(sd, "rtsp://h/")
		if err != nil || tracks[0].sampleRate != 16000 || tracks[0].channels != 1 || len(tracks[0].asc) != 2 {
			t.Errorf("got %+v %v", tracks, err)
		}
	})
}

func TestParseSDPErrors(t *testing.T) {
	for _, in := range []string{
		"hello",
		"v=0\nm=video\n",
		"v=0\nm=video 0 RTP/AVP 96\na=rtpmap:96\n",
		"v=0\nm=video 0 RTP/AVP 96\na=rtpmap:96 H264/0\n",
		"v=0\nm=video 0 RTP/AVP 96\na=fmtp:x y\n",
		"",
	} {
		if _, err := parseSDP([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: err = %v", in, err)
		}
	}
}

func TestControlURL(t *testing.T) {
	cases := []struct{ base, control, want string }{
		{"rtsp://h/p/", "stream=0", "rtsp://h/p/stream=0"},
		{"rtsp://h/p", "trackID=1", "rtsp://h/p/trackID=1"},
		{"rtsp://h/p", "", "rtsp://h/p"},
		{"rtsp://h/p", "*", "rtsp://h/p"},
		{"rtsp://h:554/p", "/other/track1", "rtsp://h:554/other/track1"},
		{"rtsp://h", "/x", "rtsp://h/x"},
		{"rtsp://h/p", "RTSP://u:pw@h2/q/t=1", "RTSP://h2/q/t=1"},
		{"rtsp://h/cam?ch=1", "trackID=0", "rtsp://h/cam?ch=1/trackID=0"},
	}
	for _, c := range cases {
		if got := controlURL(c.base, c.control); got != c.want {
			t.Errorf("controlURL(%q, %q) = %q, want %q", c.base, c.control, got, c.want)
		}
	}
}
