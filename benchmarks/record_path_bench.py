"""Where one camera's recording CPU goes, without the network, beside ffmpeg's stream copy.

record_bench.py measures the recorder as deployed: 100 cameras over loopback RTSP in one
process, where reading, thread switches and the machine's page cache weigh in and move
from run to run. This one takes one camera's stream alone, as the simulator sends it
(1080p at 3 Mbit/s, the simulator's own RTP packets, interleaved as on the RTSP
connection), and replays it in one thread through the recorder's real path:
camerahub.video.rtp's depacketizer, the unit-to-packet step of the reading feed,
SegmentSession (NAL and slice checks, keyframe proof, cuts, timing, muxing) and the
SpoolSink (SHA-256 while writing, sidecars, fsyncs, the commit's renames). Its CPU is
process time, so waits on the disk do not count.

In the same run, each part of that path on the same bytes, alone:

- depacketize: the RTP depacketizer into access units, with nothing after it;
- checks: the NAL and slice-header checks on every access unit;
- keyframe_proof: the strict decode of each segment's first keyframe (one per segment);
- mux: PyAV's MPEG-TS muxer, into a file object that keeps nothing;
- sha256: hashing the muxed bytes;
- write: writing the muxed bytes into one file per segment;
- fsync: the same writes with each file fsynced, less the writes alone;

and the reference: `ffmpeg -i STREAM.ts -c copy -f segment -segment_time 10` on the same
frames in an MPEG-TS file (stream copy into 10 s segments, with no network: FFmpeg's TS
demuxer stands in for its RTSP client). What the path costs beyond its parts is the
interpreter's glue; what the keyframe proof, SHA-256 and the fsync of each segment cost is
what the recorder promises and ffmpeg does not do (the path also fsyncs its sidecars and
directories, which are in the path's figure but not in these parts).

    python benchmarks/record_path_bench.py           # 600 s of stream, best of 5
    python benchmarks/record_path_bench.py --quick   # 120 s of stream, best of 3: about 10 s

Figures are CPU seconds per camera-minute of stream; the last line printed is one JSON
object.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.record_bench import find_tool, log  # noqa: E402
from camerahub.storage import SpoolSink  # noqa: E402
from camerahub.video import Segmenter, SegmenterConfig  # noqa: E402
from camerahub.video.bitstream import KeyframeCheck, NalCheck, SliceCheck  # noqa: E402
from camerahub.video.guard import SessionGuard  # noqa: E402
from camerahub.video.rtp import H264Depacketizer  # noqa: E402
from camerahub.video.segmenter import SegmentSession  # noqa: E402
from simulator.media import Label, ProfileSpec, encode_loop  # noqa: E402
from simulator.rtp import PAYLOAD_TYPE, PacketizedLoop, interleave  # noqa: E402

SEGMENT_S = 10
FPS = 15
CLOCK = 90_000
TB = Fraction(1, CLOCK)
WRITE_BUFFER = 64 * 1024  # the segmenter's muxer buffer (camerahub.video.segmenter)


class Stream:
    """One camera's stream: its RTP reads, access units and their timestamps."""

    def __init__(self, seconds: int, size: tuple[int, int] = (1920, 1080),
                 bitrate: int = 3_000_000) -> None:
        spec = ProfileSpec("main", *size, FPS, bitrate=bitrate, texture=True)
        loop = encode_loop(Label("cam-001", "カメラ1", "hq", "127.0.0.1"), spec)
        self.parameter_sets = [loop.sps, loop.pps]
        packetized = PacketizedLoop.build(loop)
        self.frames = seconds * FPS
        # one read per frame: what a reader pausing between passes gets (a frame or so)
        self.reads = [interleave(0, packetized.rtp_packets(i, 0x1234, 100, 5000))
                      for i in range(self.frames)]
        self.units: list[tuple[int, bytes, bool, list[bytes]]] = []
        depay = H264Depacketizer(lambda ts, data, key, nals: self.units.append(
            (ts, data, key, nals)), _lost, PAYLOAD_TYPE, self.parameter_sets)
        for read in self.reads:
            depay.feed(read)
        if len(self.units) != self.frames:
            raise SystemExit(f"depacketized {len(self.units)} units of {self.frames} frames")

    def packets(self) -> list[av.Packet]:
        """The units as the reading feed makes them into packets."""
        out = []
        for ts, data, key, _nals in self.units:
            packet = av.Packet(data)
            packet.pts = packet.dts = ts
            packet.time_base, packet.is_keyframe = TB, key
            out.append(packet)
        return out

    def segment_starts(self) -> list[int]:
        """Indexes of the keyframes that begin segments (the first at or after each cut)."""
        starts, due = [], None
        for i, (ts, _data, key, _nals) in enumerate(self.units):
            if key and (due is None or ts >= due):
                starts.append(i)
                due = ts + SEGMENT_S * CLOCK
        return starts


def _lost(why: str) -> None:
    raise SystemExit(f"the replayed stream lost packets: {why}")


def template(stream: Stream) -> av.container.InputContainer:
    """The session's codec parameters from its first keyframe, as the reading feed takes them."""
    return av.open(io.BytesIO(stream.units[0][1]), format="h264")


class _Clock:
    """The wall clock the session sees: set to each read's stream time."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def run_path(stream: Stream, work: Path) -> int:
    """The whole path, RTP bytes to committed segments; the number of segments."""
    t0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    clock = _Clock(t0)
    committed: list = []
    segmenter = Segmenter("cam-001", "hq", SpoolSink(work / "spool"), committed.append,
                          SegmenterConfig(segment_seconds=SEGMENT_S), clock=clock)
    with template(stream) as tpl:
        session = SegmentSession(segmenter, tpl.streams.video[0], "rtsp://127.0.0.1/main",
                                 SessionGuard(60), True, t0, time_base=TB,
                                 holds_frames=False)

        def unit(ts: int, data: bytes, key: bool, nals: list[bytes]) -> None:
            packet = av.Packet(data)
            packet.pts = packet.dts = ts
            packet.time_base, packet.is_keyframe = TB, key
            session.handle(packet, nals)

        depay = H264Depacketizer(unit, session.lost, PAYLOAD_TYPE, stream.parameter_sets)
        for i, read in enumerate(stream.reads):
            clock.now = t0 + timedelta(seconds=i / FPS)  # each read arrives at stream time
            depay.feed(read)
        clock.now += timedelta(milliseconds=20)
        session.finish()
    for item in committed:
        item.path.unlink(missing_ok=True)
    return len(committed)


def run_depacketize(stream: Stream, _work: Path) -> None:
    depay = H264Depacketizer(lambda *_: None, _lost, PAYLOAD_TYPE, stream.parameter_sets)
    for read in stream.reads:
        depay.feed(read)


def run_checks(stream: Stream, _work: Path) -> None:
    with template(stream) as tpl:
        codec = tpl.streams.video[0].codec_context
        nal_check, slices = NalCheck("h264", codec.extradata), SliceCheck("h264", codec.extradata)
        for _ts, _data, _key, nals in stream.units:
            if nal_check.judge([nal[:2] for nal in nals]) or slices.units(nals):
                raise SystemExit("a check refused the simulator's stream")


def run_keyframe_proof(stream: Stream, _work: Path) -> None:
    with template(stream) as tpl:
        check = KeyframeCheck(tpl.streams.video[0])
        packets = stream.packets()
        for i in stream.segment_starts():
            if not check(packets[i]):
                raise SystemExit("a keyframe of the simulator's stream did not decode")


class _Nowhere:
    """A non-seekable file that keeps nothing (or hands each block on)."""

    def __init__(self, then: Callable[[bytes], object] | None = None) -> None:
        self.then = then

    def write(self, data: bytes) -> int:
        if self.then is not None:
            self.then(data)
        return len(data)


def mux_segments(stream: Stream, sink: Callable[[int], _Nowhere],
                 done: Callable[[int], None] | None = None) -> None:
    """Mux the stream into 10 s segments as the segmenter does, each into sink(n)."""
    starts = set(stream.segment_starts())
    packets = stream.packets()
    with template(stream) as tpl:
        container, out, n = None, None, -1
        for i, packet in enumerate(packets):
            if i in starts:
                if container is not None:
                    container.close()
                    if done:
                        done(n)
                n += 1
                container = av.open(sink(n), "w", format="mpegts", buffer_size=WRITE_BUFFER,
                                    container_options={"flush_packets": "0"})
                out = container.add_stream_from_template(tpl.streams.video[0])
            packet.stream = out
            container.mux(packet)
        container.close()
        if done:
            done(n)


def muxed_blocks(stream: Stream) -> list[list[bytes]]:
    """The muxed segments' blocks as the muxer hands them to the spool file."""
    segments: list[list[bytes]] = []
    mux_segments(stream, lambda n: segments.append([]) or _Nowhere(segments[n].append))
    return segments


def run_mux(stream: Stream, _work: Path) -> None:
    mux_segments(stream, lambda n: _Nowhere())


def run_sha256(blocks: list[list[bytes]]) -> Callable[[Stream, Path], None]:
    def run(_stream: Stream, _work: Path) -> None:
        for segment in blocks:
            digest = hashlib.sha256()
            for block in segment:
                digest.update(block)
            digest.hexdigest()
    return run


def run_write(blocks: list[list[bytes]], fsync: bool) -> Callable[[Stream, Path], None]:
    def run(_stream: Stream, work: Path) -> None:
        for n, segment in enumerate(blocks):
            path = work / f"segment-{n}.ts"
            with open(path, "wb", buffering=0) as fh:
                for block in segment:
                    fh.write(block)
                if fsync:
                    os.fsync(fh.fileno())
            path.unlink()
    return run


def cpu_of(run: Callable[[Stream, Path], object], stream: Stream, work: Path,
           repeats: int) -> float:
    """Best process CPU seconds of `repeats` runs (the least disturbed)."""
    best = None
    for _ in range(repeats):
        start = time.process_time()
        run(stream, work)
        spent = time.process_time() - start
        best = spent if best is None else min(best, spent)
    return best


def ffmpeg_cpu(ffmpeg: str, stream: Stream, work: Path, repeats: int) -> float:
    """ffmpeg's CPU seconds (user + system, best of `repeats`) per minute of stream,
    segmenting the stream from a TS file: the whole stream's run less a 10 s one's, so
    that a process's start (which a recorder running for months does not pay per minute)
    is left out."""
    whole, short = work / "stream.ts", work / "short.ts"
    write_ts(stream, whole, len(stream.units))
    write_ts(stream, short, SEGMENT_S * FPS)
    spent = {}
    for source in (whole, short):
        best = None
        for n in range(repeats):
            out = work / f"ffmpeg-{n}"
            out.mkdir()
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([ffmpeg, "-nostdin", "-loglevel", "error", "-i", str(source),
                            "-c", "copy", "-f", "segment", "-segment_time", str(SEGMENT_S),
                            str(out / "%05d.ts")], check=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            best = cpu if best is None else min(best, cpu)
            shutil.rmtree(out)
        spent[source] = best
    minutes = (len(stream.units) - SEGMENT_S * FPS) / FPS / 60
    return max(0.0, spent[whole] - spent[short]) / minutes


def write_ts(stream: Stream, path: Path, units: int) -> None:
    """The stream's first `units` access units as one MPEG-TS file (ffmpeg's input)."""
    packets = stream.packets()[:units]
    with template(stream) as tpl, av.open(str(path), "w", format="mpegts") as container:
        out = container.add_stream_from_template(tpl.streams.video[0])
        for packet in packets:
            packet.stream = out
            container.mux(packet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="120 s of stream, best of 3")
    parser.add_argument("--seconds", type=int, help="seconds of stream (default 600)")
    parser.add_argument("--repeats", type=int, help="runs of each part, best taken")
    args = parser.parse_args()
    seconds = max(args.seconds or (120 if args.quick else 600), 2 * SEGMENT_S)
    repeats = args.repeats or (3 if args.quick else 5)
    ffmpeg, note = find_tool("ffmpeg")
    log(f"ffmpeg: {note}")
    log(f"encoding and packetizing {seconds} s of a 1080p 3 Mbit/s camera")
    stream = Stream(seconds)
    minutes = seconds / 60
    work = Path(tempfile.mkdtemp(prefix="record-path-"))
    try:
        segments = run_path(stream, work)  # warm-up, and the segment count
        blocks = muxed_blocks(stream)
        parts = {
            "depacketize": run_depacketize, "checks": run_checks,
            "keyframe_proof": run_keyframe_proof, "mux": run_mux,
            "sha256": run_sha256(blocks), "write": run_write(blocks, fsync=False),
            "write_fsync": run_write(blocks, fsync=True),
        }
        log(f"the path and its parts, best of {repeats}")
        path = cpu_of(run_path, stream, work, repeats) / minutes
        figures = {name: cpu_of(run, stream, work, repeats) / minutes
                   for name, run in parts.items()}
        reference = ffmpeg_cpu(ffmpeg, stream, work, repeats) if ffmpeg else None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # fsync alone: the same writes with and without it (never below zero)
    figures["fsync"] = max(0.0, figures.pop("write_fsync") - figures["write"])
    promises = figures["keyframe_proof"] + figures["sha256"] + figures["fsync"]
    glue = path - sum(figures.values())
    rounded = {k: round(v, 4) for k, v in figures.items()}
    result = {
        "stream": "1920x1080@3M", "seconds_of_stream": seconds, "segments": segments,
        "segment_s": SEGMENT_S, "repeats": repeats,
        "path_cpu_s_per_camera_minute": round(path, 4),
        "parts_cpu_s_per_camera_minute": rounded,
        "glue_cpu_s_per_camera_minute": round(glue, 4),
        "promises_cpu_s_per_camera_minute": round(promises, 4),
        "ffmpeg_segment_cpu_s_per_camera_minute": round(reference, 4) if reference else None,
        "path_ratio_vs_ffmpeg": round(path / reference, 3) if reference else None,
        "promises_ratio_vs_ffmpeg": round(promises / reference, 3) if reference else None,
        "ffmpeg": note,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
