"""Drive one live SegmentSession frame by frame, without a network: each frame is handed to
the session at its stream time, or what a script says happens instead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av

from camerahub.storage import SpoolItem, SpoolSink
from camerahub.video import Segmenter, SegmenterConfig
from camerahub.video.guard import SessionGuard
from camerahub.video.segmenter import SegmentSession
from tests.support.media import FPS, GOP, encode_h264, forbidden_bit

T0 = datetime(2026, 11, 26, 3, 15, tzinfo=UTC)
FRAME = timedelta(seconds=1 / FPS)
TB = Fraction(1, 90_000)


def encoded_frames(directory: Path, gops: int = 2) -> list[tuple[bytes, bool]]:
    """GOPs of H.264 without B-frames: (bytes, keyframe) per frame."""
    path = encode_h264(directory / "frames.ts", gops * GOP / FPS)
    with av.open(str(path)) as container:
        return [(bytes(p), bool(p.is_keyframe)) for p in container.demux(video=0) if p.size]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def drive(frames, tmp_path: Path, script) -> tuple[list[SpoolItem], datetime]:
    """Hand the session frames per script: an index, or (index, what happens instead):
    "lost" (the reader lost packets), "noise" (the frame with its forbidden bits set) or
    bytes sent at that frame's time instead of it (not a keyframe). Returns the segments
    made and the wall clock when the session ended."""
    with av.open(str(encode_h264(tmp_path / "template.ts", 1 / FPS))) as template:
        stream = template.streams.video[0]
        clock = Clock()
        infos: list[SpoolItem] = []
        segmenter = Segmenter("cam-1", "hq", SpoolSink(tmp_path / "spool"), infos.append,
                              SegmenterConfig(segment_seconds=10), clock=clock)
        session = SegmentSession(segmenter, stream, "rtsp://127.0.0.1/main",
                                 SessionGuard(60), True, T0, time_base=TB,
                                 holds_frames=False)
        for step in script:
            index, event = step if isinstance(step, tuple) else (step, None)
            clock.now = T0 + index * FRAME  # each frame arrives at its stream time
            if event == "lost":
                session.lost("RTP packets lost")
                continue
            data, key = frames[index]
            if isinstance(event, bytes):
                data, key = event, False
            elif event == "noise":
                data = forbidden_bit(data)
            packet = av.Packet(data)
            packet.pts = packet.dts = index * round(1 / (FPS * TB))
            packet.time_base, packet.is_keyframe = TB, key
            session.handle(packet)
        clock.now += timedelta(milliseconds=16)
        ended = clock.now
        session.finish()
    return infos, ended
