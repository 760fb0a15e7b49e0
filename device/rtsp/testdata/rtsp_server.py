#!/usr/bin/python3
"""RTSP test server on GStreamer's GstRtspServer for kvskit/device/rtsp tests.

Mounts:
  /test   H.264 320x240 at 30 fps (key frame every 30 frames) + AAC audio
  /h265   H.265 320x240 at 30 fps + AAC audio
  /video  H.264 only
  /bframes         H.264 with 2 B-frames between references (no pyramid) + AAC
  /bframes-pyramid H.264 with 3 B-frames, the middle one a reference + AAC
  /h265-bframes    H.265 with 3 B-frames in a hierarchy + AAC

Usage: rtsp_server.py --port PORT [--digest USER:PASS] [--tcp-only]
Prints "READY <port>" on stdout once it serves.
"""
import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

VIDEO_RAW = ("videotestsrc is-live=true pattern=ball ! "
             "video/x-raw,width=320,height=240,framerate=30/1")
H264 = ("x264enc tune=zerolatency key-int-max=30 bframes=0 speed-preset=ultrafast ! "
        "rtph264pay name=pay0 pt=96")
H265 = ("x265enc tune=zerolatency key-int-max=30 speed-preset=ultrafast ! "
        "rtph265pay name=pay0 pt=96")
# No tune=zerolatency: it turns B-frames off; and without the caps the payloader
# negotiates Constrained Baseline, which has none.
H264_BFRAMES = ("x264enc key-int-max=30 bframes=2 b-adapt=false speed-preset=ultrafast ! video/x-h264,profile=high ! "
                "rtph264pay name=pay0 pt=96")
H264_PYRAMID = ("x264enc key-int-max=30 bframes=3 b-pyramid=true b-adapt=false speed-preset=ultrafast ! video/x-h264,profile=high ! "
                "rtph264pay name=pay0 pt=96")
H265_BFRAMES = ("x265enc key-int-max=30 speed-preset=ultrafast "
                "option-string=bframes=3:b-adapt=0:b-pyramid=1:scenecut=0 ! rtph265pay name=pay0 pt=96")
AUDIO = ("audiotestsrc is-live=true wave=sine freq=440 ! "
         "audio/x-raw,rate=48000,channels=2 ! avenc_aac ! rtpmp4gpay name=pay1 pt=97")


def factory(launch, args):
    f = GstRtspServer.RTSPMediaFactory()
    f.set_launch("( " + launch + " )")
    f.set_shared(True)
    if args.tcp_only:
        f.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
    if args.digest:
        perms = GstRtspServer.RTSPPermissions()
        perms.add_role_from_structure(Gst.Structure.new_from_string(
            "user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"))
        f.set_permissions(perms)
    return f


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--digest", help="USER:PASS: require Digest authentication")
    p.add_argument("--tcp-only", action="store_true", help="refuse UDP transport")
    args = p.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))

    if args.digest:
        user, _, password = args.digest.partition(":")
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
        auth.add_digest(user, password, token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        server.set_auth(auth)

    mounts = server.get_mount_points()
    mounts.add_factory("/test", factory(VIDEO_RAW + " ! " + H264 + " " + AUDIO, args))
    mounts.add_factory("/h265", factory(VIDEO_RAW + " ! " + H265 + " " + AUDIO, args))
    mounts.add_factory("/video", factory(VIDEO_RAW + " ! " + H264, args))
    mounts.add_factory("/bframes", factory(VIDEO_RAW + " ! " + H264_BFRAMES + " " + AUDIO, args))
    mounts.add_factory("/bframes-pyramid", factory(VIDEO_RAW + " ! " + H264_PYRAMID + " " + AUDIO, args))
    mounts.add_factory("/h265-bframes", factory(VIDEO_RAW + " ! " + H265_BFRAMES + " " + AUDIO, args))

    if server.attach(None) == 0:
        print("rtsp_server: cannot listen on port %d" % args.port, file=sys.stderr)
        sys.exit(1)

    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print("READY %d" % args.port, flush=True)
    loop.run()


if __name__ == "__main__":
    main()
