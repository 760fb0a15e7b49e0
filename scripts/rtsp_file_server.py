#!/usr/bin/python3
"""Serves an H.264 Matroska file over RTSP at its real rate, for benchmarks.

Usage: rtsp_file_server.py FILE PORT [udp|tcp]
Mount /cam; every client gets its own playback from the start. With "udp" or
"tcp" the server offers only that lower transport (a client asking for the
other one gets 461 Unsupported Transport); without, both. Prints
"READY <port>" once it serves.
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def main():
    path, port = sys.argv[1], sys.argv[2]
    transport = sys.argv[3] if len(sys.argv) > 3 else ""
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_service(port)
    f = GstRtspServer.RTSPMediaFactory()
    f.set_launch("( filesrc location=%s ! matroskademux ! h264parse config-interval=-1 ! "
                 "rtph264pay name=pay0 pt=96 )" % path)
    f.set_shared(False)
    if transport == "tcp":
        f.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
    elif transport == "udp":
        f.set_protocols(GstRtsp.RTSPLowerTrans.UDP)
    elif transport:
        sys.exit("rtsp_file_server.py: transport %r: want udp or tcp" % transport)
    server.get_mount_points().add_factory("/cam", f)
    server.attach(None)
    print("READY", port, flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
