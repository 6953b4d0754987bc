"""GStreamer recording engine prototype (issue #19): one pipeline per camera, all in C threads.

Run by the system interpreter (Debian's python3-gi and GStreamer 1.22; the project's venv has
no PyGObject, and PyPI has no GStreamer wheel for this platform). It imports nothing from
camerahub: it only records, and tells its parent about every closed segment.

    /usr/bin/python3 benchmarks/gst_recorder.py --out DIR CAMERA=URL [CAMERA=URL ...]

Per camera: `rtspsrc protocols=tcp ! rtph264depay ! h264parse ! splitmuxsink
muxer-factory=mpegtsmux max-size-time=10s` writing DIR/CAMERA/NNNNN.ts; splitmuxsink cuts
only at keyframes. Stdout carries JSON lines only:

- `{"event": "ready", "cameras": N}` once every pipeline is playing (or has failed to);
- `{"event": "segment", "camera", "path", "start_ms", "end_ms"}` for each closed segment:
  its start and end in milliseconds since the epoch. The pipeline's running time is mapped
  to the wall clock once per pipeline, at its first segment, and every segment is placed
  by running time from that anchor, so consecutive segments of one pipeline abut exactly;
- `{"event": "error", "camera", "detail"}` when a camera's pipeline fails; it is rebuilt
  after a pause (the product would open a gap with a cause here);
- `{"event": "stopped"}` after SIGTERM/SIGINT, once every pipeline finished its segment.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

RESTART_S = 2  # pause before rebuilding a failed camera pipeline
EOS_WAIT_S = 15
# Element properties: `default` is the brief's pipeline as GStreamer ships it; `tuned` drops
# what TCP makes useless (retransmission requests, a jitter buffer holding packets for
# reordering that cannot happen) and has mpegtsmux hand over 7 packets per buffer.
TUNINGS = {
    "default": {"src": "", "mux": ""},
    "tuned": {"src": "latency=0 do-retransmission=false buffer-mode=none do-rtcp=false",
              "mux": 'muxer-properties="properties,alignment=7"'},
}  # how long a stop waits for every pipeline to close its last segment


def say(**fields) -> None:
    """One JSON line to the parent."""
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


class Camera:
    """One camera's pipeline, rebuilt on failure."""

    def __init__(self, rec: Recorder, camera: str, url: str, out: str, segment_s: float):
        self.rec, self.camera, self.url, self.segment_s = rec, camera, url, segment_s
        self.tuning = rec.tuning
        self.folder = os.path.join(out, camera)
        os.makedirs(self.folder, exist_ok=True)
        self.pipeline: Gst.Pipeline | None = None
        self.opened: dict[str, int] = {}  # location -> running time it opened at
        self.anchor: tuple[int, int] | None = None  # (running time, wall ms) of a pipeline
        self.done = False
        self.generation = 0

    def build(self) -> None:
        """Create and start the pipeline (files of a new generation never overwrite)."""
        self.generation += 1
        self.anchor = None
        location = os.path.join(self.folder, f"g{self.generation:03d}-%05d.ts")
        desc = (f'rtspsrc name=src location="{self.url}" protocols=tcp '
                f"tcp-timeout=10000000 {self.tuning['src']} ! rtph264depay ! h264parse ! "
                f"splitmuxsink name=mux muxer-factory=mpegtsmux "
                f"max-size-time={int(self.segment_s * Gst.SECOND)} {self.tuning['mux']} "
                f'location="{location}"')
        self.pipeline = Gst.parse_launch(desc)
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message", self.on_message)
        self.pipeline.set_state(Gst.State.PLAYING)

    def wall_ms(self, running_time: int) -> int:
        """The wall clock (ms since the epoch) of a running time of this pipeline."""
        clock = self.pipeline.get_clock()
        if clock is None:
            return time.time_ns() // 1_000_000
        clock_time = self.pipeline.get_base_time() + running_time
        return (time.time_ns() - (clock.get_time() - clock_time)) // 1_000_000

    def at_ms(self, running_time: int) -> int:
        """Wall-clock ms of a running time, from the pipeline's anchor (exact, so abutting)."""
        anchor_rt, anchor_ms = self.anchor
        return anchor_ms + (running_time - anchor_rt) // 1_000_000

    def on_message(self, _bus: Gst.Bus, msg: Gst.Message) -> None:
        if msg.type == Gst.MessageType.ELEMENT:
            s = msg.get_structure()
            name = s.get_name() if s else ""
            if name == "splitmuxsink-fragment-opened":
                rt = s.get_value("running-time")
                self.opened[s.get_value("location")] = rt
                if self.anchor is None:
                    self.anchor = (rt, self.wall_ms(rt))
            elif name == "splitmuxsink-fragment-closed":
                location, rt = s.get_value("location"), s.get_value("running-time")
                open_rt = self.opened.pop(location, None)
                if open_rt is None or self.anchor is None:
                    say(event="error", camera=self.camera, detail=f"unopened {location}")
                    return
                say(event="segment", camera=self.camera, path=location,
                    start_ms=self.at_ms(open_rt), end_ms=self.at_ms(rt))
        elif msg.type == Gst.MessageType.EOS:
            self.teardown()
            self.done = True
            self.rec.check_stopped()
        elif msg.type == Gst.MessageType.ERROR:
            err, _debug = msg.parse_error()
            say(event="error", camera=self.camera, detail=f"{msg.src.get_name()}: {err.message}")
            self.teardown()
            if self.rec.stopping:
                self.done = True
                self.rec.check_stopped()
            else:
                GLib.timeout_add_seconds(RESTART_S, self.restart)

    def restart(self) -> bool:
        if not self.rec.stopping:
            self.build()
        return False

    def teardown(self) -> None:
        if self.pipeline is not None:
            self.pipeline.get_bus().remove_signal_watch()
            self.pipeline.set_state(Gst.State.NULL)
            self.pipeline = None

    def stop(self) -> None:
        """Ask for end of stream: splitmuxsink closes the segment in progress."""
        if self.pipeline is None:
            self.done = True
        else:
            self.pipeline.send_event(Gst.Event.new_eos())


class Recorder:
    """Every camera's pipeline in one GLib main loop."""

    def __init__(self, cameras: dict[str, str], out: str, segment_s: float,
                 tuning: dict[str, str]) -> None:
        self.loop = GLib.MainLoop()
        self.tuning = tuning
        self.stopping = False
        self.cameras = [Camera(self, c, u, out, segment_s) for c, u in cameras.items()]

    def run(self) -> None:
        for cam in self.cameras:
            cam.build()
        say(event="ready", cameras=len(self.cameras))
        for sig in (signal.SIGTERM, signal.SIGINT):
            GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, self.stop)
        self.loop.run()
        say(event="stopped")

    def stop(self) -> bool:
        if not self.stopping:
            self.stopping = True
            for cam in self.cameras:
                cam.stop()
            GLib.timeout_add_seconds(EOS_WAIT_S, self.loop.quit)
            self.check_stopped()
        return True

    def check_stopped(self) -> None:
        if self.stopping and all(c.done for c in self.cameras):
            self.loop.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--segment-seconds", type=float, default=10.0)
    parser.add_argument("--tuning", choices=sorted(TUNINGS), default="tuned")
    parser.add_argument("cameras", nargs="+", help="CAMERA=URL")
    args = parser.parse_args()
    Gst.init(None)
    cameras = dict(c.split("=", 1) for c in args.cameras)
    Recorder(cameras, args.out, args.segment_seconds, TUNINGS[args.tuning]).run()


if __name__ == "__main__":
    main()
