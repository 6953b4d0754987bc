"""An RTSP server the project did not write: GStreamer's gst-rtsp-server, from Debian.

Run by the SYSTEM python (`/usr/bin/python3`, which has python3-gi), never imported by the
suite: `python3 gst_rtsp_server.py PORT [PATH]` serves an H.264 test pattern (videotestsrc
through x264enc: 320x240, 15 fps, a keyframe every 15 frames, no B-frames) at
rtsp://127.0.0.1:PORT/PATH, prints `ready` on stdout once it listens, and runs until
SIGTERM or SIGINT. It binds 127.0.0.1 only.
"""

import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

PIPELINE = (
    "( videotestsrc is-live=true pattern=ball "
    "! video/x-raw,width=320,height=240,framerate=15/1 "
    "! clockoverlay ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 "
    "bframes=0 bitrate=300 ! video/x-h264,profile=baseline "
    "! rtph264pay name=pay0 pt=96 config-interval=1 )"
)


def main() -> None:
    port = int(sys.argv[1])
    path = sys.argv[2] if len(sys.argv) > 2 else "test"
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(PIPELINE)
    factory.set_shared(True)
    server.get_mount_points().add_factory("/" + path, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{port}", file=sys.stderr, flush=True)
        sys.exit(1)
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print("ready", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
