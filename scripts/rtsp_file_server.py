#!/usr/bin/python3
"""Serves an H.264 Matroska file over RTSP at its real rate, for benchmarks.

Usage: rtsp_file_server.py FILE PORT
Mount /cam; every client gets its own playback from the start. Prints
"READY <port>" once it serves.
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    path, port = sys.argv[1], sys.argv[2]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_service(port)
    f = GstRtspServer.RTSPMediaFactory()
    f.set_launch("( filesrc location=%s ! matroskademux ! h264parse config-interval=-1 ! "
                 "rtph264pay name=pay0 pt=96 )" % path)
    f.set_shared(False)
    server.get_mount_points().add_factory("/cam", f)
    server.attach(None)
    print("READY", port, flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
